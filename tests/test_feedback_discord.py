"""The learning loop on Discord, end to end: the real discord.py client against the fake Discord,
the real service, and a real database (SQLite, or PostgreSQL for the outage).

👍/👎 presses are component interactions, the 👎 reason a modal submit; what the bot stored is
read back from the tables. Waits are event-based; timeouts only bound a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.chat.discord.render import REASON_INPUT_ID, vote_custom_id
from bot.learning.loop import LearningLoop
from bot.serving.service import FactBotService
from bot.settings import Settings
from tests.chat_support import discord_env, running_discord
from tests.fakes.discord_server import EPHEMERAL, MANAGE_GUILD, FakeDiscord, Recorded
from tests.learning_support import (
    log_old_answer,
    logged,
    questions,
    votes,
)
from tests.pg_cluster import PgCluster

pytestmark = pytest.mark.timeout(180)

LAUNCH_EN = "When will Chang'e 6 collect lunar samples?"
OFF_TOPIC = "What is the best carbonara recipe?"
OTHER_USER = 1400000000000000077


@contextlib.asynccontextmanager
async def bot_with_learning(
    make_settings: Callable[..., Settings],
    service: FactBotService,
    database_url: str,
    fake: FakeDiscord | None = None,
) -> AsyncIterator[tuple[FakeDiscord, LearningLoop]]:
    """The fake Discord, the real bot with its question log over `database_url`; on exit the
    bot stops, then the store writes what it buffered and closes (as `factbot run` does)."""
    fake = fake or FakeDiscord()
    async with fake:
        settings = make_settings(**discord_env(fake, DATABASE_URL=database_url))
        async with (
            logged(settings, service) as (intake, learning),
            running_discord(settings, service, fake, intake, learning),
        ):
            yield fake, learning


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'var' / 'factbot.db'}"


async def ask(fake: FakeDiscord, question: str) -> dict[str, Any]:
    """/ask `question`; the answer message as Discord stored it (id, embeds, components)."""
    interaction = await fake.interact("ask", {"question": question})
    (sent,) = await fake.wait_for(
        lambda r: (
            r.path.startswith("/webhooks/")
            and interaction.token in r.path
            and r.method == "POST"
            and r.accepted
        ),
        timeout=60,
    )
    assert isinstance(sent.response, dict)
    return sent.response


def answer_id_of(message: dict[str, Any]) -> str:
    (row,) = message["components"]
    up, down = row["components"][:2]  # a refusal also has 🔔 (tests/test_loop_discord.py)
    assert up["emoji"]["name"] == "👍" and down["emoji"]["name"] == "👎"
    answer_id = str(up["custom_id"]).rsplit(":", 1)[1]
    assert up["custom_id"] == vote_custom_id(answer_id, "up")
    assert down["custom_id"] == vote_custom_id(answer_id, "down")
    return answer_id


async def private_line(fake: FakeDiscord, interaction: Any) -> str:
    reply = await fake.wait_reply(interaction, timeout=60)
    assert reply.ephemeral and reply.message["flags"] & EPHEMERAL
    return str(reply.message["content"])


async def test_votes_are_recorded_changed_explained_and_expire(
    make_settings: Callable[..., Settings], service: FactBotService, tmp_path: Path
) -> None:
    async with bot_with_learning(make_settings, service, sqlite_url(tmp_path)) as (fake, loop):
        answer = await ask(fake, LAUNCH_EN)
        answer_id = answer_id_of(answer)
        store = loop.store

        # 👍: recorded at once (the answer's row may still be buffered), thanked privately.
        up = await fake.press(answer, vote_custom_id(answer_id, "up"))
        assert await private_line(fake, up) == "Thanks!"
        assert votes(store) == [(answer_id, 1, None)]
        (row,) = questions(store)
        assert row["answer_id"] == answer_id and row["outcome"] == "answered"
        assert row["question"] == LAUNCH_EN and row["language"] == "en"
        assert "fc-13-launch-date" in row["note_ids"]
        assert row["platform"] == "discord" and row["guild_id"] == str(fake.guild_id)
        assert row["user_hash"] != "1400000000000000001" and len(row["user_hash"]) == 64

        # 👎 from the same user: the vote changes, and the optional reason form opens.
        down = await fake.press(answer, vote_custom_id(answer_id, "down"))
        callback = await fake.wait_callback(down)
        assert callback.body["type"] == 9  # a modal
        modal = callback.body["data"]
        assert modal["custom_id"] == f"factbot:reason:{answer_id}"
        assert votes(store) == [(answer_id, -1, None)]

        # The reason arrives with the form (after a restart it would too: no state is kept).
        sent = await fake.submit_modal(modal["custom_id"], {REASON_INPUT_ID: "The date is old"})
        assert await private_line(fake, sent) == "Thanks!"
        assert votes(store) == [(answer_id, -1, "The date is old")]

        # Another member's vote is a second one; in French, thanked in French.
        other = await fake.press(
            answer, vote_custom_id(answer_id, "up"), user_id=OTHER_USER, locale="fr"
        )
        assert await private_line(fake, other) == "Merci !"
        assert sorted(v for _, v, _ in votes(store)) == [-1, 1]

        # An answer older than the retention window: a polite private line, nothing stored.
        log_old_answer(store, "old-answer-0001", "discord")
        old = {**answer, "components": [_buttons("old-answer-0001")]}
        expired = await fake.press(old, vote_custom_id("old-answer-0001", "up"))
        assert "expired" in await private_line(fake, expired)
        assert all(a != "old-answer-0001" for a, _, _ in votes(store))


def _buttons(answer_id: str) -> dict[str, Any]:
    return {
        "type": 1,
        "components": [
            {"type": 2, "style": 2, "custom_id": vote_custom_id(answer_id, v), "emoji": {"name": e}}
            for v, e in (("up", "👍"), ("down", "👎"))
        ],
    }


async def test_unanswered_lists_refused_questions_to_moderators_only(
    make_settings: Callable[..., Settings], service: FactBotService, tmp_path: Path
) -> None:
    async with bot_with_learning(make_settings, service, sqlite_url(tmp_path)) as (fake, loop):
        refused = await ask(fake, OFF_TOPIC)
        assert refused["embeds"][0]["description"].startswith("**Not covered")
        answer_id_of(refused)  # a refusal gets 👍/👎 too
        assert loop.store.flush(timeout=30)

        report = await fake.interact("unanswered", {"days": 7}, permissions=MANAGE_GUILD)
        reply = await fake.wait_reply(report, timeout=120)
        assert reply.callback_type == 5 and reply.ephemeral
        (embed,) = reply.message["embeds"]
        assert embed["title"] == "📋 Questions from the last 7 day(s)"
        assert "1 questions: 0 answered, 1 refused, 0 rejected" in embed["description"]
        fields = {f["name"]: f["value"] for f in embed["fields"]}
        assert f"**1×** « {OFF_TOPIC} » (en)" in fields["Unanswered questions: 1 in 1 group(s)"]
        assert "Answers voted down: none" in fields

        member = await fake.interact("unanswered", roles=[fake.other_role_id])
        denied = await fake.wait_reply(member)
        assert denied.callback_type == 4 and denied.ephemeral
        assert denied.message["content"].startswith("Only moderators can see this report")
        command = next(c for c in fake.commands[fake.guild_id] if c["name"] == "unanswered")
        assert command["default_member_permissions"] == MANAGE_GUILD


async def test_answers_go_on_while_the_database_is_down_and_rows_arrive_later(
    make_settings: Callable[..., Settings],
    service: FactBotService,
    postgres_url: str,
    pg_cluster: PgCluster,
) -> None:
    async with bot_with_learning(make_settings, service, postgres_url) as (fake, loop):
        await asyncio.to_thread(pg_cluster.stop)
        try:
            answers = [await ask(fake, LAUNCH_EN), await ask(fake, OFF_TOPIC)]
            assert [a["embeds"][0]["title"] for a in answers] == [
                f"❓ {LAUNCH_EN}",
                f"❓ {OFF_TOPIC}",
            ]
            answer_id = answer_id_of(answers[0])
            pressed = await fake.press(answers[0], vote_custom_id(answer_id, "up"))
            assert "couldn't be recorded right now" in await private_line(fake, pressed)
        finally:
            await asyncio.to_thread(pg_cluster.start)
        assert await asyncio.to_thread(loop.store.flush, 90)
        assert [q["question"] for q in questions(loop.store)] == [LAUNCH_EN, OFF_TOPIC]
        again = await fake.press(answers[0], vote_custom_id(answer_id, "up"))
        assert await private_line(fake, again) == "Thanks!"
        assert votes(loop.store) == [(answer_id, 1, None)]


async def test_a_thread_follow_up_needs_no_mention_after_a_restart(
    make_settings: Callable[..., Settings], service: FactBotService, tmp_path: Path
) -> None:
    url = sqlite_url(tmp_path)
    async with bot_with_learning(make_settings, service, url) as (fake, _):
        await fake.post_message(f"<@{fake.bot_id}> {LAUNCH_EN}", mention_bot=True)
        (created,) = await fake.wait_for(lambda r: r.path.endswith("/threads"))
        thread_id = int(created.response["id"])
        await fake.wait_for(lambda r: r.path == f"/channels/{thread_id}/messages", timeout=60)

    # A new process: a fresh Discord connection whose cache has never seen the thread.
    async with bot_with_learning(make_settings, service, url) as (fake, _):
        await fake.post_message("And what did the French instrument do?", channel_id=thread_id)

        def answered(r: Recorded) -> bool:
            return r.path == f"/channels/{thread_id}/messages" and bool(
                (r.message or {}).get("embeds")
            )

        (reply,) = await fake.wait_for(answered, timeout=60)
        assert reply.body["embeds"][0]["title"] == "❓ And what did the French instrument do?"
        assert reply.body["components"], "the follow-up's answer carries 👍/👎 too"
