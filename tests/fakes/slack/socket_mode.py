"""The fake Slack's Socket Mode websocket: `hello`, the envelopes sent, the acks recorded, and
its faults (a `disconnect` message, a close frame, a dropped connection)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.slack.state import APP_ID, SlackState


class SocketMode(SlackState):
    """The websocket the bot connects to."""

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
