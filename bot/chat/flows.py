"""The chat flows every platform shares, written once: the adapters translate a platform event
in, call one of these, and render the plain result out (their look: embeds or Block Kit, emoji,
buttons).

- a vote (👍/👎) and its optional reason: `cast_vote` → `VoteReply` (the line, or open the form);
- `/unanswered`: `unanswered` → the `Report` to render, or a `Say` (feedback off, database down);
- `/reindex`: `reindex` → the `ReindexReport`, a `ReindexFailure`, or a `Say` (the cooldown);
- a note form saved or a note removed: `save_note` / `remove_note` → a `NoteReply` (which
  outcome, its lines, and the record to render);
- the refusal a non-moderator gets for each moderators' command: `not_moderator`;
- closing the loop: 🔔 `subscribe`, "Ask a moderator" `hand_off` (→ `request_lines` for the
  moderators' channel), "Mark resolved" `resolve` (→ the line for the asker), and the note
  form's `reach_line` / the save report's `told_line`.

Every flow logs through the adapter's logger (`Actor`), naming people by display name and keyed
hash only, never by platform id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from bot.answer import Language
from bot.answering.index_lifecycle import ReindexFailed
from bot.answering.status import ReindexReport
from bot.community import Community
from bot.learning.loop import vote_line
from bot.learning.report import Report
from bot.messages import text
from bot.notes import wording as note_text
from bot.notes.records import (
    Moderator,
    NoteForm,
    NoteRejected,
    NoteSaved,
    NotesUnavailable,
    NoteUnknown,
)
from bot.serving.moderation import TooSoon
from bot.storage import StorageError, VoteOutcome
from bot.storage.loop import Asked, HandOff, Place

if TYPE_CHECKING:
    from bot.learning.loop import LearningLoop
    from bot.learning.notify import Notifier
    from bot.notes.desk import NoteDesk
    from bot.serving.service import FactBotService
    from index.store import LoadedIndex

Started = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Actor:
    """Who runs a flow as the log names them (display name and keyed hash, never a platform
    id), and where the adapter logs: its logger and its line prefix ("slack: ")."""

    name: str
    log: logging.Logger
    prefix: str = ""

    def info(self, line: str, *args: object) -> None:
        self.log.info(self.prefix + line, *args)

    def warning(self, line: str, *args: object) -> None:
        self.log.warning(self.prefix + line, *args)


@dataclass(frozen=True)
class Say:
    """One private line, with its catalogue key: the adapter picks its look from the key."""

    key: str
    line: str


# ---------------------------------------------------------------------- moderators' refusal

_NOT_MODERATOR_KEYS = {
    "reindex": "reindex.not_moderator",
    "unanswered": "report.not_moderator",
    "note": "note.not_moderator",
}


def not_moderator(platform: str, language: Language, command: str = "reindex") -> str:
    """The refusal a member gets for a moderators' command (`command`: its top-level name),
    naming who moderates on `platform` ("discord" or "slack")."""
    key = _NOT_MODERATOR_KEYS.get(command, "reindex.not_moderator")
    return text(key, language, who=text(f"reindex.moderators.{platform}", language))


# ---------------------------------------------------------------------- votes


@dataclass(frozen=True)
class VoteReply:
    """A vote's outcome (None: feedback is off), and whether it came back within the platform's
    window for a first response."""

    outcome: VoteOutcome | None
    in_time: bool = True

    @property
    def counted(self) -> bool:
        """Recorded or changed (the thanks), rather than unchanged, unknown or off."""
        return self.outcome in (VoteOutcome.RECORDED, VoteOutcome.CHANGED)

    def asks_reason(self, vote: int) -> bool:
        """A 👎 counted in time: offer the optional "what was wrong?" form instead of the line."""
        return vote < 0 and self.in_time and self.counted

    def line(self, language: Language) -> str:
        return vote_line(self.outcome, language)


async def cast_vote(
    learning: LearningLoop | None,
    platform: str,
    answer_id: str,
    user: str,
    vote: int,
    reason: str | None = None,
    *,
    within: float | None = None,
    late: Started | None = None,
) -> VoteReply:
    """Record a 👍 (+1) or 👎 (-1), or its reason. Past `within` seconds (the database is slow),
    `late` runs (Discord defers its response) and the reply is marked not in time."""
    if learning is None or not user:
        return VoteReply(None)
    work = asyncio.ensure_future(learning.vote(answer_id, user, vote, reason, platform))
    if within is None:
        return VoteReply(await work)
    try:
        return VoteReply(await asyncio.wait_for(asyncio.shield(work), within))
    except TimeoutError:
        if late is not None:
            await late()
        return VoteReply(await work, in_time=False)


# ---------------------------------------------------------------------- /unanswered


async def unanswered(
    learning: LearningLoop | None,
    days: int,
    community: Community,
    language: Language,
    actor: Actor,
    started: Started | None = None,
) -> Report | Say:
    """The moderators' report over `community`'s questions (never another's, nor DMs), or why
    not. `started` runs once the report will be built (Discord defers: it takes seconds)."""
    if learning is None:
        return Say("report.disabled", text("report.disabled", language))
    if started is not None:
        await started()
    actor.info("/unanswered (%d days) run by %s", days, actor.name)
    try:
        return await learning.report(days, community)
    except StorageError as exc:
        actor.warning("/unanswered: %s", exc)
        return Say("report.unavailable", text("report.unavailable", language))


# ---------------------------------------------------------------------- /reindex


@dataclass(frozen=True)
class ReindexFailure:
    """The rebuild failed: its problems, and the index version still served."""

    problems: tuple[str, ...]
    version: str


async def reindex(
    service: FactBotService,
    by: Moderator,
    language: Language,
    actor: Actor,
    audit: str | None = None,
    started: Started | None = None,
) -> ReindexReport | ReindexFailure | Say:
    """A moderator's rebuild (charged to their cooldown): its report, its failure, or the
    cooldown's line. `audit` is how the service's own log names the actor (default
    `actor.name`); `started` runs before the build (a deferral, a "rebuilding…" notice)."""
    actor.info("/reindex run by %s", actor.name)
    if started is not None:
        await started()
    try:
        report = await service.reindex(actor=audit or actor.name, by=by)
    except TooSoon as exc:
        actor.info("/reindex by %s refused: moderator cooldown", actor.name)
        return Say("moderation.too_soon", exc.line(language))
    except ReindexFailed as exc:
        actor.warning("/reindex by %s failed: %s", actor.name, "; ".join(exc.problems))
        return ReindexFailure(tuple(exc.problems), service.info().version)
    actor.info(
        "/reindex by %s done: %s, %d chunks%s",
        actor.name,
        report.version,
        report.chunk_count,
        " (joined a running build)" if report.coalesced else "",
    )
    return report


# ---------------------------------------------------------------------- notes

NoteKind = Literal["saved", "rejected", "unknown", "too_soon", "unavailable"]


@dataclass(frozen=True)
class NoteReply:
    """What to tell a moderator after a note save or removal: which outcome, its lines (the
    catalogue's, via `bot/notes/wording.py`), and the desk's record when there is one."""

    kind: NoteKind
    lines: tuple[str, ...]
    outcome: NoteSaved | NoteRejected | NoteUnknown | None = None

    @property
    def keeps_form(self) -> bool:
        """Nothing was saved but the form can be sent again as typed (rejected, the cooldown,
        the database down): the adapter keeps what was typed (a "Fix" button, the form open)."""
        return self.kind in ("rejected", "too_soon", "unavailable")

    @property
    def rebuild_failed(self) -> bool:
        return isinstance(self.outcome, NoteSaved) and bool(self.outcome.rebuild_problems)


def note_reply(outcome: NoteSaved | NoteRejected | NoteUnknown, language: Language) -> NoteReply:
    """The desk's outcome → what to say."""
    if isinstance(outcome, NoteRejected):
        return NoteReply("rejected", tuple(note_text.rejected_lines(outcome, language)), outcome)
    if isinstance(outcome, NoteUnknown):
        return NoteReply("unknown", (note_text.unknown_line(outcome, language),), outcome)
    return NoteReply("saved", tuple(note_text.saved_lines(outcome, language)), outcome)


def unavailable(language: Language) -> NoteReply:
    return NoteReply("unavailable", (note_text.unavailable_line(language),))


async def save_note(
    desk: NoteDesk | None,
    form: NoteForm,
    by: Moderator,
    note_id: str | None,
    language: Language,
    actor: Actor,
    notify: bool = True,
) -> NoteReply:
    """Save a submitted note form (a new note when `note_id` is None) and say how it went;
    `notify` False: a silent change (a typo fix), nobody is told."""
    if desk is None:  # a service built over an engine without a notes database
        actor.warning("/note form by %s not saved: no notes database", actor.name)
        return unavailable(language)
    try:
        outcome = await desk.save(form, by, note_id=note_id, language=language, notify=notify)
    except TooSoon as exc:
        actor.info("/note form by %s refused: moderator cooldown", actor.name)
        return NoteReply("too_soon", (exc.line(language),))
    except NotesUnavailable as exc:
        actor.warning("/note form by %s not saved: %s", actor.name, exc)
        return unavailable(language)
    if isinstance(outcome, NoteRejected):
        actor.info("/note form by %s rejected: %d problem(s)", actor.name, len(outcome.problems))
    elif isinstance(outcome, NoteSaved):
        _log_saved(outcome, actor)
    return note_reply(outcome, language)


async def remove_note(
    desk: NoteDesk | None,
    note_id: str,
    by: Moderator,
    language: Language,
    actor: Actor,
    notify: bool = True,
) -> NoteReply:
    """Stop serving `note_id` (its history is kept) and say how it went (`notify` False:
    nobody is told)."""
    if desk is None:
        actor.warning("/note remove by %s failed: no notes database", actor.name)
        return unavailable(language)
    try:
        outcome = await desk.remove(note_id, by, notify=notify)
    except TooSoon as exc:
        actor.info("/note remove by %s refused: moderator cooldown", actor.name)
        return NoteReply("too_soon", (exc.line(language),))
    except NotesUnavailable as exc:
        actor.warning("/note remove by %s failed: %s", actor.name, exc)
        return unavailable(language)
    if isinstance(outcome, NoteSaved):
        _log_saved(outcome, actor)
    return note_reply(outcome, language)


def _log_saved(saved: NoteSaved, actor: Actor) -> None:
    actor.info(
        "/note %s %s by %s: index %s",
        saved.note_id,
        saved.action,
        actor.name,
        saved.index_version or "(rebuild failed)",
    )


# ---------------------------------------------------------------------- closing the loop


@dataclass(frozen=True)
class Origin:
    """Where a member pressed a loop button, as the platform says it (raw ids, in memory only):
    the server or workspace (None: a DM), the channel and thread the answer is in, and for a DM
    the id to deliver to (Discord's DM channel, Slack's user or IM channel)."""

    platform: str
    user: str
    guild: str | None
    channel: str | None = None
    thread: str | None = None
    dm: str | None = None


@dataclass(frozen=True)
class HandedOff:
    """A question handed to the moderators: the hand-off, and the thread's earlier questions."""

    handoff: HandOff
    context: tuple[str, ...]


@dataclass(frozen=True)
class Resolved:
    """A hand-off a moderator marked resolved: where to tell the asker, and what."""

    handoff: HandOff
    line: str  # in the asker's language

    @property
    def place(self) -> Place:
        return self.handoff.place


def _loop_unavailable(language: Language) -> Say:
    return Say("loop.unavailable", text("loop.unavailable", language))


async def _asked(learning: LearningLoop, answer_id: str) -> Asked | None:
    """The question behind `answer_id`, written first if it is still buffered (a button pressed
    right after the answer)."""
    store = learning.store
    await asyncio.to_thread(store.flush, 2.0)
    return await asyncio.to_thread(store.loop.asked, answer_id)


async def subscribe(
    learning: LearningLoop | None,
    origin: Origin,
    answer_id: str,
    days: int,
    language: Language,
    actor: Actor,
) -> Say:
    """🔔 "Tell me when it's answered": subscribe the member who pressed it to the question of
    `answer_id`, to be told where they pressed it (the thread, or their DM)."""
    if learning is None or not learning.feedback:
        return _loop_unavailable(language)
    try:
        asked = await _asked(learning, answer_id)
        if asked is None:
            return Say("loop.unknown_answer", text("loop.unknown_answer", language))
        loop = learning.store.loop
        place = loop.place(
            origin.platform, origin.user, origin.guild, origin.channel, origin.thread, origin.dm
        )
        _, new = await asyncio.to_thread(
            loop.subscribe,
            place,
            origin.user,
            asked.question,
            asked.language,
            answer_id=answer_id,
            days=days,
        )
    except StorageError as exc:
        actor.warning("🔔 by %s not saved: %s", actor.name, exc)
        return _loop_unavailable(language)
    actor.info("🔔 by %s: %s", actor.name, "subscribed" if new else "already subscribed")
    if not new:
        return Say("loop.already_subscribed", text("loop.already_subscribed", language))
    return Say("loop.subscribed", text("loop.subscribed", language, days=days))


async def hand_off(
    learning: LearningLoop | None,
    origin: Origin,
    answer_id: str,
    days: int,
    language: Language,
    actor: Actor,
) -> HandedOff | Say:
    """ "Ask a moderator": open a hand-off of the question of `answer_id` in the member's
    community (never from a DM) and subscribe them, so the note that answers it tells them
    in their thread. The adapter then posts `request_lines` in the moderators' channel and
    says `loop.handoff_sent`."""
    if learning is None or not learning.feedback or origin.guild is None:
        return _loop_unavailable(language)
    try:
        asked = await _asked(learning, answer_id)
        if asked is None:
            return Say("loop.unknown_answer", text("loop.unknown_answer", language))
        loop = learning.store.loop
        place = loop.place(
            origin.platform, origin.user, origin.guild, origin.channel, origin.thread
        )
        handoff = await asyncio.to_thread(
            loop.open_handoff, place, origin.user, asked.question, asked.language, answer_id
        )
        await asyncio.to_thread(
            loop.subscribe,
            place,
            origin.user,
            asked.question,
            asked.language,
            answer_id=answer_id,
            days=days,
        )
        context = await asyncio.to_thread(loop.thread_questions, asked)
    except StorageError as exc:
        actor.warning("hand-off by %s not saved: %s", actor.name, exc)
        return _loop_unavailable(language)
    actor.info("hand-off %s opened by %s", handoff.public_id, actor.name)
    return HandedOff(handoff, tuple(context))


def request_lines(handed: HandedOff, language: Language) -> list[str]:
    """The moderators' channel message: the question, then its thread's earlier questions."""
    lines = [text("loop.request.title", language), f"> {handed.handoff.question}"]
    if handed.context:
        lines.append(text("loop.request.context", language))
        lines.extend(f"- {q}" for q in handed.context)
    return lines


async def resolve(
    learning: LearningLoop | None,
    public_id: str,
    community: Community | None,
    is_moderator: bool,
    platform: str,
    language: Language,
    actor: Actor,
) -> Resolved | Say:
    """ "Mark resolved" (re-checked: moderators only): resolve the hand-off in its own community
    (another's is never found), close the asker's subscription from it, and return the line to
    post in the asker's thread. Only the first press resolves it, on any number of hosts."""
    if not is_moderator or community is None:
        actor.info("Mark resolved by %s refused: not a moderator", actor.name)
        return Say("loop.not_moderator", not_moderator(platform, language, "note"))
    if learning is None:
        return _loop_unavailable(language)
    loop = learning.store.loop
    try:
        handoff = await asyncio.to_thread(loop.resolve_handoff, public_id, community)
        if handoff is None:
            return Say("loop.already_resolved", text("loop.already_resolved", language))
        if handoff.answer_id is not None:
            subs = await asyncio.to_thread(loop.subscriptions_for_answers, [handoff.answer_id])
            for sub in subs:
                if sub.user_hash == handoff.user_hash:
                    await asyncio.to_thread(loop.resolve_subscription, sub.id, "resolved")
    except StorageError as exc:
        actor.warning("Mark resolved by %s failed: %s", actor.name, exc)
        return _loop_unavailable(language)
    actor.info("hand-off %s resolved by %s", public_id, actor.name)
    asker: Language = "fr" if handoff.language == "fr" else "en"
    line = text("loop.resolved", asker, question=handoff.question)
    return Resolved(handoff, line)


async def handoff_noted(
    learning: LearningLoop | None, public_id: str, community: Community | None, actor: Actor
) -> bool:
    """A moderator saved a note from a hand-off ("Write a note"): the hand-off is resolved, and
    the asker's subscription stays open, so the notifier tells them if the new note answers
    (`AnsweredLater`). False when already resolved or unknown."""
    if learning is None or community is None:
        return False
    try:
        done = await asyncio.to_thread(learning.store.loop.resolve_handoff, public_id, community)
    except StorageError as exc:
        actor.warning("hand-off %s not marked answered: %s", public_id, exc)
        return False
    if done is not None:
        actor.info("hand-off %s answered by a note from %s", public_id, actor.name)
    return done is not None


async def handoff_question(
    learning: LearningLoop | None, public_id: str, community: Community | None
) -> HandOff | None:
    """The hand-off `public_id` of `community` ("Write a note" prefills the form with its
    question); None when unknown, another community's, or the database is down."""
    if learning is None or community is None:
        return None
    try:
        return await asyncio.to_thread(learning.store.loop.handoff, public_id, community)
    except StorageError:
        return None


async def reach_line(
    notifier: Notifier | None,
    note_id: str | None,
    claim: str,
    index: LoadedIndex,
    language: Language,
) -> str | None:
    """The note form's dry run: how many would be told of a change to this note (None: the
    loop is off, or the database cannot say now)."""
    if notifier is None:
        return None
    try:
        reach = await notifier.reach(note_id, claim, index)
    except StorageError:
        return None
    return text("loop.would_tell", language, threads=reach.threads, subscribers=reach.subscribers)


async def told_line(
    notifier: Notifier | None, saved: NoteSaved, language: Language, timeout: float = 10.0
) -> str | None:
    """The save report's "told" line once the notifications of this save are sent (None: the
    loop is off, nothing changed, a silent save, or not done in `timeout`)."""
    if notifier is None or saved.index_version is None:
        return None
    report = await notifier.told(saved.index_version, timeout)
    if report is None or saved.note_id in report.silent:
        return None
    return text("loop.told", language, threads=report.threads, subscribers=report.subscribers)
