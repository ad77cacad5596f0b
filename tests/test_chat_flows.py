"""The chat policy both adapters share (bot/chat/flows.py, redelivery.py, threads.py), as units:
stand-ins for the learning loop, the service and the notes desk; no chat library, no model."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, cast

import pytest

from bot.answering.changes import IndexChanges
from bot.answering.index_lifecycle import ReindexFailed
from bot.answering.status import ReindexReport
from bot.chat import flows
from bot.chat.redelivery import Redelivery
from bot.chat.threads import OwnThreads
from bot.community import Community
from bot.learning.report import Report
from bot.messages import text
from bot.notes.records import (
    FormProblem,
    Moderator,
    NoteForm,
    NoteRejected,
    NoteSaved,
    NotesUnavailable,
    NoteUnknown,
)
from bot.serving.moderation import TooSoon
from bot.storage import StorageError, VoteOutcome

if TYPE_CHECKING:
    from bot.learning.loop import LearningLoop
    from bot.notes.desk import NoteDesk
    from bot.serving.service import FactBotService

log = logging.getLogger("factbot.test_flows")
ACTOR = flows.Actor("Ada (user#abc)", log, "test: ")
BY = Moderator("discord", "42", "Ada")
SERVER = Community("discord", "1")


# ---------------------------------------------------------------------- redelivery


def test_an_event_is_handled_once_and_its_copy_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    seen = Redelivery(log, "test: ", size=2)
    with caplog.at_level(logging.INFO, logger=log.name):
        assert seen.first_time("message", 7)
        assert not seen.first_time("message", 7)
        assert seen.first_time("interaction", 7)  # another kind, another event
    assert [r.getMessage() for r in caplog.records] == ["test: ignoring redelivered message 7"]


def test_an_event_without_an_id_is_always_new_and_memory_is_bounded() -> None:
    seen = Redelivery(log, size=2)
    assert seen.first_time("event", "") and seen.first_time("event", "")
    for event in ("a", "b", "c"):
        assert seen.first_time("event", event)
    assert seen.first_time("event", "a")  # forgotten: only the last two are kept


# ---------------------------------------------------------------------- threads


class _Learning:
    """The learning loop's thread memory and votes, in memory."""

    def __init__(self, stored: set[tuple[str, str]] | None = None) -> None:
        self.stored = stored if stored is not None else set()
        self.lookups = 0
        self.votes: list[tuple[str, str, int, str | None, str]] = []
        self.vote_delay = 0.0
        self.outcome = VoteOutcome.RECORDED
        self.report_error: Exception | None = None

    def remember_thread(self, platform: str, thread_id: str) -> None:
        self.stored.add((platform, thread_id))

    async def is_bot_thread(self, platform: str, thread_id: str) -> bool:
        self.lookups += 1
        return (platform, thread_id) in self.stored

    async def vote(
        self, answer_id: str, user: str, vote: int, reason: str | None = None, platform: str = ""
    ) -> VoteOutcome:
        await asyncio.sleep(self.vote_delay)
        self.votes.append((answer_id, user, vote, reason, platform))
        return self.outcome

    async def report(self, days: int, community: Community) -> Any:
        if self.report_error is not None:
            raise self.report_error
        return ("report", days, community)


def _loop(fake: _Learning) -> LearningLoop:
    return cast("LearningLoop", fake)


async def test_a_thread_remembered_is_known_and_stored() -> None:
    learning = _Learning()
    threads = OwnThreads("slack", _loop(learning))
    threads.remember("C1:123.4")
    assert threads.known("C1:123.4") and not threads.known("C1:999.9")
    assert learning.stored == {("slack", "C1:123.4")}
    assert await threads.owns("C1:123.4") and learning.lookups == 0  # memory first


async def test_a_thread_from_before_a_restart_is_asked_of_the_store_once() -> None:
    learning = _Learning({("discord", "77")})
    threads = OwnThreads("discord", _loop(learning))
    assert not threads.known("77")
    assert await threads.owns("77") and await threads.owns("77")
    assert learning.lookups == 1  # then kept in memory
    assert not await threads.owns("78")


async def test_without_a_learning_loop_only_memory_counts() -> None:
    threads = OwnThreads("discord", None)
    assert not await threads.owns("1")
    threads.remember("1")
    assert await threads.owns("1")


# ---------------------------------------------------------------------- moderators' refusal


@pytest.mark.parametrize(
    ("command", "key"),
    [
        ("reindex", "reindex.not_moderator"),
        ("unanswered", "report.not_moderator"),
        ("note", "note.not_moderator"),
        ("other", "reindex.not_moderator"),
    ],
)
@pytest.mark.parametrize("platform", ["discord", "slack"])
def test_the_refusal_names_the_command_and_who_moderates_on_the_platform(
    command: str, key: str, platform: str
) -> None:
    who = text(f"reindex.moderators.{platform}", "fr")
    assert flows.not_moderator(platform, "fr", command) == text(key, "fr", who=who)


# ---------------------------------------------------------------------- votes


async def test_a_vote_without_feedback_says_feedback_is_off() -> None:
    reply = await flows.cast_vote(None, "slack", "a1", "U1", -1)
    assert reply == flows.VoteReply(None) and not reply.asks_reason(-1)
    assert reply.line("en") == text("feedback.off", "en")


@pytest.mark.parametrize(
    ("outcome", "vote", "asks"),
    [
        (VoteOutcome.RECORDED, -1, True),
        (VoteOutcome.CHANGED, -1, True),
        (VoteOutcome.RECORDED, 1, False),
        (VoteOutcome.EXPIRED, -1, False),
        (VoteOutcome.UNAVAILABLE, -1, False),
    ],
)
async def test_only_a_counted_downvote_in_time_asks_for_a_reason(
    outcome: VoteOutcome, vote: int, asks: bool
) -> None:
    learning = _Learning()
    learning.outcome = outcome
    reply = await flows.cast_vote(_loop(learning), "discord", "a1", "42", vote, within=5.0)
    assert reply.in_time and reply.asks_reason(vote) is asks
    assert learning.votes == [("a1", "42", vote, None, "discord")]


async def test_a_slow_vote_runs_late_first_and_is_not_in_time() -> None:
    learning = _Learning()
    learning.vote_delay = 0.05
    order: list[str] = []

    async def late() -> None:
        order.append("late" if not learning.votes else "after the vote")

    reply = await flows.cast_vote(_loop(learning), "discord", "a1", "42", -1, within=0.0, late=late)
    assert order == ["late"]  # before the vote completed (Discord defers in time)
    assert not reply.in_time and reply.counted and not reply.asks_reason(-1)


async def test_a_vote_without_a_user_is_not_recorded() -> None:
    learning = _Learning()
    reply = await flows.cast_vote(_loop(learning), "slack", "a1", "", -1, "why")
    assert reply.outcome is None and learning.votes == []


# ---------------------------------------------------------------------- /unanswered


async def test_the_report_flow_says_why_not_or_returns_the_report() -> None:
    calls: list[str] = []

    async def started() -> None:
        calls.append("started")

    off = await flows.unanswered(None, 7, SERVER, "fr", ACTOR, started)
    assert off == flows.Say("report.disabled", text("report.disabled", "fr"))
    assert calls == []  # nothing deferred for a one-line answer

    learning = _Learning()
    found = await flows.unanswered(_loop(learning), 3, SERVER, "en", ACTOR, started)
    assert cast("object", found) == ("report", 3, SERVER) and calls == ["started"]

    learning.report_error = StorageError("database down")
    down = await flows.unanswered(_loop(learning), 3, SERVER, "en", ACTOR)
    assert down == flows.Say("report.unavailable", text("report.unavailable", "en"))
    assert not isinstance(down, Report)


# ---------------------------------------------------------------------- /reindex


class _Service:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.actors: list[str] = []

    async def reindex(self, actor: str, by: Moderator | None = None) -> ReindexReport:
        self.actors.append(actor)
        if self.error is not None:
            raise self.error
        return ReindexReport(IndexChanges("v1", "v2", 10, 11), 1.5)

    def info(self) -> Any:
        class Info:
            version = "v1"

        return Info()


def _service(fake: _Service) -> FactBotService:
    return cast("FactBotService", fake)


async def test_reindex_returns_the_report_and_logs_who_ran_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    service = _Service()
    with caplog.at_level(logging.INFO, logger=log.name):
        done = await flows.reindex(_service(service), BY, "en", ACTOR, audit="slack:Ada")
    assert isinstance(done, ReindexReport) and done.version == "v2"
    assert service.actors == ["slack:Ada"]
    logged = [r.getMessage() for r in caplog.records]
    assert logged[0] == "test: /reindex run by Ada (user#abc)"
    assert logged[-1] == "test: /reindex by Ada (user#abc) done: v2, 11 chunks"


async def test_reindex_failure_and_cooldown_are_plain_results() -> None:
    failed = await flows.reindex(_service(_Service(ReindexFailed(["bad note"]))), BY, "en", ACTOR)
    assert failed == flows.ReindexFailure(("bad note",), "v1")
    soon = await flows.reindex(_service(_Service(TooSoon(3.2))), BY, "fr", ACTOR)
    assert soon == flows.Say("moderation.too_soon", TooSoon(3.2).line("fr"))


# ---------------------------------------------------------------------- notes

SAVED = NoteSaved("n1", "edited", 2, "a claim", "false", "v2", "v1", None, None)
REJECTED = NoteRejected((FormProblem("claim", "not in the article"),))


class _Desk:
    def __init__(self, result: object) -> None:
        self.result = result

    async def save(
        self,
        form: NoteForm,
        by: Moderator,
        note_id: str | None = None,
        language: str = "en",
        notify: bool = True,
    ) -> object:
        if isinstance(self.result, Exception):
            raise self.result
        return self.result

    async def remove(self, note_id: str, by: Moderator, notify: bool = True) -> object:
        return await self.save(NoteForm(), by, note_id)


def _desk(result: object) -> NoteDesk:
    return cast("NoteDesk", _Desk(result))


@pytest.mark.parametrize(
    ("result", "kind", "keeps_form"),
    [
        (SAVED, "saved", False),
        (REJECTED, "rejected", True),
        (NoteUnknown("n9"), "unknown", False),
        (TooSoon(1.0), "too_soon", True),
        (NotesUnavailable("down"), "unavailable", True),
    ],
)
async def test_a_note_save_says_what_happened(result: object, kind: str, keeps_form: bool) -> None:
    reply = await flows.save_note(_desk(result), NoteForm(), BY, "n1", "en", ACTOR)
    assert (reply.kind, reply.keeps_form) == (kind, keeps_form)
    assert reply.lines and all(reply.lines)
    if not isinstance(result, Exception):
        assert reply == flows.note_reply(cast("NoteSaved", result), "en")


async def test_no_notes_database_is_unavailable_for_a_save_and_a_removal() -> None:
    saved = await flows.save_note(None, NoteForm(), BY, None, "fr", ACTOR)
    removed = await flows.remove_note(None, "n1", BY, "fr", ACTOR)
    assert saved == removed == flows.unavailable("fr")
    assert saved.lines == (text("note.unavailable", "fr"),)


async def test_a_removal_reports_like_a_save_and_a_failed_rebuild_shows() -> None:
    failed = NoteSaved("n1", "removed", 3, "a claim", None, None, "v1", None, None, ("boom",))
    reply = await flows.remove_note(_desk(failed), "n1", BY, "en", ACTOR)
    assert reply.kind == "saved" and reply.rebuild_failed and reply.outcome == failed
    assert not (await flows.remove_note(_desk(SAVED), "n1", BY, "en", ACTOR)).rebuild_failed
    unknown = await flows.remove_note(_desk(NoteUnknown("n9")), "n9", BY, "en", ACTOR)
    assert unknown.kind == "unknown" and "n9" in unknown.lines[0]
