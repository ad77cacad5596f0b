"""`factbot notes export DIR` and the overlay half of `factbot corpus check`.

The corpus files stay the base, reviewed in git; the notes made or changed from chat live in the
database. `notes export` writes those as corpus files (the same text the database holds), so a
maintainer can commit them upstream.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bot.notes.files import write_atomically
from bot.settings import Settings
from bot.storage.errors import StorageError
from bot.storage.notes import NoteRepository
from index.corpus import NoteOverlay, Problem, check_corpus, file_notes, is_note_id, served_from


class NotesCliError(Exception):
    """One line for the operator."""


def read_overlay(settings: Settings) -> NoteOverlay:
    """The notes made in chat, from DATABASE_URL (raises `NotesCliError`, one line)."""
    try:
        return NoteRepository.from_settings(settings).overlay()
    except StorageError as exc:
        raise NotesCliError(f"the notes made in chat cannot be read: {exc}") from exc


def check(settings: Settings) -> list[Problem]:
    """The corpus files' problems, with the notes made in chat laid over them."""
    return check_corpus(settings.corpus_dir, read_overlay(settings))


def export(settings: Settings, folder: Path) -> int:
    """Write every note served from the database into `folder` as a corpus file; say what was
    written, and which corpus files the database removed. Returns how many files were written."""
    overlay = read_overlay(settings)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NotesCliError(f"cannot create {folder}: {exc.strerror or exc}") from exc
    files = file_notes(Path(settings.corpus_dir))
    inside = folder.resolve()
    written = 0
    for change in overlay.notes:
        if not is_note_id(change.id):
            # Ids name the files: one from a tampered database could write anywhere.
            print(f"skipped a note whose id is malformed: {change.id[:80]!r}", file=sys.stderr)
            continue
        existing = files.get(change.id)
        where = served_from(existing[1] if existing else None, change)
        if where == "file":
            print(f"{change.id}: the file changed after revision {change.revision}; not exported")
        elif where == "removed":
            name = Path(existing[0].path).name if existing else f"{change.id}.md"
            print(f"{change.id}: removed in chat (revision {change.revision}): delete {name}")
        elif change.text is not None:
            target = folder / (Path(existing[0].path).name if existing else f"{change.id}.md")
            if target.resolve().parent != inside:  # a symlink out of DIR, say
                print(f"{change.id}: {target} is outside {folder}; not exported", file=sys.stderr)
                continue
            _write_atomically(target, change.text)
            print(f"{change.id}: revision {change.revision} -> {target}")
            written += 1
    if not overlay.notes:
        print("no note was made or changed in chat")
    return written


def _write_atomically(target: Path, text: str) -> None:
    try:
        write_atomically(target, text)
    except OSError as exc:
        raise NotesCliError(f"cannot write {target}: {exc.strerror or exc}") from exc
