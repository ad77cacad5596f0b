"""Build, persist and load the search index: FAISS (dense) + BM25 (lexical) over the chunks.

On disk, like bm25s's save/load, a folder of plain files per build:

    INDEX_DIR/
      current -> builds/<version>      (a relative symlink, replaced atomically)
      builds/<version>/manifest.json   (model, dimension, corpus hash, chunking, versions, hashes)
                       chunks.json  vectors.npy  faiss.index  bm25/  lexicon.json  corpus.json

A build is written to `INDEX_DIR/tmp-*`, renamed into `builds/`, then published by replacing the
`current` link with one `os.replace`: a reader sees the old index or the new one, never half of
one. Loading verifies every file against the manifest's SHA-256.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.checksums import folder_checksums, package_versions, sha256_file
from index.chunking import Chunk, ChunkingConfig, chunk_corpus
from index.corpus import Corpus
from index.embeddings import Embedder, Vectors
from index.text import TOKENIZER_VERSION, content_words
from index.vectors import VectorIndex, build_vector_index, load_vector_index

log = logging.getLogger("factbot.index")

FORMAT_VERSION = 1
KEEP_BUILDS = 3
CURRENT = "current"
LIBRARIES = ("faiss-cpu", "bm25s", "sentence-transformers", "torch", "numpy")
# Typical off-topic chat questions (French and English): the relevance gate compares a question's
# closeness to the corpus with its closeness to these. Shipped with the code, not the corpus.
BACKGROUND_FILE = Path(__file__).parent / "data" / "background.txt"


def background_questions() -> list[str]:
    return [
        ln.strip() for ln in BACKGROUND_FILE.read_text(encoding="utf-8").splitlines() if ln.strip()
    ]


def background_hash() -> str:
    return hashlib.sha256(BACKGROUND_FILE.read_bytes()).hexdigest()


class IndexProblem(Exception):
    """Base of the index errors: `str(exc)` is one line for the operator."""


class IndexMissing(IndexProblem):
    pass


class IndexCorrupt(IndexProblem):
    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        super().__init__(f"index file {path} is unusable ({reason})")


class IndexStale(IndexProblem):
    pass


@dataclass(frozen=True)
class NoteRecord:
    """What rendering needs from a fact-check note, stored with the index."""

    id: str
    claim: str
    verdict: str
    rating: str | None
    summaries: dict[str, str]
    sources: tuple[tuple[str, str], ...]  # (title, url)
    digest: str


@dataclass(frozen=True)
class DocRecord:
    id: str
    title: str
    language: str
    url: str | None
    digest: str


@dataclass
class LoadedIndex:
    """One immutable build, in memory."""

    path: Path
    manifest: dict[str, Any]
    chunks: list[Chunk]
    vectors: Vectors
    dense: VectorIndex
    bm25: Any
    background: Vectors
    doc_freq: dict[str, int]
    notes: dict[str, NoteRecord]
    documents: list[DocRecord]

    @property
    def version(self) -> str:
        return str(self.manifest["version"])


def library_versions() -> dict[str, str]:
    return package_versions(LIBRARIES)


def _digest(data: Any) -> str:
    return hashlib.sha256(
        json.dumps(data, sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()[:16]


def _records(corpus: Corpus) -> dict[str, Any]:
    notes = []
    for n in corpus.factchecks:
        record = {
            "id": n.id,
            "claim": n.claim,
            "verdict": n.verdict,
            "rating": n.rating,
            "summaries": {lang: n.summary(lang) for lang in n.sections},
            "sources": [[s.title, s.url] for s in n.sources],
        }
        record["digest"] = _digest(record | {"sections": n.sections})
        notes.append(record)
    docs = []
    for d in corpus.documents:
        record = {"id": d.id, "title": d.title, "language": d.language, "url": d.url}
        record["digest"] = _digest(record | {"paragraphs": [p.text for p in d.paragraphs]})
        docs.append(record)
    return {"documents": docs, "notes": notes}


class IndexStore:
    """The index folder: atomic builds, verified loads, garbage collection of old builds."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # -------------------------------------------------------------- locations

    def current_path(self) -> Path | None:
        """The build folder `current` points to, or None when nothing is published."""
        link = self.root / CURRENT
        try:
            target = os.readlink(link)
        except OSError:
            return None
        return (self.root / target).resolve()

    def published_version(self) -> str | None:
        path = self.current_path()
        return path.name if path is not None else None

    @contextlib.contextmanager
    def _build_lock(self) -> Iterator[None]:
        # One build at a time across processes sharing INDEX_DIR.
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".build.lock").open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # -------------------------------------------------------------- build

    def build(
        self,
        corpus: Corpus,
        embedder: Embedder,
        config: ChunkingConfig,
        batch_size: int = 32,
    ) -> LoadedIndex:
        """Chunk, embed and index `corpus`, then publish it atomically. Returns the loaded build."""
        import bm25s

        started = time.perf_counter()
        chunks = chunk_corpus(corpus, config)
        if not chunks:
            raise IndexProblem("the corpus produced no chunks")
        vectors = embedder.encode([c.embed_text for c in chunks], batch_size=batch_size)
        background = embedder.encode(background_questions(), batch_size=batch_size)
        tokens = [list(content_words(c.embed_text)) for c in chunks]
        doc_freq = Counter(t for toks in tokens for t in set(toks))
        with self._build_lock():
            self.root.mkdir(parents=True, exist_ok=True)
            (self.root / "builds").mkdir(exist_ok=True)
            stamp = dt.datetime.now(dt.UTC)
            version = (
                f"{stamp:%Y%m%dT%H%M%S}{stamp.microsecond // 1000:03d}Z-{corpus.content_hash[:8]}"
            )
            tmp = Path(tempfile.mkdtemp(prefix="tmp-", dir=self.root))
            try:
                dense = build_vector_index(vectors)
                dense.save(tmp / "faiss.index")
                np.save(tmp / "vectors.npy", vectors)
                np.save(tmp / "background.npy", background)
                retriever = bm25s.BM25()
                retriever.index(tokens, show_progress=False)
                retriever.save(str(tmp / "bm25"), show_progress=False)
                (tmp / "chunks.json").write_text(
                    json.dumps([c.to_json() for c in chunks], ensure_ascii=False), encoding="utf-8"
                )
                (tmp / "lexicon.json").write_text(
                    json.dumps(
                        {"documents": len(chunks), "doc_freq": dict(sorted(doc_freq.items()))}
                    ),
                    encoding="utf-8",
                )
                (tmp / "corpus.json").write_text(
                    json.dumps(_records(corpus), ensure_ascii=False, indent=1), encoding="utf-8"
                )
                files = folder_checksums(tmp)
                manifest = {
                    "format": FORMAT_VERSION,
                    "version": version,
                    "built_at": stamp.isoformat(timespec="seconds"),
                    "build_seconds": round(time.perf_counter() - started, 3),
                    "model": embedder.name,
                    "dimension": embedder.dimension,
                    "corpus_hash": corpus.content_hash,
                    "chunking": config.to_json(),
                    "tokenizer": TOKENIZER_VERSION,
                    "background_hash": background_hash(),
                    "dense_index": dense.kind,
                    "chunk_count": len(chunks),
                    "note_count": len(corpus.factchecks),
                    "libraries": library_versions(),
                    "files": files,
                }
                (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
                final = self.root / "builds" / version
                os.rename(tmp, final)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            self._publish(final)
            self._collect_garbage(keep=final)
        log.info(
            "index %s built: %d chunks in %.2fs", version, len(chunks), manifest["build_seconds"]
        )
        return self._load_dir(final, verify=False)

    def _publish(self, build: Path) -> None:
        link = self.root / f".current-{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            link.unlink()
        os.symlink(os.path.relpath(build, self.root), link)
        os.replace(link, self.root / CURRENT)  # the one atomic step readers can observe

    def _collect_garbage(self, keep: Path) -> None:
        builds = sorted((self.root / "builds").iterdir(), key=lambda p: p.name, reverse=True)
        for old in builds[KEEP_BUILDS:]:
            if old != keep:
                shutil.rmtree(old, ignore_errors=True)
        for tmp in self.root.glob("tmp-*"):
            # Left by a build that died; a running build holds the lock we hold now.
            shutil.rmtree(tmp, ignore_errors=True)

    # -------------------------------------------------------------- load

    def load(self) -> LoadedIndex:
        """Load and verify the published build (IndexMissing / IndexCorrupt on failure)."""
        path = self.current_path()
        if path is None:
            raise IndexMissing(f"no index under {self.root}")
        if not path.is_dir():
            raise IndexCorrupt(self.root / CURRENT, f"points to a missing build {path.name}")
        return self._load_dir(path, verify=True)

    def _load_dir(self, path: Path, verify: bool) -> LoadedIndex:
        import bm25s

        manifest_path = path / "manifest.json"
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            files: dict[str, str] = manifest["files"]
            if manifest.get("format") != FORMAT_VERSION:
                raise IndexStale(f"index format {manifest.get('format')} is not {FORMAT_VERSION}")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexCorrupt(manifest_path, type(exc).__name__) from exc
        if verify:
            for name, expected in files.items():
                file = path / name
                if not file.is_file():
                    raise IndexCorrupt(file, "missing")
                if sha256_file(file) != expected:
                    raise IndexCorrupt(file, "checksum mismatch")
        current = path / "chunks.json"
        try:
            chunks = [Chunk.from_json(c) for c in json.loads(current.read_text(encoding="utf-8"))]
            current = path / "vectors.npy"
            vectors = np.load(current, allow_pickle=False).astype(np.float32, copy=False)
            current = path / "background.npy"
            background = np.load(current, allow_pickle=False).astype(np.float32, copy=False)
            current = path / "faiss.index"
            dense = load_vector_index(current)
            current = path / "bm25"
            retriever = bm25s.BM25.load(str(current), load_corpus=False, show_progress=False)
            current = path / "lexicon.json"
            lexicon = json.loads(current.read_text(encoding="utf-8"))
            current = path / "corpus.json"
            records = json.loads(current.read_text(encoding="utf-8"))
            notes = {
                n["id"]: NoteRecord(
                    id=n["id"],
                    claim=n["claim"],
                    verdict=n["verdict"],
                    rating=n.get("rating"),
                    summaries=dict(n["summaries"]),
                    sources=tuple((t, u) for t, u in n["sources"]),
                    digest=n["digest"],
                )
                for n in records["notes"]
            }
            documents = [DocRecord(**d) for d in records["documents"]]
        except IndexProblem:
            raise
        except Exception as exc:
            raise IndexCorrupt(
                current, f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
            ) from exc
        if len(chunks) != vectors.shape[0] or dense.size != len(chunks):
            raise IndexCorrupt(path / "vectors.npy", "row count does not match chunks.json")
        return LoadedIndex(
            path=path,
            manifest=manifest,
            chunks=chunks,
            vectors=vectors,
            dense=dense,
            bm25=retriever,
            background=background,
            doc_freq={k: int(v) for k, v in lexicon["doc_freq"].items()},
            notes=notes,
            documents=documents,
        )

    @staticmethod
    def staleness(
        manifest: dict[str, Any], model: str, config: ChunkingConfig, corpus_hash: str | None
    ) -> str | None:
        """Why a build no longer matches the settings and corpus, or None when it does."""
        if manifest.get("model") != model:
            return f"the model changed ({manifest.get('model')} -> {model})"
        if manifest.get("chunking") != config.to_json():
            return "the chunking settings changed"
        if manifest.get("tokenizer") != TOKENIZER_VERSION:
            return "the tokenizer changed"
        if manifest.get("background_hash") != background_hash():
            return "the background questions changed"
        if corpus_hash is not None and manifest.get("corpus_hash") != corpus_hash:
            return "the corpus changed"
        return None
