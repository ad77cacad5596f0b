"""Warm latency and throughput: Engine.answer, the raw encoder, and FactBotService.ask under load.

Every measured question is a text never asked before in the process, so the embedder's LRU cache
cannot flatter the uncached figures; cached latency (the same questions again) is reported apart.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Sequence
from typing import Any

from benchmarks.common import QuestionPool, log, ratio, stats_ms

WARM_TARGET = 2.0
CEILING_TOLERANCE = 0.10
CEILING_BATCH = 64


def _cache_has(engine: Any, question: str) -> bool:
    """Whether the question's vector is cached (under the text embedded for it: a French
    question's English gloss)."""
    cache = getattr(engine.embedder, "_cache", None)
    return cache is not None and embedded_texts(engine, [question])[0] in cache


def raw_encode(engine: Any, texts: Sequence[str]) -> None:
    """One call of the underlying sentence-transformers model, as a bare bot would make it."""
    engine.embedder._model.encode(
        list(texts),
        batch_size=max(1, len(texts)),
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )


def warm_latency(engine: Any, pool: QuestionPool, n: int = 200) -> dict[str, Any]:
    """Per-question Engine.answer (cache misses, then hits) vs one raw encode of one question."""
    for q in pool.take(5):  # warm-up: first calls allocate buffers
        engine.answer(q)
        raw_encode(engine, [q + " ?"])
    answer_q, encode_q = pool.take(n), pool.take(n)
    answer_s: list[float] = []
    encode_s: list[float] = []
    misses = 0
    for a, e in zip(answer_q, encode_q, strict=True):  # interleaved: both see the same noise
        misses += not _cache_has(engine, a)
        t = time.perf_counter()
        raw_encode(engine, [e])
        encode_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        engine.answer(a)
        answer_s.append(time.perf_counter() - t)
    cached_s = []
    hits = 0
    for a in answer_q:
        hits += _cache_has(engine, a)
        t = time.perf_counter()
        engine.answer(a)
        cached_s.append(time.perf_counter() - t)
    answer, encode, cached = stats_ms(answer_s), stats_ms(encode_s), stats_ms(cached_s)
    r = ratio(answer["p50_ms"], encode["p50_ms"])
    return {
        "answer_uncached": answer,
        "raw_encode_one": encode,
        "answer_cached": cached,
        "ratio_p50": r,
        "ratio_p95": ratio(answer["p95_ms"], encode["p95_ms"]),
        "target": WARM_TARGET,
        "met": bool(r <= WARM_TARGET),
        "cache_misses_verified": f"{misses}/{n}",
        "cache_hits_verified": f"{hits}/{n}",
    }


def embedded_texts(engine: Any, questions: Sequence[str]) -> list[str]:
    """What the service encodes for these questions (a French question's English gloss), so the
    ceiling is measured on the same work as the service."""
    from bot.engine import prepare

    return [prepare(q, engine.settings).embedded for q in questions]


def encoder_ceiling(engine: Any, pool: QuestionPool, reps: int = 3) -> dict[str, Any]:
    """Questions/s of the raw model by batch size (64 is the ceiling the service is held to)."""
    raw_encode(engine, embedded_texts(engine, pool.take(CEILING_BATCH)))  # warm-up at this shape
    by_size: dict[int, float] = {}
    for size in (1, 8, 16, 32, CEILING_BATCH):
        rates = []
        for _ in range(reps):
            batch = embedded_texts(engine, pool.take(CEILING_BATCH))
            t = time.perf_counter()
            for i in range(0, CEILING_BATCH, size):
                raw_encode(engine, batch[i : i + size])
            rates.append(CEILING_BATCH / (time.perf_counter() - t))
        by_size[size] = round(statistics.median(rates), 1)
    best = max(by_size, key=lambda k: by_size[k])
    return {"qps_by_batch_size": by_size, "best_batch_size": best, "best_qps": by_size[best]}


def _ceiling_sample(engine: Any, pool: QuestionPool) -> float:
    batch = embedded_texts(engine, pool.take(CEILING_BATCH))
    t = time.perf_counter()
    raw_encode(engine, batch)
    return CEILING_BATCH / (time.perf_counter() - t)


class _BatchRecorder:
    """Wraps an engine's `answer_many` to record batch sizes (the engine is otherwise unchanged)."""

    def __init__(self, engine: Any) -> None:
        self.sizes: list[int] = []
        self._inner = engine.answer_many
        engine.answer_many = self  # instance attribute shadows the method

    def __call__(self, questions: Sequence[str], *args: Any, **kwargs: Any) -> Any:
        self.sizes.append(len(questions))
        return self._inner(questions, *args, **kwargs)


async def _askers(service: Any, questions: Sequence[str], askers: int) -> tuple[float, list[float]]:
    latencies: list[float] = []

    async def asker(mine: Sequence[str]) -> None:
        for q in mine:
            t = time.perf_counter()
            await service.ask(q)
            latencies.append(time.perf_counter() - t)

    started = time.perf_counter()
    await asyncio.gather(*(asker(questions[i::askers]) for i in range(askers)))
    return time.perf_counter() - started, latencies


def _load(
    engine: Any,
    settings: Any,
    questions: Sequence[str],
    askers: int,
    max_batch: int | None = None,
) -> dict[str, Any]:
    """`askers` concurrent closed-loop askers through FactBotService.ask on a fresh service."""
    from bot.engine import Engine
    from bot.service import MAX_BATCH, FactBotService

    own = Engine(settings, engine.store, engine.embedder, engine.index)
    recorder = _BatchRecorder(own)

    async def main() -> tuple[float, list[float]]:
        service = FactBotService(settings, own, max_batch or MAX_BATCH)
        try:
            return await _askers(service, questions, askers)
        finally:
            await service.aclose()

    elapsed, latencies = asyncio.run(main())
    return {
        "qps": round(len(questions) / elapsed, 1),
        "latencies": latencies,
        "mean_batch": statistics.fmean(recorder.sizes) if recorder.sizes else 0.0,
    }


def throughput(
    engine: Any,
    settings: Any,
    pool: QuestionPool,
    levels: Sequence[int] = (1, 8, 64),
    per_asker: dict[int, int] | None = None,
    rounds: int = 3,
    sweep_reps: int = 3,
) -> dict[str, Any]:
    """Batched vs one-at-a-time service throughput and latency at each concurrency level.

    Each level runs `rounds` rounds of [ceiling sample, batched load, one-at-a-time load] in a
    rotating order, so slow drifts in machine load hit all three alike; the share of the ceiling
    is the median of the per-round ratios.
    """
    per_asker = per_asker or {1: 20, 8: 4, 64: 3}
    sweep = encoder_ceiling(engine, pool, sweep_reps)
    _load(engine, settings, pool.take(16), 8)  # warm-up
    rows = []
    all_ceiling: list[float] = []
    for askers in levels:
        n = askers * per_asker.get(askers, 3)
        runs: dict[str, list[dict[str, Any]]] = {"batched": [], "one_at_a_time": []}
        ceiling: list[float] = []
        steps = ["ceiling", "batched", "one_at_a_time"]
        for r in range(rounds):
            for step in steps[r % len(steps) :] + steps[: r % len(steps)]:
                if step == "ceiling":
                    ceiling.append(_ceiling_sample(engine, pool))
                    continue
                runs[step].append(
                    _load(
                        engine,
                        settings,
                        pool.take(n),
                        askers,
                        max_batch=1 if step == "one_at_a_time" else None,
                    )
                )
        all_ceiling += ceiling
        row: dict[str, Any] = {"askers": askers, "questions": n * rounds}
        for mode, parts in runs.items():
            lat = [x for p in parts for x in p.pop("latencies")]
            row[mode] = {
                "qps": round(statistics.median(p["qps"] for p in parts), 1),
                **stats_ms(lat),
                "mean_batch": round(statistics.fmean(p["mean_batch"] for p in parts), 1),
                "qps_runs": [p["qps"] for p in parts],
            }
        row["ceiling_qps"] = round(statistics.median(ceiling), 1)
        row["batched"]["share_of_ceiling"] = round(
            statistics.median(p["qps"] / c for p, c in zip(runs["batched"], ceiling, strict=True)),
            3,
        )
        row["share_of_ceiling"] = row["batched"]["share_of_ceiling"]
        log(
            f"{askers} askers: batched {row['batched']['qps']} q/s p95 {row['batched']['p95_ms']}"
            f" ms; one-at-a-time {row['one_at_a_time']['qps']} q/s p95 "
            f"{row['one_at_a_time']['p95_ms']} ms; ceiling {row['ceiling_qps']} q/s"
        )
        rows.append(row)
    top = rows[-1]
    share = top["share_of_ceiling"]
    return {
        "ceiling": {
            "batch": CEILING_BATCH,
            "median_qps": round(statistics.median(all_ceiling), 1),
            "best_qps": round(max(all_ceiling), 1),
            "sweep": sweep,
        },
        "levels": rows,
        "top_askers": top["askers"],
        "top_share_of_ceiling": share,
        "within_10pct_of_ceiling": bool(share >= 1 - CEILING_TOLERANCE),
        "p95_below_one_at_a_time": bool(top["batched"]["p95_ms"] < top["one_at_a_time"]["p95_ms"]),
        "note": "closed-loop askers (each waits for its answer, then asks again); every question "
        "distinct; one-at-a-time = the same service with max_batch=1; ceiling = raw "
        "encode of the texts the service embeds for 64 distinct questions (a French question's "
        "English gloss) in one call, sampled between the runs",
    }


def thread_contention(engine: Any, pool: QuestionPool, n: int = 60) -> dict[str, Any]:
    """One-question encode p50/p95 with 1 and 2 torch threads, alone and beside a busy process.

    The busy process (a pure-Python loop, i.e. one core) stands for a second bot process or any
    neighbour on a 2-core host; it is started here and ended by its own handle.
    """
    import subprocess
    import sys

    import torch

    saved = torch.get_num_threads()
    out: dict[str, Any] = {}
    try:
        for busy in (False, True):
            hog = (
                subprocess.Popen(
                    [
                        sys.executable,
                        "-c",
                        "import time\nend = time.time() + 300\nwhile time.time() < end: pass",
                    ]
                )
                if busy
                else None
            )
            try:
                for threads in (1, 2):
                    torch.set_num_threads(threads)
                    raw_encode(engine, pool.take(1))
                    times = []
                    for q in pool.take(n):
                        t = time.perf_counter()
                        raw_encode(engine, [q])
                        times.append(time.perf_counter() - t)
                    key = f"{threads}_thread{'s' if threads > 1 else ''}_{'busy' if busy else 'alone'}"
                    out[key] = stats_ms(times)
            finally:
                if hog is not None:
                    hog.kill()
                    hog.wait()
    finally:
        torch.set_num_threads(saved)
    out["note"] = (
        "raw encode of one distinct question; 'busy' = one other process spinning on a core"
    )
    return out
