"""The index's lifecycle, driven by the settings: the embedder, builds, stale and corrupted
indexes, reindexing and picking up another process's build.

`factbot index`, the index tests and `Engine` (bot/answering/engine.py, which only answers) call these.
The index package below knows nothing of `Settings`; this module turns them into its arguments.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable, Sequence
from typing import Protocol

from bot.settings import Settings, apply_library_environment
from bot.storage.errors import StorageError
from index.chunking import ChunkingConfig
from index.corpus import CorpusInvalid, NoteOverlay, corpus_hash, load_corpus
from index.embeddings import Embedder, load_embedder
from index.store import BatchEncoder, IndexMissing, IndexProblem, IndexStore, LoadedIndex

log = logging.getLogger("factbot.index")


class IndexUnavailable(Exception):
    """No usable index and none can be built: one line for the operator."""


class NoteSource(Protocol):
    """Where the notes made in chat come from (`bot/storage/notes.py`); raises `StorageError`."""

    def overlay(self) -> NoteOverlay: ...

    def revision(self) -> int: ...


class ReindexFailed(Exception):
    """The rebuild failed; the old index keeps serving. `problems` are one line each, fit for
    chat; `detail` is for the log only (server paths, the database's address)."""

    def __init__(self, problems: list[str], detail: str | None = None) -> None:
        self.problems = problems
        self.detail = detail or "; ".join(problems)
        super().__init__("; ".join(problems))


class RetryBackoff:
    """When something that failed (a notes revision that does not build) may be tried again:
    `first` seconds after its first failure, then twice as long after each further one, never
    more than `cap` apart. Anything else (another revision) may be tried at once."""

    def __init__(
        self, first: float, cap: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.first = max(0.0, first)
        self.cap = max(self.first, cap)
        self.clock = clock
        self.failing: Hashable | None = None
        self.attempts = 0
        self.next_at = 0.0

    def ready(self, key: Hashable) -> bool:
        """True when `key` may be tried now."""
        return key != self.failing or self.clock() >= self.next_at

    def failed(self, key: Hashable) -> bool:
        """Record that `key` failed; True when it just started failing (the one time to say
        so), False for a retry of the same key."""
        started = key != self.failing
        if started:
            self.failing, self.attempts = key, 0
        self.attempts += 1
        self.next_at = self.clock() + self.delay
        return started

    @property
    def delay(self) -> float:
        """Seconds between the last failure and the next try."""
        return min(self.cap, self.first * 2.0 ** (self.attempts - 1))

    def succeeded(self) -> Hashable | None:
        """Forget the failure; the key that was failing, if any."""
        key, self.failing, self.attempts = self.failing, None, 0
        return key


def chunking_config(settings: Settings) -> ChunkingConfig:
    return ChunkingConfig(
        max_sentences=settings.chunk_max_sentences, max_chars=settings.chunk_max_chars
    )


def embedder_for(settings: Settings) -> Embedder:
    """The (process-cached) embedder the settings ask for: model, backend, threads, cache."""
    apply_library_environment(settings)
    return load_embedder(
        settings.embedding_model,
        settings.embed_cache_size,
        settings.embed_threads,
        settings.embedding_backend,
        settings.model_cache_dir,
        settings.openvino_precision,
    )


def build_from_corpus(
    settings: Settings,
    store: IndexStore,
    encoder: BatchEncoder,
    overlay: NoteOverlay | None = None,
    previous: LoadedIndex | None = None,
) -> LoadedIndex:
    """Validate the corpus (with the chat notes of `overlay`) and build a new published index,
    reusing `previous`'s vectors of unchanged texts (raises `CorpusInvalid`)."""
    corpus = load_corpus(settings.corpus_dir, overlay)
    return store.build(
        corpus, encoder, chunking_config(settings), settings.embed_batch_size, previous
    )


def read_overlay(notes: NoteSource | None) -> NoteOverlay | None:
    """The chat notes to build with (None without a notes source); raises `StorageError`."""
    return notes.overlay() if notes is not None else None


def rebuild(
    settings: Settings,
    store: IndexStore,
    embedder: Embedder,
    notes: NoteSource | None = None,
    previous: LoadedIndex | None = None,
) -> LoadedIndex:
    """A fresh build for `/reindex`; every failure is a `ReindexFailed` listing its problems.

    A notes database that cannot be read fails the build: an index without the chat notes
    would silently undo the moderators' changes."""
    # The problems are shown in chat: what failed in a moderator's terms (a corpus file named
    # inside the corpus); the database's address and the server's paths go to the log only.
    # Whoever reports the failure logs `detail` (once: the watch retries a failing revision
    # quietly), so nothing is logged here.
    try:
        overlay = read_overlay(notes)
    except StorageError as exc:
        raise ReindexFailed(
            ["the notes made in chat cannot be read: the database is unavailable (see the log)"],
            f"the notes made in chat cannot be read: {exc}",
        ) from exc
    try:
        return build_from_corpus(settings, store, embedder, overlay, previous)
    except CorpusInvalid as exc:
        raise ReindexFailed(
            [p.relative_to(settings.corpus_dir) for p in exc.problems],
            f"the corpus has {len(exc.problems)} problem(s): "
            + "; ".join(str(p) for p in exc.problems),
        ) from exc
    except (IndexProblem, OSError) as exc:
        raise ReindexFailed(
            [f"building the index failed on the server ({type(exc).__name__}; see the log)"],
            f"building the index failed: {exc}",
        ) from exc


def load_or_build(
    settings: Settings, store: IndexStore, embedder: Embedder, notes: NoteSource | None = None
) -> LoadedIndex:
    """The published index if it is intact and current; otherwise rebuild it, saying why.

    A stale index whose corpus cannot be rebuilt (a broken file) keeps serving, with a warning.
    When the notes database is down, a published index serves as it is (the watch catches up
    with the database later), and a first build is made from the files alone.
    """
    try:
        overlay = read_overlay(notes)
        notes_known = True
    except StorageError as exc:
        log.warning("the notes made in chat cannot be read now (%s): serving without them", exc)
        overlay, notes_known = None, False
    try:
        index = store.load()
    except IndexMissing:
        return _build_or_explain(
            settings, store, embedder, f"no index under {store.root} yet", overlay
        )
    except IndexProblem as exc:
        return _build_or_explain(settings, store, embedder, str(exc), overlay)
    try:
        current_hash: str | None = (
            corpus_hash(settings.corpus_dir, overlay) if notes_known else None
        )
    except OSError:
        current_hash = None
    reason = store.staleness(index.manifest, embedder.name, chunking_config(settings), current_hash)
    if reason is None and index.manifest["dimension"] != embedder.dimension:
        reason = "the embedding dimension changed"
    if reason is None:
        return index
    log.warning("index %s is stale (%s): rebuilding", index.version, reason)
    try:
        return build_from_corpus(settings, store, embedder, overlay, index)
    except CorpusInvalid as exc:
        log.warning(
            "cannot rebuild, the corpus has %d problem(s): %s; still serving index %s",
            len(exc.problems),
            _summarise(exc.problems),
            index.version,
        )
        return index


def load_published(store: IndexStore, embedder: Embedder) -> LoadedIndex | None:
    """The build another process published, or None (logged) when it cannot serve here."""
    try:
        index = store.load()
    except IndexProblem as exc:
        log.warning("ignoring the published index: %s", exc)
        return None
    if index.manifest["model"] != embedder.name:
        log.warning("ignoring published index %s: built with another model", index.version)
        return None
    return index


def _build_or_explain(
    settings: Settings,
    store: IndexStore,
    embedder: Embedder,
    why: str,
    overlay: NoteOverlay | None = None,
) -> LoadedIndex:
    """Build a first or replacement index; one operator line (`IndexUnavailable`) on failure."""
    try:
        index = build_from_corpus(settings, store, embedder, overlay)
    except CorpusInvalid as exc:
        raise IndexUnavailable(
            f"{why}, and the corpus in {settings.corpus_dir} cannot be indexed: "
            f"{_summarise(exc.problems)}. Fix it (see `factbot corpus check`), then run `factbot index`."
        ) from exc
    except IndexProblem as exc:
        raise IndexUnavailable(f"{why}, and building a new index failed: {exc}") from exc
    log.warning("%s: built index %s from %s", why, index.version, settings.corpus_dir)
    return index


def _summarise(problems: Sequence[object], limit: int = 3) -> str:
    shown = "; ".join(str(p) for p in problems[:limit])
    more = len(problems) - limit
    return shown + (f" (+{more} more)" if more > 0 else "")
