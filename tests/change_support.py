"""Change events for the renderers' and adapters' tests."""

from __future__ import annotations

from bot.answering.changes import IndexChanges, NoteChange, NoteState


def note_edits(*ids: str, version: str = "v2", previous: str = "v1") -> IndexChanges:
    """A rebuild's changes: each note in `ids` edited (same claim and verdict)."""
    edits = tuple(
        NoteChange(i, NoteState("c", "accurate", {}, "a"), NoteState("c", "accurate", {}, "b"))
        for i in ids
    )
    return IndexChanges(previous, version, 74, 74, notes=edits)
