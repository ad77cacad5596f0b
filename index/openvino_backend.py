"""OpenVINO int8 embeddings: a sentence-transformers model exported once, cached, run without torch.

`EMBEDDING_BACKEND=openvino-int8` goes through `load_openvino_model`, which returns an object with
the two methods `Embedder` uses (`encode`, `get_embedding_dimension`). On first use the model is
exported with torch (tokenizer, transformer, pooling and normalisation in one graph), its weights
compressed to int8 with NNCF, and the result saved under MODEL_CACHE_DIR:

    MODEL_CACHE_DIR/<model>-<hash>-int8-weights-<precision>/
      model.xml  model.bin       OpenVINO IR (int8 weights, fp32 activations)
      tokenizer.json ...         the model's tokenizer, run with `tokenizers` at load time
      meta.json                  source fingerprint, exporter versions, numerics, a SHA-256 per file
      .verified.json             the files' size, mtime, inode and ctime at their last full check
      compiled/                  OpenVINO's compiled-model cache (CACHE_DIR) and a SHA-256 per blob

Later loads check meta.json and the checksums and need neither torch nor sentence-transformers.
A file is hashed again only when its stat no longer matches `.verified.json` (a few `stat`s per
start instead of hashing 24 MB). The compiled model is imported from `compiled/` (~65 ms instead
of a ~210 ms compile here); the first start writes it under a file lock (OpenVINO writes blobs in
place, so two processes must not compile into it at once) and records its SHA-256, checked the
same way: a blob that does not match is deleted and recompiled (OpenVINO itself rejects a
truncated blob, but not one with damaged weights, which would import and run).
A missing, corrupted or outdated export is rebuilt (one log line) in a temporary folder that is
renamed into place; a file lock makes concurrent processes export once.

Numerics are stated, never inherited: left to itself the CPU plugin picks bf16 inference and
on-the-fly activation quantization on CPUs with AMX, and the vectors then depend on the CPU and on
which other texts share a batch. `NUMERICS` names each configuration OPENVINO_PRECISION can pick;
an export records its own in meta.json and is always compiled with it.

Why int8 *weights* and not static int8 (weights and activations, calibrated): measured on this
corpus, static quantization drops the cosine to the torch vectors below 0.99 on some corpus
sentences (0.989) and is slower on one question (9.7 ms vs 7.0); weight-only int8 keeps it above
0.999 (benchmarks/results/backends.md). Static int8 stays available to the benchmark.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, TypedDict

import numpy as np
import numpy.typing as npt

from index.checksums import (
    file_stamp,
    folder_checksums,
    package_versions,
    sha256_file,
    verify_files,
    write_json_atomically,
)
from index.locks import exclusive_lock
from index.progress import Progress, current

log = logging.getLogger("factbot.embeddings")

FORMAT_VERSION = 2  # 2: numerics recorded and applied
Quantization = Literal["int8-weights", "int8-static", "fp32"]
Precision = Literal["f32", "bf16"]
MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# The export depends on these; a different installed version re-exports (graphs and quantization
# can change between releases, and a stale IR would silently disagree with the torch vectors).
EXPORTER_PACKAGES = ("openvino", "nncf", "torch", "transformers", "sentence-transformers")
Vectors = npt.NDArray[np.float32]
VERIFIED_STAMP = ".verified.json"  # in the export folder: the files' stat at their last check
COMPILED_DIR = "compiled"  # in the export folder: OpenVINO's CACHE_DIR
BLOB_DIGESTS = "blobs.json"  # in COMPILED_DIR: blob name -> SHA-256 when it was written


class ExportError(RuntimeError):
    """The model cannot be exported or loaded with OpenVINO; the message is one line."""


@dataclass(frozen=True)
class Numerics:
    """How the CPU plugin computes a compiled model, stated in its configuration."""

    precision: Precision
    dynamic_quantization_group_size: int  # 0: activations stay in the inference precision

    @property
    def tolerance(self) -> float:
        """How far (largest absolute difference between unit vectors) one text's vector may move
        with the batch it is encoded in. f32 without dynamic quantization computes each row on
        its own (measured 1.7e-7); bf16 keeps 8 significant bits, so one bf16 step at 1.0
        bounds it (measured 5.0e-4 on an AMX Xeon)."""
        return (
            1e-5
            if self.precision == "f32" and not self.dynamic_quantization_group_size
            else 2.0**-8
        )

    def compile_config(self, threads: int = 0) -> dict[str, Any]:
        """The CPU plugin configuration: every numerics property explicit."""
        config: dict[str, Any] = {
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": self.precision,
            "DYNAMIC_QUANTIZATION_GROUP_SIZE": self.dynamic_quantization_group_size,
        }
        if threads > 0:
            config["INFERENCE_NUM_THREADS"] = threads
        return config


class EffectiveNumerics(TypedDict):
    """What the CPU plugin reports a compiled model runs with (its type names, e.g. "f32")."""

    precision: str
    dynamic_quantization_group_size: int


# f32 (the default): the same vector for a text whatever batch it shares, on every x86-64 CPU.
# bf16: the CPU plugin's own choice on AMX CPUs (bf16 and activations quantized in groups of 32),
# faster on batches there; a CPU without bf16 runs it in f32 (`effective_numerics` tells).
NUMERICS: dict[Precision, Numerics] = {
    "f32": Numerics("f32", 0),
    "bf16": Numerics("bf16", 32),
}
PRECISIONS: tuple[Precision, ...] = tuple(NUMERICS)


# ---------------------------------------------------------------------------------- helpers


def block_telemetry() -> None:
    """Keep OpenVINO and NNCF from sending usage data (and writing ~/intel) from a bot.

    Both fall back to a no-op stub when `openvino_telemetry` cannot be imported; without this
    they send events to Google Analytics by default. Effective when called before the first
    `import openvino` / `import nncf` of the process, which every function here does.
    """
    if "openvino_telemetry" not in sys.modules:
        sys.modules["openvino_telemetry"] = None  # type: ignore[assignment]


def _versions() -> dict[str, str]:
    return package_versions(EXPORTER_PACKAGES)


def source_folder(target: str) -> Path:
    """The local folder holding `target` (a folder, or a hub name already in the local cache)."""
    if Path(target).is_dir():
        return Path(target)
    from huggingface_hub import snapshot_download

    for repo in (target, f"sentence-transformers/{target}"):
        with contextlib.suppress(Exception):
            return Path(snapshot_download(repo, local_files_only=True))
    raise ExportError(f"{target} is neither a local folder nor in the local Hugging Face cache")


def source_fingerprint(folder: Path) -> dict[str, list[int]]:
    """Every file of the source model with its size and mtime: cheap enough for each start-up,
    and any change to the weights or the configuration re-exports."""
    out: dict[str, list[int]] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and ".git" not in path.parts and ".cache" not in path.parts:
            st = path.stat()
            out[path.relative_to(folder).as_posix()] = [st.st_size, st.st_mtime_ns]
    return out


def cache_folder(
    cache_dir: Path, name: str, quantization: Quantization, precision: Precision = "f32"
) -> Path:
    """`cache_dir/<readable name>-<hash of the name>-<quantization>-<precision>`."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")[-60:] or "model"
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return Path(cache_dir) / f"{slug}-{digest}-{quantization}-{precision}"


def _problem(folder: Path, expected: dict[str, Any]) -> str | None:
    """Why the export in `folder` cannot be used, or None when it matches `expected` and every
    file matches its checksum."""
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        return "is missing"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        files: dict[str, str] = meta["files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"has an unreadable meta.json ({type(exc).__name__})"
    for key, value in expected.items():
        if meta.get(key) != value:
            return f"is outdated ({key} changed)"
    problem = verify_files(folder, files, folder / VERIFIED_STAMP)
    return None if problem is None else f"is corrupted ({problem})"


def _compile(folder: Path, config: dict[str, Any]) -> Any:
    """`folder/model.xml` compiled for the CPU with `config`, through OpenVINO's model cache in
    `folder/compiled` when that folder can be written (else compiled every time)."""
    block_telemetry()
    import openvino as ov

    core, xml, cache = ov.Core(), str(folder / "model.xml"), folder / COMPILED_DIR
    with contextlib.ExitStack() as stack:
        try:
            # OpenVINO writes a blob in place: a second process must not import it half-written.
            stack.enter_context(exclusive_lock(cache / ".lock"))
        except OSError as exc:
            log.debug("no compiled-model cache in %s (%s): compiling", cache, exc)
            return core.compile_model(xml, "CPU", config)
        _drop_damaged_blobs(cache)
        before = _blob_stats(cache)
        compiled = core.compile_model(xml, "CPU", config | {"CACHE_DIR": str(cache)})
        # New blobs, and any OpenVINO rewrote (it replaces one whose header no longer matches).
        after = _blob_stats(cache)
        _record_blobs(cache, {name for name, stat in after.items() if before.get(name) != stat})
        return compiled


def _blob_stats(cache: Path) -> dict[str, list[int]]:
    out = {}
    for path in cache.glob("*.blob"):
        with contextlib.suppress(OSError):
            out[path.name] = file_stamp(path)
    return out


def _blob_digests(cache: Path) -> dict[str, str]:
    try:
        data = json.loads((cache / BLOB_DIGESTS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): str(v) for k, v in data.items()}


def _drop_damaged_blobs(cache: Path) -> None:
    """Delete the cached blobs unless each is the one recorded when it was written (one log
    line): a blob without a record is what a process that died mid-write leaves."""
    recorded = _blob_digests(cache)
    blobs = {p.name for p in cache.glob("*.blob")}
    problem = next((f"{name} unrecorded" for name in sorted(blobs - recorded.keys())), None)
    if problem is None:
        present = {name: digest for name, digest in recorded.items() if name in blobs}
        problem = verify_files(cache, present, cache / VERIFIED_STAMP)
    if problem is None:
        return
    log.warning("the compiled-model cache in %s is damaged (%s): compiling again", cache, problem)
    for path in [*cache.glob("*.blob"), cache / BLOB_DIGESTS, cache / VERIFIED_STAMP]:
        with contextlib.suppress(OSError):
            path.unlink()


def _record_blobs(cache: Path, written: set[str]) -> None:
    """Record the SHA-256 of the blobs OpenVINO just `written`, and stamp them all as verified."""
    if not written:
        return
    digests = {n: d for n, d in _blob_digests(cache).items() if (cache / n).is_file()}
    try:
        digests |= {name: sha256_file(cache / name) for name in written}
    except OSError:
        return
    if write_json_atomically(cache / BLOB_DIGESTS, digests):
        verify_files(cache, digests, cache / VERIFIED_STAMP)


# ---------------------------------------------------------------------------------- runtime


class OpenVINOEmbeddingModel:
    """Sentence embeddings from an exported folder: `tokenizers` + a compiled OpenVINO model.

    `encode` is thread-safe: each call uses its own infer request (about 10 µs to create) and the
    tokenizer is never reconfigured after construction. The model is compiled with the numerics
    its meta.json records (`numerics`); `effective_numerics` is what the CPU plugin reports it
    runs (a CPU without bf16 runs a bf16 request in f32).
    """

    def __init__(self, folder: Path, threads: int = 0) -> None:
        block_telemetry()
        from tokenizers import Tokenizer

        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        self.folder = folder
        self.meta = meta
        self._inputs: list[str] = list(meta["inputs"])
        self._dimension = int(meta["dimension"])
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        # The saved tokenizer.json may carry fixed-length padding (all-MiniLM-L6-v2's pads to 128):
        # pad to the longest text of each batch and truncate like sentence-transformers does.
        tokenizer.enable_truncation(max_length=int(meta["max_seq_length"]))
        tokenizer.enable_padding(
            pad_id=int(meta["pad_id"]),
            pad_token=str(meta["pad_token"]),
            pad_type_id=int(meta.get("pad_type_id", 0)),
        )
        self._tokenizer = tokenizer
        self.numerics = Numerics(**meta["numerics"])
        self.compile_config = self.numerics.compile_config(threads)
        self._compiled = _compile(folder, self.compile_config)
        self.loaded_from_cache = bool(self._compiled.get_property("LOADED_FROM_CACHE"))
        self.effective_numerics: EffectiveNumerics = {
            "precision": str(self._compiled.get_property("INFERENCE_PRECISION_HINT")),
            "dynamic_quantization_group_size": int(
                self._compiled.get_property("DYNAMIC_QUANTIZATION_GROUP_SIZE")
            ),
        }

    def get_embedding_dimension(self) -> int:
        return self._dimension

    def _features(self, texts: Sequence[str]) -> dict[str, npt.NDArray[np.int64]]:
        encodings = self._tokenizer.encode_batch(list(texts))
        columns = {
            "input_ids": [e.ids for e in encodings],
            "attention_mask": [e.attention_mask for e in encodings],
            "token_type_ids": [e.type_ids for e in encodings],
        }
        return {name: np.asarray(columns[name], dtype=np.int64) for name in self._inputs}

    def _infer(self, texts: Sequence[str]) -> Vectors:
        request = self._compiled.create_infer_request()
        request.infer(self._features(texts))
        return np.array(request.get_output_tensor(0).data, dtype=np.float32)  # a copy

    def encode(
        self,
        sentences: Sequence[str],
        batch_size: int = 32,
        normalize_embeddings: bool = True,
        convert_to_numpy: bool = True,
        show_progress_bar: bool = False,
    ) -> Vectors:
        """Embed `sentences` (rows in input order); the signature mirrors sentence-transformers'."""
        del convert_to_numpy, show_progress_bar  # always numpy, never a progress bar
        if not sentences:
            return np.zeros((0, self._dimension), dtype=np.float32)
        # Longest first, like sentence-transformers: similar lengths share a batch, so little
        # padding is computed; rows are put back in input order at the end.
        order = np.argsort([-len(s) for s in sentences], kind="stable")
        out = np.empty((len(sentences), self._dimension), dtype=np.float32)
        step = max(1, batch_size)
        for start in range(0, len(order), step):
            rows = order[start : start + step]
            out[rows] = self._infer([sentences[i] for i in rows])
        if normalize_embeddings:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out


# ---------------------------------------------------------------------------------- export


def export(
    target: str,
    dest: Path,
    quantization: Quantization = "int8-weights",
    calibration: Sequence[str] = (),
    numerics: Numerics = NUMERICS["f32"],
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Export the sentence-transformers model `target` to OpenVINO IR in `dest` (which must not
    exist yet) and return its meta.json, which records the `numerics` it is compiled with.
    `calibration` texts are needed by "int8-static" only. Each step is one log line and one
    report to `progress`, else to the one the caller's context installed (index/progress.py)."""
    if quantization == "int8-static" and not calibration:
        raise ExportError("static int8 quantization needs calibration texts")
    block_telemetry()
    started = time.perf_counter()
    report = progress or current()
    quantizing = {"int8-weights": "compressing weights", "int8-static": "quantizing (calibrated)"}
    steps = ["loading the model", "converting"]
    steps += [quantizing[quantization]] if quantization in quantizing else []
    steps.append("saving")

    def step(name: str) -> None:
        log.info("exporting: %s", name)
        if report is not None:
            report(f"exporting the model: {name}", steps.index(name), len(steps))

    step("loading the model")
    import nncf
    import openvino as ov
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    st = SentenceTransformer(target, device="cpu", local_files_only=True)
    st.eval()
    tokenizer = st.tokenizer
    max_len = int(st.max_seq_length or tokenizer.model_max_length)
    dimension = st.get_embedding_dimension()
    if not getattr(tokenizer, "is_fast", False) or tokenizer.pad_token_id is None or not dimension:
        raise ExportError(
            f"{target}: only text models with a fast (tokenizer.json) tokenizer that pads export"
        )
    # Two texts of different lengths: the trace then takes transformers' padded-attention path
    # (with a batch free of padding it may drop the mask from the graph altogether).
    example = tokenizer(
        ["An example sentence for tracing the model.", "Short."],
        padding=True,
        truncation=True,
        max_length=max_len,
        return_tensors="pt",
    )
    inputs = [name for name in MODEL_INPUTS if name in example]

    class SentenceEmbedding(torch.nn.Module):
        """token ids -> the pipeline's `sentence_embedding` (pooling and normalisation included)."""

        def __init__(self) -> None:
            super().__init__()
            self.st = st

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor | None = None,
        ) -> torch.Tensor:
            features = {"input_ids": input_ids, "attention_mask": attention_mask}
            if token_type_ids is not None:
                features["token_type_ids"] = token_type_ids
            out: torch.Tensor = self.st(features)["sentence_embedding"]
            return out

    quiet = io.StringIO()
    nncf_log = logging.getLogger("nncf")
    level = nncf_log.level
    nncf_log.setLevel(logging.ERROR)
    try:
        # Tracer and deprecation warnings, NNCF's tables and progress bars: none is actionable
        # here, and stdout must stay clean (`factbot ask --json`).
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(quiet),
            contextlib.redirect_stderr(quiet),
            torch.no_grad(),
        ):
            warnings.simplefilter("ignore")
            step("converting")
            model = ov.convert_model(
                SentenceEmbedding().eval(),
                example_input={name: example[name] for name in inputs},
                input=[(name, ov.PartialShape([-1, -1]), ov.Type.i64) for name in inputs],
            )
            if quantization in quantizing:
                step(quantizing[quantization])
            if quantization == "int8-weights":
                model = nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT8_ASYM)
            elif quantization == "int8-static":
                texts = list(calibration)

                def transform(text: str) -> dict[str, Any]:
                    enc = tokenizer(
                        [text], truncation=True, max_length=max_len, return_tensors="np"
                    )
                    return {name: enc[name] for name in inputs}

                model = nncf.quantize(
                    model,
                    nncf.Dataset(texts, transform),
                    model_type=nncf.ModelType.TRANSFORMER,
                    subset_size=len(texts),
                )
            step("saving")
            dest.mkdir(parents=True)
            ov.save_model(model, str(dest / "model.xml"), compress_to_fp16=False)
            tokenizer.save_pretrained(str(dest))
    finally:
        nncf_log.setLevel(level)
    files = folder_checksums(dest)
    meta = {
        "format": FORMAT_VERSION,
        "quantization": quantization,
        "numerics": asdict(numerics),
        "source": target,
        "source_files": source_fingerprint(source_folder(target)),
        "versions": _versions(),
        "dimension": int(dimension),
        "max_seq_length": max_len,
        "inputs": inputs,
        "pad_id": int(tokenizer.pad_token_id),
        "pad_token": str(tokenizer.pad_token),
        "pad_type_id": int(getattr(tokenizer, "pad_token_type_id", 0) or 0),
        "calibration_texts": len(calibration) if quantization == "int8-static" else 0,
        "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "export_seconds": round(time.perf_counter() - started, 2),
        "files": files,
    }
    (dest / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    log.info("exporting: saved in %.1f s", meta["export_seconds"])
    if report is not None:
        report("exporting the model: saved", len(steps), len(steps))
    return meta


def _expected(target: str) -> dict[str, Any]:
    """The meta.json fields a usable export must match for `target` and the installed packages."""
    return {
        "format": FORMAT_VERSION,
        "source": target,
        "source_files": source_fingerprint(source_folder(target)),
        "versions": _versions(),
    }


def _export_into(
    folder: Path,
    target: str,
    quantization: Quantization,
    calibration: Sequence[str],
    numerics: Numerics,
) -> None:
    """Export into a temporary sibling of `folder`, then swap it in with one rename. Runs under
    the export lock, so leftovers of an export that died can be deleted first."""
    for stale in [
        *folder.parent.glob(f".tmp-{folder.name}-*"),
        *folder.parent.glob(f".old-{folder.name}-*"),
    ]:
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{folder.name}-", dir=folder.parent))
    out = tmp / "export"
    try:
        export(target, out, quantization, calibration, numerics)
        if folder.exists():  # the outdated or corrupted export: move it aside, then delete it
            old = folder.with_name(f".old-{folder.name}-{os.getpid()}")
            os.rename(folder, old)
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.rename(out, folder)
        except OSError:
            if not (folder / "meta.json").is_file():
                raise
            # Another process (without the lock, e.g. another host on a shared volume) won.
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


_process_lock = threading.Lock()  # flock is per open file: threads of one process queue here


def load_openvino_model(
    name: str,
    target: str,
    cache_dir: Path,
    quantization: Quantization = "int8-weights",
    threads: int = 0,
    calibration: Sequence[str] = (),
    precision: Precision = "f32",
) -> OpenVINOEmbeddingModel:
    """The cached export of model `name` (loadable as `target`) compiled with the numerics of
    `precision`, exported first when missing, corrupted or outdated. Raises `ExportError` (one
    line) when that fails."""
    block_telemetry()
    numerics = NUMERICS[precision]
    folder = cache_folder(cache_dir, name, quantization, precision)
    expected = _expected(target) | {"quantization": quantization, "numerics": asdict(numerics)}
    problem = _problem(folder, expected)
    if problem is None:
        try:
            return OpenVINOEmbeddingModel(folder, threads)
        except Exception as exc:
            problem = f"cannot be loaded ({type(exc).__name__})"
    with _process_lock, exclusive_lock(folder.with_name(f".{folder.name}.lock")):
        # Another process may have exported it while this one waited for the lock (a folder
        # that passed the checks but failed to load is tried once more, then re-exported).
        if _problem(folder, expected) is None:
            with contextlib.suppress(Exception):
                return OpenVINOEmbeddingModel(folder, threads)
        say = log.info if problem == "is missing" else log.warning
        # The progress line of a first start (or of `make run`'s set-up): ~10 s with nothing
        # else on screen otherwise.
        say(
            "exporting the model to OpenVINO (once, ~10 s)…: %s, %s, %s; the export in %s %s",
            name,
            quantization,
            precision,
            folder,
            problem,
        )
        try:
            _export_into(folder, target, quantization, calibration, numerics)
            # Verified once in full as it lies, which stamps it: later starts hash nothing.
            fresh = _problem(folder, expected)
            if fresh is not None:
                raise ExportError(f"the new export of {name} in {folder} {fresh}")
            return OpenVINOEmbeddingModel(folder, threads)
        except ExportError:
            raise
        except Exception as exc:
            first = str(exc).splitlines()[0] if str(exc) else ""
            raise ExportError(
                f"exporting {name} to OpenVINO failed: {type(exc).__name__}: {first}"[:300]
            ) from exc
