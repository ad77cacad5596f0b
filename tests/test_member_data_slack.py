"""Each workspace sees only its own data, and members erase theirs, on Slack end to end: the real
slack_bolt app in Socket Mode against the fake Slack, the real service and a real SQLite store.
A second workspace's member writes in a shared channel (Slack Connect: the event carries their
team); a DM is a message event in an `im` channel."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.chat.slack.privacy import ERASE_ACTION
from bot.serving.service import FactBotService
from bot.settings import Settings
from bot.storage import VoteOutcome
from tests.chat_support import slack_env
from tests.fakes.slack_server import BOT_USER_ID, TEAM_ID, FakeSlack
from tests.learning_support import questions, votes
from tests.test_feedback_slack import buttons, fake, slack_with_learning
from tests.test_slack_app import block_texts, mention, message

pytestmark = pytest.mark.timeout(240)

__all__ = ["fake"]  # the fixture, shared with the other Slack learning tests

OTHER_TEAM = "T0OTHER"
IN_A = "What is the recipe for lasagna?"
IN_B = "Who won the football world cup in 2018?"
IN_DM = "What is the weather in Lyon tomorrow?"


async def test_a_moderator_sees_only_their_workspace_and_a_member_erases_their_data(
    fake: FakeSlack,
    service: FactBotService,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'var' / 'factbot.db'}"
    settings = make_settings(**slack_env(fake), DATABASE_URL=url, USER_COOLDOWN_SECONDS="0")
    async with slack_with_learning(settings, service, fake) as loop:
        await fake.command("/ask", IN_A)  # alice, in the bot's workspace
        other = mention(f"<@{BOT_USER_ID}> {IN_B}", fake.next_ts(), user="UBOB")
        await fake.event({**other, "team": OTHER_TEAM})
        dm = message(IN_DM, fake.next_ts(), thread_ts=None, channel="D0CAROL")
        await fake.event({**dm, "user": "UCAROL", "channel_type": "im"})
        posted = await fake.wait_for(
            lambda: len(fake.calls_to("chat.postMessage")) >= 3 or None, timeout=60
        )
        assert posted
        assert loop.store.flush(timeout=30)
        rows = {r["question"]: r for r in questions(loop.store)}
        assert rows[IN_A]["guild_id"] == TEAM_ID and rows[IN_B]["guild_id"] == OTHER_TEAM
        assert (rows[IN_DM]["guild_id"], rows[IN_DM]["channel_id"]) == (None, None)
        assert "D0CAROL" not in json.dumps(list(rows.values()), default=str)

        # A 👎 on the other workspace's answer, and alice's 👍 on it.
        b_id = str(rows[IN_B]["answer_id"])
        assert await loop.vote(b_id, "UBOB", -1, "wrong", "slack") is VoteOutcome.RECORDED
        assert await loop.vote(b_id, "UALICE", 1, platform="slack") is VoteOutcome.RECORDED

        env = await fake.command("/unanswered", "7", user="UADMIN", user_name="admin")
        (report,) = await fake.wait_for(lambda: fake.responses_to(env), timeout=120)
        shown = json.dumps(report.args, ensure_ascii=False)
        assert IN_A in shown
        assert IN_B not in shown and IN_DM not in shown and "wrong" not in shown
        assert any(
            "1 questions: 0 answered, 1 refused, 0 rejected" in t for t in block_texts(report)
        )

        # /privacy: alice is told, privately, what is kept; the button (behind a confirm
        # dialog) erases her data only and says so in one line.
        asked = await fake.command("/privacy", user="UALICE")
        (summary,) = await fake.wait_for(lambda: fake.responses_to(asked), timeout=60)
        assert summary.args["response_type"] == "ephemeral"
        assert "1 question(s), 1 👍/👎 vote(s)" in summary.args["text"]
        assert "after 90 days" in json.dumps(summary.args["blocks"])
        (button,) = [b for b in buttons(summary) if b["action_id"] == ERASE_ACTION]
        assert button["confirm"]["confirm"]["text"] == "Erase"
        pressed = await fake.block_action(
            summary, ERASE_ACTION, user="UALICE", channel="CGENERAL", confirm=True
        )
        (done,) = await fake.wait_for(lambda: fake.responses_to(pressed), timeout=60)
        assert done.args["replace_original"] is True
        assert "Erased: 1 question(s), 1 vote(s), 0 subscription(s)." in done.args["text"]
        assert {r["question"] for r in questions(loop.store)} == {IN_B, IN_DM}
        assert votes(loop.store) == [(b_id, -1, "wrong")]
