"""A fake Slack on 127.0.0.1: the Web API routes the bot calls and the Socket Mode websocket.

One module per job: `state` (who it is, what it recorded, the waits), `blockkit` (Slack's
limits), `webapi`, `socket_mode`, `users` (what a person does), `server` (`FakeSlack`).

The real slack_bolt `AsyncApp` and slack_sdk's aiohttp `SocketModeClient` connect to it
(`SLACK_API_BASE=fake.api_base`), so tests assert on the payloads the bot really sends.

- Web API (`/api/<method>`): auth.test, apps.connections.open (returns `ws://127.0.0.1:PORT/link/`),
  chat.postMessage, chat.postEphemeral, users.info, views.open (checked against the modal limits;
  `views_opened` keeps each view as Slack would show it). A wrong token gets
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

from tests.fakes.slack.blockkit import (
    block_kit_problems,
    confirm_problems,
    input_problems,
    view_problems,
)
from tests.fakes.slack.server import FakeSlack
from tests.fakes.slack.state import APP_ID, BOT_ID, BOT_METHODS, BOT_USER_ID, TEAM_ID, Call

__all__ = [
    "APP_ID",
    "BOT_ID",
    "BOT_METHODS",
    "BOT_USER_ID",
    "TEAM_ID",
    "Call",
    "FakeSlack",
    "block_kit_problems",
    "confirm_problems",
    "input_problems",
    "view_problems",
]
