"""`python -m benchmarks [--quick] [--only a,b]`: run the benchmarks, write the results.

Prints the JSON summary and a Markdown table on stdout (progress goes to stderr) and writes
summary.json, summary.md and scaling.png to benchmarks/results/ (`--quick`: to .../quick/).
Sections: help, cold, warm, throughput, threads, build, ann, memory, breakdown, discord, metrics,
kinds. Cold start (wall time and peak memory), warm latency, throughput and memory are measured
for both embedding backends (openvino-int8, the default, and torch), each against its own raw
model; threads is torch's; the other sections use the default backend. The summary holds issue
24's targets with what the run measured, and the load the run ran under. A full run takes about 10 minutes on 2 idle cores (15 when other processes
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
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import common
from benchmarks.common import DEFAULT_BACKEND, RESULTS, VENV_PYTHON, backend_env, log

SECTIONS = (
    "help",
    "cold",
    "warm",
    "throughput",
    "threads",
    "build",
    "ann",
    "memory",
    "breakdown",
    "discord",
    "metrics",
    "kinds",
)
KEYS = {"cold": "cold_start", "build": "builds", "discord": "discord_load"}  # summary keys
# Measured for each backend; the default's figures are also the summary's top-level ones.
PER_BACKEND = ("cold", "warm", "throughput", "memory")
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


def run(plan: Plan, only: Sequence[str] = SECTIONS) -> dict[str, Any]:
    """Run the selected sections; each failure is recorded in the summary, never fatal."""
    meter = common.LoadMeter()
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
        return backend_env(ws, backend)

    try:
        from benchmarks import (
            breakdown,
            latency,
            memory,
            message_kinds,
            metrics_cost,
            scaling,
            startup,
        )

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
        section("breakdown", lambda: breakdown.measure(ws, env(DEFAULT_BACKEND)))

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
    summary["targets"] = targets(summary)

    load = meter.result()
    summary["load"] = load
    summary["machine"]["load_average_at_end"] = load["load_average_at_end"]
    summary["machine"]["other_processes_cpu_share"] = load["other_processes_cpu_share"]
    summary["seconds_total"] = load["seconds"]
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


def targets(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 24's targets (then issue 16's that it does not restate), each with what this run
    measured and whether it is met; a target whose section did not run is "not measured"."""
    from benchmarks import latency, memory, message_kinds, startup

    per = summary.get("backends", {})
    default, torch = per.get(DEFAULT_BACKEND, {}), per.get("torch", {})
    rows: list[dict[str, Any]] = []

    def row(issue: int, what: str, measured: Any, goal: str, met: bool | None) -> None:
        rows.append(
            {"issue": issue, "target": what, "measured": measured, "goal": goal, "met": met}
        )

    def missing(issue: int, what: str, goal: str) -> None:
        row(issue, what, "not measured", goal, None)

    cold = default.get("cold_start", {}).get("factbot_ask_s", {}).get("median")
    torch_cold = torch.get("cold_start", {}).get("factbot_ask_s", {}).get("median")
    what, goal = (
        f"{DEFAULT_BACKEND} cold `factbot ask` (median)",
        f"<= {startup.DEFAULT_COLD_TARGET_S} s",
    )
    if cold is not None:
        row(24, what, f"{cold} s", goal, bool(cold <= startup.DEFAULT_COLD_TARGET_S))
    else:
        missing(24, what, goal)
    what, goal = (
        f"{DEFAULT_BACKEND} cold `factbot ask` vs torch's",
        (f"<= {startup.DEFAULT_COLD_TARGET_VS_TORCH}x"),
    )
    if cold is not None and torch_cold:
        r = common.ratio(cold, torch_cold)
        row(
            24,
            what,
            f"{cold} s vs {torch_cold} s = {r}x",
            goal,
            bool(r <= startup.DEFAULT_COLD_TARGET_VS_TORCH),
        )
    else:
        missing(24, what, goal)
    peak_ask = default.get("cold_start", {}).get("factbot_ask_peak_rss_mb", {}).get("max")
    what, goal = (
        f"{DEFAULT_BACKEND} peak RSS of a cold `factbot ask` (largest run)",
        (f"<= {startup.COLD_PEAK_TARGET_MB} MiB"),
    )
    if peak_ask is not None and peak_ask == peak_ask:  # NaN when no run succeeded
        row(24, what, f"{peak_ask} MiB", goal, bool(peak_ask <= startup.COLD_PEAK_TARGET_MB))
    else:
        missing(24, what, goal)
    peak = default.get("memory", {}).get("peak_rss_mb")
    what, goal = f"{DEFAULT_BACKEND} peak RSS serving 64 askers", f"<= {memory.PEAK_TARGET_MB} MiB"
    if peak is not None:
        row(24, what, f"{peak} MiB", goal, bool(peak <= memory.PEAK_TARGET_MB))
    else:
        missing(24, what, goal)
    for backend in BACKENDS:
        w = per.get(backend, {}).get("warm", {})
        what, goal = f"{backend} warm answer p50 vs one raw encode", f"<= {latency.WARM_TARGET}x"
        if w:
            row(
                24,
                what,
                f"{w['answer_uncached']['p50_ms']} ms vs {w['raw_encode_one']['p50_ms']} ms = "
                f"{w['ratio_p50']}x",
                goal,
                bool(w["ratio_p50"] <= latency.WARM_TARGET),
            )
        else:
            missing(24, what, goal)
    k = summary.get("kinds", {})
    what = "first-contact step (message-kind classification) beyond the encode, mean per message"
    goal = f"<= {message_kinds.TARGET_MS_PER_MESSAGE} ms"
    if k.get("classify_mean_ms") is not None:
        row(
            24,
            what,
            f"{k['classify_mean_ms']} ms (median {k['classify_median_ms']}, p95 "
            f"{k['classify_p95_ms']}; {k['messages']} messages)",
            goal,
            bool(k["classify_mean_ms"] <= message_kinds.TARGET_MS_PER_MESSAGE),
        )
    else:
        missing(24, what, goal)
    for backend in BACKENDS:
        t = per.get(backend, {}).get("throughput", {})
        what, goal = (
            f"{backend} 64 askers vs its best batch throughput",
            f">= {1 - latency.CEILING_TOLERANCE:.1f}",
        )
        if t:
            top = t["levels"][-1]
            row(
                24,
                what.replace("64", str(top["askers"])),
                f"{top['batched']['qps']} q/s vs {top['ceiling_qps']} q/s = "
                f"{t['top_share_of_ceiling']}",
                goal,
                bool(t["within_10pct_of_ceiling"]),
            )
        else:
            missing(24, what, goal)
    m = summary.get("metrics", {})
    if m:
        us = m["per_question"]["median_us"]
        row(
            16,
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
    if summary.get("mode") == "full" and summary.get("breakdown", {}).get("phases"):
        from benchmarks.breakdown import update_readme

        update_readme(summary["breakdown"])  # "Where the memory goes" in benchmarks/README.md
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
