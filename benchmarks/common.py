"""Shared helpers: machine description, percentiles, distinct questions, a private workspace."""

from __future__ import annotations

import itertools
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.checksums import package_versions

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
REAL_CORPUS = ROOT / "corpus"
QUESTION_FILES = (
    ROOT / "tests" / "data" / "questions.jsonl",
    ROOT / "tests" / "data" / "heldout.jsonl",
)
# The project's venv; in a git worktree without one, the interpreter running the benchmarks.
VENV_PYTHON = (
    ROOT / ".venv" / "bin" / "python"
    if (ROOT / ".venv" / "bin" / "python").exists()
    else Path(sys.executable)
)
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}

for _k, _v in OFFLINE_ENV.items():
    os.environ.setdefault(_k, _v)


# ---------------------------------------------------------------------------- numbers


def rss_mb() -> float:
    """Resident memory of this process now, in MiB."""
    import psutil

    return round(float(psutil.Process().memory_info().rss) / 2**20, 1)


def pct(values: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0-100, linear interpolation); NaN for no values."""
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else float("nan")


def stats_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50 / p95 / mean / max in milliseconds, and the sample count."""
    ms = [s * 1000 for s in seconds]
    return {
        "p50_ms": round(pct(ms, 50), 2),
        "p95_ms": round(pct(ms, 95), 2),
        "mean_ms": round(float(np.mean(ms)), 2) if ms else float("nan"),
        "max_ms": round(max(ms), 2) if ms else float("nan"),
        "n": len(ms),
    }


def ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else float("nan")


# ---------------------------------------------------------------------------- machine

# Package versions recorded with every run, keyed with "_" for "-" ("faiss_cpu").
_REPORTED_PACKAGES = (
    "torch",
    "faiss-cpu",
    "sentence-transformers",
    "transformers",
    "numpy",
    "bm25s",
)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def cpu_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (not idle, not waiting on I/O) since boot."""
    import psutil

    t = psutil.cpu_times()
    return float(sum(t) - t.idle - getattr(t, "iowait", 0.0))


def own_cpu_seconds() -> float:
    """CPU seconds of this process and of its children it waited for."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class LoadMeter:
    """The load a run ran under: load average at start and end, and the share of the usable
    cores' time that other processes (not this one, not its children) kept busy meanwhile."""

    def __init__(self) -> None:
        self.load_at_start = load_average()
        self._t0 = time.perf_counter()
        self._busy0, self._own0 = cpu_busy_seconds(), own_cpu_seconds()

    def result(self) -> dict[str, Any]:
        elapsed = time.perf_counter() - self._t0
        cores = len(os.sched_getaffinity(0)) or 1
        others = max(0.0, (cpu_busy_seconds() - self._busy0) - (own_cpu_seconds() - self._own0))
        return {
            "load_average_at_start": self.load_at_start,
            "load_average_at_end": load_average(),
            "other_processes_cpu_share": round(others / (elapsed * cores), 3) if elapsed else 0.0,
            "seconds": round(elapsed, 1),
        }


def machine_info() -> dict[str, Any]:
    """CPU model, cores, RAM, Python and library versions, current load."""
    import psutil

    return {
        "cpu_model": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        **{
            package.replace("-", "_"): version
            for package, version in package_versions(_REPORTED_PACKAGES).items()
        },
        "load_average_at_start": load_average(),
    }


# ---------------------------------------------------------------------------- questions

_PREFIXES = {
    "en": (
        "",
        "Quick question: ",
        "According to the article, ",
        "Hey bot, ",
        "I was wondering: ",
        "Can you tell me: ",
        "Sorry if already asked, ",
        "From the piece, ",
        "Honest question: ",
        "For my class: ",
        "Fact check please: ",
        "One more: ",
    ),
    "fr": (
        "",
        "Petite question : ",
        "D'après l'article, ",
        "Salut le bot, ",
        "Je me demande : ",
        "Dis-moi : ",
        "Désolé si déjà demandé, ",
        "Selon le texte, ",
        "Question sérieuse : ",
        "Pour mon exposé : ",
        "Vérification svp : ",
        "Encore une : ",
    ),
}
_SUFFIXES = {
    "en": ("", " Thanks!", " (just curious)", " Source?", " Really?", " Please.", " Short answer."),
    "fr": ("", " Merci !", " (simple curiosité)", " Source ?", " Vraiment ?", " Svp.", " En bref."),
}


def seed_questions() -> list[tuple[str, str]]:
    """(question, language) pairs of the dev and held-out sets."""
    out = []
    for path in QUESTION_FILES:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                out.append((row["question"], row.get("language", "en")))
    return out


class QuestionPool:
    """Hands out realistic questions, never the same text twice (so the LRU cache never hits)."""

    def __init__(self, seed: int = 7) -> None:
        seeds = seed_questions()
        combos = [
            (p, q, s)
            for q, lang in seeds
            for p in _PREFIXES.get(lang, _PREFIXES["en"])
            for s in _SUFFIXES.get(lang, _SUFFIXES["en"])
        ]
        random.Random(seed).shuffle(combos)
        self._it: Iterator[tuple[str, str, str]] = iter(combos)
        self._serial = itertools.count(1)
        self._seen: set[str] = set()

    def take(self, n: int) -> list[str]:
        out: list[str] = []
        while len(out) < n:
            try:
                p, q, s = next(self._it)
                text = f"{p}{q[:1].lower() if p else q[:1]}{q[1:]}{s}"
            except StopIteration:  # past ~12k combinations: numbered variants
                text = f"Question {next(self._serial)}: what did France and China agree on?"
            if text not in self._seen:
                self._seen.add(text)
                out.append(text)
        return out


# ---------------------------------------------------------------------------- workspace


@dataclass
class Workspace:
    """A private corpus copy and an index built from it, in a temporary folder."""

    root: Path

    @property
    def corpus(self) -> Path:
        return self.root / "corpus"

    @property
    def index(self) -> Path:
        return self.root / "index"

    def env(self, **extra: str) -> dict[str, str]:
        """Settings variables for a bot over this workspace (no watcher, quiet logs)."""
        values = {
            "CORPUS_DIR": str(self.corpus),
            "INDEX_DIR": str(self.index),
            "INDEX_WATCH_SECONDS": "0",
            "USER_COOLDOWN_SECONDS": "0",
            "LOG_LEVEL": "WARNING",
        }
        values.update(extra)
        return values

    def settings(self, **extra: str) -> Any:
        from bot.settings import Settings

        return Settings.from_mapping(self.env(**extra))

    def process_env(self, **extra: str) -> dict[str, str]:
        """The environment for a subprocess: ours, offline, plus the workspace settings."""
        env = dict(os.environ)
        env.update(OFFLINE_ENV)
        env.update(self.env(**extra))
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        return env

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


DEFAULT_BACKEND = "openvino-int8"


def backend_env(ws: Workspace, backend: str) -> dict[str, str]:
    """One index per backend in the workspace (a switch would rebuild it); the project's export,
    the one `make run` made (exported once if missing)."""
    return {
        "EMBEDDING_BACKEND": backend,
        "INDEX_DIR": str(ws.root / f"index-{backend}"),
        "MODEL_CACHE_DIR": str(ROOT / "var" / "models"),
    }


def make_workspace(corpus: Path = REAL_CORPUS) -> Workspace:
    """Copy `corpus` to a temporary folder (the index is built on first `Engine.open`)."""
    ws = Workspace(Path(tempfile.mkdtemp(prefix="factbot-bench-")))
    shutil.copytree(corpus, ws.corpus)
    return ws


# ---------------------------------------------------------------------------- subprocesses


@dataclass
class ProcResult:
    seconds: float
    returncode: int
    stdout: str
    stderr: str
    peak_rss_mb: float | None = None  # with `peak_rss=True`: the command's whole-process peak


# Forks and execs the command, waits for it with wait4 and writes its wall time and ru_maxrss.
# Why a launcher: a child's ru_maxrss starts from the high-water mark of the memory it was forked
# (or vforked) from, here the benchmark process's hundreds of MiB; forked from this small
# interpreter (-I -S: standard library only), the floor is ~10 MiB, below any real peak.
_PEAK_LAUNCHER = """
import json, os, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
t = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(cmd[0], cmd)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - t
with open(out, "w") as f:
    json.dump({"seconds": seconds, "maxrss_kib": usage.ru_maxrss}, f)
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""


def run_measured(
    cmd: Sequence[str],
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 600,
    stdin_text: str | None = None,
    peak_rss: bool = False,
) -> ProcResult:
    """Run `cmd` to completion: wall seconds from spawn to exit, and its output.

    With `peak_rss`, `cmd` runs under a small launcher that forks it and reaps it with wait4:
    the result also holds its peak RSS (ru_maxrss, the whole process: every thread, native
    libraries included, and any child it waited for), and the wall time is the launcher's, from
    fork to exit (the launcher's own start is not counted).
    """
    report = None
    if peak_rss:
        fd, name = tempfile.mkstemp(prefix="factbot-bench-rusage-", suffix=".json")
        os.close(fd)
        report = Path(name)
        cmd = [str(VENV_PYTHON), "-I", "-S", "-c", _PEAK_LAUNCHER, name, *cmd]
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            list(cmd),
            env=env,
            cwd=cwd,
            input=(stdin_text or "").encode(),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        if report is not None:
            report.unlink(missing_ok=True)
        return ProcResult(timeout, -9, _text(exc.stdout), _text(exc.stderr) + "\n(timed out)")
    seconds, peak = time.perf_counter() - started, None
    if report is not None:
        try:
            usage = json.loads(report.read_text() or "{}")
            seconds, peak = float(usage["seconds"]), round(usage["maxrss_kib"] / 1024, 1)
        except (OSError, ValueError, KeyError):
            pass  # the launcher failed: spawn-to-exit time, no peak
        finally:
            report.unlink(missing_ok=True)
    return ProcResult(seconds, proc.returncode, _text(proc.stdout), _text(proc.stderr), peak)


def _text(data: bytes | str | None) -> str:
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return data or ""


def last_json_line(text: str) -> dict[str, Any]:
    """The last line of `text` that parses as a JSON object ({} when none does)."""
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    return {}


def log(message: str) -> None:
    """Progress on stderr (stdout carries the JSON summary and the table)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
