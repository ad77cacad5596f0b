"""`FakeSlack`: the state, the Web API, Socket Mode and the user events together, served by
aiohttp on one port."""

from __future__ import annotations

from aiohttp import web

from tests.fakes.slack.users import UserEvents
from tests.fakes.slack.webapi import WebApi


class FakeSlack(WebApi, UserEvents):
    """Start with `await fake.start()`; point the bot at `fake.api_base`."""

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
