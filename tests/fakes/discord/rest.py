"""The fake Discord's REST routes: the ones discord.py calls (users, application info,
commands sync, interaction callbacks and webhooks, channel messages, threads, typing), the
token check, and the 429s a test asks for (`rate_limit`)."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from aiohttp import web

from tests.fakes.discord.gateway import Gateway
from tests.fakes.discord.records import EPHEMERAL, TIMESTAMP, Recorded, user_payload
from tests.fakes.discord.state import RateLimit


class RestRoutes(Gateway):
    """The REST API under /api/v10; each call is recorded, then answered."""

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
        self._rate_limits.append(RateLimit(method, re.compile(path), retry_after, times, is_global))

    def _take_rate_limit(self, method: str, path: str) -> RateLimit | None:
        for limit in self._rate_limits:
            if limit.times > 0 and limit.method == method and limit.path.fullmatch(path):
                limit.times -= 1
                return limit
        return None

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
            if int(m.group(1)) in self.gone_channels:
                return 404, {"message": "Unknown Channel", "code": 10003}
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


def _payload_json(raw: bytes) -> Any:
    """The `payload_json` part of a multipart body (discord.py uses it when sending files)."""
    match = re.search(rb'name="payload_json"\r\n(?:[^\r\n]*\r\n)*\r\n(.*?)\r\n--', raw, re.S)
    return json.loads(match.group(1)) if match else None
