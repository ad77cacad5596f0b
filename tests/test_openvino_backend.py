"""EMBEDDING_BACKEND=openvino-int8: the real model exported with real OpenVINO and NNCF, once per
session, compared with the torch vectors; the export cache; the index rebuilt on a switch."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from bot.answer import Answer
from bot.answering.engine import Engine, prepare
from bot.answering.evaluation import load_questions
from bot.answering.index_lifecycle import embedder_for, load_or_build
from bot.settings import (
    DEFAULT_MODEL,
    EMBEDDING_BACKENDS,
    OPENVINO_PRECISIONS,
    Settings,
    SettingsError,
)
from index import checksums, openvino_backend
from index.checksums import verify_files
from index.chunking import ChunkingConfig, chunk_corpus
from index.corpus import load_corpus
from index.embeddings import BACKENDS, Embedder, ModelUnavailable, load_embedder, resolve_model
from index.openvino_backend import (
    BLOB_DIGESTS,
    COMPILED_DIR,
    NUMERICS,
    PRECISIONS,
    VERIFIED_STAMP,
    Numerics,
    OpenVINOEmbeddingModel,
    Precision,
    cache_folder,
    load_openvino_model,
)
from index.store import IndexStore
from tests.conftest import REAL_CORPUS, ROOT

QUESTIONS = [
    "Combien de kilos d'expériences la France devait-elle embarquer sur Chang'e 6 ?",
    "Quand le satellite SVOM a-t-il été lancé ?",
    "Qui préside le Cnes ?",
    "Quelle est la capitale de l'Australie ?",
    "When was the SVOM satellite launched?",
    "Which French instrument actually flew on Chang'e 6?",
    "What is the recipe for pancakes?",
    "Did Emmanuel Macron visit China?",
]


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One OpenVINO export per test session, shared by every test here (read-only for them)."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def int8(model_cache: Path) -> Embedder:
    return load_embedder(DEFAULT_MODEL, backend="openvino-int8", model_cache_dir=model_cache)


@pytest.fixture(scope="session")
def int8_bf16(model_cache: Path) -> Embedder:
    """The looser numerics forced, so a machine without AMX still runs this path (a CPU without
    bf16 runs it in f32: the tests print what the plugin reported)."""
    return load_embedder(
        DEFAULT_MODEL, backend="openvino-int8", model_cache_dir=model_cache, precision="bf16"
    )


@pytest.fixture(scope="session", params=["f32", "bf16"])
def any_int8(request: pytest.FixtureRequest, int8: Embedder, int8_bf16: Embedder) -> Embedder:
    """Each OpenVINO numerics configuration in turn."""
    return int8 if request.param == "f32" else int8_bf16


@pytest.fixture(scope="session")
def export_folder(int8: Embedder, model_cache: Path) -> Path:
    return cache_folder(model_cache, DEFAULT_MODEL, "int8-weights")


def _texts() -> list[str]:
    chunks = chunk_corpus(load_corpus(REAL_CORPUS), ChunkingConfig())
    return [c.embed_text for c in chunks] + QUESTIONS


def _openvino(embedder: Embedder) -> OpenVINOEmbeddingModel:
    model = embedder._model
    assert isinstance(model, OpenVINOEmbeddingModel)
    return model


def _tolerance(embedder: Embedder) -> float:
    """How far a text's vector may move with its batch, from the configured numerics."""
    model = _openvino(embedder)
    print(f"{embedder.name}: asked {model.compile_config}, plugin runs {model.effective_numerics}")
    return model.numerics.tolerance


def test_int8_vectors_match_torch(int8: Embedder) -> None:
    assert isinstance(int8._model, OpenVINOEmbeddingModel)
    assert int8.name == f"{DEFAULT_MODEL}#openvino-int8"
    torch_embedder = load_embedder(DEFAULT_MODEL)
    texts = _texts()
    reference, vectors = torch_embedder.encode(texts), int8.encode(texts)
    assert vectors.shape == reference.shape and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosine = np.sum(reference * vectors, axis=1)
    print(
        f"cosine to torch over {len(texts)} texts: min {cosine.min():.5f} mean {cosine.mean():.5f}"
    )
    assert cosine.min() >= 0.99
    assert cosine.mean() >= 0.998
    # Really the int8 model, not torch under another name: the vectors differ a little.
    assert np.abs(reference - vectors).max() > 1e-4


def test_rows_keep_input_order_whatever_the_batching(any_int8: Embedder) -> None:
    texts = _texts()[:40]
    tolerance = _tolerance(any_int8)
    whole = any_int8.encode(texts, batch_size=64)
    one_by_one = np.stack([any_int8.encode([t])[0] for t in texts])
    reversed_ = any_int8.encode(texts[::-1], batch_size=7)[::-1]
    print(f"largest batch-vs-alone difference {np.abs(whole - one_by_one).max():.2e}")
    assert np.abs(whole - one_by_one).max() <= tolerance
    assert np.abs(whole - reversed_).max() <= tolerance
    # In order: each row is far closer to its own text's vector than to any other row's.
    similarity = whole @ one_by_one.T
    assert (similarity.argmax(axis=1) == np.arange(len(texts))).all()
    assert any_int8.encode([]).shape == (0, any_int8.dimension)


def test_encode_is_thread_safe(any_int8: Embedder) -> None:
    texts = _texts()[:24]
    tolerance = _tolerance(any_int8)
    expected = np.stack([any_int8.encode([t])[0] for t in texts])
    results: dict[int, np.ndarray] = {}

    def work(k: int) -> None:
        for _ in range(3):
            results[k] = any_int8.encode(texts[k::4] + texts[: k + 1], batch_size=5)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [0, 1, 2, 3]  # a thread that raised leaves no result
    for k, got in results.items():
        want = np.concatenate([expected[k::4], expected[: k + 1]])
        assert np.abs(got - want).max() <= tolerance


def test_numerics_are_stated_in_the_compile_configuration() -> None:
    assert PRECISIONS == OPENVINO_PRECISIONS
    assert NUMERICS["f32"].compile_config() == {
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_PRECISION_HINT": "f32",
        "DYNAMIC_QUANTIZATION_GROUP_SIZE": 0,
    }
    assert NUMERICS["bf16"].compile_config(threads=1) == {
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_PRECISION_HINT": "bf16",
        "DYNAMIC_QUANTIZATION_GROUP_SIZE": 32,
        "INFERENCE_NUM_THREADS": 1,
    }
    # The deterministic configuration promises a tight tolerance, any other a bf16 step.
    assert NUMERICS["f32"].tolerance < 1e-4 <= NUMERICS["bf16"].tolerance
    assert Numerics("f32", 32).tolerance == NUMERICS["bf16"].tolerance
    assert Settings.from_mapping({}).openvino_precision == "f32"
    assert Settings.from_mapping({"OPENVINO_PRECISION": " BF16 "}).openvino_precision == "bf16"
    with pytest.raises(SettingsError, match=r"^OPENVINO_PRECISION must be one of f32, bf16"):
        Settings.from_mapping({"OPENVINO_PRECISION": "fp16"})
    with pytest.raises(ModelUnavailable, match="not a precision"):
        load_embedder(DEFAULT_MODEL, backend="openvino-int8", precision="fp16")


def test_the_settings_precision_reaches_the_compiled_model(
    int8: Embedder, int8_bf16: Embedder, model_cache: Path
) -> None:
    cases: tuple[tuple[Embedder, Precision, int], ...] = ((int8, "f32", 0), (int8_bf16, "bf16", 32))
    for embedder, precision, group in cases:
        model = _openvino(embedder)
        assert model.compile_config["INFERENCE_PRECISION_HINT"] == precision
        assert model.compile_config["DYNAMIC_QUANTIZATION_GROUP_SIZE"] == group
        # Recorded in the export it was compiled from.
        meta = json.loads((model.folder / "meta.json").read_text(encoding="utf-8"))
        assert meta["numerics"] == {
            "precision": precision,
            "dynamic_quantization_group_size": group,
        }
        assert model.folder == cache_folder(model_cache, DEFAULT_MODEL, "int8-weights", precision)
        # The plugin may run bf16 in f32 on a CPU without bf16, but never f32 in less.
        if precision == "f32":
            assert "float32" in model.effective_numerics["precision"]
        assert model.effective_numerics["dynamic_quantization_group_size"] == group
    # Another precision is another index: vectors differ slightly.
    assert int8.name == f"{DEFAULT_MODEL}#openvino-int8"
    assert int8_bf16.name == f"{DEFAULT_MODEL}#openvino-int8-bf16"


def test_answers_do_not_depend_on_the_micro_batch(
    any_int8: Embedder, make_settings: Callable[..., Settings], model_cache: Path
) -> None:
    """The same question gets the same answer whichever questions share its batch."""
    model = _openvino(any_int8)
    settings = make_settings(
        EMBEDDING_BACKEND="openvino-int8",
        OPENVINO_PRECISION=model.numerics.precision,
        MODEL_CACHE_DIR=str(model_cache),
        EMBED_CACHE_SIZE="0",  # every batch really encodes its questions
    )
    store = IndexStore(settings.index_dir)
    engine = Engine(settings, store, any_int8, load_or_build(settings, store, any_int8))
    questions = [
        prepare(q.question, settings)
        for name in ("questions.jsonl", "heldout.jsonl")
        for q in load_questions(ROOT / "tests" / "data" / name)
    ]

    def shown(answers: list[Answer]) -> list[tuple[object, ...]]:
        return [
            (a.refused, a.text, [s.id for s in a.sources], [f.id for f in a.factchecks])
            for a in answers
        ]

    alone = shown([engine.answer_many([q])[0] for q in questions])
    in_64s = shown(
        [a for i in range(0, len(questions), 64) for a in engine.answer_many(questions[i : i + 64])]
    )
    shifted = shown(engine.answer_many(questions[:5]) + engine.answer_many(questions[5:]))
    print(f"{len(questions)} questions, {model.effective_numerics}")
    assert in_64s == alone
    assert shifted == alone


def test_export_is_cached_and_loads_without_torch(export_folder: Path, model_cache: Path) -> None:
    meta_before = (export_folder / "meta.json").read_text(encoding="utf-8")
    mtimes = {p.name: p.stat().st_mtime_ns for p in export_folder.iterdir()}
    assert {"model.xml", "model.bin", "tokenizer.json", "meta.json"} <= set(mtimes)
    meta = json.loads(meta_before)
    assert meta["quantization"] == "int8-weights" and meta["dimension"] == 384
    assert meta["numerics"] == {"precision": "f32", "dynamic_quantization_group_size": 0}
    assert meta["source_files"]["model.safetensors"][0] > 10_000_000
    # A fresh process: loads the cached export, never imports torch, and exports nothing.
    code = (
        "import json, logging, sys\n"
        "from pathlib import Path\n"
        "logging.basicConfig(level=logging.INFO)\n"
        "from index.embeddings import load_embedder\n"
        f"e = load_embedder({DEFAULT_MODEL!r}, backend='openvino-int8', "
        f"model_cache_dir=Path({str(model_cache)!r}))\n"
        "v = e.encode(['Quand SVOM a-t-il été lancé ?'])\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'transformers', 'nncf') "
        "if m in sys.modules]\n"
        "print(json.dumps({'shape': list(v.shape), 'heavy': heavy}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "LOG_LEVEL": "INFO"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"shape": [1, 384], "heavy": []}
    assert "exporting" not in out.stderr
    assert (export_folder / "meta.json").read_text(encoding="utf-8") == meta_before
    assert {p.name: p.stat().st_mtime_ns for p in export_folder.iterdir()} == mtimes
    # The exports (one per precision the session used) left no temporary folder behind.
    exports = {cache_folder(model_cache, DEFAULT_MODEL, "int8-weights", p).name for p in PRECISIONS}
    names = {p.name for p in model_cache.iterdir()}
    assert export_folder.name in names
    assert names <= exports | {f".{name}.lock" for name in exports}


def _truncate_bin(folder: Path) -> None:
    with (folder / "model.bin").open("r+b") as fh:
        fh.truncate(1000)


def _garbage_xml_with_matching_checksum(folder: Path) -> None:
    # The checksum passes, so only loading the model can notice.
    (folder / "model.xml").write_text("<net>not a model</net>", encoding="utf-8")
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    import hashlib

    meta["files"]["model.xml"] = hashlib.sha256((folder / "model.xml").read_bytes()).hexdigest()
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")


def _outdated_meta(folder: Path) -> None:
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    meta["versions"]["openvino"] = "1999.0"
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (_truncate_bin, "model.bin checksum mismatch"),
        (_garbage_xml_with_matching_checksum, "cannot be loaded"),
        (_outdated_meta, "outdated (versions changed)"),
    ],
)
def test_damaged_export_is_rebuilt_with_one_log_line(
    int8: Embedder,
    export_folder: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    damage: Callable[[Path], None],
    reason: str,
) -> None:
    cache = tmp_path / "models"
    folder = cache / export_folder.name
    shutil.copytree(export_folder, folder)
    damage(folder)
    caplog.set_level(logging.INFO, logger="factbot.embeddings")
    model = load_openvino_model(DEFAULT_MODEL, resolve_model(DEFAULT_MODEL), cache)
    # One warning says why; the export's steps follow as INFO lines (tests/test_progress.py).
    lines = [
        r for r in caplog.records if r.name == "factbot.embeddings" and r.levelno > logging.INFO
    ]
    assert len(lines) == 1 and reason in lines[0].getMessage(), [r.getMessage() for r in lines]
    assert lines[0].levelno == logging.WARNING and lines[0].exc_info is None
    assert (folder / "model.bin").stat().st_size > 10_000_000
    texts = QUESTIONS[:4]
    assert np.abs(model.encode(texts) - int8.encode(texts)).max() <= model.numerics.tolerance
    # Nothing left over beside the export but its lock file.
    assert sorted(p.name for p in cache.iterdir()) == sorted([folder.name, f".{folder.name}.lock"])


def test_switching_backend_rebuilds_the_index(
    make_settings: Callable[..., Settings], model_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ov_settings = make_settings(MODEL_CACHE_DIR=str(model_cache))  # the default backend
    store = IndexStore(ov_settings.index_dir)
    int8 = embedder_for(ov_settings)
    first = load_or_build(ov_settings, store, int8)
    # The prebuilt index (the default backend's) is current.
    assert first.manifest["model"] == f"{DEFAULT_MODEL}#openvino-int8"

    torch_settings = make_settings(EMBEDDING_BACKEND="torch")
    torch_embedder = embedder_for(torch_settings)
    caplog.set_level(logging.WARNING, logger="factbot.index")
    rebuilt = load_or_build(torch_settings, store, torch_embedder)
    assert rebuilt.version != first.version
    assert rebuilt.manifest["model"] == DEFAULT_MODEL
    assert any(
        "stale" in r.getMessage() and "model changed" in r.getMessage() for r in caplog.records
    )
    assert store.load().version == rebuilt.version
    assert load_or_build(torch_settings, store, torch_embedder).version == rebuilt.version

    back = load_or_build(ov_settings, store, int8)
    assert back.version != rebuilt.version
    assert back.manifest["model"] == f"{DEFAULT_MODEL}#openvino-int8"


def test_cli_ask_json_with_the_openvino_backend(
    make_settings: Callable[..., Settings], model_cache: Path, int8: Embedder, tmp_path: Path
) -> None:
    settings = make_settings()  # a private corpus and a copy of the prebuilt index
    # Built with torch first: the default backend must find it stale.
    torch_settings = make_settings(EMBEDDING_BACKEND="torch")
    load_or_build(torch_settings, IndexStore(settings.index_dir), embedder_for(torch_settings))
    questions = [
        "Combien de kilos d'expériences la France devait-elle embarquer sur Chang'e 6 ?",
        "When did SVOM finally launch?",
        "What is the recipe for pancakes?",
    ]
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "--env-file",
            str(tmp_path / "none.env"),
            "ask",
            "-",
            "--json",
        ],
        cwd=ROOT,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp_path),
            "HF_HUB_OFFLINE": "1",
            "CORPUS_DIR": str(settings.corpus_dir),
            "INDEX_DIR": str(settings.index_dir),
            "MODEL_CACHE_DIR": str(model_cache),  # no EMBEDDING_BACKEND: the default
            "LOG_LEVEL": "WARNING",
        },
        input="\n".join(questions) + "\n",
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stdout + out.stderr
    kilos, svom, pancakes = (json.loads(line) for line in out.stdout.splitlines())
    assert not kilos["refused"] and "15 kg d'expériences" in kilos["sources"][0]["quote"]
    assert not svom["refused"] and any(f["id"] == "fc-16-svom" for f in svom["factchecks"])
    assert pancakes["refused"]
    # The torch index was stale for the default backend: rebuilt once, with one line saying why.
    assert "model changed" in out.stderr and "#openvino-int8" in out.stderr
    current = IndexStore(settings.index_dir).current_path()
    assert current is not None
    manifest = json.loads((current / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["model"] == f"{DEFAULT_MODEL}#openvino-int8"


def test_bad_backend_is_one_clear_line(tmp_path: Path) -> None:
    assert EMBEDDING_BACKENDS == BACKENDS
    with pytest.raises(
        SettingsError, match=r"^EMBEDDING_BACKEND must be one of torch, openvino-int8, got 'onnx'$"
    ):
        Settings.from_mapping({"EMBEDDING_BACKEND": "onnx"})
    assert (
        Settings.from_mapping({"EMBEDDING_BACKEND": " OpenVINO-INT8 "}).embedding_backend
        == "openvino-int8"
    )
    assert Settings.from_mapping({}).embedding_backend == "openvino-int8"
    with pytest.raises(ModelUnavailable, match="not a backend"):
        load_embedder(DEFAULT_MODEL, backend="onnx")
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--env-file", str(tmp_path / "none.env"), "index"],
        cwd=ROOT,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp_path),
            "EMBEDDING_BACKEND": "onnx",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "factbot: EMBEDDING_BACKEND must be one of torch, openvino-int8, got 'onnx'"
    )


def test_openvino_and_nncf_send_no_telemetry(tmp_path: Path) -> None:
    """Both would send usage data to Google Analytics (and write ~/intel) unless blocked."""
    code = (
        "import json\n"
        "from index.openvino_backend import block_telemetry\n"
        "block_telemetry()\n"
        "import nncf, openvino\n"
        "from nncf.telemetry.wrapper import telemetry\n"
        "from openvino.tools.ovc import telemetry_utils\n"
        "print(json.dumps([type(telemetry).__name__, telemetry_utils.tm.__name__]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[-1]) == [
        "MagicMock",
        "openvino.tools.ovc.telemetry_stub",
    ]
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ a fast start (issue 24)


def _export_copy(export: Path, cache: Path) -> Path:
    """A copy of an export as `export` leaves it: no stamp, no compiled model yet."""
    folder = cache / export.name
    shutil.copytree(export, folder, ignore=shutil.ignore_patterns(COMPILED_DIR, VERIFIED_STAMP))
    return folder


def _load(cache: Path, precision: Precision = "f32") -> OpenVINOEmbeddingModel:
    return load_openvino_model(
        DEFAULT_MODEL, resolve_model(DEFAULT_MODEL), cache, precision=precision
    )


@pytest.fixture
def hashed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the files hashed from now on (the real `sha256_file`, wrapped)."""
    calls: list[str] = []
    real = checksums.sha256_file

    def counting(path: Path) -> str:
        calls.append(path.name)
        return real(path)

    monkeypatch.setattr(checksums, "sha256_file", counting)
    monkeypatch.setattr(openvino_backend, "sha256_file", counting)
    return calls


def _flip_one_byte_keeping_size_and_mtime(path: Path) -> None:
    st = path.stat()
    path.chmod(0o644)  # OpenVINO writes its blobs read-only
    with path.open("r+b") as fh:
        fh.seek(st.st_size // 2)
        byte = fh.read(1)[0]
        fh.seek(st.st_size // 2)
        fh.write(bytes([byte ^ 0xFF]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_verify_files_hashes_only_files_whose_stat_changed(
    tmp_path: Path, hashed: list[str]
) -> None:
    for name in ("a.bin", "b.bin"):
        (tmp_path / name).write_bytes(name.encode() * 1000)
    digests = {name: checksums.sha256_file(tmp_path / name) for name in ("a.bin", "b.bin")}
    stamp = tmp_path / "stamp.json"
    hashed.clear()
    assert verify_files(tmp_path, digests, stamp) is None
    assert sorted(hashed) == ["a.bin", "b.bin"] and stamp.is_file()
    hashed.clear()
    assert verify_files(tmp_path, digests, stamp) is None
    assert hashed == []  # untouched: a few stat calls
    # Changed in place, same size, its mtime set back: the ctime still tells.
    _flip_one_byte_keeping_size_and_mtime(tmp_path / "b.bin")
    assert verify_files(tmp_path, digests, stamp) == "b.bin checksum mismatch"
    assert verify_files(tmp_path, digests, stamp) == "b.bin checksum mismatch"  # never stamped
    (tmp_path / "b.bin").write_bytes(b"b.bin" * 1000)  # restored: hashed again, then stamped
    hashed.clear()
    assert verify_files(tmp_path, digests, stamp) is None and "b.bin" in hashed
    with (tmp_path / "a.bin").open("ab") as fh:
        fh.write(b"!")
    assert verify_files(tmp_path, digests, stamp) == "a.bin checksum mismatch"
    (tmp_path / "a.bin").unlink()
    assert verify_files(tmp_path, digests, stamp) == "a.bin missing"
    # Another set of digests is not vouched for by this stamp.
    stamp.write_text("{not json", encoding="utf-8")
    hashed.clear()
    assert verify_files(tmp_path, {"b.bin": digests["b.bin"]}, stamp) is None
    assert hashed == ["b.bin"]


def test_an_untouched_export_is_not_hashed_again(
    export_folder: Path, tmp_path: Path, hashed: list[str]
) -> None:
    cache = tmp_path / "models"
    folder = _export_copy(export_folder, cache)
    _load(cache)  # the first start verifies every file in full, then stamps them
    assert {"model.bin", "model.xml", "tokenizer.json"} <= set(hashed)
    assert (folder / VERIFIED_STAMP).is_file()
    hashed.clear()
    model = _load(cache)
    assert hashed == []  # neither the export nor the compiled blob
    assert model.loaded_from_cache


def test_a_modified_export_file_is_hashed_and_exported_again(
    int8: Embedder,
    export_folder: Path,
    tmp_path: Path,
    hashed: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = tmp_path / "models"
    folder = _export_copy(export_folder, cache)
    _load(cache)
    _flip_one_byte_keeping_size_and_mtime(folder / "model.bin")
    hashed.clear()
    caplog.set_level(logging.INFO, logger="factbot.embeddings")
    model = _load(cache)
    assert "model.bin" in hashed
    # One warning saying why; the export's steps that follow are info lines.
    lines = [
        r.getMessage()
        for r in caplog.records
        if r.name == "factbot.embeddings" and r.levelno >= logging.WARNING
    ]
    assert len(lines) == 1 and "model.bin checksum mismatch" in lines[0], lines
    texts = QUESTIONS[:4]
    assert np.abs(model.encode(texts) - int8.encode(texts)).max() <= model.numerics.tolerance
    hashed.clear()
    assert _load(cache).loaded_from_cache and hashed == []


def _top(vectors: np.ndarray, questions: int, k: int = 5) -> list[list[int]]:
    """For each of the last `questions` rows, the k nearest of the other rows."""
    scores = vectors[-questions:] @ vectors[:-questions].T
    return [list(row) for row in np.argsort(-scores, axis=1, kind="stable")[:, :k]]


def test_the_compiled_model_cache_gives_the_same_vectors_and_numerics(
    any_int8: Embedder, tmp_path: Path
) -> None:
    session = _openvino(any_int8)
    precision = session.numerics.precision
    cache = tmp_path / "models"
    folder = _export_copy(session.folder, cache)
    compiled = _load(cache, precision)
    assert not compiled.loaded_from_cache
    blobs = list((folder / COMPILED_DIR).glob("*.blob"))
    assert len(blobs) == 1
    assert blobs[0].name in json.loads((folder / COMPILED_DIR / BLOB_DIGESTS).read_text())
    cached = _load(cache, precision)
    assert cached.loaded_from_cache
    print(
        f"{precision}: compiled {compiled.effective_numerics}, cached {cached.effective_numerics}"
    )
    assert cached.compile_config == compiled.compile_config == session.compile_config
    assert cached.effective_numerics == compiled.effective_numerics == session.effective_numerics
    texts = _texts()
    fresh, imported = compiled.encode(texts), cached.encode(texts)
    cosine = np.sum(fresh * imported, axis=1)
    print(f"cosine compiled vs cached over {len(texts)} texts: min {cosine.min():.7f}")
    assert cosine.min() >= 0.9999
    assert _top(imported, len(QUESTIONS)) == _top(fresh, len(QUESTIONS))


def _truncate(blob: Path) -> None:
    blob.chmod(0o644)
    with blob.open("r+b") as fh:
        fh.truncate(blob.stat().st_size // 2)


def _garbage(blob: Path) -> None:
    blob.chmod(0o644)
    blob.write_bytes(b"not a compiled model" * 100)


def _unrecorded(blob: Path) -> None:
    # What a process that died while OpenVINO wrote the blob leaves: a blob nobody recorded.
    (blob.parent / BLOB_DIGESTS).unlink()


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (_truncate, "checksum mismatch"),
        # OpenVINO would import this one and run damaged weights: only the recorded digest tells.
        (_flip_one_byte_keeping_size_and_mtime, "checksum mismatch"),
        (_garbage, "checksum mismatch"),
        (_unrecorded, "unrecorded"),
    ],
)
def test_a_damaged_compiled_model_is_compiled_again_with_one_log_line(
    export_folder: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    damage: Callable[[Path], None],
    reason: str,
) -> None:
    cache = tmp_path / "models"
    folder = _export_copy(export_folder, cache)
    expected = _load(cache).encode(QUESTIONS)
    (blob,) = (folder / COMPILED_DIR).glob("*.blob")
    damage(blob)
    caplog.set_level(logging.INFO, logger="factbot.embeddings")
    model = _load(cache)
    lines = [r for r in caplog.records if r.name == "factbot.embeddings"]
    assert len(lines) == 1 and reason in lines[0].getMessage(), [r.getMessage() for r in lines]
    assert "compiled-model cache" in lines[0].getMessage()
    assert lines[0].levelno == logging.WARNING and lines[0].exc_info is None
    assert not model.loaded_from_cache
    assert np.abs(model.encode(QUESTIONS) - expected).max() <= 1e-6
    assert _load(cache).loaded_from_cache  # compiled again, recorded again


def test_two_processes_starting_together_compile_once(export_folder: Path, tmp_path: Path) -> None:
    cache = tmp_path / "models"
    _export_copy(export_folder, cache)
    code = (
        "import json\n"
        "from pathlib import Path\n"
        "from index.embeddings import resolve_model\n"
        "from index.openvino_backend import load_openvino_model\n"
        f"m = load_openvino_model({DEFAULT_MODEL!r}, resolve_model({DEFAULT_MODEL!r}), "
        f"Path({str(cache)!r}))\n"
        "v = m.encode(['Quand SVOM a-t-il été lancé ?'])\n"
        "print(json.dumps({'cached': m.loaded_from_cache, 'v': v[0, :8].tolist()}))\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    results = [json.loads(out.splitlines()[-1]) for out, _ in outs]
    # One compiled and wrote the blob under the lock; the other imported it, whole.
    assert sorted(r["cached"] for r in results) == [False, True]
    assert np.allclose(results[0]["v"], results[1]["v"], atol=1e-6)
    assert "Traceback" not in "".join(err for _, err in outs)
    assert _load(cache).loaded_from_cache
