"""A background thread that writes rows in batches, so no write sits on the answering path.

`put()` appends to a bounded in-memory buffer and returns at once. The thread takes up to
`batch_size` rows at a time (waiting `interval` seconds for more to gather) and hands them to
`write`. While the database is down (`write` or `prepare` raises a `StorageError`) the rows stay
buffered: one log line when it goes down, retries with exponential backoff, one line when it is
back. Any other exception is a row the database will never take (a lone surrogate, a value out
of range, a bug): the batch is written again row by row, and each row that still fails is
dropped and counted (`WriterStats.rejected`, with a warning), so one bad row never blocks the
others. A full buffer drops its oldest rows and says how many. `flush()` waits until everything
buffered is written; `close()` flushes and stops the thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from bot.storage.database import describe  # SQL errors in one line (the writer runs no SQL)
from bot.storage.errors import SchemaTooNew, StorageError

log = logging.getLogger("factbot.storage")

T = TypeVar("T")

DROP_WARNING_EVERY = 60.0  # seconds between two "dropped N rows" warnings


@dataclass(frozen=True)
class WriterStats:
    buffered: int
    written: int
    dropped: int
    failures: int
    state: str  # "starting", "up", "down", "disabled" (schema too new), "closed"
    rejected: int = 0  # rows dropped because they could not be written (not an outage)


class BatchWriter(Generic[T]):
    """Buffers items and writes them from one daemon thread; never raises to the caller."""

    def __init__(
        self,
        write: Callable[[list[T]], None],
        *,
        prepare: Callable[[], None] = lambda: None,
        capacity: int = 10_000,
        batch_size: int = 500,
        interval: float = 0.25,
        retry_min: float = 0.5,
        retry_max: float = 30.0,
        name: str = "factbot-store-writer",
    ) -> None:
        self._write = write
        self._prepare = prepare
        self._capacity = max(1, capacity)
        self._batch_size = max(1, batch_size)
        self._interval = interval
        self._retry_min, self._retry_max = retry_min, retry_max
        self._buf: deque[T] = deque()
        self._cond = threading.Condition()
        # The batch being written: still "pending" for a reader (a vote on an answer whose row
        # is in it must wait for it, not be told the answer expired).
        self._inflight: list[T] = []
        self._written = self._dropped = self._failures = self._rejected = 0
        self._dropped_reported = 0
        self._last_drop_warning = 0.0
        self._last_reject_warning = 0.0
        self._state = "starting"
        self._closing = False
        self._flushing = 0
        self._ready_event = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wait_ready(self, timeout: float) -> bool:
        """Wait until the first connection was tried; True if the database is up."""
        self._ready_event.wait(timeout)
        return self._state == "up"

    # ------------------------------------------------------------------ producer side

    def put(self, item: T) -> None:
        """Buffer one item; O(1), never blocks on the database, never raises."""
        with self._cond:
            if self._state in ("disabled", "closed"):
                self._dropped += 1
                return
            if len(self._buf) >= self._capacity:
                self._buf.popleft()
                self._dropped += 1
                self._warn_dropped()
            self._buf.append(item)
            # Wake the writer when work appears or a batch is full; in between it is either
            # gathering a batch (timed wait) or backing off.
            if len(self._buf) == 1 or len(self._buf) >= self._batch_size:
                self._cond.notify()

    def pending(self) -> list[T]:
        """A snapshot of the items not written yet: the batch being written, then the buffer."""
        with self._cond:
            return [*self._inflight, *self._buf]

    def stats(self) -> WriterStats:
        with self._cond:
            return WriterStats(
                len(self._buf) + len(self._inflight),
                self._written,
                self._dropped,
                self._failures,
                self._state,
                self._rejected,
            )

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every item buffered so far is written; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._flushing += 1
            self._cond.notify_all()
            try:
                while self._buf or self._inflight:
                    if self._state in ("disabled", "closed") or not self._thread.is_alive():
                        return False
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._cond.wait(min(remaining, 0.5))
                return True
            finally:
                self._flushing -= 1

    def close(self, timeout: float = 5.0) -> int:
        """Flush for at most `timeout` seconds, stop the thread; return the items left unwritten."""
        if self._thread.is_alive():
            self.flush(timeout)
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=max(1.0, timeout))
        with self._cond:
            left = len(self._buf) + len(self._inflight)
            self._state = "closed"
        if left:
            log.warning("storage: closed with %d row(s) not written (database unreachable)", left)
        return left

    def _warn_dropped(self) -> None:
        now = time.monotonic()
        if self._dropped_reported == 0 or now - self._last_drop_warning >= DROP_WARNING_EVERY:
            log.warning(
                "storage: buffer full (%d rows): dropped the oldest, %d row(s) lost so far",
                self._capacity,
                self._dropped,
            )
            self._dropped_reported = self._dropped
            self._last_drop_warning = now

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        delay = self._retry_min
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            try:
                if self._state != "up":
                    self._prepare()
                written, outage = self._write_isolating(batch)
            except SchemaTooNew as exc:
                self._disable(str(exc))
                return
            except Exception as exc:  # the first connection or migration failed: an outage
                written, outage = 0, (batch, exc)
            if outage is not None:
                self._requeue(*outage, written=written)
                if not self._backoff(delay):
                    return
                delay = min(delay * 2, self._retry_max)
                continue
            delay = self._retry_min
            with self._cond:
                self._written += written
                self._inflight = []
                self._cond.notify_all()
            if self._state != "up":  # up only once a write (or the first connection) succeeded
                self._set_up(len(batch))

    def _write_isolating(self, batch: list[T]) -> tuple[int, tuple[list[T], Exception] | None]:
        """Write `batch`; on a failure that is not an outage, write it row by row and drop the
        rows that fail. Returns the rows written, and the rows left with the outage (a
        `StorageError`) that stopped the writing, if one did."""
        if not batch:
            return 0, None
        try:
            self._write(batch)
            return len(batch), None
        except StorageError as exc:
            return 0, (batch, exc)
        except Exception as exc:
            if len(batch) > 1:
                log.warning(
                    "storage: a batch of %d rows failed (%s); writing its rows one by one",
                    len(batch),
                    _one_line(exc),
                )
            failed: Exception | None = exc if len(batch) == 1 else None
        written = 0
        for i, item in enumerate(batch):
            if failed is None:
                try:
                    self._write([item])
                    written += 1
                    continue
                except StorageError as exc:
                    return written, (batch[i:], exc)
                except Exception as exc:
                    failed = exc
            self._reject(failed)
            failed = None
        return written, None

    def _reject(self, exc: BaseException) -> None:
        """Drop one row the database will not take, count it, and say so (at most one line a
        minute once rows keep failing, each with the count so far)."""
        now = time.monotonic()
        with self._cond:
            self._rejected += 1
            rejected = self._rejected
            warn = rejected == 1 or now - self._last_reject_warning >= DROP_WARNING_EVERY
            if warn:
                self._last_reject_warning = now
        if warn:
            log.warning(
                "storage: dropped a row that cannot be written (%s); %d row(s) dropped so far",
                _one_line(exc),
                rejected,
            )

    def _next_batch(self) -> list[T] | None:
        """Wait for a batch to gather (or a flush); None: stop."""
        with self._cond:
            gathering_since: float | None = None
            while True:
                if self._closing:
                    if not self._buf or self._state != "up":
                        return None
                    break
                now = time.monotonic()
                if self._state != "up" and gathering_since is None:
                    break  # first connection attempt, or a retry after a backoff
                if self._buf:
                    if gathering_since is None:
                        gathering_since = now
                    if (
                        len(self._buf) >= self._batch_size
                        or self._flushing
                        or now - gathering_since >= self._interval
                    ):
                        break
                    self._cond.wait(self._interval - (now - gathering_since))
                    continue
                self._cond.wait()
            n = min(len(self._buf), self._batch_size)
            batch = [self._buf.popleft() for _ in range(n)]
            self._inflight = batch
            return batch

    def _set_up(self, written: int) -> None:
        with self._cond:
            was = self._state
            self._state = "up"
            backlog = len(self._buf) + written
        if was == "down":
            log.warning("storage: database reachable again, writing %d buffered row(s)", backlog)
        self._ready_event.set()

    def _requeue(self, batch: list[T], exc: Exception, written: int = 0) -> None:
        """Put a failed batch (or what is left of it) back at the front (oldest first), within
        capacity; `written`: rows of it written before the outage."""
        reason = _one_line(exc)
        with self._cond:
            self._written += written
            self._failures += 1
            first = self._state != "down"
            self._state = "down"
            room = self._capacity - len(self._buf)
            keep = batch[len(batch) - room :] if len(batch) > room else batch
            lost = len(batch) - len(keep)
            if lost > 0:
                self._dropped += lost
                self._warn_dropped()
            self._buf.extendleft(reversed(keep))
            self._inflight = []
            buffered = len(self._buf)
            self._cond.notify_all()
        if first:
            # One line per outage, not one per retry.
            log.warning(
                "storage: %s; the bot keeps answering, %d row(s) buffered (at most %d), retrying",
                reason,
                buffered,
                self._capacity,
            )
        self._ready_event.set()

    def _backoff(self, delay: float) -> bool:
        """Sleep `delay` unless closing; False when the writer must stop."""
        with self._cond:
            self._cond.wait_for(lambda: self._closing, timeout=delay)
            return not self._closing

    def _disable(self, message: str) -> None:
        with self._cond:
            lost = len(self._buf) + len(self._inflight)
            self._dropped += lost
            self._buf.clear()
            self._inflight = []
            self._state = "disabled"
            self._cond.notify_all()
        log.error("storage: %s; questions are not logged until then", message)
        self._ready_event.set()


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, StorageError):
        return str(exc)
    return f"{type(exc).__name__}: {describe(exc)}"
