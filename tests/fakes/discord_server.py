"""A fake Discord on 127.0.0.1: the REST routes and the gateway websocket the bot uses.

The real discord.py client connects to it (`DISCORD_API_BASE=fake.api_base`), so end-to-end tests
assert on the payloads the bot really sends. The test drives it: `interact(...)` injects an
INTERACTION_CREATE, `post_message(...)` a MESSAGE_CREATE, and `wait_reply` / `wait_for` wait on
what the bot sent back (event-based, never sleeps).

Payload shapes follow discord.py 2.7's parsers (state.py, gateway.py, interactions.py) and the
Discord API v10 documentation. Frames are plain-text JSON even though discord.py asks for
`compress=zstd-stream` in the gateway URL: `DiscordWebSocket.received_message` only decompresses
binary frames, so text frames are accepted as they are (the tests check that query).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

API_PREFIX = "/api/v10"
EPHEMERAL = 64
MANAGE_GUILD = 1 << 5

# Opcodes (https://discord.com/developers/docs/topics/opcodes-and-status-codes).
OP_DISPATCH, OP_HEARTBEAT, OP_IDENTIFY, OP_RESUME, OP_HELLO, OP_HEARTBEAT_ACK = 0, 1, 2, 6, 10, 11

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
    shard: tuple[int, int] | None = None


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
    ) -> None:
        self.token = token
        self.app_id = app_id
        self.bot_id = app_id  # modern applications: the bot user id is the application id
        self.guild_id = guild_id
        self.channel_id = guild_id + 10
        self.ask_channel_id = guild_id + 11
        self.moderator_role_id = guild_id + 20
        self.other_role_id = guild_id + 21
        self.fail_thread_creation = fail_thread_creation
        self.close_on_identify = close_on_identify

        self.requests: list[Recorded] = []
        self.gateway_queries: list[dict[str, str]] = []
        self.identifies: list[dict[str, Any]] = []
        self.commands: dict[int | None, list[dict[str, Any]]] = {}  # guild id (None = global)
        self.threads: dict[int, dict[str, Any]] = {}
        self.interactions: dict[str, Interaction] = {}

        self._ids = itertools.count(1300000000000000001)
        self._seq = itertools.count(1)
        self._changed = asyncio.Condition()  # any request recorded
        # Per interaction token: its calls, and a condition woken only by them, so that hundreds
        # of waiting interactions (the load benchmark) do not rescan every request each time.
        self._by_token: dict[str, list[Recorded]] = {}
        self._token_changed: dict[str, asyncio.Condition] = {}
        self._connections: list[_Connection] = []
        self._ready = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    async def start(self) -> FakeDiscord:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
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
            "preferred_locale": "en-US",
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
            "guild_id": str(self.guild_id),
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
            "pinned": False,
            "type": 19 if body.get("message_reference") else 0,
            "flags": body.get("flags", 0) or 0,
        }
        if webhook_id is not None:
            msg["webhook_id"] = str(webhook_id)
            msg["application_id"] = str(self.app_id)
        if body.get("message_reference"):
            msg["message_reference"] = body["message_reference"]
        return msg

    # ------------------------------------------------------------------ driving the bot

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send one DISPATCH event to every connected shard that owns the guild."""
        for conn in list(self._connections):
            if conn.shard is not None:
                shard_id, count = conn.shard
                if (self.guild_id >> 22) % count != shard_id:
                    continue
            frame = {"op": OP_DISPATCH, "t": event, "s": next(self._seq), "d": data}
            await conn.ws.send_str(json.dumps(frame))

    async def interact(
        self,
        command: str,
        options: dict[str, str] | None = None,
        *,
        user_id: int = 1400000000000000001,
        user_name: str = "alice",
        permissions: int = 0,
        roles: Sequence[int] = (),
        channel_id: int | None = None,
        locale: str = "en-US",
    ) -> Interaction:
        """Inject an INTERACTION_CREATE for slash command `command` (as `user_id`)."""
        iid = self.snowflake()
        token = f"itoken-{iid}"
        channel = self.channel_payload(channel_id or self.channel_id, "general")
        synced = self.commands.get(self.guild_id) or self.commands.get(None) or []
        command_id = next((c["id"] for c in synced if c["name"] == command), str(self.snowflake()))
        data: dict[str, Any] = {"id": command_id, "name": command, "type": 1}
        if self.guild_id in self.commands:
            data["guild_id"] = str(self.guild_id)
        if options:
            data["options"] = [{"name": k, "type": 3, "value": v} for k, v in options.items()]
        payload = {
            "id": str(iid),
            "application_id": str(self.app_id),
            "type": 2,
            "token": token,
            "version": 1,
            "guild_id": str(self.guild_id),
            "channel_id": channel["id"],
            "channel": channel,
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
        interaction = Interaction(iid, token, payload)
        self.interactions[token] = interaction
        await self.dispatch("INTERACTION_CREATE", payload)
        return interaction

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
        """Wait until `condition()` holds; it is re-checked after every recorded request."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(condition), timeout)

    def calls_for(self, token: str) -> list[Recorded]:
        """Every call about interaction `token` (callback, followups, edits), in order."""
        return list(self._by_token.get(token, ()))

    async def wait_reply(self, interaction: Interaction, timeout: float = 15) -> InteractionReply:
        """The visible reply: an immediate message, or the first followup/edit after a defer."""

        def reply() -> InteractionReply | None:
            calls = self.calls_for(interaction.token)
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
        conn = _Connection(ws)
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
                    await ws.send_str(
                        json.dumps(
                            {"op": OP_DISPATCH, "t": "RESUMED", "s": next(self._seq), "d": {}}
                        )
                    )
        finally:
            self._connections.remove(conn)
        return ws

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
        ready = {
            "v": 10,
            "user": self.bot_user(),
            "guilds": [{"id": str(self.guild_id), "unavailable": True}],
            "session_id": f"session-{self.snowflake()}",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.app_id), "flags": 0},
        }
        if shard:
            ready["shard"] = shard
        frame = {"op": OP_DISPATCH, "t": "READY", "s": next(self._seq), "d": ready}
        await conn.ws.send_str(json.dumps(frame))
        await self.dispatch("GUILD_CREATE", self.guild_payload())
        self._ready.set()

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
        if needs_auth and request.headers.get("Authorization") != f"Bot {self.token}":
            status, response = 401, {"message": "401: Unauthorized", "code": 0}
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
            body=json.dumps(response).encode(), status=status, content_type="application/json"
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
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": user_payload(1, "owner"),
                "verify_key": "0" * 64,
                "flags": 0,
            }
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
        ctype = int(body.get("type", 0))
        flags = int((body.get("data") or {}).get("flags") or 0)
        interaction = self.interactions.get(token)
        channel_id = int(interaction.payload["channel_id"]) if interaction else self.channel_id
        resource: dict[str, Any] = {"type": ctype}
        if ctype == 4:
            resource["message"] = self.message_payload(
                channel_id, self.bot_user(), body.get("data"), webhook_id=self.app_id
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


# The interaction token in a callback or followup path.
_TOKEN_PATH = re.compile(r"/(?:interactions/\d+|webhooks/\d+)/([^/]+)")


def _payload_json(raw: bytes) -> Any:
    """The `payload_json` part of a multipart body (discord.py uses it when sending files)."""
    match = re.search(rb'name="payload_json"\r\n(?:[^\r\n]*\r\n)*\r\n(.*?)\r\n--', raw, re.S)
    return json.loads(match.group(1)) if match else None


def allowed_mentions_of(messages: Iterable[dict[str, Any]]) -> list[Any]:
    """The `allowed_mentions` of each message payload (None where missing)."""
    return [m.get("allowed_mentions") for m in messages]
