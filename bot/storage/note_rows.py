"""The notes' rows as plain Python, and a read-only look at them in a SQLite file through the
standard library's sqlite3: what a start needs to tell whether its index is current, without
loading SQLAlchemy (~0.2 s) or creating a database a read-only `factbot ask` has no use for.

`SqliteNotes.for_url(url)` is None unless `url` is a plain SQLite file URL; its answers are None
whenever it cannot be sure (schema not at this code's head, unreadable file, any sqlite3 error):
the caller then asks the repository (bot/storage/notes.py), which reads through SQLAlchemy.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal
from urllib.parse import quote, unquote

from index.corpus import ChatNote, NoteOverlay

# Alembic's own bookkeeping table; named for the project so a shared PostgreSQL database can
# hold other applications' Alembic tables too.
VERSION_TABLE = "factbot_schema_version"
# The newest migration's revision (a test checks it is alembic's head): a database at it is used
# without importing alembic, and read here without SQLAlchemy.
SCHEMA_HEAD = "0003"

# What a revision did to its note; the notes' records (bot/notes/records.py) speak the same words.
Action = Literal["added", "edited", "removed"]

# `sqlite:///path` (SQLAlchemy's pysqlite form): no host, no query string (driver options, a
# `file:` URI: SQLAlchemy's business), not the in-memory database.
_SQLITE_FILE_URL = re.compile(r"sqlite(?:\+pysqlite)?:///(?P<path>[^?]+)")
# Seconds to wait for a lock, as the SQLAlchemy engine does (bot/storage/database.py).
_BUSY_TIMEOUT = 5.0

# The newest revision of each note, in note id order: the repository's `overlay()` query.
_NEWEST = (
    "SELECT r.id, r.note_id, r.body, r.base_digest FROM note_revisions AS r"
    " JOIN (SELECT max(id) AS id FROM note_revisions GROUP BY note_id) AS n ON n.id = r.id"
    " ORDER BY r.note_id"
)


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


def sqlite_file(url: str) -> Path | None:
    """The file a plain SQLite file URL names (relative to the working directory, as SQLite
    opens it), or None for any other URL."""
    match = _SQLITE_FILE_URL.fullmatch(url.strip())
    if match is None:
        return None
    path = unquote(match["path"])  # as SQLAlchemy's URL parser does
    if path in ("", ":memory:") or path.startswith("file:"):
        return None
    return Path(path)


class SqliteNotes:
    """The newest note revisions in a SQLite file, read with sqlite3 (only read: no
    migration, no write)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def for_url(cls, url: str) -> SqliteNotes | None:
        path = sqlite_file(url)
        return cls(path) if path is not None else None

    def revision(self) -> int | None:
        """The newest revision (0: no file, so no note changed from chat), or None."""
        found = self._read(None)
        return found.revision if found is not None else None

    def overlay_at(self, revision: int) -> NoteOverlay | None:
        """The newest version of every note when the newest revision is `revision`, or None
        (another revision: let the repository read the notes to build with)."""
        found = self._read(revision)
        return found if found is not None and found.revision == revision else None

    def _read(self, notes_at: int | None) -> NoteOverlay | None:
        """The newest revision, with the notes when it is `notes_at`; None when unsure."""
        if not self.path.exists():
            return NoteOverlay(0, ())  # a file only the first write creates: no chat notes
        try:
            # mode=rw: never creates the file. Not mode=ro: a read-only connection cannot
            # checkpoint, and would leave the WAL's -wal and -shm files behind it.
            uri = f"file:{quote(str(self.path.resolve()))}?mode=rw"
            conn = sqlite3.connect(uri, uri=True, timeout=_BUSY_TIMEOUT, isolation_level=None)
        except (sqlite3.Error, OSError):
            return None
        try:
            conn.execute("BEGIN")  # one snapshot: the revision and the notes read together
            heads = [row[0] for row in conn.execute(f"SELECT version_num FROM {VERSION_TABLE}")]
            if heads != [SCHEMA_HEAD]:
                return None  # another schema: the repository migrates or refuses it
            top = int(conn.execute("SELECT max(id) FROM note_revisions").fetchone()[0] or 0)
            rows = conn.execute(_NEWEST).fetchall() if top and top == notes_at else []
            conn.execute("COMMIT")
        except (sqlite3.Error, OSError, TypeError, ValueError):
            return None
        finally:
            conn.close()
        return NoteOverlay(top, tuple(ChatNote(r[1], r[2], int(r[0]), r[3]) for r in rows))
