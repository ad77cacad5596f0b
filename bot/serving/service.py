"""The async face of the answering core, shared by every chat adapter and the console.

`FactBotService` owns the current `Engine` (one immutable index + the embedder) and composes:
- the micro-batcher (`bot/serving/batcher.py`), which answers questions off the event loop on the
  answering workers (ANSWER_WORKERS);
- reindexing: the index is rebuilt in a worker thread while questions keep being answered from
  the old one, the new one is swapped in with one assignment, and concurrent `/reindex` calls
  share one build;
- index watching: a rebuild made by another process sharing `INDEX_DIR` is hot-swapped in, and a
  newer notes revision in the database is rebuilt here: a burst of changes once it is quiet for
  INDEX_REBUILD_DEBOUNCE_SECONDS (one rebuild), and a revision that fails to build is retried
  less and less often (up to INDEX_RETRY_MAX_SECONDS apart) with one log line, not two a poll.

Users' text reaches it through the intake (`bot/serving/intake.py`), which cleans and rate-limits it.
It imports neither discord nor slack: adapters call it and render what it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import time
from collections.abc import Callable, Sequence
from typing import Literal, Protocol

from bot.answer import Answer, FactCheckRef, Language
from bot.answering.changes import IndexChanges, diff_indexes
from bot.answering.conversation import Turn
from bot.answering.engine import Engine
from bot.answering.index_lifecycle import ReindexFailed, RetryBackoff
from bot.answering.status import DocumentInfo, IndexInfo, ReindexReport
from bot.notes.desk import NoteDesk
from bot.notes.records import Moderator
from bot.serving.batcher import MAX_BATCH, MicroBatcher, worker_plan
from bot.serving.moderation import ModeratorCooldown
from bot.settings import Settings
from bot.storage.errors import StorageError
from bot.storage.notes import NoteRepository

__all__ = [
    "MAX_BATCH",
    "DocumentInfo",
    "FactBotService",
    "IndexInfo",
    "ReindexFailed",
    "ReindexReport",
    "ServiceObserver",
    "worker_plan",
]

log = logging.getLogger("factbot.service")

# A watch that keeps seeing newer revisions rebuilds after this many debounce windows anyway.
MAX_DEBOUNCE_WINDOWS = 10

ReindexResult = Literal["ok", "failed", "coalesced"]


class ServiceObserver(Protocol):
    """Sees the service's life (metrics): the index served, reindexes, micro-batches."""

    def on_index(self, info: IndexInfo) -> None:
        """The index now served: when the observer is added, then after every swap."""

    def on_reindex(self, seconds: float | None, result: ReindexResult) -> None:
        """A `/reindex` finished: built ("ok"), failed, or joined a running build."""

    def on_changes(self, changes: IndexChanges) -> None:
        """A new index is served (a rebuild here, or another process's build swapped in):
        what it changed. Notes and documents that changed are events to act on."""

    def on_batch(self, size: int) -> None:
        """A micro-batch of `size` questions is being answered (on a worker thread)."""


class FactBotService:
    """Questions in, `Answer`s out; reindexing and hot-swap behind the scenes."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        max_batch: int = MAX_BATCH,
        workers: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._engine = engine
        self.batcher = MicroBatcher(
            lambda: self._engine,
            settings.answer_workers if workers is None else workers,
            max_batch,
        )
        self._reindex_task: asyncio.Task[ReindexReport] | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._observers: list[ServiceObserver] = []
        self._notes_down = False
        # One bucket per moderator for note saves and /reindex (bot/serving/moderation.py).
        self.moderators = ModeratorCooldown.for_settings(settings)
        self._watch_failing = False
        # A notes revision that failed to build: retried after one watch interval, then twice
        # as long each time, up to INDEX_RETRY_MAX_SECONDS.
        self.retry = RetryBackoff(
            max(settings.index_watch_seconds, 1.0), settings.index_retry_max_seconds, clock
        )
        # Moderators' note commands, when the engine reads notes from a database.
        self.notes: NoteDesk | None = (
            NoteDesk(self, engine.notes) if isinstance(engine.notes, NoteRepository) else None
        )
        _set_aside_long_lived()

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_settings(cls, settings: Settings) -> FactBotService:
        """Load (or build on first use) the index and the model, with the notes made in chat
        (DATABASE_URL). Blocking: call before the loop starts or through `asyncio.to_thread`.
        Raises `StorageError` (one line) for a DATABASE_URL that is not a database URL."""
        return cls(settings, Engine.open(settings, NoteRepository.from_settings(settings)))

    @property
    def engine(self) -> Engine:
        return self._engine

    def add_observer(self, observer: ServiceObserver) -> None:
        """Report to `observer` from now on, starting with the index being served."""
        self._observers.append(observer)
        self.batcher.on_batch = self._batch_taken
        self._notify(lambda o: o.on_index(self.info()), [observer])

    def _notify(
        self,
        event: Callable[[ServiceObserver], None],
        observers: list[ServiceObserver] | None = None,
    ) -> None:
        for observer in self._observers if observers is None else observers:
            try:
                event(observer)
            except Exception:  # an observer's bug must not cost anyone an answer
                log.exception("service observer %r failed", observer)

    def _batch_taken(self, size: int) -> None:
        self._notify(lambda o: o.on_batch(size))

    # ------------------------------------------------------------------ questions

    async def ask(self, question: str, history: Sequence[str | Turn] = ()) -> Answer:
        """Answer one cleaned question, read in its conversation (`history`, oldest first; the
        intake cleans and checks what users type)."""
        # Reading the question (language, context, gloss) here, on the loop, overlaps with the
        # workers' encoding.
        return await self.batcher.answer(self._engine.prepare(question, history))

    async def factchecks(
        self, topic: str | None = None, language: Language = "en"
    ) -> list[FactCheckRef]:
        """All notes (no topic), or the notes that best match the cleaned `topic`, summarised
        in `language`."""
        if topic:
            return await asyncio.to_thread(self._engine.search_factchecks, topic, language)
        return self._engine.all_factchecks(language)

    def info(self) -> IndexInfo:
        """Documents, note count, index version, model and build time."""
        return self._engine.info()

    # ------------------------------------------------------------------ reindex

    async def reindex(
        self, actor: str, by: Moderator | None = None, *, quiet: bool = False
    ) -> ReindexReport:
        """Rebuild from the corpus; concurrent calls share one build. Raises `ReindexFailed`.

        A moderator's `/reindex` passes `by`: it is charged to their cooldown first, and raises
        `bot.serving.moderation.TooSoon` (nothing rebuilt) when that has run out. `quiet`: the caller
        logs a failure itself (the watch, once per failing revision)."""
        if by is not None:
            self.moderators.charge(by)
        if self._reindex_task is not None and not self._reindex_task.done():
            log.info("reindex requested by %s joins the build already running", actor)
            try:
                report = await asyncio.shield(self._reindex_task)
            finally:
                self._notify(lambda o: o.on_reindex(None, "coalesced"))
            return dataclasses.replace(report, coalesced=True)
        self._reindex_task = asyncio.get_running_loop().create_task(self._reindex(actor, quiet))
        return await asyncio.shield(self._reindex_task)

    async def _reindex(self, actor: str, quiet: bool = False) -> ReindexReport:
        old = self._engine
        started = time.perf_counter()
        log.log(
            logging.DEBUG if quiet else logging.INFO,
            "reindex started by %s (serving %s meanwhile)",
            actor,
            old.version,
        )
        try:
            new = await asyncio.to_thread(old.rebuilt)
        except ReindexFailed as exc:
            if not quiet:
                log.warning(
                    "reindex by %s failed, still serving %s: %s", actor, old.version, exc.detail
                )
            failed = time.perf_counter() - started
            self._notify(lambda o: o.on_reindex(failed, "failed"))
            raise
        seconds = time.perf_counter() - started
        self._engine = new  # one reference swap: in-flight questions finish on the old engine
        _set_aside_long_lived()
        self._notify(lambda o: o.on_reindex(seconds, "ok"))
        self._notify(lambda o: o.on_index(new.info()))
        changes = diff_indexes(old.index, new.index)
        self._notify(lambda o: o.on_changes(changes))
        log.info(
            "reindex by %s done in %.1fs: %s -> %s, %d chunks; %s",
            actor,
            seconds,
            old.version,
            new.version,
            new.chunk_count,
            "; ".join(changes.lines("en")) or "no content change",
        )
        return ReindexReport(changes, seconds)

    # ------------------------------------------------------------------ other processes

    def start_watching(self) -> None:
        """Poll `INDEX_DIR` for an index built by another process and hot-swap it in."""
        if self._watch_task is None and self.settings.index_watch_seconds > 0:
            self._watch_task = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.settings.index_watch_seconds)
            try:
                # A build published in a shared INDEX_DIR first: it may already hold the notes.
                await self.check_for_new_index()
                await self.check_for_new_notes()
            except Exception:
                # Once with the traceback, then quiet until a check goes through again.
                if not self._watch_failing:
                    log.exception(
                        "checking for a new index or notes failed; still serving %s (said "
                        "once until it works again)",
                        self._engine.version,
                    )
                self._watch_failing = True
            else:
                if self._watch_failing:
                    log.info("checking for a new index or notes works again")
                self._watch_failing = False

    async def check_for_new_notes(self) -> bool:
        """Rebuild when the notes database has a revision the served index was not built with
        (a note changed from chat, here or on another host). True when rebuilt.

        Debounced: the revision must stay the same for INDEX_REBUILD_DEBOUNCE_SECONDS first, so
        a burst of saves is one rebuild. A revision that fails to build is logged once, then
        retried quietly, less and less often (`retry`), until it builds or a newer one comes."""
        engine = self._engine
        if engine.notes is None:
            return False
        revision = await self._notes_revision(engine)
        if revision is None or revision == engine.notes_revision or self._building():
            return False  # a running build: the next check sees whether it was enough
        if not self.retry.ready(revision):
            return False  # failed moments ago: backing off
        revision = await self._settled(engine, revision)
        if revision is None or revision == engine.notes_revision or self._building():
            return False
        try:
            await self.reindex(actor=f"notes revision {revision}", quiet=True)
        except ReindexFailed as exc:
            if self.retry.failed(revision):
                log.warning(
                    "notes revision %d does not build, still serving %s: %s; retrying in %.0f s, "
                    "then less and less often (at most every %.0f s), without logging each try",
                    revision,
                    engine.version,
                    exc.detail,
                    self.retry.delay,
                    self.retry.cap,
                )
            return False
        self.retry.succeeded()
        return True

    async def _notes_revision(self, engine: Engine) -> int | None:
        """The database's newest notes revision; None (logged once) while it is unreachable."""
        assert engine.notes is not None
        try:
            revision = await asyncio.to_thread(engine.notes.revision)
        except StorageError as exc:
            if not self._notes_down:
                log.warning(
                    "notes database unreachable (%s); still serving %s", exc, engine.version
                )
            self._notes_down = True
            return None
        if self._notes_down:
            log.info("notes database reachable again")
            self._notes_down = False
        return revision

    async def _settled(self, engine: Engine, revision: int) -> int | None:
        """`revision`, or the newer one the database reaches once it has not changed for one
        debounce window (at most MAX_DEBOUNCE_WINDOWS: a steady stream still gets built)."""
        window = self.settings.index_rebuild_debounce_seconds
        if window <= 0:
            return revision
        for _ in range(MAX_DEBOUNCE_WINDOWS):
            await asyncio.sleep(window)
            latest = await self._notes_revision(engine)
            if latest is None or latest == revision:
                return latest
            revision = latest
        return revision

    def _building(self) -> bool:
        return self._reindex_task is not None and not self._reindex_task.done()

    async def check_for_new_index(self) -> bool:
        """Swap in the index another process published, if any. True when swapped."""
        engine = self._engine
        if engine.published_version() in (None, engine.version):
            return False
        if self._reindex_task is not None and not self._reindex_task.done():
            return False
        new = await asyncio.to_thread(engine.reloaded)
        if new is None or new.version == engine.version:
            return False
        self._engine = new
        _set_aside_long_lived()
        log.info(
            "hot-swapped index %s -> %s (published by another process)", engine.version, new.version
        )
        self._notify(lambda o: o.on_index(new.info()))
        changes = diff_indexes(engine.index, new.index)
        self._notify(lambda o: o.on_changes(changes))
        return True

    async def aclose(self) -> None:
        """Stop watching, and wait for the answering workers to finish what they hold."""
        task = self._watch_task
        if task is not None and not task.done():
            task.cancel()
            if task.get_loop() is asyncio.get_running_loop():
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.batcher.close()


def _set_aside_long_lived() -> None:
    """Hide what is alive now (mostly the engine just loaded: index, lexicon, glossary, kept
    until the next swap) from the cyclic garbage collector. Under load a full collection otherwise
    walks all of it while holding the GIL (one of 61 ms in 6.4 s of 64 askers, none with this;
    benchmarks/README.md). Unfrozen first, so that whatever the engine before left in reference
    cycles is collected again."""
    gc.unfreeze()
    gc.freeze()
