"""Where a cold `factbot ask`'s memory goes (issue 24, item 5).

`factbot ask` runs in a fresh process, in-process through `bot.cli.main`, with a few of the
start's steps wrapped so that each records the process's RSS (and its anonymous and file-backed
parts, and the high-water mark so far) when it starts and ends: the model's load
(`embedder_for`), the index's (`load_or_build`), the corpus lexicon (`CorpusFocus.from_index`),
the message-kind exemplars (`MessageKinds.exemplars`) and the first answer (`Engine.answer_many`).
What runs outside them (interpreter, imports, settings, the CLI, output) is its own row. A step
the code no longer has is listed as unhooked and its cost lands in the next row: the harness
measures whatever the code does. After the first answer, /proc/self/smaps is grouped by what each
mapping is (a package's libraries, the interpreter, mapped data files, anonymous memory) and
/proc/self/smaps_rollup read.

A second fresh process repeats it under tracemalloc (its own overhead would distort the first's
RSS): the Python allocations (NumPy arrays included, native libraries' not) alive after the first
answer, by source line and by package, and each phase's traced peak.

`python -m benchmarks.breakdown [--readme]` runs it alone (default backend) and prints the JSON;
`--readme` also rewrites the "Where the memory goes" figures in benchmarks/README.md (a full
`python -m benchmarks` run does that too).
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import (
    DEFAULT_BACKEND,
    ROOT,
    VENV_PYTHON,
    Workspace,
    backend_env,
    last_json_line,
    log,
    make_workspace,
    run_measured,
)
from bot.answering.engine import Engine

QUESTION = "when does chang'e 6 launch?"  # issue 24's measured question
README = ROOT / "benchmarks" / "README.md"
BEGIN, END = "<!-- breakdown:begin -->", "<!-- breakdown:end -->"

# (phase, module, attribute path): the steps of a cold start worth a row of their own.
HOOKS = (
    ("model load/compile", "bot.answering.index_lifecycle", "embedder_for"),
    ("index load", "bot.answering.index_lifecycle", "load_or_build"),
    ("lexicon/focus", "bot.answering.focus", "CorpusFocus.from_index"),
    ("message-kind exemplars", "bot.answering.message_kinds", "MessageKinds.exemplars"),
    ("first answer", "bot.answering.engine", "Engine.answer_many"),
)

PROBE = r"""
import json, sys, time
T0 = time.perf_counter()
MODE, QUESTION, HOOKS = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
if MODE == "tracemalloc":
    import tracemalloc
    tracemalloc.start(1)
import functools, importlib, os, re, sysconfig

def status():
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                out[key] = int(value.split()[0])  # kB
    return out

events, unhooked, snap, called = [], [], {}, set()

def mark(kind, label):
    traced = None
    if MODE == "tracemalloc":
        traced = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
    events.append({"kind": kind, "label": label, "t": time.perf_counter() - T0,
                   "status": status(), "traced": traced})

mark("start", "interpreter")

SITE = [p for p in {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}]
PY = {sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable))}

def group_of(path):
    if not path:
        return "anonymous (malloc arenas, Python objects, NumPy arrays)"
    if path == "[heap]":
        return "[heap] (brk: malloc, Python objects)"
    if path.startswith("["):
        return "stacks and kernel pages"
    for site in SITE:
        if path.startswith(site + "/"):
            top = re.split(r"[./-]", path[len(site) + 1:])[0]  # faiss_cpu.libs/..: faiss
            return top.removesuffix("_cpu").lstrip("_") or top
    if not re.search(r"\.so(\.\d+)*$", path) and not path.endswith("/python3.11"):
        return "mapped data files (index, model export)"
    if any(path.startswith(p + "/") for p in PY) or "python3" in os.path.basename(path):
        return "python (interpreter, stdlib extensions)"
    return "system libraries"

def smaps():
    groups, files, rollup = {}, {}, {}
    g = f = None
    with open("/proc/self/smaps") as fh:
        for line in fh:
            head = line.split(None, 1)[0]
            if not head.endswith(":"):
                parts = line.split(None, 5)
                path = parts[5].strip() if len(parts) > 5 else ""
                name = group_of(path)
                g = groups.setdefault(name, {"rss_kb": 0, "anon_kb": 0, "mappings": 0})
                g["mappings"] += 1
                label = os.path.basename(path) if path.startswith("/") else (path or "[anon]")
                f = files.setdefault(label, {"group": name, "rss_kb": 0, "anon_kb": 0})
            elif head == "Rss:":
                kb = int(line.split()[1]); g["rss_kb"] += kb; f["rss_kb"] += kb
            elif head == "Anonymous:":
                kb = int(line.split()[1]); g["anon_kb"] += kb; f["anon_kb"] += kb
    with open("/proc/self/smaps_rollup") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if value.strip().endswith("kB"):
                rollup[key.strip()] = int(value.split()[0])
    return {"groups": groups, "files": files, "rollup": rollup}

def take_snapshot():
    snap["smaps"] = smaps()
    if MODE == "tracemalloc":
        snap["tracemalloc"] = tracemalloc.take_snapshot()
        snap["traced"] = tracemalloc.get_traced_memory()

def hook(label, module, path):
    try:
        owner = importlib.import_module(module)
        *parents, name = path.split(".")
        for p in parents:
            owner = getattr(owner, p)
        raw = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
    except (ImportError, AttributeError, KeyError):
        unhooked.append(f"{module}.{path}")
        return
    last = label == HOOKS[-1][0]

    def around(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            if label in called:  # a step's first call is the start's (the property's later reads)
                return fn(*args, **kwargs)
            called.add(label)
            mark("enter", label)
            try:
                return fn(*args, **kwargs)
            finally:
                if last and "smaps" not in snap:
                    take_snapshot()
                mark("exit", label)
        return inner

    if isinstance(raw, property):
        new = property(around(raw.fget), raw.fset, raw.fdel, raw.__doc__)
    elif isinstance(raw, functools.cached_property):
        new = functools.cached_property(around(raw.func))
        new.__set_name__(owner, name)
    elif isinstance(raw, classmethod):
        new = classmethod(around(raw.__func__))
    elif isinstance(raw, staticmethod):
        new = staticmethod(around(raw.__func__))
    elif callable(raw):
        new = around(raw)
    else:
        unhooked.append(f"{module}.{path}")
        return
    setattr(owner, name, new)
    if not isinstance(owner, type):  # the modules that imported the function by name
        for m in list(sys.modules.values()):
            if getattr(m, "__name__", "").startswith(("bot.", "index.")):
                if getattr(m, name, None) is raw:
                    setattr(m, name, new)

for label, module, path in HOOKS:
    hook(label, module, path)
from bot.cli import main
status_code = main(["--env-file", "/nonexistent", "ask", QUESTION])
mark("end", "exit")
if "smaps" not in snap:
    take_snapshot()
out = {"events": events, "unhooked": unhooked, "exit_status": status_code,
       "smaps": snap["smaps"], "final_rollup": smaps()["rollup"]}
if MODE == "tracemalloc":
    import bot
    PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(bot.__file__)))
    STDLIB = sysconfig.get_paths()["stdlib"]
    def where(filename):
        for base in (*SITE, PROJECT):
            if filename.startswith(base + "/"):
                return filename[len(base) + 1:]
        return filename
    stats = snap["tracemalloc"].statistics("lineno")
    out["traced_at_snapshot"] = snap["traced"]
    out["top_lines"] = [{"where": f"{where(s.traceback[0].filename)}:{s.traceback[0].lineno}",
                         "bytes": s.size, "count": s.count} for s in stats[:15]]
    packages = {}
    for s in snap["tracemalloc"].statistics("filename"):
        w = where(s.traceback[0].filename)
        if w.startswith("<frozen importlib"):
            name = "module code (imports)"
        elif w.startswith(("<", STDLIB)):
            name = "python stdlib"
        elif w.startswith(("bot/", "index/")):
            name = w.removesuffix(".py").replace("/", ".")  # the project, module by module
        else:
            name = w.split("/")[0].removesuffix(".py")
        packages[name] = packages.get(name, 0) + s.size
    out["by_package"] = sorted(packages.items(), key=lambda kv: -kv[1])[:12]
print(json.dumps(out))
"""


def _mb(kb: float) -> float:
    return round(kb / 1024, 1)


def phases(events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per phase: the time between consecutive marks goes to the innermost hooked step
    running (only the first call of each is marked), or outside any to "other: …"; each row's
    RSS figures are those at its last mark."""
    rows: dict[str, dict[str, Any]] = {}
    first = events[0]["status"]
    rows["interpreter"] = {
        "phase": "interpreter",
        "seconds": None,
        "delta_mb": _mb(first["VmRSS"]),
        **_state(events[0]),
        "python_peak_mb": None,
    }
    stack: list[str] = []
    done: list[str] = []
    for before, after in itertools.pairwise(events):
        if before["kind"] == "enter":
            stack.append(before["label"])
        elif before["kind"] == "exit" and stack:
            done.append(stack.pop())
        if stack:
            label = stack[-1]
        elif after["kind"] == "enter":
            label = f"other: before {after['label']}"
        else:
            label = f"other: after {done[-1] if done else 'start'}"
        row = rows.setdefault(
            label, {"phase": label, "seconds": 0.0, "delta_mb": 0.0, "python_peak_mb": 0.0}
        )
        row["seconds"] = round(row["seconds"] + after["t"] - before["t"], 3)
        row["delta_mb"] = round(
            row["delta_mb"] + _mb(after["status"]["VmRSS"] - before["status"]["VmRSS"]), 1
        )
        row.update(_state(after))
        if after.get("traced"):
            row["python_peak_mb"] = max(row["python_peak_mb"], round(after["traced"][1] / 2**20, 1))
    return list(rows.values())


def _state(event: dict[str, Any]) -> dict[str, Any]:
    st = event["status"]
    return {
        "rss_mb": _mb(st["VmRSS"]),
        "anon_mb": _mb(st.get("RssAnon", 0)),
        "file_mb": _mb(st.get("RssFile", 0) + st.get("RssShmem", 0)),
        "peak_so_far_mb": _mb(st["VmHWM"]),
        "python_traced_mb": round(event["traced"][0] / 2**20, 1) if event.get("traced") else None,
    }


def _probe(ws: Workspace, env: dict[str, str], mode: str, question: str) -> dict[str, Any]:
    hooks = json.dumps([list(h) for h in HOOKS])
    res = run_measured(
        [str(VENV_PYTHON), "-c", PROBE, mode, question, hooks],
        ws.process_env(**env),
        ws.root,
        peak_rss=True,
    )
    out = last_json_line(res.stdout)
    if not out or out.get("exit_status") != 0:
        raise RuntimeError(f"{mode} probe: exit {res.returncode}: {res.stderr.strip()[-400:]}")
    out["ru_maxrss_mb"] = res.peak_rss_mb
    out["seconds"] = round(res.seconds, 2)
    return out


def measure(ws: Workspace, env: dict[str, str], question: str = QUESTION) -> dict[str, Any]:
    """The breakdown of one cold `factbot ask` (the backend and index of `env`)."""
    rss = _probe(ws, env, "rss", question)
    traced = _probe(ws, env, "tracemalloc", question)
    rows = phases(rss["events"])
    traced_rows = {r["phase"]: r for r in phases(traced["events"])}
    for row in rows:
        t = traced_rows.get(row["phase"], {})
        row["python_traced_mb"] = t.get("python_traced_mb")
        row["python_peak_mb"] = t.get("python_peak_mb")
    sm = rss["smaps"]
    groups = sorted(sm["groups"].items(), key=lambda kv: -kv[1]["rss_kb"])
    files = sorted(sm["files"].items(), key=lambda kv: -kv[1]["rss_kb"])
    roll = sm["rollup"]
    return {
        "question": question,
        "peak_rss_mb": _mb(rss["events"][-1]["status"]["VmHWM"]),
        "ru_maxrss_mb": rss["ru_maxrss_mb"],
        "final_rss_mb": _mb(rss["events"][-1]["status"]["VmRSS"]),
        "seconds": rss["seconds"],
        "phases": rows,
        "after_first_answer": {
            "rss_mb": _mb(roll.get("Rss", 0)),
            "pss_mb": _mb(roll.get("Pss", 0)),
            "anonymous_mb": _mb(roll.get("Anonymous", 0)),
            "file_backed_mb": _mb(roll.get("Rss", 0) - roll.get("Anonymous", 0)),
            "private_dirty_mb": _mb(roll.get("Private_Dirty", 0)),
            "shared_clean_mb": _mb(roll.get("Shared_Clean", 0)),
            "private_clean_mb": _mb(roll.get("Private_Clean", 0)),
        },
        "by_group": [
            {"group": k, "rss_mb": _mb(v["rss_kb"]), "anon_mb": _mb(v["anon_kb"]), **_n(v)}
            for k, v in groups
            if v["rss_kb"] >= 512
        ],
        "top_mappings": [
            {
                "file": k,
                "group": v["group"],
                "rss_mb": _mb(v["rss_kb"]),
                "anon_mb": _mb(v["anon_kb"]),
            }
            for k, v in files[:12]
        ],
        "tracemalloc": {
            "traced_after_first_answer_mb": round(traced["traced_at_snapshot"][0] / 2**20, 1),
            "top_lines": [
                {**r, "mb": round(r.pop("bytes") / 2**20, 2)} for r in traced["top_lines"]
            ],
            "by_package": [
                {"package": k, "mb": round(v / 2**20, 1)} for k, v in traced["by_package"]
            ],
            "run_seconds": traced["seconds"],
        },
        "unhooked": rss["unhooked"],
        "note": "RSS = VmRSS, peak = VmHWM of the `factbot ask` process (ru_maxrss from wait4 "
        "beside it); python traced = tracemalloc in a second run (Python and NumPy allocations, "
        "not the native libraries'); mappings grouped from /proc/self/smaps after the first answer",
    }


def _dash(value: Any) -> Any:
    return "-" if value is None else value


def _n(v: dict[str, int]) -> dict[str, int]:
    return {"mappings": v["mappings"]}


# ---------------------------------------------------------------------------- Markdown


def render(b: dict[str, Any]) -> list[str]:
    """The breakdown as Markdown tables (summary.md and the README section)."""
    if not b.get("phases"):
        return []
    a = b["after_first_answer"]
    lines = [
        f'Cold `factbot ask "{b["question"]}"`: peak **{b["peak_rss_mb"]} MiB** (VmHWM; '
        f"ru_maxrss {b['ru_maxrss_mb']} MiB), {b['final_rss_mb']} MiB at exit.",
        "",
        "| phase | s | RSS after (MiB) | Δ RSS | anon / file-backed | peak so far | Python "
        "traced after / peak in phase |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in b["phases"]:
        glue = r["phase"].startswith("other") and r["phase"] != b["phases"][1]["phase"]
        if glue and (r["seconds"] or 0) < 0.01 and abs(r["delta_mb"]) < 1:
            continue  # the instants between two hooked steps
        lines.append(
            f"| {r['phase']} | {_dash(r['seconds'])} | {r['rss_mb']} "
            f"| {r['delta_mb']:+} | {r['anon_mb']} / {r['file_mb']} | {r['peak_so_far_mb']} "
            f"| {_dash(r.get('python_traced_mb'))} / {_dash(r.get('python_peak_mb'))} |"
        )
    if b.get("unhooked"):
        lines += ["", f"Not found (cost counted in the next row): {', '.join(b['unhooked'])}."]
    lines += [
        "",
        f"After the first answer (smaps_rollup): RSS {a['rss_mb']} MiB = anonymous "
        f"{a['anonymous_mb']} + file-backed {a['file_backed_mb']}; private dirty "
        f"{a['private_dirty_mb']}, shared clean {a['shared_clean_mb']}, PSS {a['pss_mb']}.",
        "",
        "| mappings of | RSS MiB | of which anonymous | mappings |",
        "|---|---|---|---|",
    ]
    for g in b["by_group"][:14]:
        lines.append(f"| {g['group']} | {g['rss_mb']} | {g['anon_mb']} | {g['mappings']} |")
    lines += ["", "Largest single files or regions:", "", "| mapping | group | RSS MiB |"]
    lines.append("|---|---|---|")
    for m in b["top_mappings"][:10]:
        lines.append(f"| `{m['file']}` | {m['group']} | {m['rss_mb']} |")
    t = b["tracemalloc"]
    native = round(a["anonymous_mb"] - t["traced_after_first_answer_mb"], 1)
    lines += [
        "",
        f"Python allocations alive after the first answer (tracemalloc): "
        f"{t['traced_after_first_answer_mb']} MiB, so about {native} MiB of the anonymous memory "
        "is the native libraries' and the allocators' (untraced); by package: "
        + ", ".join(f"{p['package']} {p['mb']}" for p in t["by_package"][:8])
        + ".",
        "",
        "| top allocating lines | MiB | blocks |",
        "|---|---|---|",
    ]
    for r in t["top_lines"][:10]:
        lines.append(f"| `{r['where']}` | {r['mb']} | {r['count']} |")
    return lines


def update_readme(b: dict[str, Any], path: Path = README) -> bool:
    """Replace the figures between the README's breakdown markers; False when they are absent."""
    text = path.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        return False
    body = "\n".join(render(b))
    new = re.sub(
        re.escape(BEGIN) + ".*?" + re.escape(END),
        lambda _: f"{BEGIN}\n{body}\n{END}",
        text,
        count=1,
        flags=re.S,
    )
    path.write_text(new, encoding="utf-8")
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.breakdown", description=__doc__)
    parser.add_argument("--readme", action="store_true", help="update benchmarks/README.md")
    args = parser.parse_args(argv)
    ws = make_workspace()
    try:
        env = backend_env(ws, DEFAULT_BACKEND)
        log("-- breakdown: building the workspace index")
        Engine.open(ws.settings(**env))
        log("-- breakdown")
        result = measure(ws, env)
    finally:
        ws.close()
    print(json.dumps(result, indent=1))
    print("\n".join(render(result)), file=sys.stderr)
    if args.readme and not update_readme(result):
        log(f"{README} has no {BEGIN} … {END} markers: not updated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
