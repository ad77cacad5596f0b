"""The bot running against its fake, one per platform: what every chat end-to-end test starts
with. `running_discord` and `running_slack` run the real client or app (discord.py, slack_bolt) over a
service against a fake already listening on 127.0.0.1, and stop it on exit; `discord_env` and
`slack_env` are the settings that point it at the fake."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import TYPE_CHECKING, Any, cast

from bot.chat.discord import client as discord_client
from bot.chat.slack import app as slack_app
from tests.fakes.discord import FakeDiscord
from tests.fakes.slack_server import FakeSlack

if TYPE_CHECKING:
    from bot.chat.delivery import Deliveries
    from bot.learning.loop import LearningLoop
    from bot.serving.intake import Intake
    from bot.serving.service import FactBotService
    from bot.settings import Settings

# How long a Slack test waits, at the end, for the bot to ack every envelope (a bound on a wait,
# not a timing assertion: a healthy run acks at once).
ACK_WITHIN = 30.0


def discord_env(fake: FakeDiscord, **extra: str) -> dict[str, str]:
    """The settings that point the bot at `fake`: its token, API, server, moderator role."""
    return {
        "DISCORD_TOKEN": fake.token,
        "DISCORD_API_BASE": fake.api_base,
        "DISCORD_GUILD_IDS": str(fake.guild_id),
        "MODERATOR_ROLE_IDS": str(fake.moderator_role_id),
        **extra,
    }


def slack_env(fake: FakeSlack, **extra: str) -> dict[str, str]:
    """The settings that point the bot at `fake` (Socket Mode)."""
    return {
        "SLACK_BOT_TOKEN": fake.bot_token,
        "SLACK_APP_TOKEN": fake.app_token,
        "SLACK_API_BASE": fake.api_base,
        **extra,
    }


async def _started(serving: Coroutine[Any, Any, None], ready: Coroutine[Any, Any, None]) -> Any:
    """`serving` as a task once `ready` returns; if the bot stops first, why (its exception)."""
    task = asyncio.create_task(serving)
    waiting = asyncio.create_task(ready)
    await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():  # the bot died while starting: show why
        waiting.cancel()
        task.result()
        raise AssertionError("serve() returned before it was ready")
    await waiting
    return task


async def _stopped(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@contextlib.asynccontextmanager
async def running_discord(
    settings: Settings,
    service: FactBotService,
    fake: FakeDiscord,
    intake: Intake | None = None,
    learning: LearningLoop | None = None,
    deliveries: Deliveries | None = None,
) -> AsyncIterator[None]:
    """The real discord.py client connected to `fake` (started) until the block ends; with
    `deliveries`, the notifier's Discord notices go through it."""
    serving = discord_client.serve(settings, service, intake, None, learning, deliveries=deliveries)
    task = await _started(serving, fake.wait_ready())
    try:
        yield
    finally:
        await _stopped(task)


@contextlib.asynccontextmanager
async def running_slack(
    settings: Settings,
    service: object,
    fake: FakeSlack,
    intake: Intake | None = None,
    learning: LearningLoop | None = None,
    *,
    deliveries: Deliveries | None = None,
) -> AsyncIterator[None]:
    """The real slack_bolt app connected to `fake` (started) until the block ends; then every
    envelope must have been acked. `service` may be a stand-in (`StubService`); with
    `deliveries` (and its notifier), the loop is closed through this bot."""
    svc = cast("FactBotService", service)
    serving = slack_app.serve(settings, svc, intake, None, learning, deliveries=deliveries)
    task = await _started(serving, fake.wait_connected(fake.ws_connections + 1))
    try:
        yield
        try:
            await fake.wait_for(lambda: not fake.unacked(), timeout=ACK_WITHIN)
        except TimeoutError:
            raise AssertionError(f"envelopes never acked: {fake.unacked()}") from None
    finally:
        await _stopped(task)
