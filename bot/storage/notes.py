"""The notes made or changed from chat: every version, who made it and when.

    repo = NoteRepository(database, hasher)
    repo.overlay()              # the newest version of each note: what the index is built from
    repo.revision()             # the newest revision number (cheap: what other hosts poll)
    repo.overlay_at(n)          # the overlay when revision n is still the newest, read cheaply
    repo.append("fc-…", "edited", text, base_digest, author)  # -> the new revision
    repo.history("fc-…")        # every version, oldest first

Synchronous (a round trip each): call from a worker thread. A database problem is raised as
`StoreUnavailable` (one line), never as a driver error.

This module imports no SQLAlchemy: a start (`factbot ask`, `factbot chat`) that finds its index
current reads a SQLite file with the standard library (bot/storage/note_rows.py); the queries
(bot/storage/note_sql.py, SQLAlchemy) load at the first call that needs the database itself.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.community import Community
from bot.storage.errors import StorageError
from bot.storage.hashing import UserHasher, load_key
from bot.storage.note_rows import Action, RevisionRow, SqliteNotes
from bot.storage.values import storable_text, utcnow
from index.corpus import NoteOverlay

if TYPE_CHECKING:
    from bot.settings import Settings
    from bot.storage.database import Database
    from bot.storage.note_sql import SqlNotes

__all__ = ["MAX_AUTHOR", "Action", "NoteRepository", "RevisionRow"]

MAX_AUTHOR = 100


class NoteRepository:
    """Reads and appends note revisions in the shared database.

    `database`: a `Database`, or a DATABASE_URL: a SQLite file's is opened only when a query
    needs it (read-only checks go through `SqliteNotes`, which never creates the file); any
    other URL is opened at once, so that a bad one fails here."""

    def __init__(
        self,
        database: Database | str,
        hasher: Callable[[], UserHasher],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._reader = SqliteNotes.for_url(database) if isinstance(database, str) else None
        self._lock = threading.Lock()
        self._sql: SqlNotes | None = None
        self._target = database
        if self._reader is None:
            self._queries()
        # Loaded at the first change: reading the notes (`factbot ask`) needs no key.
        self._hasher = hasher
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings) -> NoteRepository:
        """The notes in DATABASE_URL; raises `StorageError` (one line) for a bad URL."""
        return cls(
            settings.database_url,
            lambda: UserHasher(load_key(settings.user_hash_key, settings.user_hash_key_file)),
        )

    def _queries(self) -> SqlNotes:
        with self._lock:
            if self._sql is None:
                # The one place SQLAlchemy loads for the notes: see the module's docstring.
                from bot.storage.note_sql import SqlNotes

                self._sql = SqlNotes.open(self._target)
            return self._sql

    @property
    def database(self) -> Database:
        """The database, opened at the first use and then migrated, as a start used to: a
        caller may query it directly (a database that is down is told by the next query)."""
        database = self._queries().database
        with contextlib.suppress(StorageError):
            database.ensure_ready()
        return database

    def revision(self) -> int:
        """The newest revision (0 when no note was ever changed from chat)."""
        if self._reader is not None and self._sql is None:
            found = self._reader.revision()
            if found is not None:
                return found
        return self._queries().revision()

    def overlay(self) -> NoteOverlay:
        """The newest version of every note changed from chat, and the newest revision."""
        return self._queries().overlay()

    def overlay_at(self, revision: int) -> NoteOverlay | None:
        """`overlay()` when `revision` is still the newest, read without SQLAlchemy from a
        SQLite file; None when it is not, or cannot be told that way (call `overlay()`)."""
        return self._reader.overlay_at(revision) if self._reader is not None else None

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
        return self._queries().append(row)

    def silent(self, note_ids: Iterable[str]) -> set[str]:
        """Of `note_ids`, those whose newest chat revision was saved silent."""
        return self._queries().silent(note_ids)

    def unanswered(self, days: int, limit: int, community: Community) -> list[str]:
        """The distinct questions `community` asked and the bot refused in the last `days` days,
        newest first (what a new note may now answer; never another community's, nor a DM)."""
        return self._queries().unanswered(self._clock() - timedelta(days=days), limit, community)

    def history(self, note_id: str) -> list[RevisionRow]:
        """Every version of `note_id`, oldest first."""
        return self._queries().history(note_id)
