"""The benchmark modules import, and their tiny-size paths return well-formed numbers.

No timing thresholds: machines are shared and noisy; only shapes and sanity are checked.
"""

from __future__ import annotations

import importlib
import math
from pathlib import Path

import numpy as np
import pytest

from bot.serving.service import FactBotService

MODULES = (
    "common",
    "startup",
    "latency",
    "scaling",
    "memory",
    "report",
    "backends",
    "notes",
    "__main__",
)


def _finite(x: object) -> bool:
    return isinstance(x, int | float) and math.isfinite(x) and x >= 0


@pytest.mark.parametrize("name", MODULES)
def test_benchmark_modules_import(name: str) -> None:
    importlib.import_module(f"benchmarks.{name}")


def test_question_pool_never_repeats() -> None:
    from benchmarks.common import QuestionPool

    pool = QuestionPool()
    first, second = pool.take(500), pool.take(500)
    assert len(set(first + second)) == 1000
    assert all(q.strip() for q in first)


def test_synthetic_corpus_is_valid_and_sized(tmp_path: Path) -> None:
    from benchmarks import scaling
    from benchmarks.common import REAL_CORPUS
    from bot.answering.index_lifecycle import chunking_config
    from bot.settings import Settings
    from index.chunking import chunk_corpus
    from index.corpus import load_corpus

    base = len(chunk_corpus(load_corpus(REAL_CORPUS), chunking_config(Settings())))
    corpus = scaling.write_synthetic_corpus(tmp_path / "corpus", replicas=3)
    chunks = chunk_corpus(load_corpus(corpus), chunking_config(Settings()))
    assert len(chunks) == base + 2 * 2 * scaling.body_sentences()
    assert len({c.text for c in chunks}) > base  # the copies are perturbed, not identical
    assert scaling.replicas_for(base) == 1


def test_ann_benchmark_tiny() -> None:
    from benchmarks import scaling

    rng = np.random.default_rng(0)
    base = rng.normal(size=(150, 16)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    queries = base[:5] + 0.05
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    out = scaling.ann_benchmark(base, queries.astype(np.float32), sizes=(100, 300), k=10)
    assert [r["rows"] for r in out["rows"]] == [100, 300]
    for row in out["rows"]:
        assert _finite(row["flat_p50_ms"]) and _finite(row["hnsw_build_s"])
        for h in row["hnsw"].values():
            assert _finite(h["p50_ms"]) and 0.0 <= h["recall_at_10"] <= 1.0
    threshold = out["recommended_hnsw_min_rows"]
    assert threshold is None or threshold in (100, 300)


def test_latency_and_build_tiny(service: FactBotService, tmp_path: Path) -> None:
    from benchmarks import latency, scaling
    from benchmarks.common import QuestionPool
    from benchmarks.report import plot_scaling, render_markdown

    pool = QuestionPool(seed=3)
    engine = service.engine
    warm = latency.warm_latency(engine, pool, n=3)
    assert warm["cache_misses_verified"] == "3/3" and warm["cache_hits_verified"] == "3/3"
    for part in ("answer_uncached", "raw_encode_one", "answer_cached"):
        assert warm[part]["n"] == 3 and _finite(warm[part]["p50_ms"])
    assert _finite(warm["ratio_p50"])

    load = latency.throughput(engine, service.settings, pool, levels=(1, 4), per_asker={1: 2, 4: 1})
    assert [r["askers"] for r in load["levels"]] == [1, 4]
    for row in load["levels"]:
        for mode in ("batched", "one_at_a_time"):
            assert _finite(row[mode]["qps"]) and row[mode]["n"] == row["questions"]
    assert _finite(load["ceiling"]["median_qps"])

    qs = pool.take(3)
    qv = engine.embedder.encode(qs)
    row, vectors = scaling.build_at(
        150, engine.embedder, qs, qv, estimate_from=engine.index.vectors, sample=8
    )
    assert row["method"].startswith("estimated") and row["chunks"] == len(vectors)
    assert _finite(row["seconds"]) and _finite(row["chunks_per_s"])

    summary = {
        "mode": "test",
        "machine": {"cpu_model": "x"},
        "warm": warm,
        "throughput": load,
        "builds": [row],
        "ann": scaling.ann_benchmark(vectors, qv, sizes=(50,), k=10),
    }
    assert "| measurement | result | target | met |" in render_markdown(summary)
    png = tmp_path / "scaling.png"
    plot_scaling(summary, png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_notes_section_reports_save_to_notification_against_the_targets() -> None:
    """The notes section's output shape: the loop's medians on one host and another, and
    issue 23's targets with whether met (made-up figures: the shape, not the speed)."""
    from benchmarks import notes

    loop = {
        "rounds": 2,
        "save_to_answered_s": 0.3,
        "save_to_correction_s": 0.2,
        "all_answered_s": [0.3, 0.3],
        "all_correction_s": [0.2, 0.2],
        "notifications": 4,
        "deliveries": 4,
        "duplicate_deliveries": 0,
    }
    result = {
        "machine": {"cpu_model": "x", "usable_cores": 2, "load_average_at_start": [0, 0, 0]},
        "watch_seconds": notes.WATCH_SECONDS,
        "one_host": {"rounds": 2, "submit_to_served_s": 0.2, "rebuild_s": 0.1},
        "two_hosts": {
            "rounds": 2,
            "submit_to_served_s": 0.2,
            "rebuild_s": 0.1,
            "submit_to_served_other_host_s": 1.5,
        },
        "loop_one_host": loop,
        "loop_two_hosts": {**loop, "save_to_answered_s": 99.0},
    }
    targets = notes._targets(result)
    assert [(t["target_s"], t["met"]) for t in targets] == [
        (notes.TARGET_ONE_HOST_S, True),
        (notes.WATCH_SECONDS + notes.TARGET_OTHER_HOST_MARGIN_S, False),
    ]
    result["loop_targets"] = targets
    md = notes.render(result)
    assert "| subscribed question answered (s) | earlier answer corrected (s) |" in md
    assert "| save → notification, another host | 99.0 |" in md and "| no |" in md
