"""The message-kind exemplars' vectors as a stored artifact (issue 24): embedded once, then loaded
memory-mapped at every start.

Embedding the ~330 exemplar rows (bot/answering/message_kinds.py) took about a second at every
`Engine.open`, for vectors that depend on fixed data only. They are saved as

    INDEX_DIR/derived/message_kinds-<key>-<digest>.npy   (float32, rows in `exemplar_rows` order)

where `<key>` is the SHA-256 of everything the matrix is derived from (`exemplar_key`) and
`<digest>` the start of the SHA-256 of the matrix itself, so a corrupted file is told from a good
one. `factbot index` writes it; `Engine.open` loads it, or embeds the exemplars (in batches of
`EMBED_BATCH_SIZE`) and saves them when it is missing, unreadable or corrupted, with one log line.
A file is written to a temporary name and renamed, never rewritten in place (running processes
map it); two processes may write the same key at once: one wins, both are whole. Writing one
deletes the files of other keys. The index store's garbage
collection never looks in `derived/`.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import logging
import marshal
import os
import secrets
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import Stemmer

from bot.answer import Language
from bot.answering import chattext
from bot.answering.message_kinds import (
    EXEMPLAR_DIR,
    LANGUAGES,
    MessageKinds,
    embed_exemplars,
    exemplar_rows,
    load_exemplars,
)
from bot.settings import Settings
from index import glossary, text
from index.embeddings import Embedder, Vectors

log = logging.getLogger("factbot.index")

# Bump when the file's layout or meaning changes: every older file is then recomputed.
FORMAT = 1
DERIVED = "derived"  # under INDEX_DIR, beside the index store's builds/
PREFIX = "message_kinds-"
_TEMP_PREFIX = f".tmp-{PREFIX}"
_STALE_TEMP_SECONDS = 3600  # a temporary file this old was left by a process that died
_DIGEST_CHARS = 16

# What turns an exemplar into the text the model embeds, besides the engine's `text_to_embed`:
# chat cleaning, the glossary (its code and data), folding and stemming, the rows' layout.
_DATA_FILES = (
    *(EXEMPLAR_DIR / f"message_kinds.{language}.tsv" for language in LANGUAGES),
    glossary.GLOSSARY_PATH,
)
_MODULES = (chattext, glossary, text)
_FUNCTIONS: tuple[Callable[..., Any], ...] = (load_exemplars, exemplar_rows, embed_exemplars)


class EmbedText(Protocol):
    """The engine's `text_to_embed`: what the model embeds for a question."""

    def __call__(self, question: str, language: Language, gloss: bool = ...) -> str: ...


def exemplar_key(model: str, dimension: int, gloss: bool, embed_text: EmbedText) -> str:
    """The SHA-256 of what the exemplar matrix is derived from: the embedder's `model` name (its
    backend and precision included) and `dimension`, the `FRENCH_GLOSS` setting, the exemplar
    and glossary files' bytes, the source of the code that reads a message into the embedded text
    (`embed_text`: the engine's `text_to_embed`), the stemmer's version and `FORMAT`. Reads a few
    small files; glosses and encodes nothing."""
    digest = hashlib.sha256()
    header = {
        "format": FORMAT,
        "model": model,
        "dimension": dimension,
        "gloss": gloss,
        "stemmer": Stemmer.version(),
    }
    _add(digest, "header", json.dumps(header, sort_keys=True).encode())
    for path in _DATA_FILES:
        _add(digest, path.name, path.read_bytes())
    for module in _MODULES:
        _add(digest, module.__name__, Path(str(module.__file__)).read_bytes())
    for function in (*_FUNCTIONS, embed_text):
        name = f"{getattr(function, '__module__', '')}.{getattr(function, '__qualname__', '')}"
        _add(digest, name, _source(function))
    return digest.hexdigest()


def _add(digest: Any, name: str, data: bytes) -> None:
    digest.update(f"{name}\0{len(data)}\0".encode())
    digest.update(data)


def _source(function: object) -> bytes:
    """`function`'s source, or its compiled code where the source is not installed."""
    try:
        return inspect.getsource(function).encode()  # type: ignore[arg-type]
    except (OSError, TypeError):
        return marshal.dumps(getattr(function, "__code__", None))


def _data_digest(matrix: Vectors) -> str:
    return hashlib.sha256(np.ascontiguousarray(matrix).data).hexdigest()[:_DIGEST_CHARS]


class StoredExemplars:
    """The exemplar matrix of one key in `folder`: loaded memory-mapped, or computed and saved
    (an `ExemplarStore` for `MessageKinds`)."""

    def __init__(self, folder: Path, key: str, dimension: int) -> None:
        self.folder = folder
        self.key = key
        self.dimension = dimension

    def get(self, rows: int, compute: Callable[[], Vectors]) -> Vectors:
        """The stored matrix of `rows` rows; else `compute()`'s, saved. One log line when
        computed; a file that cannot be written is not an error (computed again next time)."""
        matrix, problem = self.load(rows)
        if matrix is not None:
            return matrix
        if problem is None:
            log.info(
                "embedding the %d message-kind exemplar rows once for this model, into %s",
                rows,
                self.folder,
            )
        else:
            log.warning("%s: embedding the %d message-kind exemplar rows again", problem, rows)
        matrix = compute()
        try:
            self.save(matrix)
        except OSError as exc:
            log.warning(
                "cannot store the message-kind exemplars in %s (%s): they are embedded again "
                "at the next start",
                self.folder,
                exc,
            )
        return matrix

    def load(self, rows: int) -> tuple[Vectors | None, str | None]:
        """The stored matrix (memory-mapped, read-only), or None and why: None when there is
        no file of this key, else what is wrong with it (the bad file is deleted)."""
        try:
            paths = sorted(self.folder.glob(f"{PREFIX}{self.key}-*.npy"))
        except OSError:
            paths = []
        problem: str | None = None
        for path in paths:
            matrix, wrong = self._read(path, rows)
            if matrix is not None:
                return matrix, None
            if wrong:
                problem = problem or f"{path} {wrong}"
                with contextlib.suppress(OSError):
                    path.unlink()
        return None, problem

    def _read(self, path: Path, rows: int) -> tuple[Vectors | None, str]:
        try:
            loaded = np.load(path, mmap_mode="r", allow_pickle=False)
        except FileNotFoundError:
            return None, ""  # another process replaced it meanwhile: not a damaged file
        except (OSError, ValueError, EOFError) as exc:
            return None, f"is unreadable ({type(exc).__name__})"
        if loaded.dtype != np.float32 or loaded.shape != (rows, self.dimension):
            return (
                None,
                f"holds {loaded.dtype} {loaded.shape}, not float32 ({rows}, {self.dimension})",
            )
        if not loaded.flags.c_contiguous or path.stem.rpartition("-")[2] != _data_digest(loaded):
            return None, "is corrupted (its checksum does not match)"
        matrix: Vectors = np.asarray(loaded)  # a plain array over the same mapped pages
        return matrix, ""

    def save(self, matrix: Vectors) -> Path:
        """Write `matrix` under its key and checksum (atomically), then delete older files."""
        data = np.ascontiguousarray(matrix, dtype=np.float32)
        self.folder.mkdir(parents=True, exist_ok=True)
        final = self.folder / f"{PREFIX}{self.key}-{_data_digest(data)}.npy"
        # Created like the index's files (the umask decides), under a name no other writer uses.
        temp = self.folder / f"{_TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}.npy"
        try:
            with temp.open("xb") as fh:
                np.save(fh, data, allow_pickle=False)
            os.replace(temp, final)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        self._collect(keep=final)
        return final

    def _collect(self, keep: Path) -> None:
        """Delete the files of other keys (or checksums), and temporary files left behind."""
        now = time.time()
        for path in self.folder.iterdir():
            with contextlib.suppress(OSError):
                other = path.name.startswith(PREFIX) and path != keep
                left = path.name.startswith(_TEMP_PREFIX) and (
                    now - path.stat().st_mtime > _STALE_TEMP_SECONDS
                )
                if other or left:
                    path.unlink()


def stored_message_kinds(
    settings: Settings, embedder: Embedder, embed_text: EmbedText
) -> MessageKinds:
    """The first-contact step for `embedder`, its exemplar matrix stored under
    `INDEX_DIR/derived/`; `embed_text` is the engine's `text_to_embed`."""
    key = exemplar_key(embedder.name, embedder.dimension, settings.french_gloss, embed_text)
    return MessageKinds(
        partial(embedder.encode, batch_size=settings.embed_batch_size),
        partial(embed_text, gloss=settings.french_gloss),
        store=StoredExemplars(settings.index_dir / DERIVED, key, embedder.dimension),
    )
