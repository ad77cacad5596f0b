"""The metrics and health server, scraped over real HTTP and parsed with prometheus_client."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.ops.metrics import Health, Metrics, MetricsServer, MetricsServerError, start_metrics_server
from bot.settings import Settings, SettingsError

pytestmark = pytest.mark.timeout(60)


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of a scrape: (name, labels) -> value."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


class Switch:
    """A health input the test flips."""

    def __init__(self, on: bool = False) -> None:
        self.on = on

    def __call__(self) -> bool:
        return self.on


@pytest.fixture
async def served() -> AsyncIterator[tuple[Metrics, Health, MetricsServer]]:
    metrics = Metrics(platforms=("discord", "slack"))
    health = Health(metrics)
    async with MetricsServer(metrics, health, port=0) as server:  # a port the OS picks
        yield metrics, health, server


async def get(server: MetricsServer, path: str) -> tuple[int, str, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(server.url + path) as response,
    ):
        return response.status, response.headers["Content-Type"], await response.text()


async def probe(server: MetricsServer, path: str) -> tuple[int, dict[str, str]]:
    status, content_type, text = await get(server, path)
    assert content_type.startswith("application/json")
    assert "\n" not in text.strip()  # one line
    return status, json.loads(text)


async def test_metrics_are_scraped_and_parsed(
    served: tuple[Metrics, Health, MetricsServer],
) -> None:
    metrics, _, server = served
    assert server.host == "127.0.0.1" and server.port > 0

    status, content_type, text = await get(server, "/metrics")
    assert status == 200 and content_type.startswith("text/plain")
    before = parse(text)
    # Known platforms start at zero, so a rate() works from the first scrape.
    for outcome in ("answered", "refused", "rejected", "rate_limited"):
        labels = {"platform": "slack", "language": "fr", "outcome": outcome}
        assert value(before, "factbot_questions_total", **labels) == 0
    assert value(before, "factbot_gateway_reconnects_total", platform="discord") == 0
    assert value(before, "factbot_index_loaded") == 0
    assert ("process_resident_memory_bytes", frozenset()) in before

    metrics.observe_outcome("discord", "en", "answered", 0.04)
    metrics.observe_outcome("discord", "en", "answered", 0.3)
    metrics.observe_outcome("discord", "fr", "refused", 0.02)
    metrics.observe_outcome("slack", None, "rejected")
    metrics.observe_outcome("slack", "fr", "rate_limited")
    metrics.observe_outcome("console", "de", "answered", 0.01)  # unknown language: "unknown"
    for size in (1, 3, 64):
        metrics.observe_batch(size)
    metrics.set_index("abc123", "2026-01-02T03:04:05+00:00", 180, "bundled:all-MiniLM-L6-v2")
    metrics.observe_reindex(4.5, "ok")
    metrics.observe_reindex(None, "coalesced")
    metrics.observe_reindex(0.5, "failed")
    metrics.record_feedback("slack", "up")
    metrics.record_feedback("slack", "up")
    metrics.record_feedback("discord", "down")
    metrics.record_reconnect("discord")

    after = parse((await get(server, "/metrics"))[2])
    q = "factbot_questions_total"
    assert value(after, q, platform="discord", language="en", outcome="answered") == 2
    assert value(after, q, platform="discord", language="fr", outcome="refused") == 1
    assert value(after, q, platform="slack", language="unknown", outcome="rejected") == 1
    assert value(after, q, platform="slack", language="fr", outcome="rate_limited") == 1
    assert value(after, q, platform="console", language="unknown", outcome="answered") == 1

    latency = "factbot_answer_seconds"
    assert value(after, latency + "_count", platform="discord") == 3
    assert value(after, latency + "_bucket", platform="discord", le="0.05") == 2
    assert value(after, latency + "_bucket", platform="discord", le="+Inf") == 3
    assert 0.35 < value(after, latency + "_sum", platform="discord") < 0.37
    # Rejected and rate-limited questions have no latency to record.
    assert value(after, latency + "_count", platform="slack") == 0

    assert value(after, "factbot_batch_size_count") == 3
    assert value(after, "factbot_batch_size_bucket", le="2.0") == 1
    assert value(after, "factbot_batch_size_bucket", le="64.0") == 3

    info = value(after, "factbot_index_info", version="abc123", model="bundled:all-MiniLM-L6-v2")
    assert info == 1
    assert value(after, "factbot_index_built_timestamp_seconds") == 1767323045
    assert value(after, "factbot_index_chunks") == 180

    assert value(after, "factbot_reindex_total", result="ok") == 1
    assert value(after, "factbot_reindex_total", result="coalesced") == 1
    assert value(after, "factbot_reindex_total", result="failed") == 1
    assert value(after, "factbot_reindex_seconds_count") == 2  # a coalesced one built nothing

    assert value(after, "factbot_feedback_votes_total", platform="slack", value="up") == 2
    assert value(after, "factbot_feedback_votes_total", platform="discord", value="down") == 1
    assert value(after, "factbot_gateway_reconnects_total", platform="discord") == 1

    # A new index replaces the old version's info series; it does not add one beside it.
    metrics.set_index("def456", 1767400000.0, 181)
    swapped = parse((await get(server, "/metrics"))[2])
    versions = [dict(k[1]) for k in swapped if k[0] == "factbot_index_info"]
    assert versions == [{"version": "def456"}]
    assert value(swapped, "factbot_index_built_timestamp_seconds") == 1767400000


async def test_openmetrics_is_served_when_asked_for(
    served: tuple[Metrics, Health, MetricsServer],
) -> None:
    metrics, _, server = served
    metrics.observe_outcome("slack", "en", "answered", 0.1)
    headers = {"Accept": "application/openmetrics-text; version=1.0.0"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(server.url + "/metrics", headers=headers) as response,
    ):
        assert response.headers["Content-Type"].startswith("application/openmetrics-text")
        text = await response.text()
    assert text.rstrip().endswith("# EOF")
    assert 'factbot_questions_total{language="en",outcome="answered",platform="slack"} 1.0' in text


async def test_health_and_readiness_follow_the_index_and_transports(
    served: tuple[Metrics, Health, MetricsServer],
) -> None:
    _, health, server = served
    # Nothing loaded yet.
    assert await probe(server, "/healthz") == (
        503,
        {"status": "unavailable", "reason": "index not loaded"},
    )
    assert (await probe(server, "/readyz"))[0] == 503

    index = Switch(on=True)
    health.watch_index(index)
    discord = health.transport("discord")
    slack = Switch()
    health.watch_transport("slack", slack)
    assert await probe(server, "/healthz") == (
        503,
        {"status": "unavailable", "reason": "discord, slack: not connected"},
    )
    assert await probe(server, "/readyz") == (
        503,
        {"status": "unavailable", "reason": "discord, slack: not connected yet"},
    )

    discord.up()
    slack.on = True
    assert await probe(server, "/healthz") == (200, {"status": "ok"})
    assert await probe(server, "/readyz") == (200, {"status": "ok"})
    scraped = parse((await get(server, "/metrics"))[2])
    assert value(scraped, "factbot_transport_connected", platform="discord") == 1
    assert value(scraped, "factbot_index_loaded") == 1

    # A dropped gateway: unhealthy, still ready (it connected once; it is reconnecting).
    discord.down()
    assert await probe(server, "/healthz") == (
        503,
        {"status": "unavailable", "reason": "discord: not connected"},
    )
    assert (await probe(server, "/readyz"))[0] == 200
    scraped = parse((await get(server, "/metrics"))[2])
    assert value(scraped, "factbot_transport_connected", platform="discord") == 0
    discord.up()  # back: healthy again, and counted as a reconnect
    assert (await probe(server, "/healthz"))[0] == 200
    scraped = parse((await get(server, "/metrics"))[2])
    assert value(scraped, "factbot_gateway_reconnects_total", platform="discord") == 1

    # A check that raises reads as down, never as a server error.
    def broken() -> bool:
        raise RuntimeError("boom")

    health.watch_index(broken)
    assert await probe(server, "/healthz") == (
        503,
        {"status": "unavailable", "reason": "index not loaded"},
    )
    health.watch_index(index)
    assert (await probe(server, "/healthz"))[0] == 200

    # Shutdown: not ready at once, while the transports are still up.
    health.begin_shutdown()
    assert await probe(server, "/readyz") == (
        503,
        {"status": "unavailable", "reason": "shutting down"},
    )
    assert (await probe(server, "/healthz"))[0] == 200


async def test_the_first_connection_is_not_a_reconnect() -> None:
    metrics = Metrics(process=False)
    health = Health(metrics)
    link = health.transport("slack")
    link.up()
    link.up()  # a repeated "connected" without a drop in between
    assert (
        metrics.registry.get_sample_value("factbot_gateway_reconnects_total", {"platform": "slack"})
        == 0
    )
    link.down()
    link.down()
    link.up()
    assert (
        metrics.registry.get_sample_value("factbot_gateway_reconnects_total", {"platform": "slack"})
        == 1
    )


def test_bad_labels_are_programming_errors() -> None:
    metrics = Metrics(process=False)
    with pytest.raises(ValueError, match="unknown outcome"):
        metrics.observe_outcome("slack", "en", "exploded")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown vote"):
        metrics.record_feedback("slack", "meh")
    with pytest.raises(ValueError, match="unknown reindex result"):
        metrics.observe_reindex(1.0, "partial")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_settings_turn_the_server_on_and_off() -> None:
    metrics, health = Metrics(process=False), Health()
    off = Settings.from_mapping({})
    assert off.metrics_port == 0 and off.metrics_host == "127.0.0.1"
    assert await start_metrics_server(off, metrics, health) is None

    port = free_port()
    on = Settings.from_mapping({"METRICS_PORT": str(port)})
    server = await start_metrics_server(on, metrics, health)
    assert server is not None
    try:
        assert server.url == f"http://127.0.0.1:{port}"
        status, _, text = await get(server, "/metrics")
        assert status == 200 and "factbot_questions_total" in text
        # The port is taken now: a second server fails with one line, no traceback.
        with pytest.raises(MetricsServerError) as info:
            await start_metrics_server(on, metrics, health)
        assert str(info.value).startswith(f"cannot serve metrics on 127.0.0.1:{port} (")
        assert "\n" not in str(info.value)
    finally:
        await server.close()


@pytest.mark.parametrize("raw", ["-1", "70000", "nine"])
def test_bad_metrics_port_is_one_clear_line(raw: str) -> None:
    with pytest.raises(SettingsError, match="METRICS_PORT"):
        Settings.from_mapping({"METRICS_PORT": raw})


def test_the_cost_benchmark_runs_at_a_tiny_size() -> None:
    from benchmarks.metrics_cost import measure

    result = measure(rounds=3, calls=5)  # shapes only: speed is never asserted in tests
    for key in ("per_question", "observe_outcome", "observe_batch", "scrape"):
        assert result[key]["median_us"] > 0 and result[key]["p95_us"] >= result[key]["median_us"]
