"""The learning loop on Slack, end to end: the real slack_bolt app in Socket Mode against the fake
Slack, with a real SQLite store. 👍/👎 are `block_actions` envelopes, the 👎 reason a modal opened
with `views.open` and sent back as a `view_submission`; what the bot stored is read back from
the tables. Waits are event-based; timeouts only bound a failure.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, cast

import pytest

from bot.chat.slack.render import feedback_block
from bot.learning.loop import LearningLoop
from bot.serving.service import FactBotService
from bot.settings import Settings
from tests.chat_support import running_slack, slack_env
from tests.fakes.slack_server import BOT_USER_ID, Call, FakeSlack
from tests.learning_support import (
    log_old_answer,
    logged,
    questions,
    votes,
)
from tests.test_slack_app import StubService, block_texts, mention, message

pytestmark = pytest.mark.timeout(120)

OFF_TOPIC = "What is the recipe for lasagna?"


@contextlib.asynccontextmanager
async def slack_with_learning(
    settings: Settings, service: object, fake: FakeSlack
) -> AsyncIterator[LearningLoop]:
    """The bot with its question log, connected to `fake`; every envelope must be acked."""
    async with (
        logged(settings, cast(FactBotService, service)) as (intake, learning),
        running_slack(settings, service, fake, intake, learning),
    ):
        yield learning


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    server = FakeSlack(users={"UALICE": {"name": "alice"}, "UADMIN": {"is_admin": True}})
    await server.start()
    yield server
    await server.close()


def settings_for(fake: FakeSlack, tmp_path: Path, **extra: str) -> Settings:
    env = {
        "USER_COOLDOWN_SECONDS": "0",
        "INDEX_WATCH_SECONDS": "0",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'factbot.db'}",
        **slack_env(fake),
        **extra,
    }
    return Settings.from_mapping(env)


def buttons(call: Call) -> list[dict[str, Any]]:
    return [e for b in call.args.get("blocks", []) if b["type"] == "actions" for e in b["elements"]]


async def ephemeral_text(fake: FakeSlack, envelope: str) -> str:
    (reply,) = await fake.wait_for(lambda: fake.responses_to(envelope), timeout=60)
    assert reply.args["response_type"] == "ephemeral" and not reply.args["replace_original"]
    return str(reply.args["text"])


async def test_votes_reason_and_expiry(fake: FakeSlack, tmp_path: Path) -> None:
    async with slack_with_learning(settings_for(fake, tmp_path), StubService(), fake) as loop:
        await fake.command("/ask", "When did Chang'e 6 launch?")
        (answer,) = await fake.wait_for(lambda: fake.calls_to("chat.postMessage"))
        up, down = buttons(answer)
        assert (up["text"]["text"], down["text"]["text"]) == ("👍", "👎")
        answer_id = up["value"]
        assert down["value"] == answer_id

        pressed = await fake.block_action(answer, "factbot_vote_up")
        assert await ephemeral_text(fake, pressed) == "Thanks!"
        assert votes(loop.store) == [(answer_id, 1, None)]
        (row,) = questions(loop.store)
        assert row["answer_id"] == answer_id and row["platform"] == "slack"
        assert row["channel_id"] == "CGENERAL" and row["guild_id"] == "T0FAKE"

        # 👎 changes the vote and opens the optional reason modal on the press's trigger_id.
        await fake.block_action(answer, "factbot_vote_down", user="UALICE")
        (opened,) = await fake.wait_for(lambda: fake.views_opened, timeout=60)
        (call,) = fake.calls_to("views.open")
        assert call.args["trigger_id"].startswith("trigger-")
        assert json.loads(opened["private_metadata"])["answer"] == answer_id
        assert votes(loop.store) == [(answer_id, -1, None)]

        await fake.submit_view(opened, {"reason": {"reason": "The date is wrong"}})
        (thanks,) = await fake.wait_for(lambda: fake.calls_to("chat.postEphemeral"), timeout=60)
        assert thanks.args["user"] == "UALICE" and thanks.args["channel"] == "CGENERAL"
        assert "Thanks!" in thanks.args["text"]
        assert votes(loop.store) == [(answer_id, -1, "The date is wrong")]

        # An answer past the retention window: a polite ephemeral line, nothing stored.
        log_old_answer(loop.store, "old-answer-0001", "slack")
        old = Call(
            "chat.postMessage",
            fake.bot_token,
            {"channel": "CGENERAL", "blocks": [feedback_block("old-answer-0001", "en")]},
            response={"ts": fake.next_ts()},
        )
        expired = await fake.block_action(old, "factbot_vote_up")
        assert "expired" in await ephemeral_text(fake, expired)
        assert [a for a, _, _ in votes(loop.store)] == [answer_id]


async def test_no_log_and_no_buttons_when_questions_are_not_logged(
    fake: FakeSlack, tmp_path: Path
) -> None:
    settings = settings_for(fake, tmp_path, LOG_QUESTIONS="off")
    async with slack_with_learning(settings, StubService(), fake) as loop:
        await fake.command("/ask", "When did Chang'e 6 launch?")
        (answer,) = await fake.wait_for(lambda: fake.calls_to("chat.postMessage"))
        assert buttons(answer) == []
        assert loop.store.flush(timeout=30)
        assert questions(loop.store) == []


async def test_unanswered_lists_a_refused_question_to_moderators_only(
    fake: FakeSlack,
    service: FactBotService,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'var' / 'factbot.db'}"
    settings = make_settings(**slack_env(fake), DATABASE_URL=url)
    async with slack_with_learning(settings, service, fake) as loop:
        await fake.command("/ask", OFF_TOPIC)
        (refused,) = await fake.wait_for(lambda: fake.calls_to("chat.postMessage"), timeout=60)
        assert any("Not covered by the article" in t for t in block_texts(refused))
        assert buttons(refused), "a refusal gets 👍/👎 too"
        assert loop.store.flush(timeout=30)

        env = await fake.command("/unanswered", "7", user="UADMIN", user_name="admin")
        (report,) = await fake.wait_for(lambda: fake.responses_to(env), timeout=90)
        assert report.ok and report.args["response_type"] == "ephemeral"
        texts = block_texts(report)
        assert "Questions from the last 7 day(s)" in report.args["text"]
        assert any("1 questions: 0 answered, 1 refused, 0 rejected" in t for t in texts)
        assert any(f"*1×* « {OFF_TOPIC} » (en)" in t for t in texts)

        denied = await fake.command("/unanswered", "", user="UALICE")
        line = await ephemeral_text(fake, denied)
        assert line.startswith("Only moderators can see this report")
        bad = await fake.command("/unanswered", "forever", user="UADMIN")
        assert (await ephemeral_text(fake, bad)).startswith("Usage: /unanswered [days]")


async def test_a_thread_follow_up_needs_no_mention_after_a_restart(
    fake: FakeSlack, tmp_path: Path
) -> None:
    stub = StubService()
    settings = settings_for(fake, tmp_path)
    root = fake.next_ts()
    async with slack_with_learning(settings, stub, fake):
        await fake.event(mention(f"<@{BOT_USER_ID}> first question", root))
        await fake.wait_for(lambda: fake.calls_to("chat.postMessage"))

    # A new process on the same database: its memory of threads is empty.
    async with slack_with_learning(settings, stub, fake):
        await fake.event(message("second question", fake.next_ts(), thread_ts=root))
        await fake.wait_for(lambda: len(fake.calls_to("chat.postMessage")) == 2, timeout=60)
    follow_up = fake.calls_to("chat.postMessage")[1]
    assert follow_up.args["thread_ts"] == root
    assert stub.asked == ["first question", "second question"]
