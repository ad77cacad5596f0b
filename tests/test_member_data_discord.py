"""Each community sees only its own data, and members erase theirs, on Discord end to end: the
real discord.py client against the fake Discord (a second server and a DM are interactions the
fake's world does not hold: their payloads are the fake's own, moved), the real service and a
real SQLite store, read back from the tables."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.chat.discord.privacy import ERASE_ID
from bot.serving.service import FactBotService
from bot.settings import Settings
from bot.storage import VoteOutcome
from tests.fakes.discord_server import EPHEMERAL, MANAGE_GUILD, FakeDiscord, Interaction
from tests.learning_support import questions, votes
from tests.test_feedback_discord import answer_id_of, bot_with_learning, sqlite_url
from tests.test_notes_discord import sent

pytestmark = pytest.mark.timeout(240)

ALICE = 1400000000000000001  # the fake's default member, in server A
BOB = 1400000000000000002  # in server B
CAROL = 1400000000000000003  # in a DM with the bot
SERVER_B = 1200000000000000099
DM_CHANNEL = 1500000000000000042
IN_A = "What is the best carbonara recipe?"
IN_B = "Who won the football world cup in 2018?"
IN_DM = "What is the weather in Lyon tomorrow?"


async def ask_in(
    fake: FakeDiscord, question: str, *, user_id: int, guild_id: int | None
) -> dict[str, Any]:
    """/ask from another server (`guild_id`) or from a DM (None); the answer message."""
    data = fake._command_data("ask", None, {"question": question})
    channel = DM_CHANNEL if guild_id is None else guild_id + 10
    payload = fake._interaction(
        2,
        data,
        channel_id=channel,
        user_id=user_id,
        user_name=f"user-{user_id % 100}",
        permissions=0,
        roles=(),
        locale="en-US",
    )
    if guild_id is None:  # a DM: a user instead of a member, a DM channel, no server
        user = payload.pop("member")["user"]
        payload.pop("guild_id")
        payload["user"] = user
        payload["channel"] = {"id": str(channel), "type": 1, "recipients": [user]}
        payload["context"] = 1
        payload["authorizing_integration_owners"] = {"1": str(user_id)}
    else:
        payload["guild_id"] = str(guild_id)
        payload["channel"]["guild_id"] = str(guild_id)
        payload["authorizing_integration_owners"] = {"0": str(guild_id)}
    interaction = await fake._inject(payload)
    return await answer_to(fake, interaction)


async def answer_to(fake: FakeDiscord, interaction: Interaction) -> dict[str, Any]:
    (message,) = await fake.wait_for(
        lambda r: (
            r.path.startswith("/webhooks/")
            and interaction.token in r.path
            and r.method == "POST"
            and r.accepted
        ),
        timeout=60,
    )
    assert isinstance(message.response, dict)
    return message.response


async def test_a_moderator_sees_only_their_server_and_a_member_erases_their_data(
    make_settings: Callable[..., Settings], service: FactBotService, tmp_path: Path
) -> None:
    async with bot_with_learning(make_settings, service, sqlite_url(tmp_path)) as (fake, loop):
        in_a = await answer_to(fake, await fake.interact("ask", {"question": IN_A}))
        in_b = await ask_in(fake, IN_B, user_id=BOB, guild_id=SERVER_B)
        await ask_in(fake, IN_DM, user_id=CAROL, guild_id=None)
        # A 👎 in server B (bob's), and alice's 👍 on that answer too (the buttons' own path is
        # tests/test_feedback_discord.py's).
        assert loop.store.flush(timeout=30)
        b_id = answer_id_of(in_b)
        assert await loop.vote(b_id, str(BOB), -1, platform="discord") is VoteOutcome.RECORDED
        assert await loop.vote(b_id, str(ALICE), 1, platform="discord") is VoteOutcome.RECORDED

        # The DM's row belongs to no server and keeps no channel id.
        rows = {r["question"]: r for r in questions(loop.store)}
        assert (rows[IN_DM]["guild_id"], rows[IN_DM]["channel_id"]) == (None, None)
        assert rows[IN_B]["guild_id"] == str(SERVER_B)
        assert str(DM_CHANNEL) not in json.dumps(list(rows.values()), default=str)

        # Server A's moderator: server A's refused question only; B's and the DM's never.
        report = await fake.interact(
            "unanswered", {"days": 7}, permissions=MANAGE_GUILD, roles=[fake.moderator_role_id]
        )
        reply = await fake.wait_reply(report, timeout=120)
        assert reply.ephemeral
        shown = json.dumps(reply.message, ensure_ascii=False)
        assert IN_A in shown
        assert IN_B not in shown and IN_DM not in shown
        (embed,) = reply.message["embeds"]
        assert "1 questions: 0 answered, 1 refused, 0 rejected" in embed["description"]
        fields = {f["name"]: f["value"] for f in embed["fields"]}
        assert "Answers voted down: none" in fields

        # /privacy: alice is told, privately, what is kept; "Erase my data" erases hers only.
        asked = await fake.interact("privacy")
        summary = await fake.wait_reply(asked, timeout=60)
        assert summary.ephemeral and summary.message["flags"] & EPHEMERAL
        content = summary.message["content"]
        assert content.startswith("What factbot keeps about you: 1 question(s), 1 👍/👎 vote(s)")
        assert "after 90 days" in content
        (message,) = sent(fake, asked)
        erase = await fake.press(message, ERASE_ID)
        done = await fake.wait_callback(erase)
        assert done.body["type"] == 7  # the summary is replaced by one line
        assert done.body["data"]["content"] == (
            "Erased: 1 question(s), 1 vote(s), 0 subscription(s)."
        )
        assert done.body["data"]["components"] == []
        left = {r["question"] for r in questions(loop.store)}
        assert left == {IN_B, IN_DM}
        assert votes(loop.store) == [(b_id, -1, None)]  # bob's 👎 stays
        assert in_a["id"]  # alice's answer message itself is Discord's, not the bot's data
