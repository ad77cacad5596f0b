"""Closing the loop: the answers to correct, members' subscriptions, notifications claimed once,
and questions handed to moderators.

    loop = store.loop
    sub, new = loop.subscribe(place, user_id, question, "fr", answer_id=..., days=30)
    loop.open_subscriptions()                  # asked again after every note change
    row_id = loop.claim("correction", target_key, item_key, place, payload)  # None: taken
    loop.mark([row_id], "sent")
    loop.reclaim_stale(lease=300.0)            # claimed, never marked (a crash): ours now
    handoff = loop.open_handoff(place, user_id, question, "en")
    loop.resolve_handoff(handoff.public_id, community)

Synchronous (a round trip each): call from a worker thread. A database problem is raised as
`StoreUnavailable` (one line). Members are found by the keyed hash of their id; a DM target is
kept sealed with the host key (bot/storage/hashing.py), never in clear.
"""

from __future__ import annotations

import secrets
import statistics
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import and_, func, select, true, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from bot.community import Community
from bot.storage.database import Database
from bot.storage.hashing import UserHasher
from bot.storage.schema import handoffs, notifications, question_log, subscriptions
from bot.storage.values import as_utc, clip

NotificationKind = Literal["correction", "answer"]
Status = Literal["sent", "failed"]
# A claimed row is tried at most this many times (a crash each time: something is wrong).
MAX_ATTEMPTS = 3
MAX_QUESTION = 2000


@dataclass(frozen=True)
class Place:
    """Where a reply goes: a thread (or channel) of one community, or a member's DM.

    `dm` is the DM channel (or user) id the platform delivers to: in memory only, stored
    sealed. `user_hash` names the member for a DM (the key of a DM target)."""

    platform: str
    guild_id: str | None
    channel_id: str | None = None
    thread_id: str | None = None
    dm: str | None = None
    user_hash: str | None = None

    @property
    def is_dm(self) -> bool:
        return self.guild_id is None

    @property
    def key(self) -> str:
        """The same key for the same place on every host (a DM: by the member's hash)."""
        if self.is_dm:
            return f"{self.platform}:dm:{self.user_hash}"
        return f"{self.platform}:{self.guild_id}:{self.channel_id}:{self.thread_id}"

    @property
    def channel_key(self) -> str:
        """What the per-channel rate limit is keyed on."""
        if self.is_dm:
            return self.key
        return f"{self.platform}:{self.guild_id}:{self.thread_id or self.channel_id}"


@dataclass(frozen=True)
class AnswerRecord:
    """One answer posted in the correction window: where, in what language, what it said."""

    answer_id: str
    place: Place
    user_hash: str
    language: str
    quoted_ids: tuple[str, ...]
    note_ids: tuple[str, ...]
    verdicts: dict[str, str]
    asked_at: datetime


@dataclass(frozen=True)
class Asked:
    """The question behind one answer id (a 🔔 or "Ask a moderator" press), and where it was
    asked (a DM: no community)."""

    answer_id: str
    question: str
    language: str
    outcome: str
    platform: str
    guild_id: str | None
    channel_id: str | None
    thread_id: str | None
    asked_at: datetime


@dataclass(frozen=True)
class Subscription:
    """A member's "tell me when it's answered"."""

    id: int
    place: Place
    user_hash: str
    question: str
    language: str
    answer_id: str | None
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class Claimed:
    """A notification this host claimed and must send (then mark)."""

    id: int
    kind: str
    target_key: str
    item_key: str
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class HandOff:
    """A question handed to the community's moderators."""

    public_id: str
    place: Place
    user_hash: str
    question: str
    language: str
    answer_id: str | None
    status: str
    created_at: datetime
    resolved_at: datetime | None


@dataclass(frozen=True)
class LoopStats:
    """What closing the loop did over a period (the moderators' report)."""

    subscriptions: int
    answered_later: int
    corrections_sent: int
    answers_sent: int
    handoffs_open: int
    handoffs_resolved: int
    median_resolution_hours: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "subscriptions": self.subscriptions,
            "answered_later": self.answered_later,
            "corrections_sent": self.corrections_sent,
            "answers_sent": self.answers_sent,
            "handoffs_open": self.handoffs_open,
            "handoffs_resolved": self.handoffs_resolved,
            "median_resolution_hours": self.median_resolution_hours,
        }


class LoopRepository:
    """Reads and writes the loop's tables in the shared database."""

    def __init__(
        self, database: Database, hasher: UserHasher, clock: Callable[[], datetime]
    ) -> None:
        self.database = database
        self._hash = hasher
        self._clock = clock

    @contextmanager
    def _connection(self, write: bool = False) -> Iterator[Connection]:
        try:
            self.database.ensure_ready()
            with self.database.writing() if write else self.database.reading() as conn:
                yield conn
        except (SQLAlchemyError, OSError) as exc:
            raise self.database.unavailable(exc) from exc

    def place(
        self,
        platform: str,
        user_id: str | int,
        guild_id: str | int | None,
        channel_id: str | int | None = None,
        thread_id: str | int | None = None,
        dm: str | int | None = None,
    ) -> Place:
        """The place a member's request came from, as the adapters see it (raw ids)."""
        in_dm = guild_id is None
        return Place(
            platform,
            None if in_dm else str(guild_id),
            None if in_dm or channel_id is None else str(channel_id),
            None if in_dm or thread_id is None else str(thread_id),
            str(dm) if in_dm and dm is not None else None,
            self._hash(platform, user_id) if in_dm else None,
        )

    def seal(self, plain: str) -> str:
        """A DM target as a row may keep it (bot/storage/hashing.py)."""
        return self._hash.seal(plain)

    def unseal(self, sealed: str) -> str | None:
        return self._hash.unseal(sealed)

    # -------------------------------------------------------------- answers to correct

    def answers_since(self, since: datetime) -> list[AnswerRecord]:
        """The answers (not refusals) logged since `since` that say what they quoted."""
        q = question_log
        query = select(
            q.c.answer_id,
            q.c.platform,
            q.c.guild_id,
            q.c.channel_id,
            q.c.thread_id,
            q.c.user_hash,
            q.c.language,
            q.c.quoted_ids,
            q.c.note_ids,
            q.c.verdicts,
            q.c.asked_at,
        ).where(q.c.outcome == "answered", q.c.asked_at >= since)
        with self._connection() as conn:
            rows = conn.execute(query).all()
        return [
            AnswerRecord(
                r.answer_id,
                Place(
                    r.platform,
                    r.guild_id,
                    r.channel_id,
                    r.thread_id,
                    None,
                    r.user_hash if r.guild_id is None else None,
                ),
                r.user_hash,
                r.language or "en",
                tuple(r.quoted_ids or ()),
                tuple(r.note_ids or ()),
                dict(r.verdicts or {}),
                as_utc(r.asked_at),
            )
            for r in rows
        ]

    def asked(self, answer_id: str) -> Asked | None:
        """The question logged under `answer_id` (None: unknown, purged, or not yet written)."""
        q = question_log
        with self._connection() as conn:
            r = conn.execute(select(q).where(q.c.answer_id == answer_id)).first()
        if r is None:
            return None
        return Asked(
            r.answer_id,
            r.question,
            r.language or "en",
            r.outcome,
            r.platform,
            r.guild_id,
            r.channel_id,
            r.thread_id,
            as_utc(r.asked_at),
        )

    def thread_questions(self, asked: Asked, most: int = 5) -> list[str]:
        """The questions asked before `asked` in its thread, oldest first (a moderator's
        context); none for a DM or an answer outside a thread."""
        if asked.guild_id is None or asked.thread_id is None:
            return []
        q = question_log
        query = (
            select(q.c.question)
            .where(
                q.c.platform == asked.platform,
                q.c.guild_id == asked.guild_id,
                q.c.thread_id == asked.thread_id,
                q.c.asked_at < asked.asked_at,
            )
            .order_by(q.c.asked_at.desc())
            .limit(most)
        )
        with self._connection() as conn:
            return [r[0] for r in reversed(conn.execute(query).all())]

    # -------------------------------------------------------------- subscriptions

    def subscribe(
        self,
        place: Place,
        user_id: str | int,
        question: str,
        language: str,
        *,
        answer_id: str | None = None,
        days: int = 30,
    ) -> tuple[Subscription, bool]:
        """Subscribe a member to a question; the open subscription to the same question is
        returned as it is (False: not new)."""
        user_hash = self._hash(place.platform, user_id)
        now = self._clock()
        question = clip(question, MAX_QUESTION) or ""
        s = subscriptions
        with self._connection(write=True) as conn, conn.begin():
            existing = conn.execute(
                select(s).where(
                    s.c.user_hash == user_hash,
                    s.c.question == question,
                    s.c.resolved_at.is_(None),
                    s.c.expires_at > now,
                )
            ).first()
            if existing is not None:
                return self._subscription(existing), False
            row = {
                "platform": place.platform,
                "guild_id": place.guild_id,
                "channel_id": place.channel_id,
                "thread_id": place.thread_id,
                "dm_target": self._hash.seal(place.dm) if place.is_dm and place.dm else None,
                "user_hash": user_hash,
                "question": question,
                "language": language,
                "answer_id": answer_id,
                "created_at": now,
                "expires_at": now + timedelta(days=days),
            }
            key = conn.execute(s.insert().values(**row)).inserted_primary_key
        assert key is not None
        return self._subscription({**row, "id": int(key[0])}), True

    def _subscription(self, r: Any) -> Subscription:
        m: Mapping[str, Any] = r if isinstance(r, dict) else r._mapping
        sealed = m["dm_target"]
        user_hash = m["user_hash"]
        guild = m["guild_id"]
        return Subscription(
            int(m["id"]),
            Place(
                m["platform"],
                guild,
                m["channel_id"],
                m["thread_id"],
                self._hash.unseal(sealed) if sealed else None,
                user_hash if guild is None else None,
            ),
            user_hash,
            m["question"],
            m["language"],
            m["answer_id"],
            as_utc(m["created_at"]),
            as_utc(m["expires_at"]),
        )

    def open_subscriptions(self) -> list[Subscription]:
        """Subscriptions neither answered nor expired, oldest first."""
        s = subscriptions
        query = (
            select(s)
            .where(s.c.resolved_at.is_(None), s.c.expires_at > self._clock())
            .order_by(s.c.id)
        )
        with self._connection() as conn:
            return [self._subscription(r) for r in conn.execute(query).all()]

    def subscriptions_for_answers(self, answer_ids: Iterable[str]) -> list[Subscription]:
        """Unexpired subscriptions made from these answers (a DM correction goes to them)."""
        ids = sorted(set(answer_ids))
        if not ids:
            return []
        s = subscriptions
        query = select(s).where(s.c.answer_id.in_(ids), s.c.expires_at > self._clock())
        with self._connection() as conn:
            return [self._subscription(r) for r in conn.execute(query).all()]

    def resolve_subscription(self, subscription_id: int, resolution: str) -> bool:
        """Mark a subscription resolved; False when it already was (another host did it)."""
        s = subscriptions
        with self._connection(write=True) as conn, conn.begin():
            done = conn.execute(
                update(s)
                .where(s.c.id == subscription_id, s.c.resolved_at.is_(None))
                .values(resolved_at=self._clock(), resolution=resolution)
            )
        return bool(done.rowcount)

    # -------------------------------------------------------------- notifications, once

    def claim(
        self,
        kind: NotificationKind,
        target_key: str,
        item_key: str,
        place: Place,
        payload: dict[str, Any],
    ) -> int | None:
        """Claim one notification before sending it: its row id, or None when another host
        (or an earlier run) already claimed it. INSERT … ON CONFLICT DO NOTHING on the unique
        (kind, target_key, item_key): exactly one claimant, on SQLite and PostgreSQL."""
        n = notifications
        now = self._clock()
        stmt = (
            self.database.insert(n)
            .values(
                kind=kind,
                target_key=target_key[:160],
                item_key=item_key[:120],
                status="claimed",
                attempts=1,
                platform=place.platform,
                guild_id=place.guild_id,
                user_hash=place.user_hash,
                payload=payload,
                created_at=now,
                claimed_at=now,
            )
            .on_conflict_do_nothing(index_elements=["kind", "target_key", "item_key"])
            .returning(n.c.id)
        )
        with self._connection(write=True) as conn, conn.begin():
            row = conn.execute(stmt).first()
        return None if row is None else int(row[0])

    def reclaim_stale(self, lease: float, platforms: Iterable[str] | None = None) -> list[Claimed]:
        """Claimed rows never marked within `lease` seconds (the host that claimed them died
        between claim and send): each is taken over by exactly one caller (a conditional
        UPDATE), or failed after MAX_ATTEMPTS. `platforms`: only rows this caller can send."""
        n = notifications
        now = self._clock()
        cutoff = now - timedelta(seconds=lease)
        stale = and_(n.c.status == "claimed", n.c.claimed_at < cutoff)
        if platforms is not None:
            stale = and_(stale, n.c.platform.in_(list(platforms)))
        taken: list[Claimed] = []
        with self._connection(write=True) as conn:
            with conn.begin():
                rows = conn.execute(select(n).where(stale).order_by(n.c.id)).all()
            for r in rows:
                with conn.begin():
                    if r.attempts >= MAX_ATTEMPTS:
                        conn.execute(update(n).where(n.c.id == r.id, stale).values(status="failed"))
                        continue
                    done = conn.execute(
                        update(n)
                        .where(n.c.id == r.id, stale)
                        .values(claimed_at=now, attempts=n.c.attempts + 1)
                    )
                if done.rowcount:
                    taken.append(
                        Claimed(
                            int(r.id),
                            r.kind,
                            r.target_key,
                            r.item_key,
                            dict(r.payload),
                            int(r.attempts) + 1,
                        )
                    )
        return taken

    def mark(self, ids: Iterable[int], status: Status) -> None:
        """Mark claimed notifications sent or failed."""
        ids = list(ids)
        if not ids:
            return
        n = notifications
        values: dict[str, Any] = {"status": status}
        if status == "sent":
            values["sent_at"] = self._clock()
        with self._connection(write=True) as conn, conn.begin():
            conn.execute(update(n).where(n.c.id.in_(ids)).values(**values))

    def notification_counts(self) -> dict[tuple[str, str], int]:
        """(kind, status) -> rows (for tests and the status)."""
        n = notifications
        query = select(n.c.kind, n.c.status, func.count()).group_by(n.c.kind, n.c.status)
        with self._connection() as conn:
            return {(r[0], r[1]): int(r[2]) for r in conn.execute(query).all()}

    # -------------------------------------------------------------- hand-offs

    def open_handoff(
        self,
        place: Place,
        user_id: str | int,
        question: str,
        language: str,
        answer_id: str | None = None,
    ) -> HandOff:
        """Hand a question to its community's moderators (never from a DM: no community)."""
        if place.is_dm:
            raise ValueError("a hand-off needs a community (a server or workspace)")
        row = {
            "public_id": secrets.token_urlsafe(12),
            "platform": place.platform,
            "guild_id": place.guild_id,
            "channel_id": place.channel_id,
            "thread_id": place.thread_id,
            "user_hash": self._hash(place.platform, user_id),
            "question": clip(question, MAX_QUESTION) or "",
            "language": language,
            "answer_id": answer_id,
            "status": "open",
            "created_at": self._clock(),
        }
        with self._connection(write=True) as conn, conn.begin():
            conn.execute(handoffs.insert().values(**row))
        return self._handoff({**row, "resolved_at": None})

    def _handoff(self, r: Any) -> HandOff:
        m: Mapping[str, Any] = r if isinstance(r, dict) else r._mapping
        resolved = m["resolved_at"]
        return HandOff(
            m["public_id"],
            Place(m["platform"], m["guild_id"], m["channel_id"], m["thread_id"]),
            m["user_hash"],
            m["question"],
            m["language"],
            m["answer_id"],
            m["status"],
            as_utc(m["created_at"]),
            as_utc(resolved) if resolved is not None else None,
        )

    def handoff(self, public_id: str, community: Community) -> HandOff | None:
        """One hand-off of `community` (another community's is never found)."""
        h = handoffs
        query = select(h).where(
            h.c.public_id == public_id,
            h.c.platform == community.platform,
            h.c.guild_id == community.id,
        )
        with self._connection() as conn:
            row = conn.execute(query).first()
        return None if row is None else self._handoff(row)

    def resolve_handoff(self, public_id: str, community: Community) -> HandOff | None:
        """Mark a hand-off of `community` resolved; None when unknown or already resolved."""
        h = handoffs
        with self._connection(write=True) as conn, conn.begin():
            done = conn.execute(
                update(h)
                .where(
                    h.c.public_id == public_id,
                    h.c.platform == community.platform,
                    h.c.guild_id == community.id,
                    h.c.status == "open",
                )
                .values(status="resolved", resolved_at=self._clock())
            )
            if not done.rowcount:
                return None
            row = conn.execute(select(h).where(h.c.public_id == public_id)).first()
        return None if row is None else self._handoff(row)

    # -------------------------------------------------------------- the report

    def stats(self, since: datetime, community: Community | None = None) -> LoopStats:
        """What the loop did since `since`, in one community (None: every one, the host's)."""
        with self._connection() as conn:
            return loop_stats(conn, since, community)


def loop_stats(conn: Connection, since: datetime, community: Community | None) -> LoopStats:
    """What the loop did since `since`, in `community` (None: every community and DM)."""
    s, n, h = subscriptions, notifications, handoffs

    def scoped(table: Any) -> Any:
        if community is None:
            return true()
        return and_(table.c.platform == community.platform, table.c.guild_id == community.id)

    def count(table: Any, *where: Any) -> int:
        query = select(func.count()).select_from(table).where(scoped(table), *where)
        return int(conn.execute(query).scalar_one())

    sent = n.c.status == "sent"
    resolved = conn.execute(
        select(h.c.created_at, h.c.resolved_at).where(
            scoped(h), h.c.status == "resolved", h.c.resolved_at >= since
        )
    ).all()
    hours = [(as_utc(r[1]) - as_utc(r[0])).total_seconds() / 3600 for r in resolved]
    return LoopStats(
        subscriptions=count(s, s.c.created_at >= since),
        answered_later=count(s, s.c.created_at >= since, s.c.resolution == "answered"),
        corrections_sent=count(n, n.c.created_at >= since, n.c.kind == "correction", sent),
        answers_sent=count(n, n.c.created_at >= since, n.c.kind == "answer", sent),
        handoffs_open=count(h, h.c.status == "open"),
        handoffs_resolved=len(hours),
        median_resolution_hours=statistics.median(hours) if hours else None,
    )
