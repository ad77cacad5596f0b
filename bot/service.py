"""The async face of the answering core, shared by every chat adapter.

`FactBotService` owns the current `Engine` (one immutable index + the embedder) and:
- answers questions off the event loop on its answering workers (ANSWER_WORKERS), micro-batching
  questions that arrive together;
- rebuilds the index in a worker thread while questions keep being answered from the old one,
  swaps the new one in with one assignment, and coalesces concurrent `/reindex` calls;
- notices a rebuild made by another process sharing `INDEX_DIR` and hot-swaps it in.

It imports neither discord nor slack: adapters call it and render what it returns.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.answer import Answer, FactCheckRef, Language
from bot.engine import Engine, Prepared, prepare
from bot.index_lifecycle import ReindexFailed
from bot.questions import QuestionRejected, clean_question
from bot.settings import Settings
from bot.status import DocumentInfo, IndexInfo, ReindexReport

__all__ = [
    "DocumentInfo",
    "FactBotService",
    "IndexInfo",
    "QuestionRejected",
    "ReindexFailed",
    "ReindexReport",
]

log = logging.getLogger("factbot.service")

MAX_BATCH = 64
# After a batch, wait for the askers it answered to ask again before taking the next one, as long
# as they keep arriving less than LINGER_SECONDS apart and for at most LINGER_CAP_SECONDS in all:
# closed-loop askers otherwise split into ever smaller cohorts, and the encoder is ~10% less
# efficient at 32 than at 64 (benchmarks/results/summary.md). A question arriving on an idle bot
# never waits.
LINGER_SECONDS = 0.003
LINGER_CAP_SECONDS = 0.02


def worker_plan(workers: int, max_threads: int) -> tuple[int, int]:
    """How many answering workers to run, and the threads each one's encode gets while others
    may run: never more workers than the encoder's threads (EMBED_THREADS=1 keeps one worker),
    and an even share of them each."""
    count = max(1, min(workers, max_threads))
    return count, max(1, max_threads // count)


@dataclass
class _Pending:
    question: Prepared
    future: asyncio.Future[Answer]
    loop: asyncio.AbstractEventLoop = field(repr=False)


class FactBotService:
    """Questions in, `Answer`s out; reindexing and hot-swap behind the scenes."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        max_batch: int = MAX_BATCH,
        workers: int | None = None,
    ) -> None:
        self.settings = settings
        self._engine = engine
        self._max_batch = max(1, max_batch)  # 1 = one question at a time (benchmarks compare)
        self._workers, self._narrow = worker_plan(
            settings.answer_workers if workers is None else workers, engine.embedder.max_threads
        )
        self._pool = concurrent.futures.ThreadPoolExecutor(
            self._workers, thread_name_prefix="factbot-ask"
        )
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._pending: list[_Pending] = []
        self._running = 0  # drain loops started and not yet returned
        self._in_flight = 0  # questions taken by a worker and not yet answered
        self._reindex_task: asyncio.Task[ReindexReport] | None = None
        self._watch_task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_settings(cls, settings: Settings) -> FactBotService:
        """Load (or build on first use) the index and the model. Blocking: call before the loop
        starts or through `asyncio.to_thread`."""
        return cls(settings, Engine.open(settings))

    @property
    def engine(self) -> Engine:
        return self._engine

    # ------------------------------------------------------------------ questions

    async def ask(self, question: str) -> Answer:
        """Answer one question (raises `QuestionRejected` for empty or over-long input)."""
        text = clean_question(question, self.settings.max_question_chars)
        loop = asyncio.get_running_loop()
        # Language and gloss here, on the loop, overlap with the workers' encoding.
        item = _Pending(prepare(text, self.settings), loop.create_future(), loop)
        with self._lock:
            self._pending.append(item)
            start = self._running < self._workers
            self._running += start
            self._arrived.notify_all()  # every lingering worker extends its wait
        if start:
            self._pool.submit(self._drain)
        return await item.future

    # Why several workers: an encode keeps both cores of these machines busy only while it
    # runs; the retrieval that follows is single-threaded Python, and a two-thread encode
    # stalls whenever the other core is taken (the event loop, retrieval). Two workers with one
    # thread each encode side by side, and each one's retrieval overlaps the other's encode
    # (64 askers: 221 vs 199 q/s, measured; README "Benchmarks").

    def _drain(self) -> None:
        # Runs in a worker thread: answers questions in batches until none is left. Questions
        # arriving while the workers encode are answered together in a next batch.
        last = 0
        while True:
            with self._lock:
                self._linger(last)
                batch, threads = self._take()
                if not batch:
                    self._running -= 1
                    return
                # Leave the rest to an idle worker rather than to this one's next turn.
                helper = bool(self._pending) and self._running < self._workers
                self._running += helper
            if helper:
                self._pool.submit(self._drain)
            last = len(batch)
            self._answer(batch, threads)

    def _linger(self, last: int) -> None:
        """Wait (lock held) for the `last` askers this worker just answered to ask again, up to
        its fair share of all the questions in play (see LINGER_SECONDS)."""
        queued = len(self._pending)
        share = math.ceil((queued + last + self._in_flight) / self._workers)
        want = min(self._max_batch, queued + last, share)
        started = time.monotonic()
        deadline, seen = started + LINGER_SECONDS, queued
        while (queued := len(self._pending)) < want:
            now = time.monotonic()
            if queued > seen:  # still arriving: extend, within the cap
                deadline = min(now + LINGER_SECONDS, started + LINGER_CAP_SECONDS)
                seen = queued
            if deadline <= now:
                return
            self._arrived.wait(deadline - now)

    def _take(self) -> tuple[list[_Pending], int]:
        """The next batch (lock held): this worker's fair share of the queued and in-flight
        questions, and the threads its encode may use: all of them for a lone batch, an even
        share while other workers run or could run."""
        queued = len(self._pending)
        share = math.ceil((queued + self._in_flight) / self._workers)
        batch = self._pending[: min(self._max_batch, share)]
        del self._pending[: len(batch)]
        alone = not self._pending and self._in_flight == 0
        self._in_flight += len(batch)
        return batch, self._engine.embedder.max_threads if alone else self._narrow

    def _answer(self, batch: list[_Pending], threads: int) -> None:
        engine = self._engine
        try:
            with engine.embedder.thread_limit(threads):
                answers = engine.answer_many([p.question for p in batch])
        except Exception as exc:  # a failure answers every waiter, never loses one
            log.exception("answering a batch of %d failed", len(batch))
            for p in batch:
                _deliver(p, _set_exception, exc)
            return
        finally:
            with self._lock:
                self._in_flight -= len(batch)
        for p, a in zip(batch, answers, strict=True):
            _deliver(p, _set_result, a)

    async def factchecks(
        self, topic: str | None = None, language: Language | None = None
    ) -> list[FactCheckRef]:
        """All notes (no topic), or the notes that best match `topic`."""
        if topic is not None and topic.strip():
            topic = clean_question(topic, self.settings.max_question_chars)
            return await asyncio.to_thread(self._engine.search_factchecks, topic, language)
        return self._engine.all_factchecks(language or "en")

    def info(self) -> IndexInfo:
        """Documents, note count, index version, model and build time."""
        return self._engine.info()

    # ------------------------------------------------------------------ reindex

    async def reindex(self, actor: str) -> ReindexReport:
        """Rebuild from the corpus; concurrent calls share one build. Raises `ReindexFailed`."""
        if self._reindex_task is not None and not self._reindex_task.done():
            log.info("reindex requested by %s joins the build already running", actor)
            report = await asyncio.shield(self._reindex_task)
            return ReindexReport(
                report.version,
                report.previous_version,
                report.chunk_count,
                report.seconds,
                report.changes,
                coalesced=True,
            )
        self._reindex_task = asyncio.get_running_loop().create_task(self._reindex(actor))
        return await asyncio.shield(self._reindex_task)

    async def _reindex(self, actor: str) -> ReindexReport:
        old = self._engine
        started = time.perf_counter()
        log.info("reindex started by %s (serving %s meanwhile)", actor, old.version)
        try:
            new = await asyncio.to_thread(old.rebuilt)
        except ReindexFailed as exc:
            log.warning("reindex by %s failed, still serving %s: %s", actor, old.version, exc)
            raise
        seconds = time.perf_counter() - started
        self._engine = new  # one reference swap: in-flight questions finish on the old engine
        changes = tuple(new.changes_since(old))
        log.info(
            "reindex by %s done in %.1fs: %s -> %s, %d chunks; %s",
            actor,
            seconds,
            old.version,
            new.version,
            new.chunk_count,
            "; ".join(changes),
        )
        return ReindexReport(new.version, old.version, new.chunk_count, seconds, changes)

    # ------------------------------------------------------------------ other processes

    def start_watching(self) -> None:
        """Poll `INDEX_DIR` for an index built by another process and hot-swap it in."""
        if self._watch_task is None and self.settings.index_watch_seconds > 0:
            self._watch_task = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.settings.index_watch_seconds)
            try:
                await self.check_for_new_index()
            except Exception:
                log.exception(
                    "checking INDEX_DIR for a new index failed; still serving %s",
                    self._engine.version,
                )

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
        log.info(
            "hot-swapped index %s -> %s (published by another process)", engine.version, new.version
        )
        return True

    async def aclose(self) -> None:
        if self._watch_task is not None:
            self._watch_task.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)


def _deliver(
    pending: _Pending, setter: Callable[[asyncio.Future[Answer], Any], None], value: Any
) -> None:
    """Hand a result to the asker's loop; a loop that has closed meanwhile must not stop the
    worker (it would leave every later question waiting)."""
    try:
        pending.loop.call_soon_threadsafe(setter, pending.future, value)
    except RuntimeError:
        log.debug("dropped an answer for a closed event loop")


def _set_result(future: asyncio.Future[Answer], answer: Answer) -> None:
    if not future.done():
        future.set_result(answer)


def _set_exception(future: asyncio.Future[Answer], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
