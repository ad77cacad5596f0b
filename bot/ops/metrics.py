"""Prometheus metrics, health, and the small HTTP server that shows both (METRICS_PORT).

One `Metrics` and one `Health` per process; the server is an aiohttp app on the bot's own event
loop, bound to METRICS_HOST (127.0.0.1 by default) and off unless METRICS_PORT is set:

- `/metrics`: the Prometheus exposition (text, or OpenMetrics when the scraper asks for it).
- `/healthz`: 200 `{"status": "ok"}` while the index is loaded and every configured transport is
  connected; else 503 with a one-line JSON reason. A gateway reconnect makes it 503 briefly:
  alert (or restart, as a liveness probe) only after it has failed for a while.
- `/readyz`: 200 once the index is loaded and every transport has connected at least once,
  until shutdown begins; 503 with the reason otherwise. For rolling deploys.

This module imports neither discord nor slack_bolt nor the answering core: the adapters and the
service feed it through the calls below (bot/ops/monitoring.py wires them for `factbot run`) (every one is cheap, thread-safe and never raises for
a metrics reason, so it can sit on the answering path):

    metrics = Metrics(platforms=("discord", "slack"))
    health = Health(metrics)
    health.watch_index(lambda: service.engine is not None)
    link = health.transport("discord")    # in the adapter: link.up() on READY/RESUMED,
                                          # link.down() on disconnect; reconnects are counted
    metrics.observe_outcome("discord", answer.language, "answered", seconds)
    metrics.observe_outcome("slack", None, "rate_limited")   # no language, no latency
    metrics.observe_batch(len(batch))                        # once per micro-batch
    metrics.set_index(info.version, info.built_at, info.chunk_count, info.model)
    metrics.observe_reindex(report.seconds, "ok")            # "ok", "failed" or "coalesced"
    metrics.observe_changes(["note_changed"])                # one kind per change event
    metrics.record_feedback("slack", "up")                   # "up" or "down"
    metrics.record_error("discord")                          # answering raised
    metrics.record_notification("correction", "sent")        # the notifier (bot/learning/notify.py)
    metrics.record_subscription(); metrics.record_handoff("opened")   # the adapters' buttons
    server = await start_metrics_server(settings, metrics, health)   # None when off
    ...
    health.begin_shutdown()               # on SIGTERM: /readyz turns 503 at once
    if server: await server.close()
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Final, Literal, Protocol

from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.aiohttp import make_aiohttp_handler
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from bot.settings import Settings

__all__ = [
    "OUTCOMES",
    "ConnectionCheck",
    "Health",
    "Metrics",
    "MetricsServer",
    "MetricsServerError",
    "TransportLink",
    "start_metrics_server",
]

log = logging.getLogger("factbot.metrics")

Outcome = Literal["answered", "refused", "rejected", "rate_limited"]
OUTCOMES: Final[tuple[Outcome, ...]] = ("answered", "refused", "rejected", "rate_limited")
LANGUAGES: Final = ("fr", "en")
UNKNOWN_LANGUAGE: Final = "unknown"  # rejected before detection (empty, too long)
REINDEX_RESULTS: Final = ("ok", "failed", "coalesced")
VOTES: Final = ("up", "down")
# Kept equal to bot.answering.changes.ChangeKind (a test checks): this module imports nothing of the core.
CHANGE_KINDS: Final = (
    "note_added",
    "note_changed",
    "note_removed",
    "document_added",
    "document_changed",
)

# Seconds from a question's arrival to its answer being handed back: a warm answer is tens of ms,
# a loaded 2-core host answers 64 askers within a second or two.
LATENCY_BUCKETS: Final = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS: Final = (1, 2, 4, 8, 16, 32, 64, 128)
REINDEX_BUCKETS: Final = (1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)


class Metrics:
    """Every factbot metric in one registry of its own (tests can make as many as they like)."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        platforms: Sequence[str] = (),
        process: bool = True,
    ) -> None:
        """`platforms` get their series created at zero, so `rate()` works from the start;
        `process` adds the standard process_* (memory, CPU, open files) and python_info series."""
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        if process:
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
        self.questions = Counter(
            "factbot_questions",
            "Questions by platform, language and outcome "
            "(answered, refused = off-topic, rejected = empty or too long, rate_limited).",
            ("platform", "language", "outcome"),
            registry=r,
        )
        self.answer_seconds = Histogram(
            "factbot_answer_seconds",
            "Seconds from a question's arrival to its answer (answered or refused).",
            ("platform",),
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "factbot_batch_size",
            "Questions answered together in one micro-batch.",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.index = Info("factbot_index", "The index being served.", registry=r)
        self.index_built = Gauge(
            "factbot_index_built_timestamp_seconds",
            "When the index being served was built (Unix time).",
            registry=r,
        )
        self.index_chunks = Gauge(
            "factbot_index_chunks", "Chunks in the index being served.", registry=r
        )
        self.reindexes = Counter(
            "factbot_reindex",
            "Reindex requests by result (ok, failed, coalesced).",
            ("result",),
            registry=r,
        )
        self.reindex_seconds = Histogram(
            "factbot_reindex_seconds",
            "Seconds a reindex took (ok or failed builds).",
            buckets=REINDEX_BUCKETS,
            registry=r,
        )
        self.changes = Counter(
            "factbot_index_changes",
            "What the indexes swapped in changed, by kind (note_added, note_changed, "
            "note_removed, document_added, document_changed).",
            ("kind",),
            registry=r,
        )
        self.feedback = Counter(
            "factbot_feedback_votes",
            "Feedback votes on answers by platform and value (up, down).",
            ("platform", "value"),
            registry=r,
        )
        self.reconnects = Counter(
            "factbot_gateway_reconnects",
            "Times a chat transport connected again after losing its connection.",
            ("platform",),
            registry=r,
        )
        self.notifications = Counter(
            "factbot_notifications",
            "Notifications after note changes, by kind (correction, answer) and status "
            "(sent, failed).",
            ("kind", "status"),
            registry=r,
        )
        self.subscriptions = Counter(
            "factbot_subscriptions",
            "Members who asked to be told when their question is answered.",
            registry=r,
        )
        self.handoffs = Counter(
            "factbot_handoffs",
            "Questions handed to moderators, by event (opened, resolved).",
            ("event",),
            registry=r,
        )
        self.errors = Counter(
            "factbot_answer_errors",
            "Questions whose answering raised (the user got an apology, the log the traceback).",
            ("platform",),
            registry=r,
        )
        # `labels()` validates and locks on every call; the children are cached per label set
        # so that the answering path pays a dict lookup (benchmarks/metrics_cost.py).
        self._children: dict[tuple[str, str, str], tuple[Counter, Histogram | None]] = {}
        for result in REINDEX_RESULTS:
            self.reindexes.labels(result)
        for kind in CHANGE_KINDS:
            self.changes.labels(kind)
        for platform in platforms:
            self.reconnects.labels(platform)
            self.errors.labels(platform)
            for language in LANGUAGES:
                for outcome in OUTCOMES:
                    self._child(platform, language, outcome)

    def _child(
        self, platform: str, language: str, outcome: Outcome
    ) -> tuple[Counter, Histogram | None]:
        key = (platform, language, outcome)
        found = self._children.get(key)
        if found is None:
            if outcome not in OUTCOMES:
                raise ValueError(f"unknown outcome {outcome!r}; expected one of {OUTCOMES}")
            timed = outcome in ("answered", "refused")
            found = (
                self.questions.labels(platform, language, outcome),
                self.answer_seconds.labels(platform) if timed else None,
            )
            self._children[key] = found  # a race only computes the same children twice
        return found

    def observe_outcome(
        self,
        platform: str,
        language: str | None,
        outcome: Outcome,
        seconds: float | None = None,
    ) -> None:
        """One question handled: counted by platform, language and outcome; `seconds` (answered
        and refused questions) goes into the latency histogram. An unknown language counts as
        "unknown"; an unknown outcome is a programming error (ValueError)."""
        lang = language if language in LANGUAGES else UNKNOWN_LANGUAGE
        counter, histogram = self._child(platform, lang or UNKNOWN_LANGUAGE, outcome)
        counter.inc()
        if histogram is not None and seconds is not None:
            histogram.observe(seconds)

    def observe_batch(self, size: int) -> None:
        """One micro-batch of `size` questions answered together."""
        self.batch_size.observe(size)

    def set_index(
        self,
        version: str,
        built_at: str | float | datetime | None = None,
        chunk_count: int | None = None,
        model: str | None = None,
    ) -> None:
        """The index now served (at start and after every swap). `built_at`: ISO 8601 text as in
        the manifest, a datetime, or Unix seconds; unreadable text leaves the gauge as it was."""
        labels = {"version": version}
        if model:
            labels["model"] = model
        self.index.info(labels)
        if chunk_count is not None:
            self.index_chunks.set(chunk_count)
        stamp = _unix_time(built_at)
        if stamp is not None:
            self.index_built.set(stamp)

    def observe_reindex(self, seconds: float | None, result: str = "ok") -> None:
        """A /reindex finished: "ok", "failed" (the old index keeps serving) or "coalesced"
        (joined a build already running, whose time is counted once, by its own request)."""
        if result not in REINDEX_RESULTS:
            raise ValueError(f"unknown reindex result {result!r}; expected {REINDEX_RESULTS}")
        self.reindexes.labels(result).inc()
        if seconds is not None and result != "coalesced":
            self.reindex_seconds.observe(seconds)

    def observe_changes(self, kinds: Iterable[str]) -> None:
        """The change events of an index swapped in (`bot.answering.changes`), one kind per event."""
        for kind in kinds:
            if kind not in CHANGE_KINDS:
                raise ValueError(f"unknown change {kind!r}; expected one of {CHANGE_KINDS}")
            self.changes.labels(kind).inc()

    def count_vote(self, platform: str, vote: int) -> None:
        """A 👍 (+1) or 👎 (-1) recorded on `platform`."""
        self.record_feedback(platform, "up" if vote > 0 else "down")

    def record_feedback(self, platform: str, value: str) -> None:
        """A user's vote on an answer: "up" or "down"."""
        if value not in VOTES:
            raise ValueError(f"unknown vote {value!r}; expected one of {VOTES}")
        self.feedback.labels(platform, value).inc()

    def record_notification(self, kind: str, status: str) -> None:
        """A notification after a note change was posted ("sent") or not ("failed")."""
        self.notifications.labels(kind, status).inc()

    def record_subscription(self) -> None:
        self.subscriptions.inc()

    def record_handoff(self, event: str) -> None:
        """A question handed to moderators ("opened") or resolved ("resolved")."""
        self.handoffs.labels(event).inc()

    def record_error(self, platform: str) -> None:
        """Answering a question raised (a bug or an outage: the log has the traceback)."""
        self.errors.labels(platform).inc()

    def record_reconnect(self, platform: str) -> None:
        """A transport connected again after losing its connection (`TransportLink` calls it)."""
        self.reconnects.labels(platform).inc()

    def watch_store(self, stats: Callable[[], StoreCounts]) -> None:
        """Export the question log's lost rows, read from `stats()` (the store's writer
        stats) at scrape time."""
        self.registry.register(_StoreCollector(stats))


def _unix_time(value: str | float | datetime | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    return value.timestamp()


# ---------------------------------------------------------------------------- health


class ConnectionCheck(Protocol):
    """Anything that says, when asked, whether a component is up (a lambda will do)."""

    def __call__(self) -> bool: ...


class TransportLink:
    """A transport's connection state, set by its adapter from the library's own events.

    discord.py: `up()` in on_ready and on_resumed, `down()` in on_disconnect. slack_sdk: `up()`
    once connected, and on each reconnection. Every `up()` after a `down()` counts as a reconnect.
    """

    def __init__(self, name: str, metrics: Metrics | None = None) -> None:
        self.name = name
        self._metrics = metrics
        self._lock = threading.Lock()
        self._connected = False
        self._ever = False
        if metrics is not None:
            metrics.reconnects.labels(name)  # the series exists at 0 from the start

    def __call__(self) -> bool:
        return self._connected

    @property
    def ever_connected(self) -> bool:
        return self._ever

    def up(self) -> None:
        with self._lock:
            reconnect = self._ever and not self._connected
            self._connected = self._ever = True
        if reconnect and self._metrics is not None:
            self._metrics.record_reconnect(self.name)

    def down(self) -> None:
        with self._lock:
            self._connected = False


class Health:
    """What /healthz and /readyz answer, from checks the rest of the bot registers."""

    def __init__(self, metrics: Metrics | None = None) -> None:
        self._metrics = metrics
        self._index: ConnectionCheck | None = None
        self._transports: dict[str, ConnectionCheck] = {}
        self._seen_up: set[str] = set()  # transports seen connected at least once
        self._stopping = False
        if metrics is not None:
            metrics.registry.register(_HealthCollector(self))

    def watch_index(self, check: ConnectionCheck) -> None:
        """`check()` is true while an index is loaded and answering."""
        self._index = check

    def watch_transport(self, name: str, check: ConnectionCheck) -> None:
        """A configured transport (discord, slack...): `check()` is true while it is connected."""
        self._transports[name] = check

    def transport(self, name: str) -> TransportLink:
        """A `TransportLink` registered as transport `name` (disconnected until `up()`)."""
        link = TransportLink(name, self._metrics)
        self.watch_transport(name, link)
        return link

    def begin_shutdown(self) -> None:
        """Shutdown began: /readyz answers 503 from now on."""
        self._stopping = True

    def _index_loaded(self) -> bool:
        return self._index is not None and _safe(self._index)

    def _connected(self) -> dict[str, bool]:
        state = {name: _safe(check) for name, check in self._transports.items()}
        self._seen_up.update(name for name, up in state.items() if up)
        return state

    def healthy(self) -> tuple[bool, str]:
        """(True, "ok"), or (False, the first reason it is not)."""
        if not self._index_loaded():
            return False, "index not loaded"
        down = [name for name, up in self._connected().items() if not up]
        if down:
            return False, f"{', '.join(sorted(down))}: not connected"
        return True, "ok"

    def ready(self) -> tuple[bool, str]:
        """(True, "ok"), or (False, why not: starting up, or shutting down)."""
        if self._stopping:
            return False, "shutting down"
        if not self._index_loaded():
            return False, "index not loaded"
        self._connected()
        never = [
            name
            for name, check in self._transports.items()
            if name not in self._seen_up and not getattr(check, "ever_connected", False)
        ]
        if never:
            return False, f"{', '.join(sorted(never))}: not connected yet"
        return True, "ok"


def _safe(check: ConnectionCheck) -> bool:
    try:
        return bool(check())
    except Exception:  # a broken check reads as "down", never as a 500 from the probe
        log.warning("health check %r failed", check, exc_info=True)
        return False


class StoreCounts(Protocol):
    """What the metrics read of the store's writer (`bot.storage.writer.WriterStats`)."""

    @property
    def dropped(self) -> int: ...
    @property
    def rejected(self) -> int: ...


class _StoreCollector(Collector):
    """Rows of the question log lost, by why: the buffer was full during an outage, or the
    database would not take the row (written alone, it still failed: dropped, never retried)."""

    def __init__(self, stats: Callable[[], StoreCounts]) -> None:
        self._stats = stats

    def collect(self) -> Iterable[CounterMetricFamily]:
        stats = self._stats()
        lost = CounterMetricFamily(
            "factbot_store_rows_dropped",
            "Question-log rows dropped: buffer_full (an outage outlasted the buffer) or "
            "unwritable (the database refused the row for a reason that is not an outage).",
            labels=["reason"],
        )
        lost.add_metric(["buffer_full"], float(stats.dropped))
        lost.add_metric(["unwritable"], float(stats.rejected))
        yield lost


class _HealthCollector(Collector):
    """The health checks as gauges, read at scrape time (alerting without the HTTP probes)."""

    def __init__(self, health: Health) -> None:
        self._health = health

    def collect(self) -> Iterable[GaugeMetricFamily]:
        index = GaugeMetricFamily(
            "factbot_index_loaded", "1 while an index is loaded and answering."
        )
        index.add_metric([], 1.0 if self._health._index_loaded() else 0.0)
        yield index
        connected = GaugeMetricFamily(
            "factbot_transport_connected",
            "1 while the chat transport is connected.",
            labels=["platform"],
        )
        for name, up in sorted(self._health._connected().items()):
            connected.add_metric([name], 1.0 if up else 0.0)
        yield connected


# ---------------------------------------------------------------------------- server


class MetricsServerError(RuntimeError):
    """The metrics server could not start; the message is one line for the operator."""


class MetricsServer:
    """/metrics, /healthz and /readyz on `host:port` (port 0: one the OS picks, for tests)."""

    def __init__(
        self, metrics: Metrics, health: Health, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.metrics = metrics
        self.health = health
        self.host = host
        self._requested_port = port
        self._runner: web.AppRunner | None = None
        self.port = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/metrics", make_aiohttp_handler(self.metrics.registry))
        app.router.add_get("/healthz", self._probe(self.health.healthy))
        app.router.add_get("/readyz", self._probe(self.health.ready))
        return app

    @staticmethod
    def _probe(
        state: Callable[[], tuple[bool, str]],
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            ok, reason = state()
            body = {"status": "ok"} if ok else {"status": "unavailable", "reason": reason}
            return web.json_response(body, status=200 if ok else 503)

        return handler

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> MetricsServer:
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._requested_port)
        try:
            await site.start()
        except (OSError, OverflowError) as exc:
            await runner.cleanup()
            reason = getattr(exc, "strerror", None) or str(exc)
            raise MetricsServerError(
                f"cannot serve metrics on {self.host}:{self._requested_port} ({reason}); "
                "check METRICS_HOST and METRICS_PORT"
            ) from None
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        log.info("metrics: /metrics, /healthz and /readyz on %s", self.url)
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> MetricsServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def start_metrics_server(
    settings: Settings, metrics: Metrics, health: Health
) -> MetricsServer | None:
    """The server on METRICS_HOST:METRICS_PORT, started; None when METRICS_PORT is 0 (off).

    Raises `MetricsServerError` (one line) when the address cannot be bound."""
    if not settings.metrics_port:
        return None
    server = MetricsServer(metrics, health, host=settings.metrics_host, port=settings.metrics_port)
    return await server.start()
