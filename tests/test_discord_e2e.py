"""End to end: the real discord.py client against the fake Discord, over the real service.

Every assertion is on a payload the bot really sent over HTTP. Waits are event-based (the fake
notifies on every request); the timeouts only bound a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, cast

import pytest

from bot.chat.discord import client as discord_bot
from bot.logs import user_tag
from bot.serving.service import FactBotService
from bot.settings import Settings
from tests.chat_support import discord_env, running_discord
from tests.fakes.discord_server import MANAGE_GUILD, FakeDiscord, Recorded, message_text

pytestmark = pytest.mark.timeout(120)  # includes the one-off index build of the session

LAUNCH_EN = "When will Chang'e 6 collect lunar samples?"
LAUNCH_FR = "Quand la mission Chang'e 6 ira-t-elle recueillir des échantillons lunaires ?"
OFF_TOPIC = "What is the best carbonara recipe?"


@contextlib.asynccontextmanager
async def running_bot(
    settings_factory: Callable[..., Settings],
    service: FactBotService,
    fake: FakeDiscord | None = None,
    env: dict[str, str] | None = None,
) -> AsyncIterator[FakeDiscord]:
    """The fake Discord and the real bot connected to it; stops the bot on exit."""
    fake = fake or FakeDiscord()
    async with fake:
        settings = settings_factory(
            **(discord_env(fake, ASK_CHANNEL_IDS=str(fake.ask_channel_id)) | (env or {}))
        )
        async with running_discord(settings, service, fake):
            yield fake


def all_mentions_disabled(fake: FakeDiscord) -> None:
    messages = fake.sent_messages()
    assert messages, "the bot sent nothing"
    for message in messages:
        allowed = message.get("allowed_mentions")
        assert allowed is not None, f"no allowed_mentions in {message}"
        assert allowed["parse"] == []
        assert not allowed.get("users") and not allowed.get("roles")
        assert not allowed.get("replied_user")


def embed_of(message: dict[str, Any]) -> dict[str, Any]:
    (embed,) = message["embeds"]
    return cast(dict[str, Any], embed)


# ---------------------------------------------------------------------- /ask


async def test_ask_is_answered_with_quotes_and_verdicts(
    make_settings: Callable[..., Settings],
    service: FactBotService,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # discord.py's HTTP and gateway debug lines included
    async with running_bot(make_settings, service) as fake:
        interaction = await fake.interact("ask", {"question": LAUNCH_EN})
        reply = await fake.wait_reply(interaction)

        assert reply.callback_type == 5 and not reply.ephemeral  # public "thinking" at once
        embed = embed_of(reply.message)
        assert embed["title"] == f"❓ {LAUNCH_EN}"
        # The article quote with its paragraph, and the aligned English sentence.
        assert "« Le président du Cnes a expliqué" in embed["description"]
        assert "§5" in embed["description"]
        assert "> *“The president of Cnes explained" in embed["description"]
        # The outdated launch date is flagged as a warning with its sources.
        launch = next(f for f in embed["fields"] if "launched in May 2024" in f["name"])
        assert launch["name"].startswith("⚠️")
        assert "qui ira recueillir des échantillons lunaires en 2023" in launch["value"]
        assert "](https://english.spacechina.com/)" in launch["value"]
        all_mentions_disabled(fake)
        # discord.py asked for a compressed stream; the fake's plain-text frames worked anyway.
        assert fake.gateway_queries[0]["compress"] in ("zlib-stream", "zstd-stream")
        assert fake.gateway_queries[0]["encoding"] == "json"
        # The token went over the wire (REST header, IDENTIFY) but never into a log line.
        assert fake.identifies[0]["token"] == fake.token
    assert "/gateway/bot" in caplog.text  # debug logging really was on
    assert fake.token not in caplog.text


async def test_french_question_gets_french_labels(
    make_settings: Callable[..., Settings], service: FactBotService
) -> None:
    async with running_bot(make_settings, service) as fake:
        reply = await fake.wait_reply(await fake.interact("ask", {"question": LAUNCH_FR}))
        embed = embed_of(reply.message)
        assert embed["description"].startswith("**En bref")  # the lead, in French
        assert "**D'après l'article**" in embed["description"]
        assert any(f["name"] == "⚠️ Dépassé" for f in embed["fields"])


async def test_off_topic_question_is_refused_publicly(
    make_settings: Callable[..., Settings], service: FactBotService
) -> None:
    async with running_bot(make_settings, service) as fake:
        reply = await fake.wait_reply(await fake.interact("ask", {"question": OFF_TOPIC}))
        assert not reply.ephemeral
        embed = embed_of(reply.message)
        assert embed["description"].startswith("**Not covered by the article.**")
        assert not embed.get("fields")


@pytest.mark.parametrize(
    ("question", "expected"),
    [("   ", "Please type a question"), ("x" * 501, "the limit is 500")],
)
async def test_empty_or_huge_question_is_refused_privately_without_thinking(
    make_settings: Callable[..., Settings],
    service: FactBotService,
    question: str,
    expected: str,
) -> None:
    async with running_bot(make_settings, service) as fake:
        reply = await fake.wait_reply(await fake.interact("ask", {"question": question}))
        assert reply.callback_type == 4 and reply.ephemeral
        assert reply.message["flags"] == 64
        assert expected in reply.message["content"]
        assert not reply.followups


async def test_cooldown_sends_a_private_slow_down(
    make_settings: Callable[..., Settings], service: FactBotService
) -> None:
    env = {"USER_COOLDOWN_SECONDS": "60", "USER_COOLDOWN_BURST": "1"}
    async with running_bot(make_settings, service, env=env) as fake:
        first = await fake.wait_reply(await fake.interact("ask", {"question": LAUNCH_EN}))
        assert embed_of(first.message)["title"] == f"❓ {LAUNCH_EN}"
        second = await fake.wait_reply(await fake.interact("ask", {"question": LAUNCH_EN}))
        assert second.callback_type == 4 and second.ephemeral
        # The same wording as on Slack (bot/messages.py).
        assert second.message["content"].startswith("You're asking quickly — please wait ")
        # Another user is not slowed down by the first one.
        other = await fake.interact("ask", {"question": LAUNCH_EN}, user_id=1400000000000000099)
        third = await fake.wait_reply(other)
        assert third.callback_type == 5 and third.message["embeds"]


async def test_mass_mentions_in_a_question_ping_no_one(
    make_settings: Callable[..., Settings], service: FactBotService
) -> None:
    nasty = f"@everyone @here <@&{1200000000000000021}> when is Chang'e 6 launched?"
    async with running_bot(make_settings, service) as fake:
        reply = await fake.wait_reply(await fake.interact("ask", {"question": nasty}))
        title = embed_of(reply.message)["title"]
        assert "@everyone" not in title and "@\u200beveryone" in title
        assert "<@&" not in title
        await fake.post_message(f"<@{fake.bot_id}> {nasty}", mention_bot=True)
        await fake.wait_for(lambda r: "/threads" not in r.path and _posts_embed(r))
        all_mentions_disabled(fake)


def _posts_embed(r: Recorded) -> bool:
    return r.path.startswith("/channels/") and bool((r.message or {}).get("embeds"))


async def test_an_unexpected_error_is_logged_and_reported_briefly(
    make_settings: Callable[..., Settings],
    service: FactBotService,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(question: str, history: object = ()) -> Any:
        raise RuntimeError("index exploded")

    monkeypatch.setattr(service, "ask", broken)
    caplog.set_level(logging.ERROR, logger="factbot.discord")
    async with running_bot(make_settings, service) as fake:
        interaction = await fake.interact("ask", {"question": LAUNCH_EN})
        reply = await fake.wait_reply(interaction)
        assert reply.callback_type == 5
        # The public "thinking" placeholder is deleted first, because the first followup after a
        # public defer would be shown publicly whatever its flags; then a private followup.
        calls = [(r.method, r.path.rsplit("/", 1)[-1]) for r in fake.calls_for(interaction.token)]
        assert calls == [("POST", "callback"), ("DELETE", "@original"), ("POST", interaction.token)]
        assert reply.message["flags"] == 64
        assert reply.message["content"].startswith("Sorry — something went wrong")
        assert "Traceback" not in message_text(reply.message)
        assert "index exploded" not in message_text(reply.message)
    record = next(r for r in caplog.records if r.name == "factbot.discord")
    assert record.exc_info is not None and "index exploded" in str(record.exc_info[1])


# ---------------------------------------------------------------------- /factcheck, /sources


async def test_factcheck_lists_every_note_and_topic_matches(
    make_settings: Callable[..., Settings], service: FactBotService
) -> None:
    async with running_bot(make_settings, service) as fake:
        every = await fake.interact("factcheck")

        def names() -> list[str]:
            calls = fake.calls_for(every.token)
            pages = [embed_of(r.body) for r in calls if r.path.startswith("/webhooks/")]
            return [f["name"] for p in pages for f in p["fields"]]

        # All 17 notes arrive, over as many messages as Discord's 6000-character limit needs.
        await fake.wait_until(lambda: len(names()) >= 17)
        reply = await fake.wait_reply(every)
        assert reply.callback_type == 5 and not reply.ephemeral
        assert len(reply.followups) >= 2
        assert embed_of(reply.followups[0])["title"] == "Fact-check notes (17)"
        assert len(names()) == 17
        assert "page 1/" in embed_of(reply.followups[0])["footer"]["text"]
        assert "⚠️ Outdated: Chang'e 6 launched in May 2024" in names()

        topic = await fake.interact("factcheck", {"topic": "Chang'e 6 launch date"})
        embed = embed_of((await fake.wait_reply(topic)).message)
        assert embed["title"] == "Notes about “Chang'e 6 launch date”"
        assert any("launched in May 2024" in f["name"] for f in embed["fields"])


async def test_sources_shows_documents_and_index(
    make_settings: Callable[..., Settings], service: FactBotService
) -> None:
    info = service.info()
    async with running_bot(make_settings, service) as fake:
        reply = await fake.wait_reply(await fake.interact("sources"))
        assert reply.callback_type == 4
        embed = embed_of(reply.message)
        assert "`article-fr` (fr)" in embed["description"]
        fields = {f["name"]: f["value"] for f in embed["fields"]}
        assert fields["Index version"] == f"`{info.version}`"
        assert fields["Fact-check notes"] == str(info.note_count)
        assert fields["Embedding model"] == f"`{info.model}`"


# ---------------------------------------------------------------------- /reindex


async def test_reindex_by_manage_server_member(
    make_settings: Callable[..., Settings],
    service: FactBotService,
    corpus_copy: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = service.info().version
    note = corpus_copy / "factchecks" / "13-launch-date.md"
    edited = note.read_text().replace("Chang'e 6 launched on", "Chang'e 6 lifted off on")
    assert edited != note.read_text()
    note.write_text(edited)
    caplog.set_level(logging.INFO)
    async with running_bot(make_settings, service) as fake:
        interaction = await fake.interact("reindex", permissions=MANAGE_GUILD, user_name="mod")
        reply = await fake.wait_reply(interaction, timeout=60)
        assert reply.callback_type == 5 and reply.ephemeral
        assert reply.message["flags"] == 64
        text = reply.message["content"]
        assert text.startswith("✅ Index rebuilt in ")
        assert f"chunks (version `{before}` → `{service.info().version}`)" in text
        assert "notes changed: fc-13-launch-date" in text
    assert service.info().version != before
    # Logged by display name and a keyed hash, never the platform's user id.
    tag = user_tag("discord", 1400000000000000001)
    assert f"/reindex run by mod ({tag}) in guild 1200000000000000001" in caplog.text
    assert "1400000000000000001" not in caplog.text


async def test_reindex_by_moderator_role(
    make_settings: Callable[..., Settings], service: FactBotService
) -> None:
    async with running_bot(make_settings, service) as fake:
        interaction = await fake.interact("reindex", roles=[fake.moderator_role_id])
        reply = await fake.wait_reply(interaction, timeout=60)
        assert reply.ephemeral
        assert reply.message["content"].startswith("✅ Index rebuilt in ")
        assert "no content change" in reply.message["content"]


async def test_reindex_denied_to_other_members(
    make_settings: Callable[..., Settings], service: FactBotService
) -> None:
    engine = service.engine
    async with running_bot(make_settings, service) as fake:
        interaction = await fake.interact("reindex", roles=[fake.other_role_id])
        reply = await fake.wait_reply(interaction)
        assert reply.callback_type == 4 and reply.ephemeral
        assert reply.message["content"] == discord_bot.NOT_MODERATOR
        # The command is also hidden from non-moderators by default in Discord's UI.
        reindex = next(c for c in fake.commands[fake.guild_id] if c["name"] == "reindex")
        assert reindex["default_member_permissions"] == MANAGE_GUILD
    assert service.engine is engine  # nothing was rebuilt


async def test_failed_reindex_lists_problems_and_old_index_keeps_serving(
    make_settings: Callable[..., Settings], service: FactBotService, corpus_copy: Path
) -> None:
    before = service.info().version
    note = corpus_copy / "factchecks" / "13-launch-date.md"
    note.write_text(note.read_text().replace("verdict: outdated", "verdict: bogus"))
    async with running_bot(make_settings, service) as fake:
        interaction = await fake.interact("reindex", permissions=MANAGE_GUILD)
        reply = await fake.wait_reply(interaction, timeout=60)
        assert reply.ephemeral and reply.message["flags"] == 64
        text = reply.message["content"]
        assert text.startswith(f"❌ Rebuild failed: the previous index (`{before}`) keeps serving.")
        assert "13-launch-date.md" in text and "unknown verdict 'bogus'" in text
        assert str(corpus_copy) not in text  # named inside the corpus, not where it is on disk

        after = await fake.wait_reply(await fake.interact("ask", {"question": LAUNCH_EN}))
        embed = embed_of(after.message)
        assert "§5" in embed["description"]
        assert embed["footer"]["text"].endswith(f"index {before}")
    assert service.info().version == before


async def test_questions_during_a_reindex_are_all_answered(
    make_settings: Callable[..., Settings],
    service: FactBotService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Hold the rebuild (it runs in a worker thread) until every question has been answered, so
    # the overlap is certain rather than a matter of timing.
    building, release = threading.Event(), threading.Event()
    rebuilt = service.engine.rebuilt

    def held_rebuild() -> Any:
        building.set()
        if not release.wait(60):
            raise RuntimeError("test never released the rebuild")
        return rebuilt()

    monkeypatch.setattr(service.engine, "rebuilt", held_rebuild)
    async with running_bot(make_settings, service) as fake:
        first = await fake.interact("reindex", permissions=MANAGE_GUILD)
        assert await asyncio.to_thread(building.wait, 30)
        second = await fake.interact("reindex", roles=[fake.moderator_role_id])
        questions = [LAUNCH_EN, LAUNCH_FR, OFF_TOPIC, "Will France go to the Moon?"] * 2
        asks = [
            await fake.interact("ask", {"question": q}, user_id=1400000000000000100 + i)
            for i, q in enumerate(questions)
        ]
        replies = await asyncio.gather(*(fake.wait_reply(a) for a in asks))
        assert [embed_of(r.message)["title"] for r in replies] == [f"❓ {q}" for q in questions]
        # The rebuild is still held: neither moderator has had an answer yet.
        assert not any(r.path.startswith("/webhooks/") for r in fake.calls_for(first.token))
        release.set()
        done = await fake.wait_reply(first, timeout=60)
        joined = await fake.wait_reply(second, timeout=60)
        assert done.message["content"].startswith("✅ Index rebuilt")
        assert "already running" in joined.message["content"]


# ---------------------------------------------------------------------- mentions and threads


async def test_mention_opens_a_thread_and_follow_ups_need_no_mention(
    make_settings: Callable[..., Settings], service: FactBotService
) -> None:
    async with running_bot(make_settings, service) as fake:
        asked = await fake.post_message(f"<@{fake.bot_id}> {LAUNCH_EN}", mention_bot=True)
        (created,) = await fake.wait_for(lambda r: r.path.endswith("/threads"))
        assert created.path == f"/channels/{fake.channel_id}/messages/{asked['id']}/threads"
        assert created.body["name"] == LAUNCH_EN
        thread_id = int(created.response["id"])
        in_thread = f"/channels/{thread_id}/messages"
        (answer,) = await fake.wait_for(lambda r: r.path == in_thread and r.method == "POST")
        assert embed_of(answer.body)["title"] == f"❓ {LAUNCH_EN}"

        # A follow-up in the thread, without mentioning the bot.
        await fake.post_message("And what did the French instrument do?", channel_id=thread_id)
        _, followup = await fake.wait_for(lambda r: r.path == in_thread, count=2)
        assert embed_of(followup.body)["title"] == "❓ And what did the French instrument do?"
        assert int(followup.body["message_reference"]["channel_id"]) == thread_id

        # Other bots are ignored; so is the bot's own message (the fake echoes it).
        await fake.post_message(f"<@{fake.bot_id}> hi", mention_bot=True, bot_author=True)
        # A plain message elsewhere is not a question.
        await fake.post_message("just chatting about the Moon")
        # A question in the ask channel is one, even without a mention; it is the next thread.
        await fake.post_message(LAUNCH_FR, channel_id=fake.ask_channel_id)
        threads = await fake.wait_for(lambda r: r.path.endswith("/threads"), count=2)
        assert threads[1].path.startswith(f"/channels/{fake.ask_channel_id}/")
        second = f"/channels/{threads[1].response['id']}/messages"
        (answer,) = await fake.wait_for(lambda r: r.path == second and r.method == "POST")
        assert embed_of(answer.body)["title"] == f"❓ {LAUNCH_FR}"
        assert len([r for r in fake.requests if r.path.endswith("/threads")]) == 2
        # The fake echoes the bot's own posts as MESSAGE_CREATE (like Discord): never answered.
        assert len([r for r in fake.requests if r.path == in_thread]) == 2
        all_mentions_disabled(fake)


async def test_a_thread_follow_up_is_read_with_the_earlier_questions(
    make_settings: Callable[..., Settings], service: FactBotService
) -> None:
    async with running_bot(make_settings, service) as fake:
        # Alone, an elliptical follow-up names nothing the article covers: refused.
        await fake.post_message(f"<@{fake.bot_id}> et elle ramene quoi ?", mention_bot=True)
        (alone_thread,) = await fake.wait_for(lambda r: r.path.endswith("/threads"))
        alone_path = f"/channels/{alone_thread.response['id']}/messages"
        (alone,) = await fake.wait_for(lambda r: r.path == alone_path and r.method == "POST")
        assert embed_of(alone.body)["description"].startswith("**Pas couvert par l'article")

        # In the thread of "quand part chang'e 6 ?", it is about Chang'e 6.
        await fake.post_message(f"<@{fake.bot_id}> quand part chang'e 6 ?", mention_bot=True)
        threads = await fake.wait_for(lambda r: r.path.endswith("/threads"), count=2)
        thread_id = int(threads[1].response["id"])
        in_thread = f"/channels/{thread_id}/messages"
        await fake.wait_for(lambda r: r.path == in_thread and r.method == "POST")
        await fake.post_message("et elle ramene quoi ?", channel_id=thread_id)
        _, followup = await fake.wait_for(lambda r: r.path == in_thread, count=2)
        embed = embed_of(followup.body)
        assert embed["title"] == "❓ et elle ramene quoi ?"  # as asked, not as read
        assert not embed["description"].startswith("**Pas couvert")
        assert "chantillons" in str(embed)  # the samples Chang'e 6 brought back


async def test_reply_when_a_thread_cannot_be_created(
    make_settings: Callable[..., Settings], service: FactBotService
) -> None:
    fake = FakeDiscord(fail_thread_creation=True)
    async with running_bot(make_settings, service, fake):
        asked = await fake.post_message(f"<@{fake.bot_id}> {LAUNCH_EN}", mention_bot=True)
        path = f"/channels/{fake.channel_id}/messages"
        (reply,) = await fake.wait_for(lambda r: r.path == path and r.method == "POST")
        assert int(reply.body["message_reference"]["message_id"]) == int(asked["id"])
        assert embed_of(reply.body)["title"] == f"❓ {LAUNCH_EN}"
        assert reply.body["allowed_mentions"] == {"parse": [], "replied_user": False}


async def test_mentioned_empty_question_gets_a_short_reply(
    make_settings: Callable[..., Settings], service: FactBotService
) -> None:
    async with running_bot(make_settings, service) as fake:
        await fake.post_message(f"<@{fake.bot_id}>", mention_bot=True)
        path = f"/channels/{fake.channel_id}/messages"
        (reply,) = await fake.wait_for(lambda r: r.path == path and r.method == "POST")
        assert reply.body["content"].startswith("Please type a question")
        assert not any(r.path.endswith("/threads") for r in fake.requests)


# ---------------------------------------------------------------------- sync and sharding


async def test_global_sync_without_guild_ids(
    make_settings: Callable[..., Settings], service: FactBotService
) -> None:
    async with running_bot(make_settings, service, env={"DISCORD_GUILD_IDS": ""}) as fake:
        assert sorted(c["name"] for c in fake.commands[None]) == [
            "about",
            "ask",
            "factcheck",
            "help",
            "note",
            "privacy",
            "reindex",
            "sources",
            "unanswered",
        ]
        assert fake.guild_id not in fake.commands
        reply = await fake.wait_reply(await fake.interact("ask", {"question": OFF_TOPIC}))
        assert embed_of(reply.message)["description"].startswith("**Not covered")


async def test_sharded_client_identifies_with_its_shard(
    make_settings: Callable[..., Settings], service: FactBotService
) -> None:
    fake = FakeDiscord(guild_id=1200000000000000001)
    shard = (fake.guild_id >> 22) % 2
    env = {"DISCORD_SHARD_COUNT": "2", "DISCORD_SHARD_IDS": str(shard)}
    async with running_bot(make_settings, service, fake, env):
        assert fake.identifies[0]["shard"] == [shard, 2]
        reply = await fake.wait_reply(await fake.interact("ask", {"question": LAUNCH_EN}))
        assert embed_of(reply.message)["title"] == f"❓ {LAUNCH_EN}"
