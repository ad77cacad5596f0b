"""Warm latency and throughput: Engine.answer, the raw encoder, and FactBotService.ask under load.

Every measured question is a text never asked before in the process, so the embedder's LRU cache
cannot flatter the uncached figures; cached latency (the same questions again) is reported apart.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import statistics
import time
from collections.abc import Sequence
from typing import Any

from benchmarks.common import QuestionPool, log, ratio, stats_ms

# Issue 16: a warm answer costs at most a tenth more than the encode it cannot avoid.
WARM_TARGET = 1.1
CEILING_TOLERANCE = 0.10
CEILING_BATCH = 64
# Texts per ceiling sample: two batches, so that one batch's padding (its longest question) does
# not decide the round.
CEILING_SAMPLE = 2 * CEILING_BATCH


def _cache_has(engine: Any, question: str) -> bool:
    """Whether the question's vector is cached (under the text embedded for it: a French
    question's English gloss)."""
    cache = getattr(engine.embedder, "_cache", None)
    return cache is not None and embedded_texts(engine, [question])[0] in cache


def raw_encode(engine: Any, texts: Sequence[str], threads: int | None = None) -> None:
    """One call of the underlying model (sentence-transformers', or the compiled OpenVINO one),
    as a bare bot would make it (with all the encoder's threads unless told otherwise)."""
    set_threads = engine.embedder._set_threads
    if set_threads is not None:
        set_threads(threads or engine.embedder.max_threads)
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
    from bot.answering.engine import prepare

    return [prepare(q, engine.settings).embedded for q in questions]


def service_texts(engine: Any, questions: Sequence[str]) -> list[str]:
    """Every text the service encodes to answer these questions: each one's embedded text and,
    for a message the engine answers as several questions (issue 22), each part's, encoded in
    the same batch. The ceiling is measured on this work, so that it counts the parts the
    service must encode too (about one message in ten of the pool holds several questions).
    Finding the parts takes the engine's own reading (not timed; it fills the engine's cache
    with texts the load never asks)."""
    items = [engine.prepare(q) for q in questions]
    vectors = engine.embedder.encode_queries([p.embedded for p in items])
    kinds = [
        engine.kinds.classify(p.asked or p.question, v) for p, v in zip(items, vectors, strict=True)
    ]
    parts = engine._parts(items, kinds)
    texts = [p.embedded for p in items]
    for i in sorted(parts):
        texts += [part.embedded for part, _, _ in parts[i]]
    return texts


def side_by_side(engine: Any, texts: Sequence[str], workers: int) -> None:
    """`texts` split across `workers` threads, each encoding its part with the threads the
    service's workers get under load."""
    from bot.serving.service import worker_plan

    _, threads = worker_plan(workers, engine.embedder.max_threads)
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda i: raw_encode(engine, texts[i::workers], threads), range(workers)))


def _workers(engine: Any, settings: Any) -> int:
    """How many answering workers FactBotService runs with these settings."""
    from bot.serving.service import worker_plan

    return worker_plan(settings.answer_workers, engine.embedder.max_threads)[0]


def encoder_ceiling(engine: Any, workers: int, pool: QuestionPool, reps: int = 3) -> dict[str, Any]:
    """Questions/s of the raw model by batch size, in one call and split across `workers`
    threads (the best of these is the ceiling the service is held to)."""
    raw_encode(engine, service_texts(engine, pool.take(CEILING_BATCH)))  # warm-up at this shape
    by_size: dict[str, float] = {}
    sizes = [(str(n), n, 1) for n in (1, 8, 16, 32, CEILING_BATCH)]
    if workers > 1:
        sizes.append(
            (f"{workers} x {CEILING_BATCH // workers} side by side", CEILING_BATCH, workers)
        )
    for label, size, split in sizes:
        rates = []
        for _ in range(reps):
            # Questions per second: the texts of CEILING_BATCH questions (their parts included).
            batch = service_texts(engine, pool.take(CEILING_BATCH))
            t = time.perf_counter()
            for i in range(0, len(batch), size):
                if split > 1:
                    side_by_side(engine, batch[i : i + size], split)
                else:
                    raw_encode(engine, batch[i : i + size])
            rates.append(CEILING_BATCH / (time.perf_counter() - t))
        by_size[label] = round(statistics.median(rates), 1)
    best = max(by_size, key=lambda k: by_size[k])
    return {"qps_by_batch_size": by_size, "best_batch_size": best, "best_qps": by_size[best]}


def _ceiling_sample(engine: Any, workers: int, pool: QuestionPool) -> dict[str, float]:
    """The encoder's throughput on the same fresh texts in one call of CEILING_BATCH and, with
    several workers, split side by side; `best` is the ceiling for this round."""
    texts = service_texts(engine, pool.take(CEILING_SAMPLE))
    out: dict[str, float] = {}
    t = time.perf_counter()
    for i in range(0, len(texts), CEILING_BATCH):
        raw_encode(engine, texts[i : i + CEILING_BATCH])
    out["one_call"] = CEILING_SAMPLE / (time.perf_counter() - t)
    if workers > 1:
        t = time.perf_counter()
        for i in range(0, len(texts), CEILING_BATCH):
            side_by_side(engine, texts[i : i + CEILING_BATCH], workers)
        out["side_by_side"] = CEILING_SAMPLE / (time.perf_counter() - t)
    out["best"] = max(out.values())
    return out


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
    workers: int | None = None,
) -> dict[str, Any]:
    """`askers` concurrent closed-loop askers through FactBotService.ask on a fresh service."""
    from bot.answering.engine import Engine
    from bot.serving.service import MAX_BATCH, FactBotService

    own = Engine(settings, engine.store, engine.embedder, engine.index)
    recorder = _BatchRecorder(own)

    async def main() -> tuple[float, list[float]]:
        service = FactBotService(settings, own, max_batch or MAX_BATCH, workers)
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
    per_asker = per_asker or {1: 20, 8: 5, 64: 10}
    workers = _workers(engine, settings)
    sweep = encoder_ceiling(engine, workers, pool, sweep_reps)
    _load(engine, settings, pool.take(16), 8)  # warm-up
    rows = []
    all_ceiling: list[dict[str, float]] = []
    for askers in levels:
        n = askers * per_asker.get(askers, 3)
        runs: dict[str, list[dict[str, Any]]] = {"batched": [], "one_at_a_time": []}
        ceiling: list[dict[str, float]] = []
        steps = ["ceiling", "batched", "one_at_a_time"]
        for r in range(rounds):
            for step in steps[r % len(steps) :] + steps[: r % len(steps)]:
                if step == "ceiling":
                    ceiling.append(_ceiling_sample(engine, workers, pool))
                    continue
                one = step == "one_at_a_time"
                runs[step].append(
                    _load(
                        engine,
                        settings,
                        pool.take(n),
                        askers,
                        max_batch=1 if one else None,
                        workers=1 if one else None,
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
        row["ceiling_qps"] = round(statistics.median(c["best"] for c in ceiling), 1)
        row["batched"]["share_of_ceiling"] = round(
            statistics.median(
                p["qps"] / c["best"] for p, c in zip(runs["batched"], ceiling, strict=True)
            ),
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
            "workers": workers,
            "median_qps": round(statistics.median(c["best"] for c in all_ceiling), 1),
            "best_qps": round(max(c["best"] for c in all_ceiling), 1),
            "by_config_median_qps": {
                k: round(statistics.median(c[k] for c in all_ceiling), 1) for k in all_ceiling[0]
            },
            "sweep": sweep,
        },
        "levels": rows,
        "top_askers": top["askers"],
        "top_share_of_ceiling": share,
        "within_10pct_of_ceiling": bool(share >= 1 - CEILING_TOLERANCE),
        "p95_below_one_at_a_time": bool(top["batched"]["p95_ms"] < top["one_at_a_time"]["p95_ms"]),
        "note": "closed-loop askers (each waits for its answer, then asks again); every question "
        f"distinct; batched = the service as configured ({workers} answering workers); "
        "one-at-a-time = the same service with one worker and max_batch=1; ceiling = the best "
        f"of the raw encoder's configurations on the same {CEILING_SAMPLE} fresh texts (what the "
        f"service embeds: a French question's English gloss) — batches of {CEILING_BATCH} in one "
        f"call with all threads, or split across {workers} threads side by side — sampled "
        "between the runs",
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
                    raw_encode(engine, pool.take(1), threads)
                    times = []
                    for q in pool.take(n):
                        t = time.perf_counter()
                        raw_encode(engine, [q], threads)
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
