"""The fake Discord's gateway websocket: HELLO, IDENTIFY → READY and GUILD_CREATE, RESUME with
the events a session missed, dispatching events to the bot, and the gateway's faults (a drop,
a close code, op 7 RECONNECT, op 9 INVALID SESSION)."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.discord.records import (
    OP_DISPATCH,
    OP_HEARTBEAT,
    OP_HEARTBEAT_ACK,
    OP_HELLO,
    OP_IDENTIFY,
    OP_INVALID_SESSION,
    OP_RECONNECT,
    OP_RESUME,
    Interaction,
)
from tests.fakes.discord.state import Connection, DiscordState, Session


class Gateway(DiscordState):
    """The gateway websocket over the state."""

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

    async def wait_gateway(
        self, *, identifies: int = 0, resumed: int = 0, timeout: float = 30
    ) -> None:
        """Until at least `identifies` IDENTIFYs were answered with READY and `resumed` RESUMEs
        with RESUMED (the client is back on the gateway)."""
        await self.wait_until(
            lambda: self._readies >= identifies and len(self.resumed) >= resumed, timeout
        )

    def _live(self) -> list[Connection]:
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

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        self.gateway_queries.append(dict(request.query))
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = Connection(ws, request)
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

    async def _resume(self, conn: Connection, data: dict[str, Any]) -> None:
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

    async def _identify(self, conn: Connection, data: dict[str, Any]) -> None:
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
        session = Session(f"session-{self.snowflake()}", conn.shard, conn=conn)
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


async def _send(ws: web.WebSocketResponse, frame: dict[str, Any]) -> None:
    """Send a frame unless the socket is going away (a dispatch is kept for RESUME anyway)."""
    if ws.closed:
        return
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_str(json.dumps(frame))
