"""A fake Slack on 127.0.0.1: the Web API routes the bot calls and the Socket Mode websocket.

The real slack_bolt `AsyncApp` and slack_sdk's aiohttp `SocketModeClient` connect to it
(`SLACK_API_BASE=fake.api_base`), so tests assert on the payloads the bot really sends.

- Web API (`/api/<method>`): auth.test, apps.connections.open (returns `ws://127.0.0.1:PORT/link/`),
  chat.postMessage, chat.postEphemeral, users.info, views.open (checked against the modal limits;
  `views_opened` keeps each view as Slack would show it), reactions.add (`reactions` keeps each
  as (channel, timestamp, name); a second identical one gets `already_reacted`, like Slack). A wrong token gets
  `{"ok": false, "error": "invalid_auth"}` like Slack. Messages are checked against the Block Kit
  limits the bot must respect; a violation gets `invalid_blocks`.
- `response_url`s (`/respond/<n>`) record what `respond()` sends.
- The websocket sends `hello`, then whatever envelopes the test injects (`command`, `event`, and
  the `interactive` ones: `block_action` for a button press, in a posted or an ephemeral message,
  through its `confirm` dialog if it has one; `submit_view` for a modal, typed text and selected
  options), and records the acknowledgements (`{"envelope_id": ..., "payload": ...}`) by envelope
  id; `view_errors` reads a submission's `response_action: errors`, checked against its view.

Network faults, for tests/test_network_faults.py: `request_reconnect()` (the `disconnect`
message Slack sends before it recycles a connection), `close_socket()` (a close frame),
`drop_socket()` (the TCP connection vanishes), `rate_limit(method, retry_after)` (HTTP 429,
`{"ok": false, "error": "ratelimited"}` with `Retry-After`, like Slack's Web API), and
`event(..., envelope_id=..., retry_attempt=...)` to redeliver an envelope as Slack does when an
ack was lost. `event_payload` builds the Events API body that HTTP mode receives.

Envelope and ack shapes follow slack_sdk.socket_mode (request.py, response.py, async_client.py)
and https://docs.slack.dev/apis/events-api/using-socket-mode. Every wait is event-based
(`wait_for` on an asyncio.Condition notified on each recorded call or ack), never a sleep.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import WSMsgType, web

T = TypeVar("T")

TEAM_ID = "T0FAKE"
BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
APP_ID = "AFAKE"
BOT_METHODS = frozenset(
    {
        "auth.test",
        "chat.postMessage",
        "chat.postEphemeral",
        "users.info",
        "views.open",
        "reactions.add",
    }
)


@dataclass
class Call:
    """One request the bot made, and whether the fake accepted it."""

    method: str  # a Web API method, or "response_url"
    token: str | None
    args: dict[str, Any]
    ok: bool = True
    error: str | None = None
    response: dict[str, Any] = field(default_factory=dict)

    def strings(self) -> Iterator[str]:
        """Every string in the payload (text, block texts...): for safety checks."""
        yield from _strings(self.args)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def view_problems(view: dict[str, Any]) -> list[str]:
    """The modal limits Slack enforces that a view breaks (empty list: valid)."""
    problems = block_kit_problems({"text": "view", "blocks": view.get("blocks") or []})
    if view.get("type") != "modal":
        problems.append("not a modal")
    for key in ("title", "submit", "close"):
        text = (view.get(key) or {}).get("text", "")
        if (key == "title" or key in view) and not 1 <= len(text) <= 24:
            problems.append(f"{key} length {len(text)} (1-24)")
    if len(view.get("private_metadata", "")) > 3000:
        problems.append("private_metadata longer than 3000")
    if len(view.get("blocks") or []) > 100:
        problems.append("more than 100 blocks")
    return problems


def block_kit_problems(args: dict[str, Any]) -> list[str]:
    """The Block Kit limits Slack enforces that a message breaks (empty list: valid)."""
    problems: list[str] = []
    blocks = args.get("blocks")
    if isinstance(blocks, str):  # form-encoded calls send blocks as JSON text
        blocks = json.loads(blocks)
    text = args.get("text")
    if not blocks and not text:
        problems.append("no text and no blocks")
    if isinstance(text, str) and len(text) > 40_000:
        problems.append("text longer than 40000")
    for i, block in enumerate(blocks or []):
        kind = block.get("type")
        if kind == "section":
            t = block.get("text", {})
            if not 1 <= len(t.get("text", "")) <= 3000:
                problems.append(f"block {i}: section text length {len(t.get('text', ''))}")
        elif kind == "header":
            t = block.get("text", {})
            if t.get("type") != "plain_text" or not 1 <= len(t.get("text", "")) <= 150:
                problems.append(f"block {i}: bad header")
        elif kind == "context":
            elements = block.get("elements", [])
            if not 1 <= len(elements) <= 10:
                problems.append(f"block {i}: context with {len(elements)} elements")
            for e in elements:
                if not 1 <= len(e.get("text", "")) <= 3000:
                    problems.append(f"block {i}: context element length")
        elif kind == "actions":
            elements = block.get("elements", [])
            if not 1 <= len(elements) <= 25:
                problems.append(f"block {i}: actions with {len(elements)} elements")
            ids = [e.get("action_id") for e in elements]
            if len(set(ids)) != len(ids):
                problems.append(f"block {i}: duplicate action_id")
            for e in elements:
                label = (e.get("text") or {}).get("text", "")
                if e.get("type") != "button" or not 1 <= len(label) <= 75:
                    problems.append(f"block {i}: bad button")
                if len(e.get("value", "")) > 2000 or len(e.get("accessibility_label", "")) > 75:
                    problems.append(f"block {i}: button value or label too long")
                if e.get("style") not in (None, "primary", "danger"):
                    problems.append(f"block {i}: bad button style")
                if "confirm" in e:
                    problems.extend(f"block {i}: {p}" for p in confirm_problems(e["confirm"]))
        elif kind == "input":
            label = (block.get("label") or {}).get("text", "")
            element = block.get("element")
            if not 1 <= len(label) <= 2000 or not isinstance(element, dict):
                problems.append(f"block {i}: bad input")
            else:
                problems.extend(f"block {i}: {p}" for p in input_problems(element))
        elif kind != "divider":
            problems.append(f"block {i}: unexpected type {kind}")
    if blocks is not None and len(blocks) > 50:
        problems.append(f"{len(blocks)} blocks (max 50)")
    return problems


def _text_within(obj: Any, limit: int) -> bool:
    return isinstance(obj, dict) and 1 <= len(obj.get("text", "")) <= limit


def confirm_problems(confirm: dict[str, Any]) -> list[str]:
    """A confirmation dialog's limits: title 100, text 300, confirm and deny 30."""
    limits = {"title": 100, "text": 300, "confirm": 30, "deny": 30}
    problems = [
        f"confirm {key} missing or too long"
        for key, most in limits.items()
        if not _text_within(confirm.get(key), most)
    ]
    if confirm.get("style") not in (None, "primary", "danger"):
        problems.append("bad confirm style")
    return problems


def input_problems(element: dict[str, Any]) -> list[str]:
    """An input block's element: a plain_text_input or a static_select, within Slack's limits."""
    problems: list[str] = []
    if "placeholder" in element and not _text_within(element["placeholder"], 150):
        problems.append("placeholder too long")
    kind = element.get("type")
    if kind == "plain_text_input":
        most = element.get("max_length", 3000)
        if not 1 <= most <= 3000 or len(element.get("initial_value", "")) > most:
            problems.append("plain_text_input max_length or initial_value")
    elif kind == "static_select":
        options = element.get("options") or []
        if not 1 <= len(options) <= 100:
            problems.append(f"static_select with {len(options)} options")
        for option in options:
            if not _text_within(option.get("text"), 75) or not 1 <= len(option["value"]) <= 150:
                problems.append("bad option")
        if "initial_option" in element and element["initial_option"] not in options:
            problems.append("initial_option is not one of the options")
    else:
        problems.append(f"unexpected input element {kind}")
    return problems


@dataclass
class FakeSlack:
    """Start with `await fake.start()`; point the bot at `fake.api_base`."""

    bot_token: str = "xoxb-test"
    app_token: str = "xapp-test"
    # users.info answers: user id -> flags such as {"is_admin": True}.
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Channels where chat.postMessage and chat.postEphemeral fail with channel_not_found (the
    # bot is not a member).
    closed_channels: frozenset[str] = frozenset()
    # The address it listens on and puts in its URLs (the multi-host test: a veth's).
    host: str = "127.0.0.1"

    calls: list[Call] = field(default_factory=list)
    views_opened: list[dict[str, Any]] = field(default_factory=list)
    reactions: list[tuple[str, str, str]] = field(default_factory=list)
    # Scopes the app was installed without: reactions.add answers `missing_scope` without
    # "reactions:write" (an app created from an older manifest).
    missing_scopes: frozenset[str] = frozenset()
    acks: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    sent_envelopes: list[str] = field(default_factory=list)
    ws_connections: int = 0

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)
        self._ts = itertools.count(1)
        self._cond = asyncio.Condition()
        self._ws: web.WebSocketResponse | None = None
        self._ws_request: web.Request | None = None
        self._runner: web.AppRunner | None = None
        # Web API method -> [retry after (s), how many more calls to refuse]
        self._rate_limits: dict[str, list[int]] = {}
        self._submitted: dict[str, dict[str, Any]] = {}  # view_submission envelope id -> view
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/respond/{n}", self._respond)
        app.router.add_get("/link/", self._websocket)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)  # an ephemeral port
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        return f"http://{self.host}:{self.port}/api/"

    # ------------------------------------------------------------------ waiting

    async def _notify(self) -> None:
        async with self._cond:
            self._cond.notify_all()

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 15.0) -> T:
        """Wait until `predicate()` is truthy (re-checked after every call or ack); return it."""
        async with self._cond:
            return await asyncio.wait_for(self._cond.wait_for(predicate), timeout)

    async def wait_connected(self, connections: int = 1, timeout: float = 15.0) -> None:
        """Until the bot's `connections`-th websocket is open."""
        await self.wait_for(
            lambda: (
                self.ws_connections >= connections and self._ws is not None and not self._ws.closed
            ),
            timeout,
        )

    async def wait_acked(self, envelope_id: str) -> dict[str, Any] | None:
        await self.wait_for(lambda: envelope_id in self.acks)
        return self.acks[envelope_id]

    def unacked(self) -> list[str]:
        return [e for e in self.sent_envelopes if e not in self.acks]

    def calls_to(self, method: str, **match: Any) -> list[Call]:
        """Calls to `method` whose args include every `match` item (ok or not)."""
        return [
            c
            for c in self.calls
            if c.method == method and all(c.args.get(k) == v for k, v in match.items())
        ]

    def outgoing(self) -> list[Call]:
        """Everything the bot tried to show to people."""
        return [
            c
            for c in self.calls
            if c.method in ("chat.postMessage", "chat.postEphemeral", "response_url")
        ]

    # ------------------------------------------------------------------ Web API

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

    def _next_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

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

    # ------------------------------------------------------------------ Socket Mode

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._ws, self._ws_request = ws, request
        self.ws_connections += 1
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": 1,
                "debug_info": {"host": "fake", "approximate_connection_time": 18060},
                "connection_info": {"app_id": APP_ID},
            }
        )
        await self._notify()
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                data = json.loads(msg.data)
                if "envelope_id" in data:
                    self.acks[data["envelope_id"]] = data.get("payload")
                    await self._notify()
        await self._notify()
        return ws

    async def _send(self, envelope: dict[str, Any]) -> str:
        assert self._ws is not None and not self._ws.closed, "the bot is not connected"
        self.sent_envelopes.append(envelope["envelope_id"])
        await self._ws.send_json(envelope)
        return str(envelope["envelope_id"])

    async def request_reconnect(self) -> None:
        """Ask the client to reconnect, as Slack does every few hours (`disconnect` message)."""
        assert self._ws is not None
        await self._ws.send_json(
            {"type": "disconnect", "reason": "refresh_requested", "debug_info": {"host": "fake"}}
        )

    async def close_socket(self) -> None:
        """Close the current websocket with a close frame, without a `disconnect` first."""
        assert self._ws is not None
        await self._ws.close()

    async def drop_socket(self) -> None:
        """Cut the current websocket at the TCP level (no close frame): a network drop."""
        assert self._ws_request is not None and self._ws_request.transport is not None
        self._ws_request.transport.abort()

    async def command(
        self,
        command: str,
        text: str = "",
        *,
        user: str = "UALICE",
        user_name: str = "alice",
        channel: str = "CGENERAL",
    ) -> str:
        """Inject a slash command; returns the envelope id. Its response_url is `/respond/<n>`."""
        n = next(self._ids)
        return await self._send(
            {
                "envelope_id": f"env-cmd-{n}",
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": {
                    "token": "verification-token",
                    "team_id": TEAM_ID,
                    "team_domain": "fake",
                    "channel_id": channel,
                    "channel_name": "general",
                    "user_id": user,
                    "user_name": user_name,
                    "command": command,
                    "text": text,
                    "api_app_id": APP_ID,
                    "is_enterprise_install": "false",
                    "response_url": f"http://{self.host}:{self.port}/respond/{n}",
                    "trigger_id": f"trigger-{n}",
                },
            }
        )

    def _user(self, user: str, user_name: str) -> dict[str, Any]:
        return {"id": user, "username": user_name, "name": user_name, "team_id": TEAM_ID}

    async def block_action(
        self,
        message: Call,
        action_id: str,
        *,
        user: str = "UALICE",
        user_name: str = "alice",
        channel: str | None = None,
        confirm: bool = False,
    ) -> str:
        """Press the button `action_id` in `message`: a chat.postMessage call the bot made, or an
        ephemeral one (a `response_url` or chat.postEphemeral call; name its `channel` when the
        call does not). A button with a `confirm` dialog is pressed with `confirm=True` only (the
        person clicked the dialog's confirm button: Slack's client sends nothing before), and
        `confirm=True` on a button without one fails. A `block_actions` envelope; its
        response_url is `/respond/<n>` and its trigger_id `trigger-<n>`. Returns the envelope
        id."""
        ephemeral = message.method != "chat.postMessage"
        ts = message.response.get("ts") or message.response.get("message_ts") or self._next_ts()
        posted = {**message.args, "ts": ts, "type": "message"}
        found = [
            (block, element)
            for block in posted.get("blocks") or []
            if block.get("type") == "actions"
            for element in block.get("elements") or []
            if element.get("action_id") == action_id
        ]
        assert found, f"no button {action_id!r} in the message"
        block, button = found[0]
        assert bool(button.get("confirm")) == confirm, (
            f"button {action_id!r} {'has' if button.get('confirm') else 'has no'} confirm dialog"
        )
        channel = channel or str(posted.get("channel") or "")
        assert channel, "which channel is the message in?"
        n = next(self._ids)
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user(user, user_name),
            "api_app_id": APP_ID,
            "token": "verification-token",
            "container": {
                "type": "message",
                "message_ts": ts,
                "channel_id": channel,
                "is_ephemeral": ephemeral,
            },
            "trigger_id": f"trigger-{n}",
            "team": {"id": TEAM_ID, "domain": "fake"},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel, "name": "general"},
            "state": {"values": {}},
            "response_url": f"http://{self.host}:{self.port}/respond/{n}",
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": block.get("block_id", ""),
                    "text": button.get("text"),
                    "value": button.get("value", ""),
                    "type": "button",
                    "action_ts": self._next_ts(),
                    **({"confirm": button["confirm"]} if confirm else {}),
                }
            ],
        }
        if not ephemeral:  # Slack sends the message itself only for a posted one
            payload["message"] = posted
        return await self._send(
            {
                "envelope_id": f"env-act-{n}",
                "type": "interactive",
                "accepts_response_payload": False,
                "payload": payload,
            }
        )

    async def submit_view(
        self,
        view: dict[str, Any],
        values: dict[str, dict[str, str]],
        *,
        user: str = "UALICE",
        user_name: str = "alice",
    ) -> str:
        """Submit the modal `view` (one of `views_opened`) with `values` (block_id ->
        action_id -> the text typed, or for a static_select the value of the option chosen): a
        `view_submission` envelope. Returns the envelope id."""
        n = next(self._ids)
        state = {
            block: {action: self._input_state(view, block, action, typed)}
            for block, typed_in in values.items()
            for action, typed in typed_in.items()
        }
        envelope_id = f"env-view-{n}"
        self._submitted[envelope_id] = view
        return await self._send(
            {
                "envelope_id": envelope_id,
                "type": "interactive",
                "accepts_response_payload": True,
                "payload": {
                    "type": "view_submission",
                    "team": {"id": TEAM_ID, "domain": "fake"},
                    "user": self._user(user, user_name),
                    "api_app_id": APP_ID,
                    "token": "verification-token",
                    "trigger_id": f"trigger-{n}",
                    "view": {**view, "state": {"values": state}},
                    "response_urls": [],
                    "is_enterprise_install": False,
                    "enterprise": None,
                },
            }
        )

    @staticmethod
    def _input_state(view: dict[str, Any], block_id: str, action_id: str, typed: str) -> Any:
        """What Slack reports for one input: the element's type and its value."""
        elements = [
            b["element"]
            for b in view.get("blocks") or []
            if b.get("type") == "input" and b.get("block_id") == block_id
        ]
        if not elements or elements[0].get("type") != "static_select":
            return {"type": "plain_text_input", "value": typed}
        element = elements[0]
        assert element.get("action_id") == action_id, f"no select {action_id!r} in {block_id!r}"
        chosen = [o for o in element.get("options") or [] if o.get("value") == typed]
        assert chosen, f"no option {typed!r} in the select {block_id!r}"
        return {"type": "static_select", "selected_option": chosen[0]}

    async def view_errors(self, envelope_id: str) -> dict[str, str] | None:
        """The `response_action: errors` a view submission was acked with (None: acked without,
        so the modal closed). Slack accepts errors on the view's input blocks only."""
        acked = await self.wait_acked(envelope_id)
        if not acked or acked.get("response_action") != "errors":
            return None
        errors = dict(acked["errors"])
        view = self._submitted[envelope_id]
        inputs = {b.get("block_id") for b in view.get("blocks") or [] if b.get("type") == "input"}
        assert set(errors) <= inputs, f"errors on blocks that are not inputs: {errors}"
        assert all(isinstance(e, str) and e for e in errors.values()), errors
        return errors

    def responses_to(self, envelope_id: str) -> list[Call]:
        """What the bot sent to the response_url of the command in `envelope_id`."""
        n = envelope_id.rsplit("-", 1)[1]
        return [c for c in self.calls if c.method == "response_url" and c.args["url_id"] == n]

    async def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        envelope_id: str | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> str:
        """Inject an Events API event (app_mention, message...); returns the envelope id.

        A redelivery, as after a lost ack: the same `envelope_id` and `event_id`, with
        `retry_attempt=1, retry_reason="timeout"`."""
        n = next(self._ids)
        return await self._send(
            {
                "envelope_id": envelope_id or f"env-evt-{n}",
                "type": "events_api",
                "accepts_response_payload": False,
                "retry_attempt": retry_attempt,
                "retry_reason": retry_reason,
                "payload": self.event_payload(event, event_id=event_id or f"Ev{n:08d}", n=n),
            }
        )

    def event_payload(
        self, event: dict[str, Any], *, event_id: str, n: int | None = None
    ) -> dict[str, Any]:
        """The `event_callback` body of one event (an envelope's payload; HTTP mode's body)."""
        n = next(self._ids) if n is None else n
        return {
            "token": "verification-token",
            "team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "event": {"team": TEAM_ID, "event_ts": event.get("ts", ""), **event},
            "type": "event_callback",
            "event_id": event_id,
            "event_time": 1700000000 + n,
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": TEAM_ID,
                    "user_id": BOT_USER_ID,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }

    def next_ts(self) -> str:
        """A fresh message ts for an injected event."""
        return self._next_ts()
