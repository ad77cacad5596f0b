"""The shapes the fake Discord speaks in and tests read: the API's constants, a user payload,
one REST call the bot made (`Recorded`), the visible reply to an interaction, and an injected
`Interaction`."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

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

# The interaction token in a callback or followup path.
TOKEN_PATH = re.compile(r"/(?:interactions/\d+|webhooks/\d+)/([^/]+)")


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


def allowed_mentions_of(messages: Iterable[dict[str, Any]]) -> list[Any]:
    """The `allowed_mentions` of each message payload (None where missing)."""
    return [m.get("allowed_mentions") for m in messages]
