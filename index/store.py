"""Build, persist and load the search index: FAISS (dense) + BM25 (lexical) over the chunks.

On disk, like bm25s's save/load, a folder of plain files per build:

    INDEX_DIR/
      current -> builds/<version>      (a relative symlink, replaced atomically)
      builds/<version>/manifest.json   (model, dimension, corpus hash, chunking, versions, hashes)
                       chunks.json  vectors.npy  faiss.index  bm25/  lexicon.json  corpus.json
                       note_sentences.json  note_sentences.npy   (the lead's candidates)

A build is written to `INDEX_DIR/tmp-*`, renamed into `builds/`, then published by replacing the
`current` link with one `os.replace`: a reader sees the old index or the new one, never half of
one. Loading verifies every file against the manifest's SHA-256.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NotRequired, Protocol, TypedDict, TypeVar

import numpy as np
import numpy.typing as npt

from index.bm25_scores import Bm25Scores
from index.checksums import folder_checksums, package_versions, sha256_file
from index.chunking import Chunk, ChunkingConfig, NoteSentence, chunk_corpus, note_sentences
from index.corpus import Corpus
from index.embeddings import Vectors
from index.locks import exclusive_lock
from index.progress import Progress, current
from index.text import TOKENIZER_VERSION, content_words
from index.vectors import VectorIndex, build_vector_index, load_vector_index

log = logging.getLogger("factbot.index")

# 2: the notes' sentences and their vectors (an older build is stale and rebuilt).
FORMAT_VERSION = 2
KEEP_BUILDS = 3
CURRENT = "current"
LIBRARIES = ("faiss-cpu", "bm25s", "sentence-transformers", "torch", "numpy")
# Typical off-topic chat questions (French and English): the relevance gate compares a question's
# closeness to the corpus with its closeness to these. Shipped with the code, not the corpus.
BACKGROUND_FILE = Path(__file__).parent / "data" / "background.txt"

T = TypeVar("T")


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
    # The front matter an about answer and the article card show (absent from older builds).
    outlet: str | None = None
    published: str | None = None


class Manifest(TypedDict):
    """`manifest.json`: what a build was made from and with, and a SHA-256 per file."""

    format: int
    version: str
    built_at: str
    build_seconds: float
    model: str
    dimension: int
    corpus_hash: str
    chunking: dict[str, int]
    tokenizer: int
    background_hash: str
    dense_index: str
    chunk_count: int
    note_count: int
    libraries: dict[str, str]
    files: dict[str, str]
    # The newest chat revision of the notes laid over the corpus files (absent before notes
    # could be made in chat: 0).
    notes_revision: NotRequired[int]


class BatchEncoder(Protocol):
    """What a build needs of an encoder (an `Embedder`, or a benchmark's stand-in)."""

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def encode(self, texts: Sequence[str], batch_size: int = ...) -> Vectors: ...


class LexicalScorer(Protocol):
    """What retrieval asks of the BM25 index (a `bm25s.BM25`, which ships no type hints)."""

    def get_scores(self, query_tokens: list[str], /) -> npt.NDArray[np.float32]: ...


@dataclass(frozen=True)
class LoadedIndex:
    """One immutable build, in memory."""

    path: Path
    manifest: Manifest
    chunks: tuple[Chunk, ...]
    vectors: Vectors
    dense: VectorIndex
    bm25: LexicalScorer
    background: Vectors
    doc_freq: Mapping[str, int]
    notes: Mapping[str, NoteRecord]
    documents: tuple[DocRecord, ...]
    # Every sentence of every note section and its vector: an answer's lead is chosen among
    # them with the question's vector, without a second encode.
    note_sentences: tuple[NoteSentence, ...]
    note_vectors: Vectors
    # The moderators' summary of the article per language (`corpus/summary.md`; empty when the
    # corpus has none). Not chunked: a fact answer never quotes it as the article's words.
    summary: Mapping[str, str] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return self.manifest["version"]


@dataclass(frozen=True)
class _Content:
    """What a build writes, computed before it takes the build lock: the chunks, their vectors
    and BM25 tokens, the background questions' vectors, and the notes' sentences with theirs."""

    chunks: list[Chunk]
    vectors: Vectors
    background: Vectors
    tokens: list[list[str]]
    sentences: list[NoteSentence]
    sentence_vectors: Vectors

    @classmethod
    def of(
        cls,
        corpus: Corpus,
        encoder: _Reusing,
        config: ChunkingConfig,
        batch_size: int,
        progress: Progress | None = None,
    ) -> _Content:
        chunks = chunk_corpus(corpus, config)
        if not chunks:
            raise IndexProblem("the corpus produced no chunks")
        sentences = note_sentences(chunks)
        texts = [c.embed_text for c in chunks]
        background = background_questions()
        sentence_texts = [s.text for s in sentences]
        encoder.encode_all((texts, background, sentence_texts), batch_size, progress)
        return cls(
            chunks=chunks,
            vectors=encoder.vectors(texts),
            background=encoder.vectors(background),
            tokens=[list(content_words(c.embed_text)) for c in chunks],
            sentences=sentences,
            sentence_vectors=encoder.vectors(sentence_texts),
        )

    def write(self, folder: Path, corpus: Corpus) -> VectorIndex:
        """Every data file of a build into `folder`; returns the dense index it wrote."""
        import bm25s

        dense = build_vector_index(self.vectors)
        dense.save(folder / "faiss.index")
        np.save(folder / "vectors.npy", self.vectors)
        np.save(folder / "background.npy", self.background)
        lexical = bm25s.BM25()
        lexical.index(self.tokens, show_progress=False)
        lexical.save(str(folder / "bm25"), show_progress=False)
        _write_json(folder / "chunks.json", [c.to_json() for c in self.chunks], ascii=False)
        doc_freq = Counter(t for toks in self.tokens for t in set(toks))
        lexicon = {"documents": len(self.chunks), "doc_freq": dict(sorted(doc_freq.items()))}
        _write_json(folder / "lexicon.json", lexicon)
        _write_json(folder / "corpus.json", _records(corpus), ascii=False, indent=1)
        _write_json(folder / "note_sentences.json", [s.to_json() for s in self.sentences])
        np.save(folder / "note_sentences.npy", self.sentence_vectors)
        return dense


class _Reusing:
    """An encoder that takes the vectors of the texts a previous build already encoded (with the
    same model: the same text gives the same vector) and encodes only the others."""

    def __init__(self, encoder: BatchEncoder, previous: LoadedIndex | None) -> None:
        self._encoder = encoder
        self._known: dict[str, npt.NDArray[np.float32]] = {}
        self.encoded = 0
        self.reused = 0
        if previous is None:
            return
        m = previous.manifest
        if m["model"] != encoder.name or m["dimension"] != encoder.dimension:
            return
        pairs: list[tuple[str, npt.NDArray[np.float32]]] = [
            *zip((c.embed_text for c in previous.chunks), previous.vectors, strict=True),
            *zip((s.text for s in previous.note_sentences), previous.note_vectors, strict=True),
        ]
        if m["background_hash"] == background_hash():
            pairs += zip(background_questions(), previous.background, strict=True)
        self._known = dict(pairs)

    @property
    def name(self) -> str:
        return self._encoder.name

    @property
    def dimension(self) -> int:
        return self._encoder.dimension

    def encode_all(
        self, groups: Sequence[Sequence[str]], batch_size: int, progress: Progress | None
    ) -> None:
        """Encode every text of `groups` that is not known yet, one batch at a time, with one
        log line before and one after, and a progress report after each batch.

        Group by group (a build's chunks, background questions, note sentences: the order it
        always encoded them in), each group's new texts longest first and cut into batches of
        `batch_size` the way the encoders cut one call (a stable sort on length): every text
        gets the batch mates, hence the vector to the bit, it got when a group was one call."""
        step = max(1, batch_size)
        batches: list[list[str]] = []
        seen = set(self._known)
        for texts in groups:
            fresh = [t for t in dict.fromkeys(texts) if t not in seen]
            seen.update(fresh)
            fresh.sort(key=len, reverse=True)  # stable: equal lengths keep their order
            batches += [fresh[i : i + step] for i in range(0, len(fresh), step)]
        total = sum(len(b) for b in batches)
        self.encoded = total
        self.reused = sum(len(texts) for texts in groups) - total
        if not total:
            return
        log.info("encoding %d texts with %s", total, self.name)
        started = time.perf_counter()
        done = 0
        if progress is not None:
            progress("encoding", 0, total)
        for batch in batches:
            fresh_vectors = self._encoder.encode(batch, batch_size=step)
            self._known.update(zip(batch, fresh_vectors, strict=True))
            done += len(batch)
            if progress is not None:
                progress("encoding", done, total)
        log.info("encoded %d texts in %.1f s", total, time.perf_counter() - started)

    def vectors(self, texts: Sequence[str]) -> Vectors:
        """The vectors of `texts` (every one encoded or reused before), rows in order."""
        if not texts:
            return np.zeros((0, self.dimension), np.float32)
        return np.stack([self._known[t] for t in texts]).astype(np.float32, copy=False)


def _write_json(path: Path, data: object, ascii: bool = True, indent: int | None = None) -> None:
    path.write_text(json.dumps(data, ensure_ascii=ascii, indent=indent), encoding="utf-8")


def _version_name(stamp: dt.datetime, corpus_hash: str) -> str:
    """Build folder names sort by time: `20260101T120000123Z-<corpus hash prefix>`."""
    return f"{stamp:%Y%m%dT%H%M%S}{stamp.microsecond // 1000:03d}Z-{corpus_hash[:8]}"


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
        docs.append(record | {"outlet": d.outlet, "published": d.published})
    summary = corpus.summary.sections if corpus.summary is not None else {}
    return {"documents": docs, "notes": notes, "summary": summary}


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

    # -------------------------------------------------------------- build

    def build(
        self,
        corpus: Corpus,
        encoder: BatchEncoder,
        config: ChunkingConfig,
        batch_size: int = 32,
        previous: LoadedIndex | None = None,
        progress: Progress | None = None,
    ) -> LoadedIndex:
        """Chunk, embed and index `corpus`, then publish it atomically. Returns the loaded build.

        The vectors of texts `previous` (a build with the same model) already holds are taken
        from it: a note changed from chat re-encodes only that note's texts. The encoding
        reports to `progress`, else to the one the caller's context installed
        (index/progress.py)."""
        started = time.perf_counter()
        reusing = _Reusing(encoder, previous)
        content = _Content.of(corpus, reusing, config, batch_size, progress or current())
        # One build at a time across processes sharing INDEX_DIR.
        with exclusive_lock(self.root / ".build.lock"):
            stamp = dt.datetime.now(dt.UTC)
            version = _version_name(stamp, corpus.content_hash)
            final = self.root / "builds" / version
            with self._staging() as folder:
                dense = content.write(folder, corpus)
                manifest: Manifest = {
                    "format": FORMAT_VERSION,
                    "version": version,
                    "built_at": stamp.isoformat(timespec="seconds"),
                    "build_seconds": round(time.perf_counter() - started, 3),
                    "model": encoder.name,
                    "dimension": encoder.dimension,
                    "corpus_hash": corpus.content_hash,
                    "chunking": config.to_json(),
                    "tokenizer": TOKENIZER_VERSION,
                    "background_hash": background_hash(),
                    "dense_index": dense.kind,
                    "chunk_count": len(content.chunks),
                    "note_count": len(corpus.factchecks),
                    "notes_revision": corpus.notes_revision,
                    "libraries": library_versions(),
                    "files": folder_checksums(folder),
                }
                _write_json(folder / "manifest.json", manifest, indent=1)
                os.rename(folder, final)
            self._publish(final)
            self._collect_garbage(keep=final)
        log.info(
            "index %s built: %d chunks in %.2fs (%d texts encoded, %d vectors reused)",
            version,
            len(content.chunks),
            manifest["build_seconds"],
            reusing.encoded,
            reusing.reused,
        )
        return self._load_dir(final, verify=False)

    @contextlib.contextmanager
    def _staging(self) -> Iterator[Path]:
        """A fresh `tmp-*` folder under the root for the block to fill and rename into
        `builds/`; removed if the block fails (a build that dies is collected later)."""
        (self.root / "builds").mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="tmp-", dir=self.root))
        try:
            yield folder
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

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
        manifest = _read_manifest(path / "manifest.json")
        if verify:
            _verify(path, manifest["files"])
        chunks = _read(path / "chunks.json", _read_chunks)
        vectors = _read(path / "vectors.npy", _read_vectors)
        background = _read(path / "background.npy", _read_vectors)
        dense = _read(path / "faiss.index", load_vector_index)
        bm25 = _read(path / "bm25", _read_bm25)
        doc_freq = _read(path / "lexicon.json", _read_doc_freq)
        notes, documents, summary = _read(path / "corpus.json", _read_records)
        sections = {(c.doc, c.language): c.text for c in chunks if c.kind == "factcheck"}
        sentences = _read(path / "note_sentences.json", lambda p: _read_note_sentences(p, sections))
        note_vectors = _read(path / "note_sentences.npy", _read_vectors)
        if len(chunks) != vectors.shape[0] or dense.size != len(chunks):
            raise IndexCorrupt(path / "vectors.npy", "row count does not match chunks.json")
        if len(sentences) != note_vectors.shape[0]:
            raise IndexCorrupt(
                path / "note_sentences.npy", "row count does not match note_sentences.json"
            )
        return LoadedIndex(
            path=path,
            manifest=manifest,
            chunks=chunks,
            vectors=vectors,
            dense=dense,
            bm25=bm25,
            background=background,
            doc_freq=doc_freq,
            notes=notes,
            documents=documents,
            note_sentences=sentences,
            note_vectors=note_vectors,
            summary=summary,
        )

    @staticmethod
    def staleness(
        manifest: Manifest, model: str, config: ChunkingConfig, corpus_hash: str | None
    ) -> str | None:
        """Why a build no longer matches the settings and corpus, or None when it does."""
        if manifest["model"] != model:
            return f"the model changed ({manifest['model']} -> {model})"
        if manifest["chunking"] != config.to_json():
            return "the chunking settings changed"
        if manifest["tokenizer"] != TOKENIZER_VERSION:
            return "the tokenizer changed"
        if manifest["background_hash"] != background_hash():
            return "the background questions changed"
        if corpus_hash is not None and manifest["corpus_hash"] != corpus_hash:
            return "the corpus changed"
        return None


# ------------------------------------------------------------------ reading a build's files


def _read_manifest(path: Path) -> Manifest:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT_VERSION:
            raise IndexStale(f"index format {manifest.get('format')} is not {FORMAT_VERSION}")
        missing = sorted(Manifest.__required_keys__ - set(manifest))
        if missing:
            raise KeyError(", ".join(missing))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise IndexCorrupt(path, type(exc).__name__) from exc
    return manifest  # type: ignore[no-any-return]  # checked above: JSON with every key


def _verify(folder: Path, files: Mapping[str, str]) -> None:
    """Every file the manifest lists is there with its SHA-256 (`IndexCorrupt` otherwise)."""
    for name, expected in files.items():
        file = folder / name
        if not file.is_file():
            raise IndexCorrupt(file, "missing")
        if sha256_file(file) != expected:
            raise IndexCorrupt(file, "checksum mismatch")


def _read(path: Path, load: Callable[[Path], T]) -> T:
    """`load(path)`; any failure becomes an `IndexCorrupt` naming the file."""
    try:
        return load(path)
    except IndexProblem:
        raise
    except Exception as exc:
        raise IndexCorrupt(path, f"{type(exc).__name__}: {exc}".splitlines()[0][:200]) from exc


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _read_chunks(path: Path) -> tuple[Chunk, ...]:
    return tuple(Chunk.from_json(c) for c in _read_json(path))


def _read_vectors(path: Path) -> Vectors:
    vectors: Vectors = np.load(path, allow_pickle=False).astype(np.float32, copy=False)
    return vectors


def _read_bm25(path: Path) -> LexicalScorer:
    # NumPy alone when it can: importing bm25s imports SciPy (a tenth of a second at start).
    scores = Bm25Scores.load(path)
    if scores is not None:
        return scores
    import bm25s

    scorer: LexicalScorer = bm25s.BM25.load(str(path), load_corpus=False, show_progress=False)
    return scorer


def _read_note_sentences(
    path: Path, sections: dict[tuple[str, str], str]
) -> tuple[NoteSentence, ...]:
    return tuple(NoteSentence.from_json(row, sections) for row in _read_json(path))


def _read_doc_freq(path: Path) -> dict[str, int]:
    return {k: int(v) for k, v in _read_json(path)["doc_freq"].items()}


def _read_records(
    path: Path,
) -> tuple[dict[str, NoteRecord], tuple[DocRecord, ...], dict[str, str]]:
    records = _read_json(path)
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
    return (
        notes,
        tuple(DocRecord(**d) for d in records["documents"]),
        dict(records.get("summary") or {}),
    )
