"""The note revisions' queries, through SQLAlchemy: what `NoteRepository` (bot/storage/notes.py)
runs once it needs the database itself (a rebuild, a change, a history, PostgreSQL).

Synchronous (a round trip each). A database problem is raised as `StoreUnavailable` (one
line), never as a driver error.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from bot.community import Community
from bot.storage.database import Database
from bot.storage.note_rows import Action, RevisionRow
from bot.storage.schema import note_revisions, question_log
from bot.storage.store import in_community
from bot.storage.values import as_utc
from index.corpus import ChatNote, NoteOverlay


class SqlNotes:
    """Reads and appends note revisions in `database`."""

    def __init__(self, database: Database) -> None:
        self.database = database

    @classmethod
    def open(cls, database: Database | str) -> SqlNotes:
        """Over `database`, or over a new `Database` for a URL (raises `StorageError`)."""
        return cls(Database(database) if isinstance(database, str) else database)

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

    def append(self, row: Mapping[str, Any]) -> int:
        """Store one revision row; returns its revision."""
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

    def unanswered(self, since: datetime, limit: int, community: Community) -> list[str]:
        """The distinct questions `community` asked and the bot refused since `since`, newest
        first."""
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
