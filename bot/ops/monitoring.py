"""What `factbot run` reports while it serves, wired into bot/ops/metrics.py.

`start_monitoring` attaches the two observers below and serves /metrics, /healthz and /readyz on
METRICS_PORT; with METRICS_PORT off (the default) it attaches nothing, so nothing is counted:

- `QuestionMetrics` (an intake observer): every question by platform, language and outcome, with
  its latency; questions whose answering raised.
- `ServiceMetrics` (a service observer): the index served (at start, after a `/reindex`, after a
  hot-swap of another process's build), reindex results and durations, micro-batch sizes.
- one `TransportLink` per chat platform, which its adapter keeps up or down from the library's
  connection events (reconnects are counted).

Feedback votes are counted where they are received (`Metrics.record_feedback`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from bot.answer import Answer
from bot.answering.changes import IndexChanges
from bot.answering.status import IndexInfo
from bot.ops.metrics import Health, Metrics, MetricsServer, TransportLink, start_metrics_server
from bot.ops.metrics import Outcome as Counted
from bot.serving.intake import Failed, Outcome, Refusal, RefusalReason, Request
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.serving.intake import Intake
    from bot.serving.service import FactBotService, ReindexResult

__all__ = ["Monitoring", "QuestionMetrics", "ServiceMetrics", "start_monitoring"]

log = logging.getLogger("factbot.metrics")

# "closing": asked while the bot shuts down (told it is restarting); counted as not served.
REFUSALS: Final[dict[RefusalReason, Counted]] = {
    "empty": "rejected",
    "too_long": "rejected",
    "closing": "rejected",
    "rate_limited": "rate_limited",
}


class QuestionMetrics:
    """Counts questions (`/ask`, mentions, follow-ups; not `/factcheck` or `/sources`)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def on_outcome(self, request: Request, outcome: Outcome, seconds: float) -> None:
        if request.kind != "ask":
            return
        platform = request.platform
        if isinstance(outcome, Answer):
            counted: Counted = "refused" if outcome.refused else "answered"
            self.metrics.observe_outcome(platform, outcome.language, counted, seconds)
        elif isinstance(outcome, Refusal):
            self.metrics.observe_outcome(platform, outcome.language, REFUSALS[outcome.reason])
        elif isinstance(outcome, Failed):
            self.metrics.record_error(platform)


class ServiceMetrics:
    """The index served, reindexes and micro-batches."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def on_index(self, info: IndexInfo) -> None:
        self.metrics.set_index(info.version, info.built_at, info.chunk_count, info.model)

    def on_reindex(self, seconds: float | None, result: ReindexResult) -> None:
        self.metrics.observe_reindex(seconds, result)

    def on_changes(self, changes: IndexChanges) -> None:
        self.metrics.observe_changes(
            [d.kind for d in changes.documents] + [n.kind for n in changes.notes]
        )

    def on_batch(self, size: int) -> None:
        self.metrics.observe_batch(size)


@dataclass
class Monitoring:
    """The metrics, health and server of one bot process (all None when METRICS_PORT is off)."""

    metrics: Metrics | None = None
    health: Health | None = None
    server: MetricsServer | None = None
    links: dict[str, TransportLink] = field(default_factory=dict)

    def link(self, platform: str) -> TransportLink | None:
        """The connection state the `platform` adapter keeps up to date (None when off)."""
        return self.links.get(platform)

    def begin_shutdown(self) -> None:
        """SIGTERM arrived: /readyz answers 503 from now on."""
        if self.health is not None:
            self.health.begin_shutdown()

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()
            self.server = None


async def start_monitoring(
    settings: Settings, service: FactBotService, intake: Intake, platforms: Sequence[str]
) -> Monitoring:
    """Count what `intake` and `service` do and serve it on METRICS_HOST:METRICS_PORT, with one
    link per chat platform; a `Monitoring` that does nothing when METRICS_PORT is 0.

    Raises `MetricsServerError` (one line) when the address cannot be bound."""
    if not settings.metrics_port:
        return Monitoring()
    metrics = Metrics(platforms=platforms)
    health = Health(metrics)
    health.watch_index(lambda: service.engine.chunk_count > 0)  # swapped, never unloaded
    links = {platform: health.transport(platform) for platform in platforms}
    server = await start_metrics_server(settings, metrics, health)
    # Attached once the server is up: a failure to bind leaves nothing behind.
    intake.observers.append(QuestionMetrics(metrics))
    service.add_observer(ServiceMetrics(metrics))
    return Monitoring(metrics, health, server, links)
