"""The notes made or changed from chat: every version, who made it and when.

    repo = NoteRepository(database, hasher)
    repo.overlay()              # the newest version of each note: what the index is built from
    repo.revision()             # the newest revision number (cheap: what other hosts poll)
    repo.append("fc-…", "edited", text, base_digest, author)  # -> the new revision
    repo.history("fc-…")        # every version, oldest first

Synchronous (a round trip each): call from a worker thread. A database problem is raised as
`StoreUnavailable` (one line), never as a driver error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal, cast

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from bot.community import Community
from bot.storage.database import Database
from bot.storage.hashing import UserHasher, load_key
from bot.storage.schema import note_revisions, question_log
from bot.storage.store import in_community
from bot.storage.values import as_utc, storable_text, utcnow
from index.corpus import ChatNote, NoteOverlay

if TYPE_CHECKING:
    from bot.settings import Settings

# What a revision did to its note; the notes' records (bot/notes/records.py) speak the same words.
Action = Literal["added", "edited", "removed"]

MAX_AUTHOR = 100


@dataclass(frozen=True)
class RevisionRow:
    """One stored version of a note."""

    revision: int
    note_id: str
    action: Action
    body: str | None
    base_digest: str | None
    author_name: str
    platform: str
    created_at: datetime


class NoteRepository:
    """Reads and appends note revisions in the shared database."""

    def __init__(
        self,
        database: Database,
        hasher: Callable[[], UserHasher],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.database = database
        # Loaded at the first change: reading the notes (`factbot ask`) needs no key.
        self._hasher = hasher
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings) -> NoteRepository:
        """The notes in DATABASE_URL; raises `StorageError` (one line) for a bad URL."""
        return cls(
            Database(settings.database_url),
            lambda: UserHasher(load_key(settings.user_hash_key, settings.user_hash_key_file)),
        )

    @contextmanager
    def _connection(self, write: bool = False) -> Iterator[Connection]:
        try:
            self.database.ensure_ready()
            with self.database.writing() if write else self.database.reading() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise self.database.unavailable(exc) from exc
        except OSError as exc:
            raise self.database.unavailable(exc) from exc

    def revision(self) -> int:
        """The newest revision (0 when no note was ever changed from chat)."""
        with self._connection() as conn:
            return int(conn.execute(select(func.max(note_revisions.c.id))).scalar() or 0)

    def overlay(self) -> NoteOverlay:
        """The newest version of every note changed from chat, and the newest revision."""
        newest = (
            select(func.max(note_revisions.c.id).label("id"))
            .group_by(note_revisions.c.note_id)
            .subquery()
        )
        query = (
            select(
                note_revisions.c.id,
                note_revisions.c.note_id,
                note_revisions.c.body,
                note_revisions.c.base_digest,
            )
            .join(newest, newest.c.id == note_revisions.c.id)
            .order_by(note_revisions.c.note_id)
        )
        with self._connection() as conn, conn.begin():
            # One transaction: the revision and the notes are read at the same point.
            rows = conn.execute(query).all()
            top = int(conn.execute(select(func.max(note_revisions.c.id))).scalar() or 0)
        notes = tuple(ChatNote(r.note_id, r.body, int(r.id), r.base_digest) for r in rows)
        return NoteOverlay(top, notes)

    def append(
        self,
        note_id: str,
        action: Action,
        body: str | None,
        base_digest: str | None,
        platform: str,
        user_id: str,
        author_name: str,
        notify: bool = True,
    ) -> int:
        """Store one change; returns its revision. `notify` False: a silent change (a typo
        fix), which tells no one (bot/learning/notify.py reads it back with `silent`)."""
        row = {
            "note_id": note_id,
            "action": action,
            "body": body,
            "base_digest": base_digest,
            "author_name": storable_text(author_name).strip()[:MAX_AUTHOR] or "?",
            "author_hash": self._hasher()(platform, user_id),
            "platform": platform,
            "created_at": self._clock(),
            "notify": notify,
        }
        with self._connection(write=True) as conn, conn.begin():
            result = conn.execute(note_revisions.insert().values(**row))
            key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def silent(self, note_ids: Iterable[str]) -> set[str]:
        """Of `note_ids`, those whose newest chat revision was saved silent."""
        ids = sorted(set(note_ids))
        if not ids:
            return set()
        newest = (
            select(func.max(note_revisions.c.id).label("id"))
            .where(note_revisions.c.note_id.in_(ids))
            .group_by(note_revisions.c.note_id)
            .subquery()
        )
        query = (
            select(note_revisions.c.note_id)
            .join(newest, newest.c.id == note_revisions.c.id)
            .where(note_revisions.c.notify.is_(False))
        )
        with self._connection() as conn:
            return {r.note_id for r in conn.execute(query)}

    def unanswered(self, days: int, limit: int, community: Community) -> list[str]:
        """The distinct questions `community` asked and the bot refused in the last `days` days,
        newest first (what a new note may now answer; never another community's, nor a DM)."""
        since = self._clock() - timedelta(days=days)
        newest = func.max(question_log.c.asked_at)
        query = (
            select(question_log.c.question)
            .where(
                question_log.c.outcome == "refused",
                question_log.c.asked_at >= since,
                in_community(community),
            )
            .group_by(question_log.c.question)
            .order_by(newest.desc())
            .limit(limit)
        )
        with self._connection() as conn:
            return [r.question for r in conn.execute(query)]

    def history(self, note_id: str) -> list[RevisionRow]:
        """Every version of `note_id`, oldest first."""
        query = (
            select(note_revisions)
            .where(note_revisions.c.note_id == note_id)
            .order_by(note_revisions.c.id)
        )
        with self._connection() as conn:
            rows = conn.execute(query).all()
        return [
            RevisionRow(
                int(r.id),
                r.note_id,
                cast(Action, r.action),
                r.body,
                r.base_digest,
                r.author_name,
                r.platform,
                as_utc(r.created_at),
            )
            for r in rows
        ]
