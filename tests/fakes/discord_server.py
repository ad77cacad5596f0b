"""A fake Discord on 127.0.0.1: the REST routes and the gateway websocket the bot uses.

The real discord.py client connects to it (`DISCORD_API_BASE=fake.api_base`), so end-to-end tests
assert on the payloads the bot really sends. The test drives it: `interact(...)` injects an
INTERACTION_CREATE (`subcommand=` for `/group subcommand`), `autocomplete(...)` the user typing
into an option (type 4), `post_message(...)` a MESSAGE_CREATE, `press(message, custom_id)` a
button press (a component interaction, type 3) and `submit_modal(custom_id, values)` a modal
submit (type 5, text inputs and selects); `wait_reply` / `wait_callback` / `wait_for` wait on
what the bot sent back (event-based, never sleeps). The application info
(`GET /oauth2/applications/@me`) says `bot_public` as constructed; leaving a guild
(`DELETE /users/@me/guilds/{id}`) is recorded in `left_guilds` and answered with GUILD_DELETE.

Payload shapes follow discord.py 2.7's parsers (state.py, gateway.py, interactions.py) and the
Discord API v10 documentation. Frames are plain-text JSON even though discord.py asks for
`compress=zstd-stream` in the gateway URL: `DiscordWebSocket.received_message` only decompresses
binary frames, so text frames are accepted as they are (the tests check that query).

Network faults, for the fault tests (tests/test_network_faults.py), each as Discord does it:
- the gateway: `drop_gateway()` (the TCP connection vanishes, no close frame),
  `close_gateway(code)` (e.g. 4000, unknown error: resumable), `request_reconnect()` (op 7
  RECONNECT), `invalidate_session(resumable)` (op 9 INVALID SESSION), `reject_resumes` (the
  next RESUMEs get op 9 with d=false). Like Discord, a session keeps the events dispatched while
  its socket is down and replays those after the client's last sequence number on RESUME.
- REST: `rate_limit(method, path_regex, retry_after)` answers the next matching calls with 429
  (`Retry-After`, `retry_after`, and the `Via` header without which discord.py takes a 429 for a
  Cloudflare ban); a second callback for one interaction gets 400 code 40060 and a second
  thread from one message 400 code 160004, as on Discord, so a duplicate shows in the calls.
- `redeliver(interaction)` / `dispatch(...)` send an event again (a duplicate delivery).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

API_PREFIX = "/api/v10"
EPHEMERAL = 64
MANAGE_GUILD = 1 << 5

# Opcodes (https://discord.com/developers/docs/topics/opcodes-and-status-codes).
OP_DISPATCH, OP_HEARTBEAT, OP_IDENTIFY, OP_RESUME, OP_HELLO, OP_HEARTBEAT_ACK = 0, 1, 2, 6, 10, 11
OP_RECONNECT, OP_INVALID_SESSION = 7, 9

# REST routes the fault tests rate-limit: `rate_limit(*FOLLOWUP)`.
FOLLOWUP = ("POST", r"/webhooks/\d+/[^/]+")  # an interaction followup message
CALLBACK = ("POST", r"/interactions/\d+/[^/]+/callback")  # an interaction's initial response
CHANNEL_MESSAGE = ("POST", r"/channels/\d+/messages")  # a message in a channel or thread
REPLAYED_EVENTS = 10_000  # dispatches a session keeps for RESUME (Discord keeps a window too)

TIMESTAMP = "2026-01-01T00:00:00.000000+00:00"


def user_payload(uid: int, name: str, *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": str(uid),
        "username": name,
        "global_name": name,
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "public_flags": 0,
    }


@dataclass
class Recorded:
    """One REST call the bot made, and what the fake answered."""

    method: str
    path: str  # without the /api/v10 prefix
    query: dict[str, str]
    body: Any
    status: int
    response: Any = None
    at: float = field(default_factory=time.perf_counter)  # when the fake received it

    @property
    def accepted(self) -> bool:
        """The fake answered 2xx (not a 429, a duplicate callback, an auth failure...)."""
        return 200 <= self.status < 300

    @property
    def message(self) -> dict[str, Any] | None:
        """The message payload this call carries, if it sends or edits a message."""
        if not isinstance(self.body, dict):
            return None
        if self.path.endswith("/callback"):
            data = self.body.get("data")
            return data if self.body.get("type") in (4, 7) and isinstance(data, dict) else None
        if self.method in ("POST", "PATCH") and (
            self.path.startswith("/webhooks/") or re.fullmatch(r"/channels/\d+/messages", self.path)
        ):
            return self.body
        return None


@dataclass
class InteractionReply:
    """The visible reply to one interaction, as the bot sent it."""

    callback_type: int  # 4 = message, 5 = deferred ("thinking")
    callback_flags: int
    message: dict[str, Any]  # the payload carrying the reply (callback data, or the followup)
    followups: list[dict[str, Any]] = field(default_factory=list)  # every followup, in order

    @property
    def ephemeral(self) -> bool:
        # Discord decides from the initial response: a followup after a public defer is public.
        return bool(self.callback_flags & EPHEMERAL)

    @property
    def embeds(self) -> list[dict[str, Any]]:
        return list(self.message.get("embeds") or [])

    def text(self) -> str:
        """Content plus every embed's title, description, field names/values and footer."""
        return message_text(self.message)


def message_text(message: dict[str, Any]) -> str:
    parts = [message.get("content") or ""]
    for embed in message.get("embeds") or []:
        parts += [embed.get("title", ""), embed.get("description", "")]
        for f in embed.get("fields", []):
            parts += [f.get("name", ""), f.get("value", "")]
        parts.append((embed.get("footer") or {}).get("text", ""))
    return "\n".join(p for p in parts if p)


@dataclass
class Interaction:
    id: int
    token: str
    payload: dict[str, Any]


@dataclass
class _Connection:
    ws: web.WebSocketResponse
    request: web.Request
    shard: tuple[int, int] | None = None
    session: _Session | None = None


@dataclass
class _Session:
    """A gateway session: it outlives its socket, for RESUME."""

    id: str
    shard: tuple[int, int] | None
    frames: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=REPLAYED_EVENTS))
    conn: _Connection | None = None


@dataclass
class _RateLimit:
    method: str
    path: re.Pattern[str]
    retry_after: float
    times: int
    is_global: bool


class FakeDiscord:
    """REST + gateway for one bot user in one guild with a few channels and roles."""

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
        self.interactions: dict[str, Interaction] = {}

        self._ids = itertools.count(1300000000000000001)
        self._seq = itertools.count(1)
        self._changed = asyncio.Condition()  # any request recorded
        # Per interaction token: its calls, and a condition woken only by them, so that hundreds
        # of waiting interactions (the load benchmark) do not rescan every request each time.
        self._by_token: dict[str, list[Recorded]] = {}
        self._token_changed: dict[str, asyncio.Condition] = {}
        self._connections: list[_Connection] = []
        self._sessions: dict[str, _Session] = {}
        self._rate_limits: list[_RateLimit] = []
        self._acknowledged: set[int] = set()  # interaction ids with an accepted callback
        self._ready = asyncio.Event()
        self._readies = 0  # READYs sent
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    @property
    def api_base(self) -> str:
        return f"http://{self.host}:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/gateway"

    async def start(self) -> FakeDiscord:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])  # the ephemeral port the OS picked
        return self

    async def close(self) -> None:
        for conn in list(self._connections):
            with contextlib.suppress(Exception):
                await conn.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def wait_ready(self, timeout: float = 15) -> None:
        """Wait until a bot identified and received READY and its GUILD_CREATE."""
        await asyncio.wait_for(self._ready.wait(), timeout)

    # ------------------------------------------------------------------ world

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

    # ------------------------------------------------------------------ driving the bot

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send one DISPATCH event to every session whose shard owns the guild.

        A session whose socket is down keeps the event and replays it when the client resumes."""
        for session in list(self._sessions.values()):
            if session.shard is not None:
                shard_id, count = session.shard
                if (self.guild_id >> 22) % count != shard_id:
                    continue
            frame = {"op": OP_DISPATCH, "t": event, "s": next(self._seq), "d": data}
            session.frames.append(frame)
            if session.conn is not None:
                await _send(session.conn.ws, frame)

    async def join_guild(self) -> None:
        """The bot is added to the guild: a GUILD_CREATE without `unavailable` (discord.py's
        `on_guild_join`), as Discord sends when the bot joins a server."""
        payload = self.guild_payload()
        payload.pop("unavailable")
        await self.dispatch("GUILD_CREATE", payload)

    async def redeliver(self, interaction: Interaction) -> None:
        """The same INTERACTION_CREATE (same id and token) once more: a duplicate delivery."""
        await self.dispatch("INTERACTION_CREATE", interaction.payload)

    # ------------------------------------------------------------------ faults

    def _live(self) -> list[_Connection]:
        return [c for c in self._connections if not c.ws.closed]

    async def drop_gateway(self) -> int:
        """Cut every gateway connection at the TCP level (no close frame): a network drop.
        Returns how many were cut."""
        live = self._live()
        for conn in live:
            transport = conn.request.transport
            if transport is not None:
                transport.abort()
        return len(live)

    async def close_gateway(self, code: int = 4000, reason: str = "Unknown error.") -> int:
        """Close every gateway connection with `code` (4000: unknown error, resumable)."""
        live = self._live()
        for conn in live:
            await conn.ws.close(code=code, message=reason.encode())
        return len(live)

    async def request_reconnect(self) -> int:
        """Send op 7 RECONNECT: the client should reconnect and resume."""
        live = self._live()
        for conn in live:
            await _send(conn.ws, {"op": OP_RECONNECT, "d": None})
        return len(live)

    async def invalidate_session(self, resumable: bool) -> int:
        """Send op 9 INVALID SESSION. Not resumable: the session is forgotten (its events are
        lost, as on Discord) and the client must IDENTIFY again."""
        live = self._live()
        for conn in live:
            if not resumable and conn.session is not None:
                self._sessions.pop(conn.session.id, None)
                conn.session.conn = None
            await _send(conn.ws, {"op": OP_INVALID_SESSION, "d": resumable})
        return len(live)

    def rate_limit(
        self,
        method: str,
        path: str,
        *,
        retry_after: float = 0.25,
        times: int = 1,
        is_global: bool = False,
    ) -> None:
        """Answer the next `times` REST calls `method path` (a regex over the whole path after
        /api/v10) with 429 Too Many Requests, asking to retry after `retry_after` seconds."""
        self._rate_limits.append(
            _RateLimit(method, re.compile(path), retry_after, times, is_global)
        )

    def _take_rate_limit(self, method: str, path: str) -> _RateLimit | None:
        for limit in self._rate_limits:
            if limit.times > 0 and limit.method == method and limit.path.fullmatch(path):
                limit.times -= 1
                return limit
        return None

    async def wait_gateway(
        self, *, identifies: int = 0, resumed: int = 0, timeout: float = 30
    ) -> None:
        """Until at least `identifies` IDENTIFYs were answered with READY and `resumed` RESUMEs
        with RESUMED (the client is back on the gateway)."""
        await self.wait_until(
            lambda: self._readies >= identifies and len(self.resumed) >= resumed, timeout
        )

    async def _gateway_changed(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def interact(
        self,
        command: str,
        options: dict[str, str | int] | None = None,
        *,
        user_id: int = 1400000000000000001,
        user_name: str = "alice",
        permissions: int = 0,
        roles: Sequence[int] = (),
        channel_id: int | None = None,
        locale: str = "en-US",
        subcommand: str | None = None,
        dm_channel_id: int | None = None,
    ) -> Interaction:
        """Inject an INTERACTION_CREATE for slash command `command` (as `user_id`); with
        `subcommand`, for `/command subcommand` (its options nested in a type 1 option); with
        `dm_channel_id`, in the user's DM with the bot (no guild, no member)."""
        data = self._command_data(command, subcommand, options)
        payload = self._interaction(
            2,
            data,
            channel_id=dm_channel_id or channel_id or self.channel_id,
            user_id=user_id,
            user_name=user_name,
            permissions=permissions,
            roles=roles,
            locale=locale,
        )
        if dm_channel_id is not None:
            self.dm_channels.add(dm_channel_id)
            for key in ("guild_id", "member", "guild_locale"):
                payload.pop(key, None)
            payload["user"] = user_payload(user_id, user_name)
            payload["channel"] = {
                "id": str(dm_channel_id),
                "type": 1,  # DM
                "recipients": [user_payload(user_id, user_name)],
                "last_message_id": None,
            }
            payload["context"] = 1  # BOT_DM
            payload["authorizing_integration_owners"] = {"0": str(self.guild_id)}
            payload["data"].pop("guild_id", None)
        return await self._inject(payload)

    async def autocomplete(
        self,
        command: str,
        focused: str,
        typed: str,
        options: dict[str, str | int] | None = None,
        *,
        subcommand: str | None = None,
        user_id: int = 1400000000000000001,
        user_name: str = "alice",
        permissions: int = 0,
        roles: Sequence[int] = (),
        locale: str = "en-US",
    ) -> Interaction:
        """The user types `typed` into option `focused` of `/command [subcommand]`: an
        autocomplete interaction (type 4), answered with choices (callback type 8)."""
        data = self._command_data(command, subcommand, {**(options or {}), focused: typed})
        nested = data["options"][0]["options"] if subcommand else data["options"]
        next(o for o in nested if o["name"] == focused)["focused"] = True
        payload = self._interaction(
            4,
            data,
            channel_id=self.channel_id,
            user_id=user_id,
            user_name=user_name,
            permissions=permissions,
            roles=roles,
            locale=locale,
        )
        return await self._inject(payload)

    def _command_data(
        self, command: str, subcommand: str | None, options: dict[str, str | int] | None
    ) -> dict[str, Any]:
        synced = self.commands.get(self.guild_id) or self.commands.get(None) or []
        command_id = next((c["id"] for c in synced if c["name"] == command), str(self.snowflake()))
        data: dict[str, Any] = {"id": command_id, "name": command, "type": 1}
        if self.guild_id in self.commands:
            data["guild_id"] = str(self.guild_id)
        values = [
            {"name": k, "type": 4 if isinstance(v, int) else 3, "value": v}
            for k, v in (options or {}).items()
        ]
        if subcommand is not None:
            data["options"] = [{"name": subcommand, "type": 1, "options": values}]
        elif values:
            data["options"] = values
        return data

    def _interaction(
        self,
        kind: int,
        data: dict[str, Any],
        *,
        channel_id: int,
        user_id: int,
        user_name: str,
        permissions: int,
        roles: Sequence[int],
        locale: str,
        message: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        iid = self.snowflake()
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(self.app_id),
            "type": kind,
            "token": f"itoken-{iid}",
            "version": 1,
            "guild_id": str(self.guild_id),
            "channel_id": str(channel_id),
            "channel": self.channel_payload(channel_id, "general"),
            "member": self.member_payload(user_id, user_name, roles, permissions),
            "data": data,
            "app_permissions": str((1 << 41) - 1),
            "locale": locale,
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(self.guild_id)},
            "context": 0,
            "attachment_size_limit": 8 * 1024 * 1024,
        }
        if message is not None:
            payload["message"] = message
        return payload

    async def press(
        self,
        message: dict[str, Any],
        custom_id: str,
        *,
        user_id: int = 1400000000000000001,
        user_name: str = "alice",
        permissions: int = 0,
        roles: Sequence[int] = (),
        locale: str = "en-US",
    ) -> Interaction:
        """Press the button `custom_id` of `message` (a message payload the fake returned to
        the bot, with its components): a component interaction, as Discord sends it."""
        buttons = [
            c for row in message.get("components") or [] for c in row.get("components") or []
        ]
        button = next((b for b in buttons if b.get("custom_id") == custom_id), None)
        assert button is not None, f"no button {custom_id!r} on message {message.get('id')}"
        payload = self._interaction(
            3,
            {"custom_id": custom_id, "component_type": int(button["type"])},
            channel_id=int(message["channel_id"]),
            user_id=user_id,
            user_name=user_name,
            permissions=permissions,
            roles=roles,
            locale=locale,
            message=message,
        )
        return await self._inject(payload)

    async def submit_modal(
        self,
        custom_id: str,
        values: dict[str, str | list[str]],
        *,
        channel_id: int | None = None,
        user_id: int = 1400000000000000001,
        user_name: str = "alice",
        permissions: int = 0,
        roles: Sequence[int] = (),
        locale: str = "en-US",
    ) -> Interaction:
        """Submit the modal `custom_id` with `values` (text input custom_id -> text, or select
        custom_id -> the chosen values): a modal submit interaction, each input in a Label
        (type 18) as Discord sends them now."""
        components = [
            {"type": 18, "id": i, "component": _submitted(k, v)}
            for i, (k, v) in enumerate(values.items(), 1)
        ]
        payload = self._interaction(
            5,
            {"custom_id": custom_id, "components": components},
            channel_id=channel_id or self.channel_id,
            user_id=user_id,
            user_name=user_name,
            permissions=permissions,
            roles=roles,
            locale=locale,
        )
        return await self._inject(payload)

    async def _inject(self, payload: dict[str, Any]) -> Interaction:
        interaction = Interaction(int(payload["id"]), payload["token"], payload)
        self.interactions[interaction.token] = interaction
        await self.dispatch("INTERACTION_CREATE", payload)
        return interaction

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

    async def post_message(
        self,
        content: str,
        *,
        channel_id: int | None = None,
        author_id: int = 1400000000000000001,
        author_name: str = "alice",
        mention_bot: bool = False,
        bot_author: bool = False,
    ) -> dict[str, Any]:
        """Inject a MESSAGE_CREATE from a user (or another bot) in a channel or thread."""
        author = user_payload(author_id, author_name, bot=bot_author)
        mentions = [self.bot_user()] if mention_bot else []
        msg = self.message_payload(
            channel_id or self.channel_id, author, {"content": content}, mentions=mentions
        )
        msg["member"] = {k: v for k, v in self.member_payload(author_id, author_name).items()}
        msg["member"].pop("user")
        await self.dispatch("MESSAGE_CREATE", msg)
        return msg

    # ------------------------------------------------------------------ waiting

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

    # ------------------------------------------------------------------ gateway

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        self.gateway_queries.append(dict(request.query))
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = _Connection(ws, request)
        self._connections.append(conn)
        await ws.send_str(json.dumps({"op": OP_HELLO, "d": {"heartbeat_interval": 41250}}))
        try:
            async for frame in ws:
                if frame.type is not WSMsgType.TEXT:
                    continue
                msg = json.loads(frame.data)
                op = msg.get("op")
                if op == OP_HEARTBEAT:
                    await ws.send_str(json.dumps({"op": OP_HEARTBEAT_ACK}))
                elif op == OP_IDENTIFY:
                    await self._identify(conn, msg["d"])
                elif op == OP_RESUME:
                    await self._resume(conn, msg["d"])
        finally:
            self._connections.remove(conn)
            if conn.session is not None and conn.session.conn is conn:
                conn.session.conn = None  # the session waits for a RESUME
            await self._gateway_changed()
        return ws

    async def _resume(self, conn: _Connection, data: dict[str, Any]) -> None:
        self.resumes.append(data)
        session = self._sessions.get(str(data.get("session_id")))
        if self.reject_resumes > 0 or session is None or data.get("token") != self.token:
            self.reject_resumes = max(0, self.reject_resumes - 1)
            if session is not None:
                self._sessions.pop(session.id, None)
            # Discord answers a RESUME it cannot honour with op 9, d=false: IDENTIFY again.
            await _send(conn.ws, {"op": OP_INVALID_SESSION, "d": False})
        else:
            if session.conn is not None and session.conn is not conn:
                with contextlib.suppress(Exception):
                    await session.conn.ws.close(code=4000)
            session.conn, conn.session, conn.shard = conn, session, session.shard
            last = int(data.get("seq") or 0)
            for frame in list(session.frames):  # what the client missed, then RESUMED
                if frame["s"] > last:
                    await _send(conn.ws, frame)
            await _send(conn.ws, {"op": OP_DISPATCH, "t": "RESUMED", "s": next(self._seq), "d": {}})
            self.resumed.append(data)
        await self._gateway_changed()

    async def _identify(self, conn: _Connection, data: dict[str, Any]) -> None:
        self.identifies.append(data)
        if data.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        if self.close_on_identify is not None:
            await conn.ws.close(code=self.close_on_identify, message=b"Disallowed intent(s).")
            return
        shard = data.get("shard")
        conn.shard = (int(shard[0]), int(shard[1])) if shard else None
        # A new session replaces the shard's previous one (whose events are lost, as on Discord).
        for old in [s for s in self._sessions.values() if s.shard == conn.shard]:
            del self._sessions[old.id]
        session = _Session(f"session-{self.snowflake()}", conn.shard, conn=conn)
        self._sessions[session.id] = session
        conn.session = session
        ready = {
            "v": 10,
            "user": self.bot_user(),
            "guilds": [{"id": str(self.guild_id), "unavailable": True}],
            "session_id": session.id,
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.app_id), "flags": 0},
        }
        if shard:
            ready["shard"] = shard
        frame = {"op": OP_DISPATCH, "t": "READY", "s": next(self._seq), "d": ready}
        session.frames.append(frame)
        await conn.ws.send_str(json.dumps(frame))
        await self.dispatch("GUILD_CREATE", self.guild_payload())
        self._readies += 1
        self._ready.set()
        await self._gateway_changed()

    # ------------------------------------------------------------------ REST

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        body: Any = None
        raw = await request.read()
        if raw:
            if request.content_type.startswith("multipart/"):
                body = _payload_json(raw)
            else:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode(errors="replace")
        needs_auth = not path.startswith(("/webhooks/", "/interactions/"))
        headers: dict[str, str] = {}
        if needs_auth and request.headers.get("Authorization") != f"Bot {self.token}":
            status, response = 401, {"message": "401: Unauthorized", "code": 0}
        elif limit := self._take_rate_limit(request.method, path):
            status = 429
            response = {
                "message": "You are being rate limited.",
                "retry_after": limit.retry_after,
                "global": limit.is_global,
            }
            headers = {
                "Retry-After": str(math.ceil(limit.retry_after)),
                "X-RateLimit-Scope": "global" if limit.is_global else "user",
                # Discord's API answers through Google's front end; discord.py takes a 429
                # without this header for a Cloudflare ban and gives up instead of retrying.
                "Via": "1.1 google",
            }
        else:
            status, response = await self._route(request.method, path, body)
        await self._record(
            Recorded(request.method, path, dict(request.query), body, status, response)
        )
        if status == 204:
            return web.Response(status=204)
        # discord.py parses JSON only for a content-type of exactly "application/json"
        # (aiohttp's json_response adds "; charset=utf-8").
        return web.Response(
            body=json.dumps(response).encode(),
            status=status,
            content_type="application/json",
            headers=headers,
        )

    async def _record(self, rec: Recorded) -> None:
        token = _TOKEN_PATH.match(rec.path)
        if token:
            self._by_token.setdefault(token.group(1), []).append(rec)
            changed = self._token_changed.setdefault(token.group(1), asyncio.Condition())
            async with changed:
                changed.notify_all()
        async with self._changed:
            self.requests.append(rec)
            self._changed.notify_all()

    async def _route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        app = str(self.app_id)
        if method == "GET" and path == "/users/@me":
            return 200, self.bot_user()
        if method == "GET" and path == "/oauth2/applications/@me":
            return 200, {
                "id": app,
                "name": "factbot",
                "description": "",
                "icon": None,
                "bot_public": self.bot_public,
                "bot_require_code_grant": False,
                "owner": user_payload(1, "owner"),
                "verify_key": "0" * 64,
                "flags": 0,
            }
        if (m := re.fullmatch(r"/users/@me/guilds/(\d+)", path)) and method == "DELETE":
            self.left_guilds.append(int(m.group(1)))
            await self.dispatch("GUILD_DELETE", {"id": m.group(1)})
            return 204, None
        if method == "GET" and path == "/gateway/bot":
            return 200, {
                "url": self.gateway_url,
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 1000,
                    "reset_after": 0,
                    "max_concurrency": 1,
                },
            }
        commands = re.fullmatch(rf"/applications/{app}(?:/guilds/(\d+))?/commands", path)
        if (m := commands) and method == "PUT":
            if problems := [p for c in body for p in command_problems(c)]:
                # What Discord answers an invalid command list (and nothing is synced).
                return 400, {"message": "Invalid Form Body", "code": 50035, "errors": problems}
            guild = int(m.group(1)) if m.group(1) else None
            synced = [
                {
                    **c,
                    "id": str(self.snowflake()),
                    "application_id": app,
                    "version": "1",
                    **({"guild_id": str(guild)} if guild else {}),
                }
                for c in body
            ]
            self.commands[guild] = synced
            return 200, synced
        if m := re.fullmatch(r"/interactions/(\d+)/([^/]+)/callback", path):
            return self._callback(int(m.group(1)), m.group(2), body)
        if m := re.fullmatch(rf"/webhooks/{app}/([^/]+)(/messages/(@original|\d+))?", path):
            return self._webhook(method, m.group(1), m.group(3), body)
        if (m := re.fullmatch(r"/channels/(\d+)/messages", path)) and method == "POST":
            msg = self.message_payload(int(m.group(1)), self.bot_user(), body)
            await self.dispatch("MESSAGE_CREATE", msg)  # like Discord: the bot sees its own
            return 200, msg
        if (
            m := re.fullmatch(r"/channels/(\d+)/messages/(\d+)/threads", path)
        ) and method == "POST":
            return await self._create_thread(int(m.group(1)), int(m.group(2)), body)
        if re.fullmatch(r"/channels/\d+/typing", path) and method == "POST":
            return 204, None
        reaction = r"/channels/(\d+)/messages/(\d+)/reactions/([^/]+)/@me"
        if (m := re.fullmatch(reaction, path)) and method == "PUT":
            if self.forbid_reactions:
                return 403, {"message": "Missing Permissions", "code": 50013}
            self.reactions.append((int(m.group(1)), int(m.group(2)), m.group(3)))
            return 204, None
        if re.fullmatch(r"/channels/\d+/messages/\d+", path) and method == "DELETE":
            return 204, None
        if (m := re.fullmatch(r"/channels/(\d+)", path)) and method == "GET":
            cid = int(m.group(1))
            if cid in self.threads:
                return 200, self.threads[cid]
            if cid in (self.channel_id, self.ask_channel_id):
                return 200, self.channel_payload(cid, "general")
        return 404, {"message": "Unknown route (fake Discord)", "code": 0}

    def _callback(self, iid: int, token: str, body: dict[str, Any]) -> tuple[int, Any]:
        if iid in self._acknowledged:
            return 400, {"message": "Interaction has already been acknowledged.", "code": 40060}
        self._acknowledged.add(iid)
        ctype = int(body.get("type", 0))
        flags = int((body.get("data") or {}).get("flags") or 0)
        interaction = self.interactions.get(token)
        channel_id = int(interaction.payload["channel_id"]) if interaction else self.channel_id
        resource: dict[str, Any] = {"type": ctype}
        if ctype == 4:
            resource["message"] = self.message_payload(
                channel_id, self.bot_user(), body.get("data"), webhook_id=self.app_id
            )
        elif ctype == 7 and interaction and "message" in interaction.payload:
            # An update of the message whose component was used: that message, edited.
            pressed = interaction.payload["message"]
            resource["message"] = self.message_payload(
                channel_id,
                self.bot_user(),
                {**pressed, **(body.get("data") or {})},
                message_id=int(pressed["id"]),
                webhook_id=self.app_id,
            )
        return 200, {
            "interaction": {
                "id": str(iid),
                "type": 2,
                "response_message_loading": ctype == 5,
                "response_message_ephemeral": bool(flags & EPHEMERAL),
                **({"response_message_id": resource["message"]["id"]} if ctype == 4 else {}),
            },
            "resource": resource,
        }

    def _webhook(self, method: str, token: str, message: str | None, body: Any) -> tuple[int, Any]:
        interaction = self.interactions.get(token)
        channel_id = int(interaction.payload["channel_id"]) if interaction else self.channel_id
        if method == "DELETE":
            return 204, None
        if method in ("POST", "PATCH", "GET"):
            return 200, self.message_payload(
                channel_id,
                self.bot_user(),
                body if isinstance(body, dict) else None,
                webhook_id=self.app_id,
            )
        return 405, {"message": "Method not allowed", "code": 0}

    async def _create_thread(
        self, channel_id: int, message_id: int, body: dict[str, Any]
    ) -> tuple[int, Any]:
        if self.fail_thread_creation:
            return 403, {"message": "Missing Permissions", "code": 50013}
        if message_id in self.threads:
            return 400, {
                "message": "A thread has already been created for this message",
                "code": 160004,
            }
        thread = {
            "id": str(message_id),  # Discord gives a thread started from a message its id
            "guild_id": str(self.guild_id),
            "parent_id": str(channel_id),
            "owner_id": str(self.bot_id),
            "name": body.get("name", ""),
            "type": 11,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": body.get("auto_archive_duration", 1440),
                "archive_timestamp": TIMESTAMP,
                "locked": False,
            },
        }
        self.threads[message_id] = thread
        await self.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        return 201, thread


# Discord's locales (https://discord.com/developers/docs/reference#locales): the only keys a
# command's name_localizations / description_localizations may have.
LOCALES = frozenset(
    "id da de en-GB en-US es-ES es-419 fr hr it lt hu nl no pl pt-BR ro fi sv-SE vi tr cs el bg "
    "ru uk hi th zh-CN ja zh-TW ko".split()
)


def _valid_name(name: object) -> bool:
    """A command or option name as Discord accepts it: 1-32 lower-case letters, digits, - or _
    (any script's letters: "vérifications" is one)."""
    return (
        isinstance(name, str)
        and 1 <= len(name) <= 32
        and name == name.lower()
        and all(ch.isalnum() or ch in "-_" for ch in name)
    )


def command_problems(command: dict[str, Any], where: str = "") -> list[str]:
    """What Discord would refuse in one synced command (or option), with its localisations."""
    here = f"{where}/{command.get('name')}"
    problems: list[str] = []
    if not _valid_name(command.get("name")):
        problems.append(f"{here}: bad name")
    description = command.get("description", "")
    if command.get("type", 1) == 1 and not 1 <= len(description) <= 100:
        problems.append(f"{here}: description length {len(description)}")
    for key, check in (
        ("name_localizations", _valid_name),
        ("description_localizations", lambda d: isinstance(d, str) and 1 <= len(d) <= 100),
    ):
        for locale, value in (command.get(key) or {}).items():
            if locale not in LOCALES:
                problems.append(f"{here}: unknown locale {locale!r} in {key}")
            elif not check(value):
                problems.append(f"{here}: bad {key}[{locale}] {value!r}")
    for option in command.get("options") or []:
        problems += command_problems(option, here)
    return problems


def _submitted(custom_id: str, value: str | list[str]) -> dict[str, Any]:
    """One input of a modal submit: a text input (type 4) or a string select (type 3)."""
    if isinstance(value, list):
        return {"type": 3, "custom_id": custom_id, "values": value}
    return {"type": 4, "custom_id": custom_id, "value": value}


async def _send(ws: web.WebSocketResponse, frame: dict[str, Any]) -> None:
    """Send a frame unless the socket is going away (a dispatch is kept for RESUME anyway)."""
    if ws.closed:
        return
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_str(json.dumps(frame))


# The interaction token in a callback or followup path.
_TOKEN_PATH = re.compile(r"/(?:interactions/\d+|webhooks/\d+)/([^/]+)")


def _payload_json(raw: bytes) -> Any:
    """The `payload_json` part of a multipart body (discord.py uses it when sending files)."""
    match = re.search(rb'name="payload_json"\r\n(?:[^\r\n]*\r\n)*\r\n(.*?)\r\n--', raw, re.S)
    return json.loads(match.group(1)) if match else None


def allowed_mentions_of(messages: Iterable[dict[str, Any]]) -> list[Any]:
    """The `allowed_mentions` of each message payload (None where missing)."""
    return [m.get("allowed_mentions") for m in messages]
