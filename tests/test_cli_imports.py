"""A cold `factbot ask` imports only what it needs (issue 24, item 2): no SQLAlchemy nor alembic
when its index is current for the notes made in chat (the SQLite file absent, or at the index's
revision: read with the standard library's sqlite3), never a chat library; a newer chat revision
still rebuilds the index with that note. Real processes, real model, real index and database.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.settings import Settings
from bot.storage.database import Database
from bot.storage.hashing import UserHasher
from bot.storage.note_rows import SCHEMA_HEAD, VERSION_TABLE, SqliteNotes, sqlite_file
from bot.storage.notes import Action, NoteRepository
from index.corpus import note_digest
from tests.conftest import ROOT

HEAVY = ("sqlalchemy", "alembic", "discord", "slack_bolt", "slack_sdk", "yaml")
QUESTION = "When did SVOM finally launch?"
# What the English "what is true" of the SVOM note says before and after the chat edit below.
BEFORE = "from Xichang on a Long March 2C rocket"
AFTER = "from the Xichang launch centre on a Long March 2C rocket"

# Runs one `factbot ask --json` in a fresh interpreter and reports what it imported.
ASK = """
import contextlib, io, json, sys
from bot.cli.commands import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    status = main(["--env-file", sys.argv[1], "ask", "--json", sys.argv[2]])
print(json.dumps({"status": status, "answer": json.loads(out.getvalue()),
                  "loaded": [m for m in sys.argv[3].split(",") if m in sys.modules]}))
"""


def _ask(settings: Settings, tmp_path: Path) -> dict[str, Any]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "HF_HUB_OFFLINE": "1",
        "LOG_LEVEL": "WARNING",
        "CORPUS_DIR": str(settings.corpus_dir),
        "INDEX_DIR": str(settings.index_dir),
        "MODEL_CACHE_DIR": str(settings.model_cache_dir),
        "DATABASE_URL": settings.database_url,
        "USER_HASH_KEY_FILE": str(settings.user_hash_key_file),
    }
    out = subprocess.run(
        [sys.executable, "-c", ASK, str(tmp_path / "none.env"), QUESTION, ",".join(HEAVY)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    result: dict[str, Any] = json.loads(out.stdout)
    assert result["status"] == 0
    return result


def _database_file(settings: Settings) -> Path:
    path = sqlite_file(settings.database_url)
    assert path is not None
    return path


def _manifest(settings: Settings) -> dict[str, Any]:
    current = (settings.index_dir / "current").resolve()
    manifest: dict[str, Any] = json.loads((current / "manifest.json").read_text("utf-8"))
    return manifest


def _svom_note(answer: dict[str, Any]) -> str:
    return str(next(f["summary"] for f in answer["factchecks"] if f["id"] == "fc-16-svom"))


@pytest.mark.parametrize("database", ["absent", "at-the-index-revision"])
def test_a_cold_ask_imports_no_database_nor_chat_library_when_the_index_is_current(
    make_settings: Callable[..., Settings], tmp_path: Path, database: str
) -> None:
    settings = make_settings()
    path = _database_file(settings)
    if database == "absent":
        assert not path.exists()
    else:
        db = Database(settings.database_url)
        db.ensure_ready()  # migrated to head, no note changed in chat: revision 0
        db.dispose()
    version = _manifest(settings)["version"]
    result = _ask(settings, tmp_path)
    assert result["loaded"] == []
    assert result["answer"]["refused"] is False
    assert "22 June 2024" in _svom_note(result["answer"])
    assert _manifest(settings)["version"] == version  # current: not rebuilt
    # A read-only ask creates no database (and leaves no -wal/-shm behind).
    assert sorted(p.name for p in path.parent.glob(path.name + "*")) == (
        [] if database == "absent" else [path.name]
    )


def test_a_newer_chat_revision_rebuilds_at_the_next_ask_which_then_serves_it_without_sqlalchemy(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings()
    note_file = settings.corpus_dir / "factchecks" / "16-svom.md"
    text = note_file.read_text(encoding="utf-8")
    assert BEFORE in text
    notes = NoteRepository(settings.database_url, lambda: UserHasher(b"k" * 32))
    revision = notes.append(
        "fc-16-svom",
        "edited",
        text.replace(BEFORE, AFTER),
        note_digest(text),
        "discord",
        "1400000000000000001",
        "alice",
    )
    notes.database.dispose()
    built = _manifest(settings)
    assert built["notes_revision"] == 0 and revision == 1

    first = _ask(settings, tmp_path)  # stale for the notes: rebuilt with the chat edit
    rebuilt = _manifest(settings)
    assert rebuilt["version"] != built["version"] and rebuilt["notes_revision"] == 1
    assert AFTER in _svom_note(first["answer"])

    again = _ask(settings, tmp_path)  # current at revision 1: the notes read with sqlite3
    assert again["loaded"] == []
    assert _manifest(settings)["version"] == rebuilt["version"]
    assert again["answer"] == first["answer"]


# ---------------------------------------------------------------------- the sqlite3 reader


def test_sqlite_file_urls() -> None:
    assert sqlite_file("sqlite:///var/factbot.db") == Path("var/factbot.db")
    assert sqlite_file("sqlite:////tmp/a%20b.db") == Path("/tmp/a b.db")
    assert sqlite_file("sqlite+pysqlite:///x.db") == Path("x.db")
    for other in (
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///file:x.db?mode=ro&uri=true",
        "sqlite:///x.db?timeout=3",
        "postgresql://u:p@localhost/factbot",
        "not a url",
    ):
        assert sqlite_file(other) is None, other
    assert SqliteNotes.for_url("postgresql://u:p@localhost/factbot") is None


def test_the_reader_gives_the_repository_s_overlay_or_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'notes.db'}"
    reader = SqliteNotes.for_url(url)
    assert reader is not None
    assert reader.revision() == 0 and reader.overlay_at(0) is not None
    assert not (tmp_path / "notes.db").exists()  # reading created nothing

    notes = NoteRepository(url, lambda: UserHasher(b"k" * 32))
    changes: list[tuple[str, Action, str | None]] = [
        ("fc-b", "added", "b1"),
        ("fc-a", "added", "a1"),
        ("fc-b", "edited", "b2"),
        ("fc-a", "removed", None),
        ("fc-c", "added", "c1"),
    ]
    for note_id, action, body in changes:
        notes.append(note_id, action, body, "d" * 16, "slack", "U1", "bob")
        top = notes.overlay()
        assert reader.revision() == top.revision
        assert reader.overlay_at(top.revision) == top
        assert reader.overlay_at(top.revision - 1) is None  # not the newest: ask the repository

    with sqlite3.connect(tmp_path / "notes.db") as conn:
        conn.execute(f"UPDATE {VERSION_TABLE} SET version_num = '0002'")
    assert reader.revision() is None and reader.overlay_at(5) is None  # not at this code's head
    with sqlite3.connect(tmp_path / "notes.db") as conn:
        conn.execute(f"UPDATE {VERSION_TABLE} SET version_num = ?", (SCHEMA_HEAD,))
    assert reader.revision() == 5
    notes.database.dispose()

    (tmp_path / "garbage.db").write_bytes(b"not a database" * 100)
    garbage = SqliteNotes.for_url(f"sqlite:///{tmp_path / 'garbage.db'}")
    assert garbage is not None and garbage.revision() is None
