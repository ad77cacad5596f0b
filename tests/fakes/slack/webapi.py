"""The fake Slack's Web API (`/api/<method>`: auth.test, apps.connections.open,
chat.postMessage, chat.postEphemeral, conversations.open, users.info, views.open) and the `response_url`s, with
the token check, the Block Kit checks and the 429s a test asks for (`rate_limit`)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from tests.fakes.slack.blockkit import block_kit_problems, view_problems
from tests.fakes.slack.state import BOT_ID, BOT_METHODS, BOT_USER_ID, TEAM_ID, Call, SlackState


class WebApi(SlackState):
    """The HTTP routes the bot calls."""

    def rate_limit(self, method: str, *, retry_after: int = 1, times: int = 1) -> None:
        """Refuse the next `times` calls to Web API `method` as Slack does past its rate limit:
        HTTP 429, `{"ok": false, "error": "ratelimited"}`, `Retry-After: <retry_after>`."""
        self._rate_limits[method] = [retry_after, times]

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                args.update(await request.json())
            else:
                args.update(dict(await request.post()))
        token = args.pop("token", None)
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            token = auth[len("Bearer ") :]
        call = Call(method, token, args)
        self.calls.append(call)
        status, headers = 200, {}
        limit = self._rate_limits.get(method)
        if limit and limit[1] > 0:
            limit[1] -= 1
            status, headers = 429, {"Retry-After": str(limit[0])}
            body: dict[str, Any] = {"ok": False, "error": "ratelimited"}
        else:
            body = self._answer(call)
        call.response = body
        call.ok = bool(body.get("ok"))
        call.error = body.get("error")
        await self._notify()
        return web.json_response(body, status=status, headers=headers)

    def _answer(self, call: Call) -> dict[str, Any]:
        expected = self.app_token if call.method == "apps.connections.open" else self.bot_token
        if call.method not in BOT_METHODS | {"apps.connections.open"}:
            return {"ok": False, "error": "unknown_method"}
        if call.token != expected:
            return {"ok": False, "error": "invalid_auth"}
        a = call.args
        if call.method == "auth.test":
            return {
                "ok": True,
                "url": "https://fake.slack.test/",
                "team": "Fake Team",
                "user": "factbot",
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "bot_id": BOT_ID,
                "is_enterprise_install": False,
            }
        if call.method == "apps.connections.open":
            return {"ok": True, "url": f"ws://{self.host}:{self.port}/link/?ticket=fake"}
        if call.method == "users.info":
            user = a.get("user", "")
            if user not in self.users:
                return {"ok": False, "error": "user_not_found"}
            return {"ok": True, "user": {"id": user, "team_id": TEAM_ID, **self.users[user]}}
        if call.method == "conversations.open":
            # A DM with one user: its channel id is D + the user's id, the same each time.
            users = str(a.get("users") or "")
            if not users or "," in users or users not in self.users:
                return {"ok": False, "error": "user_not_found"}
            return {"ok": True, "channel": {"id": "D" + users}}
        if call.method == "views.open":
            view = a.get("view")
            if isinstance(view, str):  # form-encoded calls send the view as JSON text
                view = json.loads(view)
            if not a.get("trigger_id") or not isinstance(view, dict):
                return {"ok": False, "error": "invalid_arguments"}
            if problems := view_problems(view):
                return {"ok": False, "error": "invalid_arguments", "errors": problems}
            opened = {"id": f"V{next(self._ids):08d}", "team_id": TEAM_ID, "state": {}, **view}
            self.views_opened.append(opened)
            return {"ok": True, "view": opened}
        if not a.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if call.method == "reactions.add":
            if "reactions:write" in self.missing_scopes:
                return {"ok": False, "error": "missing_scope", "needed": "reactions:write"}
            if not a.get("timestamp") or not a.get("name"):
                return {"ok": False, "error": "invalid_arguments"}
            reaction = (str(a["channel"]), str(a["timestamp"]), str(a["name"]).strip(":"))
            if reaction in self.reactions:
                return {"ok": False, "error": "already_reacted"}
            self.reactions.append(reaction)
            return {"ok": True}
        if problems := block_kit_problems(a):
            return {"ok": False, "error": "invalid_blocks", "errors": problems}
        if call.method == "chat.postEphemeral":
            if not a.get("user"):
                return {"ok": False, "error": "user_not_found"}
            if a["channel"] in self.closed_channels:
                return {"ok": False, "error": "channel_not_found"}
            return {"ok": True, "message_ts": self._next_ts()}
        # chat.postMessage
        if a["channel"] in self.closed_channels:
            return {"ok": False, "error": "channel_not_found"}
        ts = self._next_ts()
        return {"ok": True, "channel": a["channel"], "ts": ts, "message": {"ts": ts, **a}}

    async def _respond(self, request: web.Request) -> web.Response:
        args = await request.json()
        call = Call("response_url", None, {"url_id": request.match_info["n"], **args})
        problems = block_kit_problems(args)
        call.ok, call.error = not problems, "invalid_blocks" if problems else None
        self.calls.append(call)
        await self._notify()
        if problems:
            return web.Response(status=400, text="invalid_blocks")
        return web.Response(text="ok")
