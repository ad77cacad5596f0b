"""`python -m benchmarks.metrics_cost [--rounds R] [--calls N]`: what the metrics cost a question.

A question's metric updates are what `factbot run` does for it (bot/ops/monitoring.py): the intake
observer's `on_outcome` (one `Metrics.observe_outcome`: counter + latency histogram) and, at worst
(a batch of one), the service observer's `on_batch` (one `Metrics.observe_batch`). Each figure is the median over R rounds
of the mean per call over N calls (a single call is too short for the clock), in microseconds,
with the 95th percentile of the rounds beside it. For comparison: the same updates through
prometheus_client's `labels()` on every call (what the cached children save), and one scrape of
/metrics' text (paid per scrape, not per question). The target (issue 16): at most 200 µs per
question. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from prometheus_client import generate_latest

from bot.answer import Answer
from bot.ops.metrics import Health, Metrics
from bot.ops.monitoring import QuestionMetrics, ServiceMetrics
from bot.serving.intake import Request

TARGET_US = 200.0


def per_call_us(fn: Callable[[int], None], rounds: int, calls: int) -> dict[str, float]:
    """Median and p95 over `rounds` of the mean microseconds per call of `fn(i)`."""
    fn(0)  # warm: creates the label children, fills caches
    means = []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        for i in range(calls):
            fn(i)
        means.append((time.perf_counter_ns() - start) / calls / 1000)
    means.sort()
    return {
        "median_us": round(statistics.median(means), 3),
        "p95_us": round(means[min(len(means) - 1, int(0.95 * len(means)))], 3),
    }


def measure(rounds: int = 200, calls: int = 2000) -> dict[str, Any]:
    metrics = Metrics(platforms=("discord", "slack"))
    health = Health(metrics)
    health.watch_index(lambda: True)
    health.transport("discord").up()
    health.transport("slack").up()
    metrics.set_index("v1", "2026-01-01T00:00:00+00:00", 180, "bundled:all-MiniLM-L6-v2")
    platforms, languages = ("discord", "slack"), ("fr", "en")
    questions, batches = QuestionMetrics(metrics), ServiceMetrics(metrics)
    asked = [
        (Request(p, "U1", "Quand ?"), Answer("Quand ?", lang, False, "…"))  # type: ignore[arg-type]
        for p in platforms
        for lang in languages
    ]

    def question(i: int) -> None:
        request, answer = asked[i & 3]
        questions.on_outcome(request, answer, 0.042)
        batches.on_batch(1)

    def outcome(i: int) -> None:
        metrics.observe_outcome(platforms[i & 1], languages[(i >> 1) & 1], "answered", 0.042)

    def batch(i: int) -> None:
        metrics.observe_batch(1 + (i & 7))

    def uncached(i: int) -> None:
        platform, language = platforms[i & 1], languages[(i >> 1) & 1]
        metrics.questions.labels(platform, language, "answered").inc()
        metrics.answer_seconds.labels(platform).observe(0.042)
        metrics.batch_size.observe(1)

    def scrape(i: int) -> None:
        generate_latest(metrics.registry)

    result: dict[str, Any] = {
        "per_question": per_call_us(question, rounds, calls),
        "observe_outcome": per_call_us(outcome, rounds, calls),
        "observe_batch": per_call_us(batch, rounds, calls),
        "per_question_via_labels": per_call_us(uncached, rounds, calls),
        "scrape": per_call_us(scrape, max(5, rounds // 20), 20),
        "rounds": rounds,
        "calls_per_round": calls,
        "target_us": TARGET_US,
        "python": sys.version.split()[0],
    }
    result["within_target"] = result["per_question"]["median_us"] <= TARGET_US
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.metrics_cost", description=__doc__)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.rounds, args.calls), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
