"""What a rebuild or a hot swap changed, as data: typed events that reports, metrics and
notifications read (the prose lines are rendered from them, in the asker's language).

`diff_indexes(old, new)` compares two loaded builds; every consumer reads the `IndexChanges` it
returns (`FactBotService` hands it to its observers with `on_changes`, and puts it in the
`ReindexReport` a `/reindex` or a note save replies with). Imports only `index` and the shared
catalogue, so any layer may read the events.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from bot.answer import Language
from bot.messages import text
from index.store import LoadedIndex, NoteRecord
from index.verdicts import verdict

ChangeKind = Literal[
    "note_added", "note_changed", "note_removed", "document_added", "document_changed"
]


@dataclass(frozen=True)
class NoteState:
    """A note as one build serves it: enough to say what changed and what is true now."""

    claim: str
    verdict: str
    summaries: dict[str, str] = field(compare=False)  # language -> "what is true"
    digest: str = field(compare=False)

    @classmethod
    def of(cls, record: NoteRecord) -> NoteState:
        return cls(record.claim, record.verdict, dict(record.summaries), record.digest)


@dataclass(frozen=True)
class NoteChange:
    """A note added (`before` None), removed (`after` None) or changed (both set).

    `covers` are the ids of the article sentences (original-language chunks) whose text holds
    the note's claim, in either build: the answers that quoted them are the ones it bears on."""

    note_id: str
    before: NoteState | None
    after: NoteState | None
    covers: tuple[str, ...] = ()

    @property
    def kind(self) -> ChangeKind:
        if self.before is None:
            return "note_added"
        if self.after is None:
            return "note_removed"
        return "note_changed"

    @property
    def verdict_changed(self) -> bool:
        return (
            self.before is not None
            and self.after is not None
            and self.before.verdict != self.after.verdict
        )

    @property
    def claim_changed(self) -> bool:
        return (
            self.before is not None
            and self.after is not None
            and self.before.claim != self.after.claim
        )


@dataclass(frozen=True)
class DocumentChange:
    """An article or translation file added or changed (documents are never removed)."""

    doc_id: str
    added: bool

    @property
    def kind(self) -> ChangeKind:
        return "document_added" if self.added else "document_changed"


@dataclass(frozen=True)
class IndexChanges:
    """Everything one swap changed: old → new index version and chunk count, and the events
    (documents first, then notes by id)."""

    previous_version: str
    version: str
    previous_chunks: int
    chunks: int
    documents: tuple[DocumentChange, ...] = ()
    notes: tuple[NoteChange, ...] = ()

    @property
    def content_changed(self) -> bool:
        return bool(self.documents or self.notes) or self.previous_chunks != self.chunks

    def notes_of(self, kind: ChangeKind) -> tuple[NoteChange, ...]:
        return tuple(n for n in self.notes if n.kind == kind)

    def lines(self, language: Language) -> tuple[str, ...]:
        """One line per kind of change, in `language` (`()` when the content did not change)."""
        return tuple(self._lines(language))

    def _lines(self, language: Language) -> Iterator[str]:
        for doc in self.documents:
            key = "changes.document_added" if doc.added else "changes.document_changed"
            yield text(key, language, id=doc.doc_id)
        for kind in ("note_added", "note_removed", "note_changed"):
            ids = [n.note_id for n in self.notes_of(kind)]
            if ids:
                yield text(f"changes.{kind}", language, ids=", ".join(ids))
        for note in self.notes:
            if note.verdict_changed:
                assert note.before is not None and note.after is not None
                yield text(
                    "changes.verdict",
                    language,
                    id=note.note_id,
                    old=verdict(note.before.verdict).label(language),
                    new=verdict(note.after.verdict).label(language),
                )
        if self.previous_chunks != self.chunks:
            yield text("changes.chunks", language, old=self.previous_chunks, new=self.chunks)


def _covers(index: LoadedIndex, note_id: str) -> set[str]:
    return {
        c.id
        for c in index.chunks
        if c.kind == "article" and c.canonical is None and note_id in c.notes
    }


def diff_indexes(old: LoadedIndex, new: LoadedIndex) -> IndexChanges:
    """What serving `new` instead of `old` changes."""
    before_docs = {d.id: d.digest for d in old.documents}
    documents = tuple(
        DocumentChange(d.id, added=d.id not in before_docs)
        for d in new.documents
        if before_docs.get(d.id) != d.digest
    )
    notes: list[NoteChange] = []
    for note_id in sorted(set(old.notes) | set(new.notes)):
        was, now = old.notes.get(note_id), new.notes.get(note_id)
        if was is not None and now is not None and was.digest == now.digest:
            continue
        covers = _covers(old, note_id) | _covers(new, note_id)
        notes.append(
            NoteChange(
                note_id,
                NoteState.of(was) if was is not None else None,
                NoteState.of(now) if now is not None else None,
                tuple(sorted(covers)),
            )
        )
    return IndexChanges(
        old.version, new.version, len(old.chunks), len(new.chunks), documents, tuple(notes)
    )
