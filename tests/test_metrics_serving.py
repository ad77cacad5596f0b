"""The metrics and probes of a running bot: `factbot run`'s own serving code (`_serve_async`) in
this process, connected to the fake Discord and the fake Slack at once, scraped over HTTP.

Outcomes are asserted (counts, versions, states), never times; the waits only bound a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import AsyncIterator, Callable, Sequence

import aiohttp
import pytest

from bot.answer import Answer
from bot.answering.conversation import Turn
from bot.answering.index_lifecycle import build_from_corpus
from bot.cli.commands import _serve_async
from bot.ops.metrics import Metrics
from bot.ops.monitoring import QuestionMetrics, ServiceMetrics
from bot.serving.intake import Failed, Notes, Refusal, Request
from bot.serving.service import FactBotService
from bot.settings import Settings
from index.store import IndexStore
from tests.chat_support import slack_env
from tests.fakes.discord_server import MANAGE_GUILD, FakeDiscord
from tests.fakes.slack_server import FakeSlack
from tests.test_metrics import Samples, parse, value
from tests.test_network_faults import slack_answer
from tests.test_slack_app import free_port

pytestmark = pytest.mark.timeout(300)

WAIT = 90.0  # bounds a failure only
LAUNCH_EN = "When will Chang'e 6 collect lunar samples?"
LAUNCH_FR = "Quand la mission Chang'e 6 ira-t-elle recueillir des échantillons lunaires ?"
OFF_TOPIC = "What is the best carbonara recipe?"
HELD = "Which French instrument flew on Chang'e 6?"  # answered only once the test lets it
ALICE, BOB, CAROL = 1400000000000000301, 1400000000000000302, 1400000000000000303
Q = "factbot_questions_total"


class Scraper:
    """GETs on the bot's metrics server."""

    def __init__(self, session: aiohttp.ClientSession, port: int) -> None:
        self.session = session
        self.base = f"http://127.0.0.1:{port}"

    async def probe(self, path: str) -> tuple[int, dict[str, str]]:
        async with self.session.get(self.base + path) as response:
            return response.status, json.loads(await response.text())

    async def metrics(self) -> Samples:
        async with self.session.get(self.base + "/metrics") as response:
            assert response.status == 200
            return parse(await response.text())

    async def until(self, check: Callable[[Samples], bool]) -> Samples:
        """Scrape until `check` holds (what it waits for happens on the bot's own schedule)."""
        async with asyncio.timeout(WAIT):
            while not check(samples := await self.metrics()):
                await asyncio.sleep(0.05)
        return samples

    async def until_probe(self, path: str, status: int) -> dict[str, str]:
        """Probe until it answers `status` (the server may not be listening yet)."""
        async with asyncio.timeout(WAIT):
            while True:
                with contextlib.suppress(aiohttp.ClientConnectionError):
                    found = await self.probe(path)
                    if found[0] == status:
                        return found[1]
                await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running_service(
    make_settings: Callable[..., Settings],
) -> AsyncIterator[tuple[FakeDiscord, FakeSlack, Scraper, asyncio.Task[None]]]:
    """`factbot run` with Discord, Slack and METRICS_PORT, in this process."""
    slack = FakeSlack()
    await slack.start()
    port = free_port()
    try:
        async with FakeDiscord() as discord, aiohttp.ClientSession() as session:
            settings = make_settings(
                DISCORD_TOKEN=discord.token,
                DISCORD_API_BASE=discord.api_base,
                DISCORD_GUILD_IDS=str(discord.guild_id),
                METRICS_PORT=str(port),
                # Two questions per user, then a long wait: the third is rate-limited.
                USER_COOLDOWN_SECONDS="3600",
                USER_COOLDOWN_BURST="2",
                SHUTDOWN_GRACE_SECONDS="120",
                **slack_env(slack),
            )
            task = asyncio.create_task(_serve_async(settings, ["discord", "slack"]))
            scraper = Scraper(session, port)
            try:
                ready = asyncio.create_task(scraper.until_probe("/readyz", 200))
                await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
                if task.done():  # the bot died while starting: show why
                    ready.cancel()
                    task.result()
                await ready
                yield discord, slack, scraper, task
            finally:
                if not task.done():
                    task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    finally:
        await slack.close()


def current_version(settings: Settings) -> str:
    current = IndexStore(settings.index_dir).current_path()
    assert current is not None
    return str(json.loads((current / "manifest.json").read_text(encoding="utf-8"))["version"])


async def test_a_running_bot_is_scraped_through_questions_faults_reindex_and_shutdown(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    # One question is held in flight until the test lets it go, to watch the shutdown.
    held, release = asyncio.Event(), asyncio.Event()
    real_ask = FactBotService.ask

    async def ask(
        self: FactBotService, question: str, history: Sequence[str | Turn] = ()
    ) -> Answer:
        if question == HELD:
            held.set()
            await release.wait()
        return await real_ask(self, question, history)

    monkeypatch.setattr(FactBotService, "ask", ask)
    async with running_service(make_settings) as (discord, slack, scraper, task):
        first_version = current_version(make_settings())
        # Ready: the index is loaded and both transports connected.
        assert await scraper.probe("/healthz") == (200, {"status": "ok"})
        assert await scraper.probe("/readyz") == (200, {"status": "ok"})
        samples = await scraper.metrics()
        assert value(samples, "factbot_index_loaded") == 1
        for platform in ("discord", "slack"):
            assert value(samples, "factbot_transport_connected", platform=platform) == 1
            assert value(samples, "factbot_gateway_reconnects_total", platform=platform) == 0
        assert value(samples, "factbot_index_info", version=first_version, model=model()) == 1
        assert value(samples, "factbot_index_chunks") > 0
        assert value(samples, "factbot_index_built_timestamp_seconds") > 1.7e9

        # Questions through both transports, one of each outcome.
        for question in (LAUNCH_EN, OFF_TOPIC):
            await discord.wait_reply(
                await discord.interact("ask", {"question": question}, user_id=ALICE), WAIT
            )
        limited = await discord.interact("ask", {"question": LAUNCH_EN}, user_id=ALICE)
        assert (await discord.wait_reply(limited, WAIT)).ephemeral
        empty = await discord.interact("ask", {"question": "   "}, user_id=BOB)
        assert (await discord.wait_reply(empty, WAIT)).ephemeral
        await slack.command("/ask", LAUNCH_FR)
        await slack_answer(slack, LAUNCH_FR)
        await slack.command("/sources")  # not a question: not counted
        await slack.wait_for(lambda: len(slack.calls_to("chat.postMessage")) >= 2, WAIT)

        samples = await scraper.metrics()
        assert value(samples, Q, platform="discord", language="en", outcome="answered") == 1
        assert value(samples, Q, platform="discord", language="en", outcome="refused") == 1
        assert value(samples, Q, platform="discord", language="en", outcome="rate_limited") == 1
        assert value(samples, Q, platform="discord", language="en", outcome="rejected") == 1
        assert value(samples, Q, platform="slack", language="fr", outcome="answered") == 1
        assert sum(v for (name, _), v in samples.items() if name == Q) == 5
        assert value(samples, "factbot_answer_seconds_count", platform="discord") == 2
        assert value(samples, "factbot_answer_seconds_count", platform="slack") == 1
        # Every question answered went through one micro-batch or another.
        assert value(samples, "factbot_batch_size_sum") == 3
        assert value(samples, "factbot_answer_errors_total", platform="discord") == 0

        # Dropped connections: counted as reconnects once the transports are back.
        assert await discord.drop_gateway() == 1
        await discord.wait_gateway(resumed=1, timeout=WAIT)
        await slack.request_reconnect()
        await slack.wait_connected(connections=2, timeout=WAIT)
        samples = await scraper.until(
            lambda s: all(
                value(s, "factbot_gateway_reconnects_total", platform=p) == 1
                and value(s, "factbot_transport_connected", platform=p) == 1
                for p in ("discord", "slack")
            )
        )
        assert await scraper.probe("/healthz") == (200, {"status": "ok"})

        # A moderator's /reindex: counted, and the new index's version is the one shown.
        done = await discord.interact("reindex", user_id=CAROL, permissions=MANAGE_GUILD)
        await discord.wait_reply(done, WAIT)
        new_version = current_version(make_settings())
        assert new_version != first_version
        samples = await scraper.metrics()
        assert value(samples, "factbot_reindex_total", result="ok") == 1
        assert value(samples, "factbot_reindex_seconds_count") == 1
        versions = [dict(labels) for name, labels in samples if name == "factbot_index_info"]
        assert versions == [{"version": new_version, "model": model()}]

        # SIGTERM with a question in flight: not ready at once, still healthy while it drains.
        in_flight = await discord.interact("ask", {"question": HELD}, user_id=CAROL)
        await asyncio.wait_for(held.wait(), WAIT)
        os.kill(os.getpid(), signal.SIGTERM)  # the bot's handler, on this loop, takes it
        assert await scraper.until_probe("/readyz", 503) == {
            "status": "unavailable",
            "reason": "shutting down",
        }
        assert (await scraper.probe("/healthz"))[0] == 200
        release.set()
        await asyncio.wait_for(task, WAIT)  # stopped by the signal, without an error
        assert (await discord.wait_reply(in_flight, WAIT)).message["embeds"]
        # The server closed with the bot.
        with pytest.raises(aiohttp.ClientConnectionError):
            await scraper.probe("/healthz")


def model() -> str:
    return "bundled:all-MiniLM-L6-v2#openvino-int8"


# ---------------------------------------------------------------------------- units


def counted(metrics: Metrics, **labels: str) -> float:
    found = metrics.registry.get_sample_value(Q, labels)
    return 0.0 if found is None else found


def test_question_metrics_count_questions_only() -> None:
    metrics = Metrics(platforms=("slack",), process=False)
    observer = QuestionMetrics(metrics)
    ask = Request("slack", "U1", "hello?")
    for reason in ("empty", "too_long", "closing"):
        observer.on_outcome(ask, Refusal(reason, "fr", "…"), 0.001)
    observer.on_outcome(ask, Refusal("rate_limited", "en", "…", 3.0), 0.001)
    observer.on_outcome(ask, Failed(RuntimeError("boom")), 0.5)
    # /factcheck and /sources are not questions, whatever happens to them.
    factcheck = Request("slack", "U1", "", "factcheck")
    observer.on_outcome(factcheck, Notes(None, "en", ()), 0.01)
    observer.on_outcome(factcheck, Refusal("rate_limited", "en", "…", 3.0), 0.001)

    assert counted(metrics, platform="slack", language="fr", outcome="rejected") == 3
    assert counted(metrics, platform="slack", language="en", outcome="rate_limited") == 1
    errors = metrics.registry.get_sample_value("factbot_answer_errors_total", {"platform": "slack"})
    assert errors == 1
    total = sum(s.value for f in metrics.registry.collect() for s in f.samples if s.name == Q)
    assert total == 4


async def test_a_hot_swapped_index_is_shown(make_settings: Callable[..., Settings]) -> None:
    """Another process publishes a build in the shared INDEX_DIR: the swap updates the index
    series like a /reindex does."""
    settings = make_settings()
    service = FactBotService.from_settings(settings)
    metrics = Metrics(process=False)
    service.add_observer(ServiceMetrics(metrics))
    try:
        before = service.engine.version
        assert metrics.registry.get_sample_value(
            "factbot_index_info", {"version": before, "model": model()}
        )
        other = await asyncio.to_thread(
            build_from_corpus, settings, IndexStore(settings.index_dir), service.engine.embedder
        )
        assert await service.check_for_new_index()
        assert service.engine.version == other.version != before
        info = [
            s.labels
            for f in metrics.registry.collect()
            for s in f.samples
            if f.name == "factbot_index"
        ]
        assert info == [{"version": other.version, "model": model()}]
        # Not a reindex of this process.
        assert metrics.registry.get_sample_value("factbot_reindex_total", {"result": "ok"}) == 0
    finally:
        await service.aclose()
