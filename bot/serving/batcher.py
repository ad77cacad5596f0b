"""The micro-batcher: answers questions off the event loop on a few worker threads, answering the
questions that arrive together in one batch (one encode for all of them).

Several workers with narrow encodes rather than one wide one, because an encode keeps both cores
busy only while it runs, and the retrieval after it is single-threaded; the figures behind that
and behind the linger are in benchmarks/README.md.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from bot.answer import Answer
    from bot.answering.engine import Prepared

__all__ = ["MAX_BATCH", "BatchEngine", "BatcherClosed", "MicroBatcher", "worker_plan"]

log = logging.getLogger("factbot.service")

MAX_BATCH = 64
# After a batch, wait for the askers it answered to ask again before taking the next one, as long
# as they keep arriving less than LINGER_SECONDS apart and for at most LINGER_CAP_SECONDS in all:
# closed-loop askers otherwise split into ever smaller cohorts (benchmarks/README.md). A question
# arriving on an idle bot never waits.
LINGER_SECONDS = 0.003
LINGER_CAP_SECONDS = 0.02


class ThreadLimitedEncoder(Protocol):
    """What the batcher needs of the embedder: how many threads an encode may use, and a way to
    narrow the encodes of the calling thread."""

    @property
    def max_threads(self) -> int: ...

    def thread_limit(self, threads: int) -> AbstractContextManager[None]: ...


class BatchEngine(Protocol):
    """What the batcher needs of the answering engine (`bot.answering.engine.Engine`, or a test's stand-in)."""

    @property
    def embedder(self) -> ThreadLimitedEncoder: ...

    def answer_many(self, questions: list[Prepared]) -> list[Answer]: ...


class BatcherClosed(RuntimeError):
    """A question arrived after `close()`."""


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


class MicroBatcher:
    """Prepared questions in, `Answer`s out, from whatever engine `engine()` returns at the time
    a batch is taken (the service swaps engines on reindex)."""

    def __init__(
        self, engine: Callable[[], BatchEngine], workers: int, max_batch: int = MAX_BATCH
    ) -> None:
        self._engine = engine
        self._max_batch = max(1, max_batch)  # 1 = one question at a time (benchmarks compare)
        self._workers, self._narrow = worker_plan(workers, engine().embedder.max_threads)
        self._pool = concurrent.futures.ThreadPoolExecutor(
            self._workers, thread_name_prefix="factbot-ask"
        )
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._pending: list[_Pending] = []
        self._running = 0  # drain loops started and not yet returned
        self._in_flight = 0  # questions taken by a worker and not yet answered
        self._closed = False
        # Called with each batch's size as a worker takes it (metrics); runs on that worker's
        # thread, so it must be quick and thread-safe.
        self.on_batch: Callable[[int], None] | None = None

    @property
    def queued(self) -> int:
        """Questions waiting for a worker."""
        with self._lock:
            return len(self._pending)

    @property
    def in_flight(self) -> int:
        """Questions a worker is answering."""
        with self._lock:
            return self._in_flight

    async def answer(self, question: Prepared) -> Answer:
        """Answer one question with the others that arrive meanwhile. Raises `BatcherClosed`
        after `close()`, and whatever the engine raised for the batch holding it."""
        loop = asyncio.get_running_loop()
        item = _Pending(question, loop.create_future(), loop)
        with self._lock:
            if self._closed:
                raise BatcherClosed("the answering workers are shut down")
            self._pending.append(item)
            start = self._running < self._workers
            self._running += start
            self._arrived.notify_all()  # every lingering worker extends its wait
        if start:
            self._start_worker()
        return await item.future

    async def close(self) -> None:
        """Take no more questions, let the workers answer those already queued, and wait for
        them to finish."""
        with self._lock:
            self._closed = True
        await asyncio.to_thread(self._pool.shutdown, wait=True)

    def _start_worker(self) -> None:
        try:
            self._pool.submit(self._drain)
        except RuntimeError:  # shut down meanwhile: the running workers drain the queue
            with self._lock:
                self._running -= 1
                orphans = [] if self._running else self._pending[:]
                del self._pending[: len(orphans)]
            closed = BatcherClosed("the answering workers are shut down")
            _deliver([(p, closed) for p in orphans])

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
                self._start_worker()
            last = len(batch)
            self._report(last)
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
        return batch, self._engine().embedder.max_threads if alone else self._narrow

    def _report(self, size: int) -> None:
        observer = self.on_batch
        if observer is None:
            return
        try:
            observer(size)
        except Exception:  # an observer's bug must not cost the batch its answers
            log.exception("batch observer %r failed", observer)

    def _answer(self, batch: list[_Pending], threads: int) -> None:
        engine = self._engine()
        try:
            with engine.embedder.thread_limit(threads):
                answers = engine.answer_many([p.question for p in batch])
        except Exception as exc:  # a failure answers every waiter, never loses one
            log.exception("answering a batch of %d failed", len(batch))
            _deliver([(p, exc) for p in batch])
            return
        finally:
            with self._lock:
                self._in_flight -= len(batch)
        _deliver(list(zip(batch, answers, strict=True)))


_Outcome = tuple[_Pending, "Answer | BaseException"]


def _deliver(outcomes: list[_Outcome]) -> None:
    """Hand answers (or the failure) to their askers' loops, one wake-up per loop and batch
    rather than one per answer; a loop that has closed meanwhile must not stop the worker (it
    would leave every later question waiting)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
    for outcome in outcomes:
        by_loop.setdefault(outcome[0].loop, []).append(outcome)
    for loop, mine in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, mine)
        except RuntimeError:
            log.debug("dropped %d answer(s) for a closed event loop", len(mine))


def _settle(outcomes: list[_Outcome]) -> None:
    for pending, outcome in outcomes:
        future = pending.future
        if future.done():
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
