"""The fake Discord's state: its world (one guild, its channels, roles and members, the
payloads describing them), the gateway sessions it keeps, and every REST call recorded, with
the event-based waits tests use on them (never a sleep)."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.discord.records import (
    API_PREFIX,
    REPLAYED_EVENTS,
    TIMESTAMP,
    TOKEN_PATH,
    Interaction,
    InteractionReply,
    Recorded,
    user_payload,
)


@dataclass
class Connection:
    ws: web.WebSocketResponse
    request: web.Request
    shard: tuple[int, int] | None = None
    session: Session | None = None


@dataclass
class Session:
    """A gateway session: it outlives its socket, for RESUME."""

    id: str
    shard: tuple[int, int] | None
    frames: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=REPLAYED_EVENTS))
    conn: Connection | None = None


@dataclass
class RateLimit:
    method: str
    path: re.Pattern[str]
    retry_after: float
    times: int
    is_global: bool


class DiscordState:
    """One bot user in one guild with a few channels and roles, and what the bot sent."""

    def __init__(
        self,
        token: str = "MTEwMDAwMDAwMDAwMDAwMDAwMQ.fake.token-for-tests",
        *,
        app_id: int = 1100000000000000001,
        guild_id: int = 1200000000000000001,
        fail_thread_creation: bool = False,
        close_on_identify: int | None = None,
        host: str = "127.0.0.1",
        bot_public: bool = True,
    ) -> None:
        self.token = token
        self.host = host  # the address it listens on (the multi-host test: a veth's)
        self.app_id = app_id
        self.bot_id = app_id  # modern applications: the bot user id is the application id
        self.guild_id = guild_id
        self.channel_id = guild_id + 10
        self.ask_channel_id = guild_id + 11
        self.moderator_role_id = guild_id + 20
        self.other_role_id = guild_id + 21
        self.fail_thread_creation = fail_thread_creation
        self.close_on_identify = close_on_identify
        self.bot_public = bot_public  # the application info's "Public Bot" (Discord's default)
        self.left_guilds: list[int] = []  # guilds the bot left (DELETE /users/@me/guilds/{id})
        # Reactions the bot added: (channel id, message id, emoji), in order.
        self.reactions: list[tuple[int, int, str]] = []
        self.forbid_reactions = False  # answer reactions with 403 Missing Permissions
        self.system_channel_id: int | None = None  # the guild's system channel (welcome posts)
        self.preferred_locale = "en-US"  # the guild's language

        self.requests: list[Recorded] = []
        self.gateway_queries: list[dict[str, str]] = []
        self.identifies: list[dict[str, Any]] = []
        self.resumes: list[dict[str, Any]] = []  # every RESUME payload received
        self.resumed: list[dict[str, Any]] = []  # the RESUMEs that were accepted
        self.reject_resumes = 0  # answer the next N RESUMEs with INVALID SESSION (d=false)
        self.commands: dict[int | None, list[dict[str, Any]]] = {}  # guild id (None = global)
        self.threads: dict[int, dict[str, Any]] = {}
        self.dm_channels: set[int] = set()  # DM channels interactions came from (no guild)
        self.gone_channels: set[int] = set()  # deleted channels or threads: posting there 404s
        self.interactions: dict[str, Interaction] = {}

        self._ids = itertools.count(1300000000000000001)
        self._seq = itertools.count(1)
        self._changed = asyncio.Condition()  # any request recorded
        # Per interaction token: its calls, and a condition woken only by them, so that hundreds
        # of waiting interactions (the load benchmark) do not rescan every request each time.
        self._by_token: dict[str, list[Recorded]] = {}
        self._token_changed: dict[str, asyncio.Condition] = {}
        self._connections: list[Connection] = []
        self._sessions: dict[str, Session] = {}
        self._rate_limits: list[RateLimit] = []
        self._acknowledged: set[int] = set()  # interaction ids with an accepted callback
        self._ready = asyncio.Event()
        self._readies = 0  # READYs sent
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def api_base(self) -> str:
        return f"http://{self.host}:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/gateway"

    async def wait_ready(self, timeout: float = 15) -> None:
        """Wait until a bot identified and received READY and its GUILD_CREATE."""
        await asyncio.wait_for(self._ready.wait(), timeout)

    def snowflake(self) -> int:
        return next(self._ids)

    def member_payload(
        self, uid: int, name: str, roles: Sequence[int] = (), permissions: int | None = None
    ) -> dict[str, Any]:
        member: dict[str, Any] = {
            "user": user_payload(uid, name),
            "roles": [str(r) for r in roles],
            "joined_at": TIMESTAMP,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "nick": None,
        }
        if permissions is not None:
            member["permissions"] = str(permissions)
        return member

    def channel_payload(self, channel_id: int, name: str) -> dict[str, Any]:
        return {
            "id": str(channel_id),
            "type": 0,
            "guild_id": str(self.guild_id),
            "name": name,
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
        }

    def guild_payload(self) -> dict[str, Any]:
        def role(rid: int, name: str, permissions: int) -> dict[str, Any]:
            return {
                "id": str(rid),
                "name": name,
                "permissions": str(permissions),
                "position": 0 if rid == self.guild_id else 1,
                "color": 0,
                "hoist": False,
                "managed": False,
                "mentionable": True,
                "flags": 0,
            }

        return {
            "id": str(self.guild_id),
            "name": "Fake Guild",
            "icon": None,
            "owner_id": "1",
            "unavailable": False,
            "member_count": 2,
            "large": False,
            "features": [],
            "emojis": [],
            "stickers": [],
            "roles": [
                role(self.guild_id, "@everyone", 0),
                role(self.moderator_role_id, "Moderators", 0),
                role(self.other_role_id, "Fans", 0),
            ],
            "channels": [
                self.channel_payload(self.channel_id, "general"),
                self.channel_payload(self.ask_channel_id, "ask-factbot"),
            ],
            "threads": [],
            "members": [self.member_payload(self.bot_id, "factbot") | {"user": self.bot_user()}],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "premium_tier": 0,
            "preferred_locale": self.preferred_locale,
            "system_channel_id": None
            if self.system_channel_id is None
            else str(self.system_channel_id),
            "system_channel_flags": 0,
            "nsfw_level": 0,
            "afk_timeout": 300,
        }

    def bot_user(self) -> dict[str, Any]:
        return user_payload(self.bot_id, "factbot", bot=True)

    def message_payload(
        self,
        channel_id: int,
        author: dict[str, Any],
        body: dict[str, Any] | None = None,
        *,
        message_id: int | None = None,
        mentions: Sequence[dict[str, Any]] = (),
        webhook_id: int | None = None,
    ) -> dict[str, Any]:
        body = body or {}
        msg: dict[str, Any] = {
            "id": str(message_id or self.snowflake()),
            "channel_id": str(channel_id),
            "author": author,
            "content": body.get("content") or "",
            "timestamp": TIMESTAMP,
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": list(mentions),
            "mention_roles": [],
            "attachments": [],
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "pinned": False,
            "type": 19 if body.get("message_reference") else 0,
            "flags": body.get("flags", 0) or 0,
        }
        if channel_id not in self.dm_channels:
            msg["guild_id"] = str(self.guild_id)
        if webhook_id is not None:
            msg["webhook_id"] = str(webhook_id)
            msg["application_id"] = str(self.app_id)
        if body.get("message_reference"):
            msg["message_reference"] = body["message_reference"]
        return msg

    async def _gateway_changed(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _record(self, rec: Recorded) -> None:
        token = TOKEN_PATH.match(rec.path)
        if token:
            self._by_token.setdefault(token.group(1), []).append(rec)
            changed = self._token_changed.setdefault(token.group(1), asyncio.Condition())
            async with changed:
                changed.notify_all()
        async with self._changed:
            self.requests.append(rec)
            self._changed.notify_all()

    async def wait_for(
        self, predicate: Callable[[Recorded], bool], timeout: float = 15, count: int = 1
    ) -> list[Recorded]:
        """The first `count` recorded calls matching `predicate`, waiting for them if needed."""

        def found() -> list[Recorded]:
            return [r for r in self.requests if predicate(r)]

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(found()) >= count), timeout)
        return found()[:count]

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 15) -> None:
        """Wait until `condition()` holds; it is re-checked after every recorded request and
        every gateway IDENTIFY, RESUME and disconnection."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(condition), timeout)

    def calls_for(self, token: str) -> list[Recorded]:
        """Every call about interaction `token` (callback, followups, edits), in order."""
        return list(self._by_token.get(token, ()))

    async def wait_callback(self, interaction: Interaction, timeout: float = 15) -> Recorded:
        """The accepted initial response (callback) to `interaction`: a message (type 4), a
        deferral (5) or a modal (9)."""

        def callback() -> Recorded | None:
            calls = self.calls_for(interaction.token)
            return next((r for r in calls if r.accepted and r.path.endswith("/callback")), None)

        changed = self._token_changed.setdefault(interaction.token, asyncio.Condition())
        async with changed:
            await asyncio.wait_for(changed.wait_for(lambda: callback() is not None), timeout)
        found = callback()
        assert found is not None
        return found

    async def wait_reply(self, interaction: Interaction, timeout: float = 15) -> InteractionReply:
        """The visible reply: an immediate message, or the first followup/edit after a defer."""

        def reply() -> InteractionReply | None:
            # What Discord accepted: a 429'd or duplicate call shows nothing to anyone.
            calls = [r for r in self.calls_for(interaction.token) if r.accepted]
            callback = next((r for r in calls if r.path.endswith("/callback")), None)
            if callback is None:
                return None
            ctype = int(callback.body.get("type", 0))
            flags = int((callback.body.get("data") or {}).get("flags") or 0)
            followups = [
                r.body
                for r in calls
                if r.path.startswith("/webhooks/") and r.method in ("POST", "PATCH")
            ]
            if ctype == 4:
                return InteractionReply(ctype, flags, callback.body["data"], followups)
            if followups:
                return InteractionReply(ctype, flags, followups[0], followups)
            return None

        changed = self._token_changed.setdefault(interaction.token, asyncio.Condition())
        async with changed:
            await asyncio.wait_for(changed.wait_for(lambda: reply() is not None), timeout)
        result = reply()
        assert result is not None
        return result

    def sent_messages(self) -> list[dict[str, Any]]:
        """Every message payload the bot sent or edited (callbacks, followups, channel posts)."""
        return [m for r in self.requests if (m := r.message) is not None]
