"""`FakeDiscord`: the state, the gateway, the REST routes and the user events together, served
by aiohttp on one port."""

from __future__ import annotations

import contextlib

from aiohttp import web

from tests.fakes.discord.interactions import Interactions
from tests.fakes.discord.records import API_PREFIX
from tests.fakes.discord.rest import RestRoutes


class FakeDiscord(RestRoutes, Interactions):
    """REST + gateway for one bot user in one guild with a few channels and roles."""

    async def start(self) -> FakeDiscord:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])  # the ephemeral port the OS picked
        return self

    async def close(self) -> None:
        for conn in list(self._connections):
            with contextlib.suppress(Exception):
                await conn.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
