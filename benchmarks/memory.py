"""Peak RSS of a process serving questions (a fresh subprocess, so nothing else is counted)."""

from __future__ import annotations

from typing import Any

from benchmarks.common import VENV_PYTHON, QuestionPool, Workspace, last_json_line, run_measured

SERVE = """
import asyncio, json, sys
import psutil
proc = psutil.Process()
def rss():
    return round(proc.memory_info().rss / 2**20, 1)
marks = {"start_mb": rss()}
from bot.serving.service import FactBotService
from bot.settings import Settings
service = FactBotService.from_settings(Settings.load(None))
marks["loaded_mb"] = rss()
questions = [line.rstrip("\\n") for line in sys.stdin if line.strip()]
async def main():
    async def asker(mine):
        for q in mine:
            await service.ask(q)
    await asyncio.gather(*(asker(questions[i::64]) for i in range(64)))
    await service.aclose()
asyncio.run(main())
marks["after_serving_mb"] = rss()
# VmHWM is this process's own high-water mark; ru_maxrss would include the RSS of the
# (large) benchmark process this one was forked from.
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
marks["peak_rss_mb"] = round(int(hwm.split()[1]) / 1024, 1)
marks["questions"] = len(questions)
# What `factbot run` adds when it runs the chat bots: their libraries (after the peak is read).
before = rss()
import discord, slack_bolt
marks["chat_libraries_mb"] = round(rss() - before, 1)
print(json.dumps(marks))
"""


# Issue 16: the default backend serving 64 askers fits a small VPS.
PEAK_TARGET_MB = 250.0


def serving_memory(
    ws: Workspace,
    pool: QuestionPool,
    n: int = 512,
    reps: int = 2,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """RSS after loading and after answering `n` distinct questions with 64 concurrent askers,
    with the settings variables `env` (the backend).

    Repeated `reps` times in fresh processes (the peak varies from run to run); the headline
    figures are the largest seen.
    """
    runs = []
    for _ in range(reps):
        res = run_measured(
            [str(VENV_PYTHON), "-c", SERVE],
            ws.process_env(**(env or {})),
            ws.root,
            stdin_text="\n".join(pool.take(n)) + "\n",
            peak_rss=True,
        )
        out = last_json_line(res.stdout)
        if not out:
            return {"error": f"exit {res.returncode}: {res.stderr.strip()[-400:]}"}
        out["wall_s"] = round(res.seconds, 2)
        # The same peak seen from outside (wait4's ru_maxrss), to check VmHWM against: it
        # also counts the chat libraries imported after VmHWM was read.
        out["ru_maxrss_mb"] = res.peak_rss_mb
        runs.append(out)
    return {
        "questions": n,
        "loaded_mb": max(r["loaded_mb"] for r in runs),
        "after_serving_mb": max(r["after_serving_mb"] for r in runs),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "target_mb": PEAK_TARGET_MB,
        "runs": runs,
        "chat_libraries_mb": max(r.get("chat_libraries_mb", 0.0) for r in runs),
        "note": "FactBotService (Engine.open with the notes repository, as `factbot run`) over the "
        "real corpus, 64 concurrent askers, all questions distinct; peak = VmHWM of the serving "
        "process, its whole life (load included); chat_libraries_mb = what importing discord.py "
        "and slack_bolt adds afterwards (not in the peak)",
    }
