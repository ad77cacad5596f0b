"""One way in for every request, whatever the transport: the console, `factbot ask`, Discord, Slack.

An adapter turns what it received into a `Request` and hands it to the `Intake`:

1. `admit(request)` cleans the text (`bot/serving/questions.py`), applies the per-user rate limit
   (`bot/serving/ratelimit.py`) and decides the language once (`bot/answering/language.py`). It is cheap and does no
   I/O, so an adapter can refuse privately before it shows anything public (Discord's "thinking…").
   It returns `Admitted`, or a `Refusal` with its reason and the line to show.

   Volume cannot hurt it: nothing reads more than MAX_QUESTION_CHARS of a request's text (a longer
   one is refused unread, and observers see it clipped); every refusal (empty, too long,
   rate-limited) is charged to the user's bucket like a question; and a user is told about a
   refusal at most once per USER_COOLDOWN_SECONDS (`Refusal.notify`: adapters send nothing when
   it is False, so a flood gets one reply, not one per message).
2. `ask`, `factchecks` or `sources(admitted)` does the work through the service.

A question in a conversation (`Request.conversation`: a thread, a DM, the console session) is
read with that conversation's earlier questions (`ConversationMemory`: the last few turns,
forgotten after a while), so that "et elle part quand ?" follows "c quoi chang'e 6 ?"; a caller
may also give the history itself (`Request.history`, `factbot ask --history`).

Adapters only render what comes back. They call `track_current_task()` first thing for every
event they handle, so that on shutdown `close()` refuses new requests and `drain()` lets the ones
in flight finish (bot/cli/commands.py); `start_pruning()` forgets idle rate-limit buckets and quiet
conversations on a timer until `aclose()`. Every outcome, with its latency, goes to the intake's observers (`IntakeObserver`): the place for a question log, metrics or conversation context to
attach without touching any adapter. `Request.conversation` (a thread, a DM) is what a
conversation's history would be keyed on.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeVar

from bot.answer import Answer, FactCheckRef, Language
from bot.answering.conversation import ConversationMemory, Turn
from bot.answering.language import detect_language
from bot.answering.status import IndexInfo
from bot.messages import text as message
from bot.serving.questions import QuestionRejected, clean_question
from bot.serving.ratelimit import Cooldown
from bot.settings import Settings

__all__ = [
    "Admission",
    "Admitted",
    "AnsweringService",
    "Failed",
    "Intake",
    "IntakeObserver",
    "Notes",
    "Outcome",
    "Refusal",
    "Request",
]

log = logging.getLogger("factbot.intake")

# How often idle rate-limit buckets and quiet conversations are forgotten.
PRUNE_SECONDS = 60.0

Kind = Literal["ask", "factcheck", "sources"]
RefusalReason = Literal["empty", "too_long", "rate_limited", "closing"]


@dataclass(frozen=True)
class Request:
    """What a user sent, as the transport saw it. Ids are the platform's raw ids, as strings
    (never logged as they are)."""

    platform: str  # "discord", "slack", "console", "cli"
    user: str
    text: str = ""  # as typed (transport markup such as the bot's own mention removed)
    kind: Kind = "ask"  # a question, a `/factcheck [topic]`, or `/sources`
    guild: str | None = None  # Discord server or Slack workspace
    channel: str | None = None
    conversation: str | None = None  # the thread (or DM) the request belongs to, when known
    locale: Language | None = None  # the user's interface language, when the platform says
    history: tuple[str, ...] = ()  # earlier questions, oldest first, when the caller has them
    # A random public id for this request: the question log keys its row on it, and the
    # feedback buttons under its answer carry it (bot/learning/loop.py). Never a platform id.
    id: str = field(default_factory=lambda: secrets.token_urlsafe(12), compare=False)


@dataclass(frozen=True)
class Admitted:
    """A request that may be served: its cleaned text ("" for `/sources` or a `/factcheck`
    without topic) and the language every reply to it uses."""

    request: Request
    text: str
    language: Language
    started: float = field(default_factory=time.monotonic, compare=False)


@dataclass(frozen=True)
class Refusal:
    """Why a request is not served, and the one line to show its user (in its language).
    `notify` False: the user was told about a refusal moments ago; show nothing (no reply, no
    API call), so a flood costs the bot nothing per message."""

    reason: RefusalReason
    language: Language
    message: str
    wait_seconds: float = 0.0  # for "rate_limited"
    notify: bool = True


@dataclass(frozen=True)
class Notes:
    """The fact-check notes for a `/factcheck [topic]`, summarised in `language`."""

    topic: str | None
    language: Language
    notes: tuple[FactCheckRef, ...]


@dataclass(frozen=True)
class Failed:
    """The work raised (observers only: the adapter's error handler gets the exception)."""

    error: BaseException


Outcome = Answer | Notes | IndexInfo | Refusal | Failed


class IntakeObserver(Protocol):
    """Sees every outcome, on the event loop: keep it quick (hand slow work to a thread)."""

    def on_outcome(self, request: Request, outcome: Outcome, seconds: float) -> None: ...


class AnsweringService(Protocol):
    """What the intake needs of `FactBotService`."""

    async def ask(self, question: str, history: Sequence[str | Turn] = ()) -> Answer: ...

    async def factchecks(self, topic: str | None, language: Language) -> list[FactCheckRef]: ...

    def info(self) -> IndexInfo: ...


class Admission:
    """Cleaning, the per-user rate limit and the language: the checks before any work."""

    def __init__(self, max_chars: int, cooldown: Cooldown | None = None) -> None:
        self.max_chars = max_chars
        self.cooldown = cooldown

    @classmethod
    def for_chat(cls, settings: Settings) -> Admission:
        """Chat users: each one rate-limited (USER_COOLDOWN_SECONDS, USER_COOLDOWN_BURST)."""
        cooldown = Cooldown(settings.user_cooldown_seconds, settings.user_cooldown_burst)
        return cls(settings.max_question_chars, cooldown)

    @classmethod
    def local(cls, settings: Settings) -> Admission:
        """The console and `factbot ask`: one local user, not rate-limited."""
        return cls(settings.max_question_chars)

    def admit(self, request: Request) -> Admitted | Refusal:
        # Every request is charged, refused ones included: a flood of empty or huge messages
        # costs its sender turns, as questions would.
        key = f"{request.platform}:{request.user}"
        wait = self.cooldown.hit(key) if self.cooldown is not None else 0.0
        raw = "" if request.kind == "sources" else request.text
        try:
            text = clean_question(raw, self.max_chars, allow_empty=request.kind != "ask")
        except QuestionRejected as exc:
            # The language of what fits in the limit: a longer text is never read whole.
            language = self.language_of(raw[: self.max_chars], request)
            return Refusal(exc.reason, language, exc.message(language), notify=self._tell(key))
        language = self.language_of(text, request)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            line = message("refusal.rate_limited", language, seconds=seconds)
            return Refusal("rate_limited", language, line, wait, self._tell(key))
        return Admitted(request, text, language)

    def _tell(self, key: str) -> bool:
        """Whether this refusal is shown: once per cooldown period and user."""
        return self.cooldown.tell(key) if self.cooldown is not None else True

    def clipped(self, request: Request) -> Request:
        """`request` with at most `max_chars` of its text: what observers (the question log)
        may keep of a request that was refused for its length."""
        if len(request.text) <= self.max_chars:
            return request
        return dataclasses.replace(request, text=request.text[: self.max_chars])

    def prune(self) -> None:
        """Forget idle rate-limit buckets (called on the intake's timer)."""
        if self.cooldown is not None:
            self.cooldown.prune()

    @staticmethod
    def language_of(text: str, request: Request) -> Language:
        """The text's language; without text, the user's interface language (else English)."""
        return detect_language(text) if text.strip() else request.locale or "en"


_Served = TypeVar("_Served", Answer, Notes, IndexInfo)


class Intake:
    """Admission, then the work through the service; observers see every outcome."""

    def __init__(
        self,
        service: AnsweringService,
        admission: Admission,
        observers: Sequence[IntakeObserver] = (),
        memory: ConversationMemory | None = None,
    ) -> None:
        self.service = service
        self.admission = admission
        self.observers: list[IntakeObserver] = list(observers)
        self.memory = memory if memory is not None else ConversationMemory()
        self.closing = False
        self._in_flight: set[asyncio.Task[object]] = set()
        self._pruning: asyncio.Task[None] | None = None

    def admit(self, request: Request) -> Admitted | Refusal:
        started = time.monotonic()
        decided: Admitted | Refusal
        if self.closing:
            language = Admission.language_of(self.admission.clipped(request).text, request)
            decided = Refusal("closing", language, message("refusal.closing", language))
        else:
            decided = self.admission.admit(request)
        if isinstance(decided, Refusal):
            self._notify(self.admission.clipped(request), decided, time.monotonic() - started)
        return decided

    async def ask(self, admitted: Admitted) -> Answer:
        """The answer, read in the request's conversation. Its language is the admitted one:
        the engine's `prepare` applies the same `detect_language` to the same cleaned text."""
        request = admitted.request
        key = (request.platform, request.conversation) if request.conversation else None
        history: Sequence[str | Turn] = request.history or (self.memory.history(key) if key else ())
        work = self._answered(admitted, key, self.service.ask(admitted.text, history))
        answer = await self._observed(admitted, work)
        if key is not None and not answer.is_conversation:
            # "merci" or "c'est faux" is no context for a follow-up, nor an answer to vote on.
            self.memory.record(key, admitted.text, answer_id=request.id)
        return answer

    async def _answered(
        self, admitted: Admitted, key: tuple[str, str] | None, work: Awaitable[Answer]
    ) -> Answer:
        """The answer; feedback in words is tied to the conversation's previous answer (what
        observers record like a 👎 with the text as reason), or told how to vote instead."""
        answer = await work
        if answer.act != "feedback":
            return answer
        target = self.memory.last_answer(key) if key is not None else None
        if target is None:
            line = message("reply.feedback_unlinked", answer.language)
            return dataclasses.replace(answer, text=line)
        return dataclasses.replace(answer, feedback_on=target)

    def remember(self, platform: str, conversation: str, admitted: Admitted) -> None:
        """Count `admitted` as the first question of `conversation` (a thread that starts under
        the answer to a question asked elsewhere, such as Slack's /ask)."""
        self.memory.record((platform, conversation), admitted.text)

    def forget(self, platform: str, conversation: str) -> None:
        """Start `conversation` afresh (the console's /new)."""
        self.memory.clear((platform, conversation))

    async def factchecks(self, admitted: Admitted) -> Notes:
        """Every note (no topic), or those matching the topic, in the admitted language."""
        return await self._observed(admitted, self._notes(admitted.text or None, admitted.language))

    def sources(self, admitted: Admitted) -> IndexInfo:
        info = self.service.info()
        self._notify(admitted.request, info, time.monotonic() - admitted.started)
        return info

    async def handle(self, request: Request) -> Answer | Refusal:
        """Admit a question and answer it (for callers with nothing to show in between)."""
        decided = self.admit(request)
        return decided if isinstance(decided, Refusal) else await self.ask(decided)

    # ------------------------------------------------------------------ pruning

    def prune(self) -> None:
        """Forget idle rate-limit buckets and conversations quiet past their time to live."""
        self.admission.prune()
        self.memory.prune()

    def start_pruning(self, every: float = PRUNE_SECONDS) -> None:
        """Call `prune` every `every` seconds on the running loop, until `aclose`: the maps stay
        small even when nothing is refused and nobody comes back."""
        if self._pruning is None or self._pruning.done():
            self._pruning = asyncio.get_running_loop().create_task(self._prune_every(every))

    async def _prune_every(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                self.prune()
            except Exception:  # a bug here must not stop the next prune, nor the bot
                log.exception("pruning the rate limit and conversations failed")

    async def aclose(self) -> None:
        """Stop the pruning timer (after `drain`, when the process stops)."""
        task, self._pruning = self._pruning, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # ------------------------------------------------------------------ shutdown

    def track_current_task(self) -> None:
        """Count the calling task (one command, one message) as in flight until it ends, so that
        `drain` waits for it to deliver its answer."""
        task = asyncio.current_task()
        if task is not None and task not in self._in_flight:
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    def close(self) -> None:
        """Refuse every new request from now on (reason "closing"); those in flight go on."""
        self.closing = True

    async def drain(self, timeout: float) -> int:
        """Wait up to `timeout` seconds for the tasks in flight (the caller's own excepted) and
        return how many are still running."""
        pending = {t for t in self._in_flight if t is not asyncio.current_task()}
        if not pending:
            return 0
        log.info("waiting up to %.0f s for %d answers in flight", timeout, len(pending))
        _, unfinished = await asyncio.wait(pending, timeout=timeout)
        if unfinished:
            log.warning("%d answers were still in flight after %.0f s", len(unfinished), timeout)
        return len(unfinished)

    # ------------------------------------------------------------------ helpers

    async def _notes(self, topic: str | None, language: Language) -> Notes:
        return Notes(topic, language, tuple(await self.service.factchecks(topic, language)))

    async def _observed(self, admitted: Admitted, work: Awaitable[_Served]) -> _Served:
        try:
            outcome = await work
        except Exception as exc:
            self._notify(admitted.request, Failed(exc), time.monotonic() - admitted.started)
            raise
        self._notify(admitted.request, outcome, time.monotonic() - admitted.started)
        return outcome

    def _notify(self, request: Request, outcome: Outcome, seconds: float) -> None:
        for observer in self.observers:
            try:
                observer.on_outcome(request, outcome, seconds)
            except Exception:  # an observer's bug must not cost the user an answer
                log.exception("intake observer %r failed", observer)
