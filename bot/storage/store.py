"""The store: the question log, feedback votes and thread memory behind one small interface.

    store = Store.from_settings(settings)
    store.start(wait=2.0)             # connects and migrates in the background writer
    answer_id = store.log_question(...)  # hot path: buffers a row, returns at once
    store.record_vote(answer_id, user_id, -1, "wrong date")  # a button press, off the loop
    store.remember_thread("discord", thread_id); store.is_bot_thread("discord", thread_id)
    store.close()

Question rows and remembered threads go through the `BatchWriter` (never a database round trip
on the answering path; a database that is down only delays them). Votes and thread look-ups
need an answer from the database, so they run synchronously: call them with
`asyncio.to_thread` from an event loop. They never raise for a database problem: a vote then
returns `VoteOutcome.UNAVAILABLE` and a thread look-up answers from memory.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, delete, func, select, update
from sqlalchemy.exc import SQLAlchemyError

from bot.community import Community
from bot.storage.database import Database, is_outage
from bot.storage.errors import StorageError, StoreUnavailable
from bot.storage.hashing import UserHasher, load_key
from bot.storage.loop import LoopRepository
from bot.storage.schema import (
    OUTCOMES,
    answer_votes,
    bot_threads,
    handoffs,
    note_revisions,
    notifications,
    question_log,
    subscriptions,
)
from bot.storage.values import as_utc, storable_text, utcnow
from bot.storage.writer import BatchWriter, WriterStats
from index.lru import LruCache

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger("factbot.storage")

Op = tuple[str, dict[str, Any]]  # ("question" | "thread", row)

# Longest texts kept; a rejected question may be far longer than MAX_QUESTION_CHARS.
MAX_QUESTION = 2000
MAX_REASON = 200
MAX_VOTE_REASON = 300
MAX_LEAD = 2000
MAX_ID = 64
ANSWER_ID_LENGTH = 16  # secrets.token_urlsafe(12)
# Threads kept in memory (the database holds them all): a bot in many busy channels opens
# threads without end, and an unbounded set would grow until the daily purge.
MAX_REMEMBERED_THREADS = 10_000
FIRST_PURGE_WITHIN = 60.0  # seconds after the start: not racing the start-up's first writes


class VoteOutcome(StrEnum):
    """What `record_vote` did; adapters turn each into a short private reply."""

    RECORDED = "recorded"  # a first vote, or the same vote again (perhaps with a reason)
    CHANGED = "changed"  # 👍 became 👎 or the reverse
    EXPIRED = "expired"  # unknown answer, or older than LOG_RETENTION_DAYS
    UNAVAILABLE = "unavailable"  # the database cannot be reached now


@dataclass(frozen=True)
class MemberRows:
    """What the store holds about one member, found by their keyed hash: their questions and
    their votes, and the note revisions credited to them (moderators' published work)."""

    questions: int
    votes: int
    note_revisions: int = 0
    subscriptions: int = 0
    handoffs: int = 0


@dataclass(frozen=True)
class PurgeResult:
    questions: int
    votes: int
    threads: int
    loop_rows: int = 0  # subscriptions, notifications and hand-offs


def new_answer_id() -> str:
    """A random public id for one answer (what the feedback buttons carry): 16 URL-safe chars."""
    return secrets.token_urlsafe(12)


def in_community(community: Community) -> Any:
    """The question rows of one server or workspace (a DM's row has no community: never)."""
    return and_(
        question_log.c.platform == community.platform,
        question_log.c.guild_id == community.id,
    )


def _clip(value: str | int | None, limit: int) -> str | None:
    if value is None:
        return None
    text = storable_text(str(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Store:
    """The question log, votes and thread memory of one bot process."""

    def __init__(
        self,
        database: Database,
        hasher: UserHasher,
        *,
        log_questions: bool = True,
        retention_days: int = 90,
        capacity: int = 10_000,
        batch_size: int = 500,
        interval: float = 0.25,
        retry_max: float = 30.0,
        purge_every: float = 86_400.0,
        max_threads: int = MAX_REMEMBERED_THREADS,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.database = database
        self._hash = hasher
        self.logging_enabled = log_questions
        self.retention = timedelta(days=retention_days)
        self._clock = clock
        # A memo of the database's bot_threads, bounded: the least recently used are forgotten
        # (and read back from the database when asked about again).
        self._threads: LruCache[tuple[str, str], bool] = LruCache(max_threads)
        self._threads_lock = threading.Lock()
        self._writer: BatchWriter[Op] = BatchWriter(
            self._write,
            prepare=database.ensure_ready,
            capacity=capacity,
            batch_size=batch_size,
            interval=interval,
            retry_max=retry_max,
        )
        # The retention purge runs on its own timer thread: a writer stuck on a batch (or
        # waiting for the database) never holds it back.
        self._purge_every = purge_every
        self._stop_purging = threading.Event()
        self._purger = threading.Thread(
            target=self._purge_loop, name="factbot-store-purge", daemon=True
        )
        self._started = False
        # Closing the loop (subscriptions, notifications, hand-offs): bot/storage/loop.py.
        self.loop = LoopRepository(database, hasher, clock)

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> Store:
        """The store `settings` describe; raises `StorageError` (one line) for a bad URL/key."""
        database = Database(settings.database_url)
        hasher = UserHasher(load_key(settings.user_hash_key, settings.user_hash_key_file))
        return cls(
            database,
            hasher,
            log_questions=settings.log_questions,
            retention_days=settings.log_retention_days,
            capacity=settings.store_buffer_rows,
            **options,
        )

    def start(self, wait: float = 0.0) -> bool:
        """Start the writer (it connects and migrates); wait up to `wait` s for the first try.

        Returns True when the database is up. When it is not, the writer has logged one line
        (unreachable, unwritable, or schema newer than the code) and the bot goes on.
        """
        if not self._started:
            self._started = True
            self._writer.start()
            self._purger.start()
        return self._writer.wait_ready(wait) if wait > 0 else self._writer.stats().state == "up"

    # ------------------------------------------------------------------ hot path

    def log_question(
        self,
        *,
        platform: str,
        user_id: str | int,
        question: str,
        outcome: str,
        guild_id: str | int | None = None,
        channel_id: str | int | None = None,
        language: str | None = None,
        reason: str | None = None,
        lead: str | None = None,
        note_ids: Iterable[str] = (),
        index_version: str | None = None,
        latency_ms: float | None = None,
        answer_id: str | None = None,
        asked_at: datetime | None = None,
        thread_id: str | int | None = None,
        quoted_ids: Iterable[str] | None = None,
        verdicts: dict[str, str] | None = None,
    ) -> str:
        """Buffer one question row and return its answer id; never touches the database."""
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")
        answer_id = answer_id or new_answer_id()
        if not self.logging_enabled:
            return answer_id
        self._writer.put(
            (
                "question",
                {
                    "answer_id": answer_id,
                    "asked_at": asked_at or self._clock(),
                    "platform": platform,
                    "guild_id": _clip(guild_id, MAX_ID),
                    # A DM (no server or workspace) keeps no channel: a DM channel id
                    # identifies its user, and the user hash already says whose row it is.
                    "channel_id": _clip(channel_id, MAX_ID) if guild_id is not None else None,
                    "user_hash": self._hash(platform, user_id),
                    "question": _clip(question, MAX_QUESTION),
                    "language": language,
                    "outcome": outcome,
                    "reason": _clip(reason, MAX_REASON),
                    "lead": _clip(lead, MAX_LEAD),
                    "note_ids": list(note_ids),
                    "index_version": _clip(index_version, MAX_ID),
                    "latency_ms": latency_ms,
                    # Where it was posted and what it said, to correct it later; a DM keeps
                    # no thread (its id identifies its user).
                    "thread_id": _clip(thread_id, MAX_ID) if guild_id is not None else None,
                    "quoted_ids": list(quoted_ids) if quoted_ids is not None else None,
                    "verdicts": dict(verdicts) if verdicts is not None else None,
                },
            )
        )
        return answer_id

    def answer_posted(self, answer_id: str, thread_id: str | int) -> None:
        """Say in which thread an answer was posted, when the adapter opened the thread after
        the answer was logged (buffered; a DM's row keeps no thread)."""
        if self.logging_enabled:
            self._writer.put(
                ("posted", {"answer_id": answer_id, "thread_id": _clip(thread_id, MAX_ID)})
            )

    def remember_thread(self, platform: str, thread_id: str | int) -> None:
        """Remember a thread the bot opened (kept in memory, written in the background)."""
        key = (platform, str(thread_id))
        with self._threads_lock:
            self._threads.put(key, True)
        self._writer.put(
            ("thread", {"platform": key[0], "thread_id": key[1], "created_at": self._clock()})
        )

    def remembers_thread(self, platform: str, thread_id: str | int) -> bool:
        """Is the thread known in memory (no database round trip: safe on an event loop)?"""
        with self._threads_lock:
            return self._threads.get((platform, str(thread_id))) is not None

    # ------------------------------------------------------------------ synchronous reads

    def is_bot_thread(self, platform: str, thread_id: str | int) -> bool:
        """Did the bot open this thread (in this process, or any process before a restart)?"""
        key = (platform, str(thread_id))
        with self._threads_lock:
            if self._threads.get(key) is not None:
                return True
        if self._writer_blocked():
            return False
        try:
            self.database.ensure_ready()
            with self.database.reading() as conn:
                found = conn.execute(
                    select(bot_threads.c.thread_id).where(
                        bot_threads.c.platform == key[0], bot_threads.c.thread_id == key[1]
                    )
                ).first()
        except (StorageError, SQLAlchemyError) as exc:
            log.warning("storage: thread look-up failed: %s", self._describe(exc))
            return False
        if found is not None:
            with self._threads_lock:
                self._threads.put(key, True)
        return found is not None

    def record_vote(
        self, answer_id: str, user_id: str | int, vote: int, reason: str | None = None
    ) -> VoteOutcome:
        """Record (or change) one user's 👍 (+1) or 👎 (-1) on one answer.

        A later call by the same user replaces the vote; `reason` (a 👎's short explanation)
        replaces the previous one, and is kept when a repeated vote brings none.
        """
        if vote not in (1, -1):
            raise ValueError(f"vote must be 1 or -1, got {vote!r}")
        if not answer_id or len(answer_id) > 32:
            return VoteOutcome.EXPIRED
        if self._writer_blocked():
            return VoteOutcome.UNAVAILABLE
        try:
            self.database.ensure_ready()
            outcome = self._vote(answer_id, user_id, vote, reason)
            if outcome is VoteOutcome.EXPIRED and self._is_buffered(answer_id):
                # The answer's row is still in the buffer (a fast click, or an outage).
                if not self._writer.flush(timeout=2.0):
                    return VoteOutcome.UNAVAILABLE
                outcome = self._vote(answer_id, user_id, vote, reason)
            return outcome
        except (StorageError, SQLAlchemyError) as exc:
            log.warning("storage: vote not recorded: %s", self._describe(exc))
            return VoteOutcome.UNAVAILABLE

    def _vote(
        self, answer_id: str, user_id: str | int, vote: int, reason: str | None
    ) -> VoteOutcome:
        q, v = question_log, answer_votes
        with self.database.writing() as conn, conn.begin():
            row = conn.execute(
                select(q.c.platform, q.c.asked_at).where(q.c.answer_id == answer_id)
            ).first()
            if row is None or as_utc(row.asked_at) < self._clock() - self.retention:
                return VoteOutcome.EXPIRED
            user_hash = self._hash(row.platform, user_id)
            previous = conn.execute(
                select(v.c.vote).where(v.c.answer_id == answer_id, v.c.user_hash == user_hash)
            ).scalar_one_or_none()
            stmt = self.database.insert(v).values(
                answer_id=answer_id,
                user_hash=user_hash,
                vote=vote,
                reason=_clip(reason.strip(), MAX_VOTE_REASON)
                if reason and reason.strip()
                else None,
                voted_at=self._clock(),
            )
            # INSERT ... ON CONFLICT DO UPDATE: the same statement on SQLite and PostgreSQL.
            stmt = stmt.on_conflict_do_update(
                index_elements=[v.c.answer_id, v.c.user_hash],
                set_={
                    "vote": stmt.excluded.vote,
                    "voted_at": stmt.excluded.voted_at,
                    "reason": case(
                        (
                            v.c.vote == stmt.excluded.vote,
                            func.coalesce(stmt.excluded.reason, v.c.reason),
                        ),
                        else_=stmt.excluded.reason,
                    ),
                },
            )
            conn.execute(stmt)
        if previous is not None and previous != vote:
            return VoteOutcome.CHANGED
        return VoteOutcome.RECORDED

    def _writer_blocked(self) -> bool:
        """The writer found the database down (or too new): answer at once rather than wait
        for another connection attempt (up to a connect timeout) on a button press."""
        return self._writer.stats().state in ("down", "disabled")

    def _is_buffered(self, answer_id: str) -> bool:
        return any(
            kind == "question" and row["answer_id"] == answer_id
            for kind, row in self._writer.pending()
        )

    def count_questions(self) -> int:
        """Rows in the question log (for tests, benchmarks and the status)."""
        self.database.ensure_ready()
        with self.database.reading() as conn:
            return int(conn.execute(select(func.count()).select_from(question_log)).scalar_one())

    # ------------------------------------------------------------------ one member's data

    def member_rows(self, platform: str, user_id: str | int) -> MemberRows:
        """Count what is kept about one member (their buffered rows written first)."""
        user_hash = self._hash(platform, user_id)
        self._flush_for_member()
        q, v, n, s, h = question_log, answer_votes, note_revisions, subscriptions, handoffs
        self.database.ensure_ready()
        with self.database.reading() as conn:

            def count(table: Any, column: Any) -> int:
                query = select(func.count()).select_from(table).where(column == user_hash)
                return int(conn.execute(query).scalar_one())

            return MemberRows(
                count(q, q.c.user_hash),
                count(v, v.c.user_hash),
                count(n, n.c.author_hash),
                count(s, s.c.user_hash),
                count(h, h.c.user_hash),
            )

    def _flush_for_member(self) -> None:
        """Write what is buffered first (a member's latest rows with the rest), briefly: a chat
        button has seconds to answer. A database the writer found down is one line at once."""
        if self._writer_blocked():
            raise StoreUnavailable(f"the database {self.database.display_url} is unreachable now")
        self._writer.flush(timeout=2.0)

    def erase_member(self, platform: str, user_id: str | int) -> MemberRows:
        """Delete one member's questions (with every vote on their answers, and what was kept
        to correct them), their votes, subscriptions (with the DM notifications kept for them)
        and hand-offs; returns what was deleted. Note revisions are not touched
        (bot/learning/privacy.py says why)."""
        user_hash = self._hash(platform, user_id)
        self._flush_for_member()
        q, v, s, n, h = question_log, answer_votes, subscriptions, notifications, handoffs
        self.database.ensure_ready()
        with self.database.writing() as conn, conn.begin():
            theirs = select(q.c.answer_id).where(q.c.user_hash == user_hash)
            conn.execute(delete(v).where(v.c.answer_id.in_(theirs)))
            votes = conn.execute(delete(v).where(v.c.user_hash == user_hash)).rowcount
            questions = conn.execute(delete(q).where(q.c.user_hash == user_hash)).rowcount
            subs = conn.execute(delete(s).where(s.c.user_hash == user_hash)).rowcount
            conn.execute(delete(n).where(n.c.user_hash == user_hash))
            asked = conn.execute(delete(h).where(h.c.user_hash == user_hash)).rowcount
        return MemberRows(questions, votes, 0, subs, asked)

    # ------------------------------------------------------------------ retention

    def purge(self, now: datetime | None = None) -> PurgeResult:
        """Delete questions (with their votes), threads, subscriptions, notifications and
        hand-offs older than LOG_RETENTION_DAYS (a subscription also once expired)."""
        now = now or self._clock()
        cutoff = now - self.retention
        q, v, t = question_log, answer_votes, bot_threads
        s, n, h = subscriptions, notifications, handoffs
        self.database.ensure_ready()
        with self.database.writing() as conn, conn.begin():
            old = select(q.c.answer_id).where(q.c.asked_at < cutoff)
            votes = conn.execute(delete(v).where(v.c.answer_id.in_(old))).rowcount
            questions = conn.execute(delete(q).where(q.c.asked_at < cutoff)).rowcount
            threads = conn.execute(delete(t).where(t.c.created_at < cutoff)).rowcount
            loop_rows = (
                conn.execute(
                    delete(s).where((s.c.created_at < cutoff) | (s.c.expires_at < now))
                ).rowcount
                + conn.execute(delete(n).where(n.c.created_at < cutoff)).rowcount
                + conn.execute(delete(h).where(h.c.created_at < cutoff)).rowcount
            )
        with self._threads_lock:
            self._threads.clear()  # forgotten in memory too; re-read from the database
        return PurgeResult(questions, votes, threads, loop_rows)

    def _purge_loop(self) -> None:
        """Purge soon after the start (within a minute), then every `purge_every` seconds, until
        the store closes; a failed purge is tried again within the hour."""
        if self._stop_purging.wait(min(self._purge_every, FIRST_PURGE_WITHIN)):
            return
        while True:
            wait = self._purge_every
            try:
                self._scheduled_purge()
            except (StorageError, SQLAlchemyError, OSError) as exc:
                wait = min(self._purge_every, 3600.0)
                # An outage (down, locked) is the writer's to report, once: no second line.
                outage = isinstance(exc, StorageError) or is_outage(exc)
                log.log(
                    logging.INFO if outage else logging.WARNING,
                    "storage: the retention purge failed (%s); trying again later",
                    self._describe(exc),
                )
            if self._stop_purging.wait(wait):
                return

    def _scheduled_purge(self) -> None:
        result = self.purge()
        if result.questions or result.threads:
            log.info(
                "storage: purged %d question(s), %d vote(s) and %d thread(s) older than %d days",
                result.questions,
                result.votes,
                result.threads,
                self.retention.days,
            )

    # ------------------------------------------------------------------ writer side

    def _write(self, ops: list[Op]) -> None:
        """Insert `ops`. An outage is raised as `StoreUnavailable` (the writer keeps the rows
        and retries); anything else as it is (the writer writes the rows one by one and drops
        those the database will not take)."""
        try:
            self._insert(ops)
        except (SQLAlchemyError, OSError) as exc:
            if is_outage(exc):
                raise self.database.unavailable(exc) from exc
            raise

    def _insert(self, ops: list[Op]) -> None:
        questions = [row for kind, row in ops if kind == "question"]
        threads = [row for kind, row in ops if kind == "thread"]
        posted = [row for kind, row in ops if kind == "posted"]
        db = self.database
        with db.writing() as conn, conn.begin():
            if questions:
                conn.execute(
                    db.insert(question_log).on_conflict_do_nothing(index_elements=["answer_id"]),
                    questions,
                )
            if threads:
                conn.execute(
                    db.insert(bot_threads).on_conflict_do_nothing(
                        index_elements=["platform", "thread_id"]
                    ),
                    threads,
                )
            for row in posted:  # after the questions: the row may be in this very batch
                conn.execute(
                    update(question_log)
                    .where(
                        question_log.c.answer_id == row["answer_id"],
                        question_log.c.guild_id.is_not(None),
                    )
                    .values(thread_id=row["thread_id"])
                )

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, StorageError):
            return str(exc)
        return str(self.database.unavailable(exc))

    # ------------------------------------------------------------------ lifecycle

    def stats(self) -> WriterStats:
        return self._writer.stats()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every buffered row is written; False on timeout (database down)."""
        return self._writer.flush(timeout) if self._started else not self._writer.pending()

    def close(self, timeout: float = 5.0) -> int:
        """Flush (at most `timeout` s), stop the writer, release connections; rows left unwritten."""
        left = self._writer.close(timeout) if self._started else len(self._writer.pending())
        self._stop_purging.set()
        if self._purger.is_alive():
            self._purger.join(timeout=max(1.0, timeout))
        self.database.dispose()
        return left
