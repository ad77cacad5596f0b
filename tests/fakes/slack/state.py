"""The fake Slack's state: who it is (team, bot, tokens, users), every Web API call and
response_url post recorded (`Call`), the envelopes sent and acked, and the event-based waits
tests use on them (never a sleep)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

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
        "conversations.open",
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


@dataclass
class SlackState:
    """What the fake knows and recorded; `FakeSlack` serves it."""

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
    # reactions.add calls accepted: (channel, timestamp, name); a repeat gets already_reacted.
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

    @property
    def api_base(self) -> str:
        return f"http://{self.host}:{self.port}/api/"

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

    def _next_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    def next_ts(self) -> str:
        """A fresh message ts for an injected event."""
        return self._next_ts()

    def responses_to(self, envelope_id: str) -> list[Call]:
        """What the bot sent to the response_url of the command in `envelope_id`."""
        n = envelope_id.rsplit("-", 1)[1]
        return [c for c in self.calls if c.method == "response_url" and c.args["url_id"] == n]
