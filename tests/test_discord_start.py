"""Starting the Discord adapter: clear operator errors, no token in logs, invite link, intents."""

from __future__ import annotations

import base64
import logging
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import discord
import pytest
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.chat import AdapterStartError
from bot.chat.discord import client as discord_bot
from bot.serving.service import FactBotService
from bot.settings import Settings
from tests.fakes.discord_server import FakeDiscord

pytestmark = pytest.mark.timeout(30)

# The service is never reached when start-up fails; these tests need no model.
NO_SERVICE = cast(FactBotService, object())


def settings(**env: str) -> Settings:
    return Settings.from_mapping(env)


async def test_missing_token() -> None:
    with pytest.raises(AdapterStartError, match=r"^DISCORD_TOKEN is not set"):
        await discord_bot.serve(settings(DISCORD_TOKEN="  "), NO_SERVICE)


async def test_rejected_token_is_one_clear_line_and_never_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = "MTEwMDAwMDAwMDAwMDAwMDAwMQ.WRONG.secret-token-value-xyz"
    caplog.set_level(logging.DEBUG)  # every logger, discord.py's HTTP debug lines included
    base, gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    async with FakeDiscord() as fake:
        s = settings(DISCORD_TOKEN=wrong, DISCORD_API_BASE=fake.api_base)
        with pytest.raises(AdapterStartError) as raised:
            await discord_bot.serve(s, NO_SERVICE)
        assert [(r.method, r.path, r.status) for r in fake.requests] == [("GET", "/users/@me", 401)]
    assert str(raised.value) == discord_bot.TOKEN_REJECTED
    assert "401 Unauthorized" in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    assert caplog.records, "expected discord.py to log the login attempt"
    for record in caplog.records:
        assert wrong not in record.getMessage()
        assert "secret-token-value" not in (record.exc_text or "")
    # serve() puts the class-wide REST base and gateway back.
    assert (base, gateway) == (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)


async def test_message_content_intent_refused() -> None:
    async with FakeDiscord(close_on_identify=4014) as fake:
        s = settings(DISCORD_TOKEN=fake.token, DISCORD_API_BASE=fake.api_base)
        with pytest.raises(AdapterStartError, match="Message Content Intent"):
            await discord_bot.serve(s, NO_SERVICE)
        assert fake.identifies[0]["intents"] == discord_bot.bot_intents().value


def test_intents_are_guilds_messages_and_content_only() -> None:
    intents = discord_bot.bot_intents()
    assert intents.guilds and intents.guild_messages and intents.message_content
    assert not intents.members and not intents.presences and not intents.dm_messages


def test_shard_settings_are_checked() -> None:
    with pytest.raises(AdapterStartError, match="needs DISCORD_SHARD_COUNT"):
        discord_bot.make_client(settings(DISCORD_SHARD_IDS="1"), NO_SERVICE)
    with pytest.raises(AdapterStartError, match="below DISCORD_SHARD_COUNT"):
        discord_bot.make_client(
            settings(DISCORD_SHARD_COUNT="2", DISCORD_SHARD_IDS="0,2"), NO_SERVICE
        )
    client = discord_bot.make_client(
        settings(DISCORD_SHARD_COUNT="4", DISCORD_SHARD_IDS="1,3"), NO_SERVICE
    )
    assert isinstance(client, discord.AutoShardedClient)
    assert client.shard_count == 4 and client.shard_ids == [1, 3]
    plain = discord_bot.make_client(settings(), NO_SERVICE)
    assert not isinstance(plain, discord.AutoShardedClient)
    assert plain.allowed_mentions is not None
    assert dict(plain.allowed_mentions.to_dict()) == {"parse": []}


def _query(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "discord.com",
        "/oauth2/authorize",
    )
    return {k: v[0] for k, v in parse_qs(parts.query).items()}


def test_invite_url_from_application_id() -> None:
    q = _query(discord_bot.invite_url(settings(DISCORD_APPLICATION_ID="123456789012345678")))
    assert q["client_id"] == "123456789012345678"
    assert q["scope"] == "bot applications.commands"
    perms = discord.Permissions(int(q["permissions"]))
    assert perms == discord.Permissions(
        send_messages=True,
        send_messages_in_threads=True,
        create_public_threads=True,
        embed_links=True,
        read_message_history=True,
        add_reactions=True,
    )


def test_invite_url_from_token() -> None:
    first = base64.b64encode(b"987654321098765432").decode().rstrip("=")
    q = _query(discord_bot.invite_url(settings(DISCORD_TOKEN=f"{first}.GhIjKl.secretpart")))
    assert q["client_id"] == "987654321098765432"


def test_invite_url_needs_an_id() -> None:
    with pytest.raises(AdapterStartError, match="DISCORD_APPLICATION_ID"):
        discord_bot.invite_url(settings(DISCORD_TOKEN="not-base64!.x.y"))


def test_reindex_is_hidden_and_guild_only_in_the_synced_payload() -> None:
    client = discord_bot.make_client(settings(), NO_SERVICE)
    commands = {c.name: c.to_dict(client.tree) for c in client.tree.get_commands()}
    assert sorted(commands) == [
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
    assert commands["privacy"].get("default_member_permissions") is None  # every member
    for moderators_only in ("reindex", "unanswered", "note"):
        assert commands[moderators_only]["default_member_permissions"] == 1 << 5
        assert commands[moderators_only]["contexts"] == [0]  # guild only
    (days,) = commands["unanswered"]["options"]
    assert (days["type"], days["required"], days["min_value"], days["max_value"]) == (
        4,
        False,
        1,
        365,
    )
    assert commands["ask"]["default_member_permissions"] is None
    (question,) = commands["ask"]["options"]
    assert question["name"] == "question" and question["required"] is True
    (topic,) = commands["factcheck"]["options"]
    assert topic["name"] == "topic" and topic["required"] is False


async def test_unreachable_api_is_one_clear_line() -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on once this closes
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings.from_mapping(
        {"DISCORD_TOKEN": "abc.def.ghi", "DISCORD_API_BASE": f"http://127.0.0.1:{port}/api/v10"}
    )
    with pytest.raises(AdapterStartError) as info:
        await discord_bot.serve(settings, cast(FactBotService, None))
    assert str(info.value).startswith(f"cannot reach the Discord API at http://127.0.0.1:{port}")
    assert Route.BASE == "https://discord.com/api/v10"  # restored on the way out
