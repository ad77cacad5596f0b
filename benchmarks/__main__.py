"""`python -m benchmarks [--quick] [--only a,b]`: run the benchmarks, write the results.

Prints the JSON summary and a Markdown table on stdout (progress goes to stderr) and writes
summary.json, summary.md and scaling.png to benchmarks/results/ (`--quick`: to .../quick/).
Sections: help, cold, warm, throughput, threads, build, ann, memory, discord. A full run takes
about 6 minutes on 2 idle cores (10 when other processes compete); `--quick` about 2.

`--only backends` runs benchmarks/backends.py instead (torch vs OpenVINO int8; exports models, about
6 minutes): it writes its own backends.json and backends.md and is not part of the default run.
`--only storage` likewise runs benchmarks/storage.py alone (the question log at 200 q/s into
SQLite and PostgreSQL, about 3 minutes; storage.json and storage.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import common
from benchmarks.common import RESULTS, VENV_PYTHON, log

SECTIONS = ("help", "cold", "warm", "throughput", "threads", "build", "ann", "memory", "discord")
KEYS = {"cold": "cold_start", "build": "builds", "discord": "discord_load"}  # summary keys

DISCORD = """
import importlib.util, json, logging, sys
if importlib.util.find_spec("benchmarks.discord_load") is None:
    print(json.dumps({"skipped": "benchmarks/discord_load.py is not present"})); sys.exit(0)
import benchmarks.discord_load as load
if not callable(getattr(load, "run", None)):
    print(json.dumps({"skipped": "benchmarks/discord_load.py has no run()"})); sys.exit(0)
logging.basicConfig(level=logging.WARNING)
logging.getLogger("discord").setLevel(logging.ERROR)
print(json.dumps(load.run(n=int(sys.argv[1]), seconds=float(sys.argv[2]))))
"""


@dataclass(frozen=True)
class Plan:
    """Sizes and repetitions of one run."""

    name: str
    cold_reps: int
    help_reps: int
    warm_n: int
    per_asker: dict[int, int]
    builds: tuple[int, ...]  # built with the real encoder
    estimated_build: int  # built with a stand-in encoder, encode time extrapolated
    ann_sizes: tuple[int, ...]
    ann_queries: int
    memory_questions: int
    discord: tuple[int, float]
    rounds: int = 3
    thread_n: int = 60


FULL = Plan(
    "full",
    cold_reps=5,
    help_reps=5,
    warm_n=200,
    # 10 questions per asker at 64: a run of 3 lasted ~1 s, of which the ramp (a first lone
    # question, then uneven cohorts) took a tenth; steady-state throughput is what is held
    # to the ceiling.
    per_asker={1: 20, 8: 5, 64: 10},
    builds=(100, 10_000),
    estimated_build=100_000,
    ann_sizes=(1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000),
    ann_queries=200,
    memory_questions=512,
    discord=(200, 10.0),
    rounds=5,
)
QUICK = Plan(
    "quick",
    cold_reps=2,
    help_reps=3,
    warm_n=40,
    per_asker={1: 8, 8: 2, 64: 1},
    builds=(100, 1_000),
    estimated_build=10_000,
    ann_sizes=(1_000, 5_000, 10_000),
    ann_queries=50,
    memory_questions=128,
    discord=(40, 4.0),
    rounds=1,
    thread_n=15,
)


def _cpu_busy() -> float:
    import psutil

    t = psutil.cpu_times()
    return float(sum(t) - t.idle - getattr(t, "iowait", 0.0))


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def run(plan: Plan, only: Sequence[str] = SECTIONS) -> dict[str, Any]:
    """Run the selected sections; each failure is recorded in the summary, never fatal."""
    started, busy0, own0 = time.perf_counter(), _cpu_busy(), _own_cpu()
    summary: dict[str, Any] = {"mode": plan.name, "machine": common.machine_info(), "notes": []}
    pool = common.QuestionPool()
    ws = common.make_workspace()
    state: dict[str, Any] = {}

    def section(name: str, fn: Callable[[], Any]) -> None:
        if name not in only:
            return
        log(f"-- {name}")
        t = time.perf_counter()
        try:
            summary[KEYS.get(name, name)] = fn()
        except Exception as exc:
            log(f"{name} failed: {exc!r}")
            summary.setdefault("errors", {})[name] = "".join(
                traceback.format_exception_only(type(exc), exc)
            ).strip()
            traceback.print_exc()
        summary.setdefault("section_seconds", {})[name] = round(time.perf_counter() - t, 1)

    try:
        from benchmarks import latency, memory, scaling, startup

        def engine() -> Any:
            if "engine" not in state:
                from bot.engine import Engine

                state["engine"] = Engine.open(ws.settings())
            return state["engine"]

        engine()  # builds the workspace index once; `factbot ask` then loads it
        section("help", lambda: startup.help_time(plan.help_reps))
        section("cold", lambda: startup.cold_start(ws, pool, plan.cold_reps))
        section("warm", lambda: latency.warm_latency(engine(), pool, plan.warm_n))
        section(
            "throughput",
            lambda: latency.throughput(
                engine(), ws.settings(), pool, per_asker=plan.per_asker, rounds=plan.rounds
            ),
        )
        section("threads", lambda: latency.thread_contention(engine(), pool, plan.thread_n))

        def builds() -> list[dict[str, Any]]:
            qs = pool.take(50)
            qv = engine().embedder.encode(qs)
            rows = []
            for target in plan.builds:
                row, vectors = scaling.build_at(target, engine().embedder, qs, qv)
                rows.append(row)
                state["real_vectors"] = vectors
            row, _ = scaling.build_at(
                plan.estimated_build,
                engine().embedder,
                qs,
                qv,
                estimate_from=state["real_vectors"],
                sample=1000 if plan.name == "full" else 200,
            )
            rows.append(row)
            return rows

        section("build", builds)

        def ann() -> dict[str, Any]:
            base = state.get("real_vectors")
            if base is None:  # `--only ann`: the real corpus's own vectors
                base = engine().index.vectors
            queries = engine().embedder.encode(pool.take(plan.ann_queries))
            return scaling.ann_benchmark(base, queries, plan.ann_sizes)

        section("ann", ann)
        section(
            "memory",
            lambda: memory.serving_memory(
                ws, pool, plan.memory_questions, reps=1 if plan.name == "quick" else 2
            ),
        )

        def discord() -> dict[str, Any]:
            n, seconds = plan.discord
            res = common.run_measured(
                [str(VENV_PYTHON), "-c", DISCORD, str(n), str(seconds)],
                ws.process_env(),
                ws.root,
                timeout=600,
            )
            out = common.last_json_line(res.stdout)
            if not out:
                return {"error": f"exit {res.returncode}: {res.stderr.strip()[-400:]}"}
            out.setdefault("seconds", seconds)
            return out

        section("discord", discord)
    finally:
        ws.close()

    elapsed = time.perf_counter() - started
    cores = summary["machine"]["usable_cores"] or 1
    others = max(0.0, (_cpu_busy() - busy0) - (_own_cpu() - own0))
    summary["machine"]["load_average_at_end"] = common.load_average()
    summary["machine"]["other_processes_cpu_share"] = round(others / (elapsed * cores), 3)
    summary["seconds_total"] = round(elapsed, 1)
    summary["noisy"] = bool(summary["machine"]["other_processes_cpu_share"] > 0.1)
    if summary["noisy"]:
        summary["notes"].append(
            f"other processes used {summary['machine']['other_processes_cpu_share']:.0%} of the "
            "CPU during this run: absolute figures are pessimistic, ratios measured interleaved "
            "(warm latency, cold start) are the more trustworthy"
        )
    builds_rows = summary.get("builds", [])
    if any(not b["method"].startswith("measured") for b in builds_rows):
        summary["notes"].append(
            "the largest build is an estimate: everything but encoding measured with a stand-in "
            "encoder, encoding extrapolated from a measured sample (see the method column)"
        )
    return summary


def write(summary: dict[str, Any], folder: Path = RESULTS) -> str:
    """Write summary.json, summary.md and scaling.png to `folder`; return the Markdown."""
    from benchmarks.report import plot_scaling, render_markdown

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    md = render_markdown(summary)
    (folder / "summary.md").write_text(md, encoding="utf-8")
    try:
        plot_scaling(summary, folder / "scaling.png")
    except Exception as exc:  # the plot is a convenience; the figures are in the JSON
        log(f"plot failed: {exc!r}")
    return md


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, few repetitions")
    parser.add_argument(
        "--only",
        help=f"comma-separated sections among {', '.join(SECTIONS)}; or backends, or storage",
    )
    args = parser.parse_args(argv)
    only = tuple(s.strip() for s in args.only.split(",")) if args.only else SECTIONS
    if "storage" in only:
        if only != ("storage",):
            parser.error("storage runs alone: --only storage")
        from benchmarks import storage

        return storage.main(["--quick"] if args.quick else [])
    if "backends" in only:
        if only != ("backends",):
            parser.error("backends runs alone: --only backends")
        from benchmarks import backends

        return backends.main(["--quick"] if args.quick else [])
    unknown = set(only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    import logging

    logging.basicConfig(level=logging.WARNING)
    summary = run(QUICK if args.quick else FULL, only)
    # A quick run never overwrites the full run's results.
    md = write(summary, RESULTS / "quick" if args.quick else RESULTS)
    print(json.dumps(summary, indent=1))
    print()
    print(md)
    return 1 if summary.get("errors") else 0


if __name__ == "__main__":
    sys.exit(main())
