"""Units of the learning loop: what the question log keeps of each outcome (on a real SQLite
store), the loop's answer ids and thread memory, and the feedback and report renderings within
the platforms' limits."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from bot.answer import Answer, FactCheckRef, SourceRef
from bot.chat.discord import render as discord_render
from bot.chat.slack import render as slack_render
from bot.learning.loop import LearningLoop, parse_days, vote_line
from bot.learning.question_log import QuestionLog
from bot.learning.report import Group, Report, Totals
from bot.serving.intake import Admission, Admitted, Failed, Intake, Refusal, Request
from bot.storage import Database, Store, VoteOutcome
from bot.storage.hashing import UserHasher
from bot.storage.loop import LoopStats
from tests.fakes.slack_server import block_kit_problems, view_problems
from tests.learning_support import KEY, questions, votes


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(Database(f"sqlite:///{tmp_path / 'q.db'}"), UserHasher(KEY), interval=0.02)
    assert store.start(wait=30)
    yield store
    store.close()


def _answer(refused: bool = False) -> Answer:
    quote = SourceRef("a:p5", "article", "article-fr", 5, "« Une phrase. »", 0.8)
    as_source = SourceRef("fc-2:s", "factcheck", "fc-2-dorn", None, "A note quoted.", 0.7)
    note = FactCheckRef("fc-13-launch-date", "claim", "outdated", "Outdated", "summary")
    if refused:
        return Answer("Carbonara?", "en", True, "Not covered.", index_version="v7")
    return Answer("Quand ?", "fr", False, "text", (quote, as_source), (note,), "v7")


def test_the_question_log_keeps_each_outcome_of_chat_questions(store: Store) -> None:
    log = QuestionLog(store)
    asked = Request("discord", "42", "  Quand ?  ", guild="G", channel="C")
    log.on_outcome(asked, _answer(), 0.25)
    log.on_outcome(Request("slack", "U1", "Carbonara?"), _answer(refused=True), 0.1)
    spam = Request("slack", "U1", "again?")
    log.on_outcome(spam, Refusal("rate_limited", "en", "wait", 3.0), 0.0)
    log.on_outcome(Request("discord", "42", "boom"), Failed(RuntimeError("x")), 0.5)
    # Not questions, or not the community's: not kept.
    log.on_outcome(Request("discord", "42", "topic", "factcheck"), _answer(), 0.1)
    log.on_outcome(Request("console", "local", "Quand ?"), _answer(), 0.1)
    assert store.flush(timeout=30)

    first, refused, limited, failed = questions(store)
    assert first["answer_id"] == asked.id and first["question"] == "Quand ?"
    assert (first["outcome"], first["language"], first["index_version"]) == ("answered", "fr", "v7")
    assert first["note_ids"] == ["fc-13-launch-date", "fc-2-dorn"]  # verdicts, then quoted notes
    assert (first["guild_id"], first["channel_id"], first["latency_ms"]) == ("G", "C", 250.0)
    assert first["user_hash"] == UserHasher(KEY)("discord", "42")
    assert first["lead"] is None
    assert (refused["outcome"], refused["note_ids"]) == ("refused", [])
    assert (limited["outcome"], limited["reason"], limited["question"]) == (
        "rejected",
        "rate_limited",
        "again?",
    )
    assert (failed["outcome"], failed["reason"]) == ("rejected", "error: RuntimeError")


def test_every_request_has_its_own_public_id() -> None:
    a, b = Request("discord", "1", "same"), Request("discord", "1", "same")
    assert a == b and a.id != b.id  # equal as requests, never sharing a log row
    assert len(a.id) == 16 and discord_render.VOTE_ID.fullmatch(f"factbot:vote:up:{a.id}")


def _encode(texts: object) -> np.ndarray:
    raise AssertionError("not called")


def test_answer_ids_only_when_questions_are_logged(tmp_path: Path) -> None:
    request = Request("slack", "U1", "Quand ?")
    admitted = Admitted(request, "Quand ?", "fr")
    on = LearningLoop(Store(Database(f"sqlite:///{tmp_path / 'a.db'}"), UserHasher(KEY)), _encode)
    off = LearningLoop(
        Store(Database(f"sqlite:///{tmp_path / 'b.db'}"), UserHasher(KEY), log_questions=False),
        _encode,
    )
    assert on.answer_id(admitted) == request.id
    assert off.answer_id(admitted) is None
    assert asyncio.run(off.vote(request.id, "U1", 1)) is None
    assert vote_line(None, "en") == "Votes are no longer collected here."
    assert vote_line(VoteOutcome.RECORDED, "fr") == "Merci !"


def test_thread_memory_remembers_and_forgets_a_no_briefly(store: Store) -> None:
    loop = LearningLoop(store, _encode)

    async def scenario() -> list[bool]:
        before = await loop.is_bot_thread("slack", "C1:1.0")
        loop.remember_thread("slack", "C1:1.0")  # the "no" above must not stick
        after = await loop.is_bot_thread("slack", "C1:1.0")
        return [before, after]

    assert asyncio.run(scenario()) == [False, True]
    assert store.flush(timeout=30)
    restarted = Store(store.database, UserHasher(KEY))
    assert restarted.is_bot_thread("slack", "C1:1.0")


@pytest.mark.parametrize(
    ("typed", "days"), [("", 7), (" 30 ", 30), ("1", 1), ("365", 365), ("0", None), ("x", None)]
)
def test_report_days(typed: str, days: int | None) -> None:
    assert parse_days(typed) == days


def _big_report() -> Report:
    long = "Pourquoi " + "très " * 120 + "longue ?"
    groups = tuple(
        Group(40 - i, f"{long} @everyone <@1> **{i}**", ("fr", "en"), 3, 1, ("trop " * 60,) * 3)
        for i in range(40)
    )
    now = datetime.now(UTC)
    totals = Totals(
        400,
        200,
        150,
        50,
        12,
        30,
        {"fr": {"questions": 300, "answered": 150, "refused": 100, "rejected": 50}},
    )
    return Report(7, now - timedelta(days=7), now, totals, groups, groups)


def test_the_discord_report_fits_one_embed() -> None:
    spec = discord_render.report_spec(_big_report(), "fr")
    assert spec.total() <= discord_render.EMBED_TOTAL_MAX
    assert len(spec.fields) <= discord_render.FIELDS_MAX
    assert all(len(v) <= discord_render.FIELD_VALUE_MAX for _, v in spec.fields)
    assert spec.fields[0][0] == "Questions sans réponse : 820 en 40 groupe(s)"
    assert any(n.startswith("Réponses jugées inutiles : 820 en 40") for n, _ in spec.fields)
    # Each list keeps its share of the embed; what does not fit is counted, not dropped silently.
    assert sum(v.endswith(" de plus") and "… et " in v for _, v in spec.fields) == 2
    assert "@everyone" not in spec.to_embed().to_dict().get("description", "")
    assert all("<@1>" not in v for _, v in spec.fields)  # user text is escaped


def test_the_slack_report_and_feedback_keep_to_block_kit() -> None:
    report = slack_render.render_report(_big_report(), "en")
    assert block_kit_problems(report.payload()) == []
    assert not any("<@1>" in b.get("text", {}).get("text", "") for b in report.blocks)
    many = tuple(SourceRef(f"a:{i}", "article", "article-fr", i, "« x »", 0.5) for i in range(80))
    answer = Answer("q", "en", False, "text", many, (), "v1")
    shown = slack_render.render_answer(answer, "U1", answer_id="abc")
    assert block_kit_problems(shown.payload()) == []
    assert len(shown.blocks) == slack_render.MAX_BLOCKS
    assert shown.blocks[-1]["type"] == "actions"
    assert [e["value"] for e in shown.blocks[-1]["elements"]] == ["abc", "abc"]
    assert slack_render.feedback_language(shown.blocks[-1]["block_id"]) == "en"
    for language in ("fr", "en"):
        view = slack_render.reason_modal("abc", language, "C1", None)
        assert view_problems(view) == []


def test_submitted_reasons_are_read_from_both_modal_layouts() -> None:
    label = {
        "components": [
            {"type": 18, "component": {"custom_id": "factbot:reason:text", "value": " Wrong date "}}
        ]
    }
    row = {
        "components": [
            {"type": 1, "components": [{"custom_id": "factbot:reason:text", "value": "Old"}]}
        ]
    }
    assert discord_render.submitted_reason(label) == "Wrong date"
    assert discord_render.submitted_reason(row) == "Old"
    assert discord_render.submitted_reason({"components": []}) == ""
    view = {
        "private_metadata": '{"answer": "abc"}',
        "state": {"values": {"reason": {"reason": {"value": "nope"}}}},
    }
    assert slack_render.submitted_reason(view) == ({"answer": "abc"}, "nope")
    assert slack_render.submitted_reason({"private_metadata": "not json"}) == ({}, "")


async def test_recorded_votes_reach_the_vote_listeners(store: Store) -> None:
    loop = LearningLoop(store, _encode)
    heard: list[tuple[str, int]] = []
    loop.vote_listeners.append(lambda platform, vote: heard.append((platform, vote)))
    asked = Request("discord", "42", "Quand ?")
    QuestionLog(store).on_outcome(asked, _answer(), 0.1)
    assert store.flush(timeout=30)
    await loop.vote(asked.id, "7", 1, platform="discord")
    await loop.vote(asked.id, "7", -1, platform="discord")  # changed
    await loop.vote(asked.id, "7", -1, "wrong date", "discord")  # its reason: not a new vote
    await loop.vote("no-such-answer", "7", 1, platform="discord")  # expired: not counted
    assert heard == [("discord", 1), ("discord", -1)]


class _FeedbackService:
    """Answers "c'est faux" as feedback in words (as the engine does), anything else as a fact."""

    async def ask(self, question: str, history: object = ()) -> Answer:
        act = "feedback" if question == "c'est faux" else "fact"
        return Answer(question, "fr", False, "text", act=act)  # type: ignore[arg-type]

    async def factchecks(self, topic: str | None, language: object) -> list[FactCheckRef]:
        return []

    def info(self) -> object:
        raise AssertionError("not called")


async def test_feedback_in_words_is_a_thumbs_down_on_the_previous_answer(store: Store) -> None:
    learning = LearningLoop(store, _encode)
    intake = Intake(_FeedbackService(), Admission(500))  # type: ignore[arg-type]
    learning.observe(intake)
    first = Request("discord", "42", "Quand ?", conversation="thread-1")
    assert isinstance(await intake.handle(first), Answer)
    said = await intake.handle(Request("discord", "42", "c'est faux", conversation="thread-1"))
    assert isinstance(said, Answer) and said.act == "feedback" and said.feedback_on == first.id
    # Elsewhere (no earlier answer in that conversation): nothing to tie it to, told how to vote.
    alone = await intake.handle(Request("discord", "42", "c'est faux", conversation="thread-2"))
    assert isinstance(alone, Answer) and alone.feedback_on is None and "👎" in alone.text
    await learning.words.drain()
    assert votes(store) == [(first.id, -1, "c'est faux")]
    # The feedback is no context for a follow-up, and no answer to vote on.
    assert [t.question for t in intake.memory.history(("discord", "thread-1"))] == ["Quand ?"]


def test_unanswered_shows_what_closing_the_loop_did_on_both_platforms() -> None:
    stats = LoopStats(
        subscriptions=3,
        answered_later=2,
        corrections_sent=5,
        answers_sent=2,
        handoffs_open=1,
        handoffs_resolved=4,
        median_resolution_hours=6.5,
    )
    report = dataclasses.replace(_big_report(), loop=stats)
    spec = discord_render.report_spec(report, "en")
    assert "Follow-up: 3 subscription(s), 2 question(s) answered later" in spec.description
    assert "6.5" in spec.description and spec.total() <= discord_render.EMBED_TOTAL_MAX
    shown = slack_render.render_report(report, "fr")
    assert block_kit_problems(shown.payload()) == []
    assert "Suivi : 3 abonnement(s)" in shown.text + json.dumps(shown.blocks, ensure_ascii=False)
