"""The learning loop, as the chat adapters use it: which answers carry 👍/👎 and under which id,
votes, the moderators' report, and the threads the bot opened (remembered across restarts).

Transport-independent: the Discord and Slack adapters call these and only render the results.
Everything that blocks (a database round trip, embedding questions for the report) runs in a
worker thread; the question log itself (`QuestionLog`, an intake observer) only buffers.

    learning = LearningLoop.from_settings(settings)   # StorageError: one line for the operator
    await learning.start()                            # connects and migrates, in the background
    learning.observe(intake)                          # every chat question is logged
    ...
    await learning.aclose()                           # after the intake drained: flush, close
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.answer import Answer, Language
from bot.community import Community
from bot.learning.grouping import Encode
from bot.learning.privacy import MemberPrivacy
from bot.learning.question_log import CHAT_PLATFORMS, QuestionLog
from bot.learning.report import Report, build_report, question_encoder
from bot.messages import text as message
from bot.serving.intake import Admitted, Intake, Outcome, Request
from bot.storage import Store, VoteOutcome

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger("factbot.learning")

MAX_REPORT_DAYS = 365
DEFAULT_REPORT_DAYS = 7
# Threads looked up and found not to be the bot's: remembered briefly so that a busy channel's
# thread chatter costs one database look-up per thread, not one per message.
NOT_OURS_SECONDS = 60.0
NOT_OURS_MAX = 10_000


class LearningLoop:
    """The question log, votes, report and thread memory of one bot process, over one `Store`."""

    def __init__(self, store: Store, encode: Encode) -> None:
        self.store = store
        self.question_log = QuestionLog(store)
        self.privacy = MemberPrivacy(store)  # /privacy: what is kept about a member, erasing it
        self._encode = encode
        # Told of every vote recorded (platform, +1 or -1): the metrics count them.
        self.vote_listeners: list[Callable[[str, int], None]] = []
        self._not_ours: OrderedDict[tuple[str, str], float] = OrderedDict()
        self.words = FeedbackInWords(self)

    @classmethod
    def from_settings(cls, settings: Settings) -> LearningLoop:
        """Raises `StorageError` (one line) for a bad DATABASE_URL or user hash key."""
        return cls(Store.from_settings(settings), question_encoder(settings))

    @property
    def feedback(self) -> bool:
        """Are questions logged (and answers given 👍/👎)? False with LOG_QUESTIONS=off."""
        return self.store.logging_enabled

    def answer_id(self, admitted: Admitted) -> str | None:
        """The id the feedback buttons under this request's answer carry; None: no buttons."""
        return admitted.request.id if self.feedback else None

    # ------------------------------------------------------------------ lifecycle

    async def start(self, wait: float = 2.0) -> bool:
        """Start the store's writer (it connects and migrates); True when the database is up.
        When it is not, the writer has logged one line and the bot answers all the same."""
        up = await asyncio.to_thread(self.store.start, wait)
        where = self.store.database.display_url
        if not self.feedback:
            log.info("LOG_QUESTIONS=off: questions are not logged, answers carry no 👍/👎")
        elif up:
            log.info("question log: %s (kept %d days)", where, self.store.retention.days)
        return up

    def observe(self, intake: Intake) -> None:
        """Log every question `intake` sees (the chat bots' intake)."""
        if self.question_log not in intake.observers:
            intake.observers.append(self.question_log)
        if self.words not in intake.observers:
            intake.observers.append(self.words)

    async def aclose(self, timeout: float = 5.0) -> int:
        """Write what is buffered (at most `timeout` s) and close; returns the rows lost."""
        await self.words.drain()
        return await asyncio.to_thread(self.store.close, timeout)

    # ------------------------------------------------------------------ feedback

    async def vote(
        self,
        answer_id: str,
        user: str,
        vote: int,
        reason: str | None = None,
        platform: str = "",
    ) -> VoteOutcome | None:
        """Record a 👍 (+1) or 👎 (-1), or its reason; None when feedback is off."""
        if not self.feedback:
            return None
        outcome = await asyncio.to_thread(self.store.record_vote, answer_id, user, vote, reason)
        if reason is None and outcome in (VoteOutcome.RECORDED, VoteOutcome.CHANGED):
            for listener in self.vote_listeners:
                listener(platform, vote)
        return outcome

    async def report(self, days: int, community: Community) -> Report:
        """The moderators' report for the last `days` days, over `community`'s questions only
        (the caller's server or workspace; never DMs). Raises `StorageError` when the database
        cannot be read. Reading and grouping (the embedding model) run in a thread."""
        return await asyncio.to_thread(
            functools.partial(
                build_report, self.store.database, days, self._encode, community=community
            )
        )

    # ------------------------------------------------------------------ threads

    def remember_thread(self, platform: str, thread_id: str) -> None:
        """A thread the bot opened: remembered in memory, written in the background."""
        self._not_ours.pop((platform, thread_id), None)
        self.store.remember_thread(platform, thread_id)

    async def is_bot_thread(self, platform: str, thread_id: str) -> bool:
        """Did the bot open this thread, in this process or before a restart? Memory first;
        then the database, off the event loop."""
        key = (platform, thread_id)
        if self.store.remembers_thread(platform, thread_id):
            return True
        now = time.monotonic()
        seen = self._not_ours.get(key)
        if seen is not None and now - seen < NOT_OURS_SECONDS:
            return False
        ours = await asyncio.to_thread(self.store.is_bot_thread, platform, thread_id)
        if not ours and self.store.stats().state == "up":  # a real "no", not an outage
            self._not_ours[key] = now
            self._not_ours.move_to_end(key)
            while len(self._not_ours) > NOT_OURS_MAX:
                self._not_ours.popitem(last=False)
        return ours


class FeedbackInWords:
    """`IntakeObserver`: feedback said in words ("c'est faux", "wrong answer"), which the intake
    tied to the conversation's previous answer (`Answer.feedback_on`), is recorded like a 👎 on
    that answer with the message as its reason. The vote runs in the background (a database
    round trip, off the event loop); a failure is logged by the store."""

    def __init__(self, learning: LearningLoop, platforms: frozenset[str] = CHAT_PLATFORMS) -> None:
        self.learning = learning
        self.platforms = platforms
        self._tasks: set[asyncio.Task[VoteOutcome | None]] = set()

    def on_outcome(self, request: Request, outcome: Outcome, seconds: float) -> None:
        if not isinstance(outcome, Answer) or outcome.act != "feedback":
            return
        if outcome.feedback_on is None or request.platform not in self.platforms:
            return
        vote = self.learning.vote(
            outcome.feedback_on, request.user, -1, reason=request.text, platform=request.platform
        )
        task = asyncio.get_running_loop().create_task(vote)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for the votes in flight (tests, shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def parse_days(text: str) -> int | None:
    """`/unanswered [days]`: the number of days (default 7), or None when not 1..365."""
    text = text.strip()
    if not text:
        return DEFAULT_REPORT_DAYS
    try:
        days = int(text)
    except ValueError:
        return None
    return days if 1 <= days <= MAX_REPORT_DAYS else None


_VOTE_LINES = {
    VoteOutcome.RECORDED: "feedback.thanks",
    VoteOutcome.CHANGED: "feedback.changed",
    VoteOutcome.EXPIRED: "feedback.expired",
    VoteOutcome.UNAVAILABLE: "feedback.unavailable",
}


def vote_line(outcome: VoteOutcome | None, language: Language) -> str:
    """The private reply to a vote (None: feedback is off)."""
    return message(_VOTE_LINES[outcome] if outcome is not None else "feedback.off", language)
