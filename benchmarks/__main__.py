"""`python -m benchmarks [--quick] [--only a,b]`: run the benchmarks, write the results.

Prints the JSON summary and a Markdown table on stdout (progress goes to stderr) and writes
summary.json, summary.md and scaling.png to benchmarks/results/ (`--quick`: to .../quick/).
Sections: help, cold, warm, throughput, threads, build, ann, memory, discord, metrics, kinds. Cold start,
warm latency, throughput and memory are measured for both embedding backends (openvino-int8, the
default, and torch), each against its own raw model; threads is torch's; the other sections use
the default backend. A full run takes about 10 minutes on 2 idle cores (15 when other processes
compete); `--quick` about 3.

`--only backends` runs benchmarks/backends.py instead (torch vs OpenVINO int8; exports models, about
6 minutes): it writes its own backends.json and backends.md and is not part of the default run.
`--only storage` likewise runs benchmarks/storage.py alone (the question log at 200 q/s into
SQLite and PostgreSQL, about 3 minutes; storage.json and storage.md). `--only notes` runs
benchmarks/notes.py alone (a moderator's note from submit to served, on one host and on a second
host through PostgreSQL, about 3 minutes; notes.json and notes.md).
"""

from __future__ import annotations

import argparse
import functools
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

SECTIONS = (
    "help",
    "cold",
    "warm",
    "throughput",
    "threads",
    "build",
    "ann",
    "memory",
    "discord",
    "metrics",
    "kinds",
)
KEYS = {"cold": "cold_start", "build": "builds", "discord": "discord_load"}  # summary keys
# Measured for each backend; the default's figures are also the summary's top-level ones.
PER_BACKEND = ("cold", "warm", "throughput", "memory")
DEFAULT_BACKEND = "openvino-int8"
BACKENDS = (DEFAULT_BACKEND, "torch")

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
    summary: dict[str, Any] = {
        "mode": plan.name,
        "machine": common.machine_info(),
        "notes": [],
        "default_backend": DEFAULT_BACKEND,
        "backends": {b: {} for b in BACKENDS},
    }
    pool = common.QuestionPool()
    ws = common.make_workspace()
    state: dict[str, Any] = {}

    def section(name: str, fn: Callable[[], Any], backend: str | None = None) -> None:
        if name not in only:
            return
        label = f"{name} ({backend})" if backend else name
        log(f"-- {label}")
        t = time.perf_counter()
        try:
            result = fn()
            if backend is None:
                summary[KEYS.get(name, name)] = result
            else:
                summary["backends"][backend][KEYS.get(name, name)] = result
                if backend == DEFAULT_BACKEND:
                    summary[KEYS.get(name, name)] = result
        except Exception as exc:
            log(f"{label} failed: {exc!r}")
            summary.setdefault("errors", {})[label] = "".join(
                traceback.format_exception_only(type(exc), exc)
            ).strip()
            traceback.print_exc()
        summary.setdefault("section_seconds", {})[label] = round(time.perf_counter() - t, 1)

    def env(backend: str) -> dict[str, str]:
        """One index per backend in the workspace (a switch would rebuild it); the project's
        export, the one `make run` made (exported once if missing)."""
        return {
            "EMBEDDING_BACKEND": backend,
            "INDEX_DIR": str(ws.root / f"index-{backend}"),
            "MODEL_CACHE_DIR": str(common.ROOT / "var" / "models"),
        }

    try:
        from benchmarks import latency, memory, message_kinds, metrics_cost, scaling, startup

        def engine(backend: str = DEFAULT_BACKEND) -> Any:
            if backend not in state:
                from bot.answering.engine import Engine

                state[backend] = Engine.open(ws.settings(**env(backend)))
            return state[backend]

        for backend in BACKENDS:  # builds each workspace index once; `factbot ask` loads it
            engine(backend)
        section("help", lambda: startup.help_time(plan.help_reps))
        if "cold" in only:
            envs = {b: env(b) for b in BACKENDS}
            log("-- cold (both backends, interleaved)")
            t = time.perf_counter()
            try:
                for backend, result in startup.cold_start(ws, pool, plan.cold_reps, envs).items():
                    summary["backends"][backend]["cold_start"] = result
                summary["cold_start"] = summary["backends"][DEFAULT_BACKEND]["cold_start"]
            except Exception as exc:
                log(f"cold failed: {exc!r}")
                summary.setdefault("errors", {})["cold"] = repr(exc)
                traceback.print_exc()
            summary.setdefault("section_seconds", {})["cold"] = round(time.perf_counter() - t, 1)

        def warm(backend: str) -> Any:
            return latency.warm_latency(engine(backend), pool, plan.warm_n)

        def throughput(backend: str) -> Any:
            settings = ws.settings(**env(backend))
            return latency.throughput(
                engine(backend), settings, pool, per_asker=plan.per_asker, rounds=plan.rounds
            )

        for backend in BACKENDS:
            section("warm", functools.partial(warm, backend), backend)
            section("throughput", functools.partial(throughput, backend), backend)
        section("threads", lambda: latency.thread_contention(engine("torch"), pool, plan.thread_n))

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
        section("kinds", lambda: message_kinds.measure(engine()))

        def ann() -> dict[str, Any]:
            base = state.get("real_vectors")
            if base is None:  # `--only ann`: the real corpus's own vectors
                base = engine().index.vectors
            queries = engine().embedder.encode(pool.take(plan.ann_queries))
            return scaling.ann_benchmark(base, queries, plan.ann_sizes)

        section("ann", ann)

        def serving_memory(backend: str) -> Any:
            reps = 1 if plan.name == "quick" else 2
            return memory.serving_memory(ws, pool, plan.memory_questions, reps, env(backend))

        for backend in BACKENDS:
            section("memory", functools.partial(serving_memory, backend), backend)

        def discord() -> dict[str, Any]:
            n, seconds = plan.discord
            res = common.run_measured(
                [str(VENV_PYTHON), "-c", DISCORD, str(n), str(seconds)],
                ws.process_env(**env(DEFAULT_BACKEND)),
                ws.root,
                timeout=600,
            )
            out = common.last_json_line(res.stdout)
            if not out:
                return {"error": f"exit {res.returncode}: {res.stderr.strip()[-400:]}"}
            out.setdefault("seconds", seconds)
            return out

        section("discord", discord)
        section(
            "metrics",
            lambda: metrics_cost.measure(*((20, 500) if plan.name == "quick" else (200, 2000))),
        )
    finally:
        ws.close()
    summary["targets"] = issue16_targets(summary)

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


def issue16_targets(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 16's targets, each with what this run measured and whether it is met."""
    from benchmarks import latency, memory, startup

    per = summary.get("backends", {})
    default, torch = per.get(DEFAULT_BACKEND, {}), per.get("torch", {})
    rows: list[dict[str, Any]] = []

    def row(what: str, measured: Any, target: str, met: bool | None) -> None:
        rows.append({"target": what, "measured": measured, "goal": target, "met": met})

    cold = default.get("cold_start", {}).get("factbot_ask_s", {}).get("median")
    torch_cold = torch.get("cold_start", {}).get("factbot_ask_s", {}).get("median")
    if cold is not None:
        row(
            f"{DEFAULT_BACKEND} cold start to first answer",
            f"{cold} s",
            f"<= {startup.DEFAULT_COLD_TARGET_S} s",
            bool(cold <= startup.DEFAULT_COLD_TARGET_S),
        )
    if cold is not None and torch_cold:
        r = common.ratio(cold, torch_cold)
        row(
            f"{DEFAULT_BACKEND} cold start vs torch's",
            f"{cold} s vs {torch_cold} s = {r}x",
            f"<= {startup.DEFAULT_COLD_TARGET_VS_TORCH}x",
            bool(r <= startup.DEFAULT_COLD_TARGET_VS_TORCH),
        )
    peak = default.get("memory", {}).get("peak_rss_mb")
    if peak is not None:
        row(
            f"{DEFAULT_BACKEND} peak RSS serving 64 askers",
            f"{peak} MiB",
            f"<= {memory.PEAK_TARGET_MB} MiB",
            bool(peak <= memory.PEAK_TARGET_MB),
        )
    for backend in BACKENDS:
        w = per.get(backend, {}).get("warm", {})
        if w:
            row(
                f"{backend} warm answer p50 vs one raw encode (same backend)",
                f"{w['answer_uncached']['p50_ms']} ms vs {w['raw_encode_one']['p50_ms']} ms = "
                f"{w['ratio_p50']}x",
                f"<= {latency.WARM_TARGET}x",
                bool(w["ratio_p50"] <= latency.WARM_TARGET),
            )
        t = per.get(backend, {}).get("throughput", {})
        if t:
            top = t["levels"][-1]
            row(
                f"{backend} {top['askers']} askers vs its best batch throughput",
                f"{top['batched']['qps']} q/s vs {top['ceiling_qps']} q/s = "
                f"{t['top_share_of_ceiling']}",
                f">= {1 - latency.CEILING_TOLERANCE:.1f}",
                bool(t["within_10pct_of_ceiling"]),
            )
    m = summary.get("metrics", {})
    if m:
        us = m["per_question"]["median_us"]
        row(
            "metrics per question",
            f"{us} µs",
            f"<= {m['target_us'] / 1000} ms",
            bool(m["within_target"]),
        )
    return rows


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
        help=f"comma-separated sections among {', '.join(SECTIONS)}; or backends, storage, notes",
    )
    args = parser.parse_args(argv)
    only = tuple(s.strip() for s in args.only.split(",")) if args.only else SECTIONS
    if "storage" in only:
        if only != ("storage",):
            parser.error("storage runs alone: --only storage")
        from benchmarks import storage

        return storage.main(["--quick"] if args.quick else [])
    if "notes" in only:
        if only != ("notes",):
            parser.error("notes runs alone: --only notes")
        from benchmarks import notes

        return notes.main(["--quick"] if args.quick else [])
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
