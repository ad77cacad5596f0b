"""A fake Discord on 127.0.0.1: the REST routes and the gateway websocket the bot uses.

One module per job: `records` (the shapes tests read), `state` (the world, the sessions, the
recorded calls and the waits on them), `gateway`, `rest` (the routes), `interactions` (what a
user does), `server` (`FakeDiscord`, all of them on one port).

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

from tests.fakes.discord.records import (
    CALLBACK,
    CHANNEL_MESSAGE,
    EPHEMERAL,
    FOLLOWUP,
    MANAGE_GUILD,
    Interaction,
    InteractionReply,
    Recorded,
    allowed_mentions_of,
    message_text,
    user_payload,
)
from tests.fakes.discord.rest import command_problems
from tests.fakes.discord.server import FakeDiscord

__all__ = [
    "CALLBACK",
    "CHANNEL_MESSAGE",
    "EPHEMERAL",
    "FOLLOWUP",
    "MANAGE_GUILD",
    "FakeDiscord",
    "Interaction",
    "InteractionReply",
    "Recorded",
    "allowed_mentions_of",
    "command_problems",
    "message_text",
    "user_payload",
]
