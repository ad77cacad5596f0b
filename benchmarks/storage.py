"""`python -m benchmarks --only storage [--quick]`: the question log under sustained load.

For SQLite (a file in a temporary folder) and PostgreSQL (a throwaway local server, fsync on,
started with tests/pg_cluster.py): `RATE` questions per second are logged for `SECONDS` seconds
at a steady pace, as the answering path would, while the process's RSS and the writer's backlog
are sampled every second. Then every row is counted in the database: none may be lost. Also:
the cost of one `log_question` call on the answering path (median and p99, µs), alone and under
the sustained load. Writes storage.json and storage.md to benchmarks/results/ (`--quick`: 10 s,
into results/quick/).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS, log, machine_info, pct, rss_mb

RATE = 200
SECONDS = 60.0
HOT_PATH_CALLS = 20_000

_QUESTIONS = [
    "Combien de kilos d'expériences la France devait-elle embarquer sur Chang'e 6 ?",
    "When was the SVOM satellite launched?",
    "Quelle agence spatiale a signé l'accord avec la CNSA ?",
    "What will the French instruments on Chang'e 6 measure?",
    "Quand la mission Chang'e 7 partira-t-elle ?",
]


def _store(url: str, capacity: int = 10_000) -> Any:
    from bot.storage import Database, Store
    from bot.storage.hashing import UserHasher

    store = Store(Database(url), UserHasher(os.urandom(32)), capacity=capacity)
    if not store.start(wait=60):
        raise RuntimeError(f"database {url} is not usable")
    return store


def _log_one(store: Any, i: int) -> str:
    return str(
        store.log_question(
            platform="discord",
            user_id=100_000_000_000_000_000 + i % 5000,
            question=_QUESTIONS[i % len(_QUESTIONS)],
            outcome="refused" if i % 7 == 0 else "answered",
            guild_id=1_000_000_000_000_000_000,
            channel_id=1_000_000_000_000_000_001 + i % 20,
            language="fr" if i % 2 else "en",
            note_ids=("svom-launch", "dorn-mass"),
            index_version="20261201T000000-abcdef",
            latency_ms=21.5,
        )
    )


def hot_path_cost(url: str, calls: int = HOT_PATH_CALLS) -> dict[str, float]:
    """One `log_question` call, back to back (the writer drains meanwhile), in microseconds."""
    store = _store(url, capacity=calls + 1)
    try:
        for i in range(500):  # warm-up
            _log_one(store, i)
        store.flush(60)
        costs = []
        for i in range(calls):
            t = time.perf_counter_ns()
            _log_one(store, i)
            costs.append((time.perf_counter_ns() - t) / 1000)
        store.flush(120)
    finally:
        store.close(30)
    return {
        "median_us": round(statistics.median(costs), 2),
        "p99_us": round(pct(costs, 99), 2),
        "calls": calls,
    }


def sustained(url: str, rate: int, seconds: float) -> dict[str, Any]:
    """`rate` questions/s for `seconds`: rows counted, RSS and backlog sampled every second."""
    store = _store(url)
    before = store.count_questions()
    total = int(rate * seconds)
    costs: list[float] = []
    rss: list[float] = []
    backlog: list[int] = []
    behind = 0.0
    started = time.perf_counter()
    next_sample = started
    try:
        for i in range(total):
            target = started + i / rate
            now = time.perf_counter()
            if now < target:
                time.sleep(target - now)
            else:
                behind = max(behind, now - target)
            t = time.perf_counter_ns()
            _log_one(store, i)
            costs.append((time.perf_counter_ns() - t) / 1000)
            if time.perf_counter() >= next_sample:
                rss.append(rss_mb())
                backlog.append(store.stats().buffered)
                next_sample += 1.0
        produced = time.perf_counter() - started
        flush_started = time.perf_counter()
        flushed = store.flush(120)
        flush_s = time.perf_counter() - flush_started
        stats = store.stats()
        rows = store.count_questions() - before
    finally:
        store.close(30)
    tenth = max(1, len(rss) // 10)
    return {
        "target_qps": rate,
        "seconds": round(produced, 1),
        "achieved_qps": round(total / produced, 1),
        "questions": total,
        "rows_counted": rows,
        "rows_lost": total - rows,
        "dropped": stats.dropped,
        "flushed": flushed,
        "final_flush_s": round(flush_s, 3),
        "producer_max_lag_ms": round(behind * 1000, 1),
        "backlog_max_rows": max(backlog) if backlog else 0,
        "backlog_median_rows": int(statistics.median(backlog)) if backlog else 0,
        "rss_first_tenth_mb": round(statistics.median(rss[:tenth]), 1) if rss else None,
        "rss_last_tenth_mb": round(statistics.median(rss[-tenth:]), 1) if rss else None,
        "rss_min_mb": min(rss) if rss else None,
        "rss_max_mb": max(rss) if rss else None,
        "rss_samples": rss,
        "call_median_us": round(statistics.median(costs), 2),
        "call_p99_us": round(pct(costs, 99), 2),
    }


def paced_without_writer(rate: int, seconds: float) -> dict[str, float]:
    """Control: the same paced calls into a store whose writer never starts (rows only pile up
    in memory). What it costs is the call itself after an idle gap (cold caches), without any
    database work competing for the CPU or the GIL."""
    store = _store_unstarted(capacity=int(rate * seconds) + 1)
    costs = []
    started = time.perf_counter()
    for i in range(int(rate * seconds)):
        target = started + i / rate
        now = time.perf_counter()
        if now < target:
            time.sleep(target - now)
        t = time.perf_counter_ns()
        _log_one(store, i)
        costs.append((time.perf_counter_ns() - t) / 1000)
    store.close(0)
    return {"median_us": round(statistics.median(costs), 2), "p99_us": round(pct(costs, 99), 2)}


def _store_unstarted(capacity: int) -> Any:
    from bot.storage import Database, Store
    from bot.storage.hashing import UserHasher

    return Store(Database("sqlite://"), UserHasher(os.urandom(32)), capacity=capacity)


def measure(
    seconds: float = SECONDS, rate: int = RATE, calls: int = HOT_PATH_CALLS
) -> dict[str, Any]:
    from tests.pg_cluster import PgCluster

    result: dict[str, Any] = {"machine": machine_info(), "rate": rate, "seconds": seconds}
    with tempfile.TemporaryDirectory(prefix="factbot-bench-") as tmp:
        sqlite_url = f"sqlite:///{Path(tmp) / 'factbot.db'}"
        log(f"storage: SQLite, {rate} q/s for {seconds:.0f} s")
        result["sqlite"] = sustained(sqlite_url, rate, seconds)
        log("storage: SQLite, hot-path cost of one call")
        result["sqlite"]["hot_path"] = hot_path_cost(sqlite_url, calls)
    log("storage: control, the same pace without a writer")
    result["paced_without_writer"] = paced_without_writer(rate, min(seconds, 15.0))
    log("storage: starting a local PostgreSQL server (fsync on)")
    cluster = PgCluster.create(durable=True)
    try:
        url = cluster.create_database("factbot_bench")
        log(f"storage: PostgreSQL, {rate} q/s for {seconds:.0f} s")
        result["postgresql"] = sustained(url, rate, seconds)
        log("storage: PostgreSQL, hot-path cost of one call")
        result["postgresql"]["hot_path"] = hot_path_cost(url, calls)
        result["postgresql"]["server"] = cluster.bindir.parent.name
    finally:
        cluster.destroy()
    return result


def render(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        "# Storage benchmark (question log)",
        "",
        f"{m['cpu_model']}, {m['usable_cores']} usable cores, load at start "
        f"{m['load_average_at_start']}. {result['rate']} questions/s for "
        f"{result['seconds']:.0f} s per database, then every row counted.",
        "",
        "| database | achieved q/s | rows written / sent | lost | backlog max | "
        "RSS first → last tenth (MiB) | call median / p99 (µs) | alone median / p99 (µs) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in ("sqlite", "postgresql"):
        r = result.get(name)
        if not r:
            continue
        hp = r["hot_path"]
        lines.append(
            f"| {name} | {r['achieved_qps']} | {r['rows_counted']} / {r['questions']} | "
            f"{r['rows_lost']} | {r['backlog_max_rows']} | "
            f"{r['rss_first_tenth_mb']} → {r['rss_last_tenth_mb']} | "
            f"{r['call_median_us']} / {r['call_p99_us']} | {hp['median_us']} / {hp['p99_us']} |"
        )
    control = result.get("paced_without_writer")
    lines += [
        "",
        "*call*: one `Store.log_question` during the sustained run (what the answering path "
        "pays per question, measured around the call); *alone*: the same call back to back, "
        f"{result['sqlite']['hot_path']['calls']:,} times. The writer thread batches rows (up to "
        "500 per transaction, every 0.25 s); *backlog*: rows waiting, sampled every second.",
    ]
    if control:
        lines.append(
            f"Control: the same paced calls into a store without a writer (no database work at "
            f"all): median {control['median_us']} µs, p99 {control['p99_us']} µs — the paced "
            "figure is mostly the call running with cold caches after a 5 ms idle gap, not the "
            "database."
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks --only storage")
    parser.add_argument("--quick", action="store_true", help="10 s per database")
    args = parser.parse_args(argv)
    import logging

    logging.basicConfig(level=logging.WARNING)
    result = measure(seconds=10.0, calls=5000) if args.quick else measure()
    folder = RESULTS / "quick" if args.quick else RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "storage.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    md = render(result)
    (folder / "storage.md").write_text(md, encoding="utf-8")
    print(md)
    lost = sum(result[n]["rows_lost"] for n in ("sqlite", "postgresql") if n in result)
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
