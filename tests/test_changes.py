"""What a rebuild changed, as events: real corpus edits, real rebuilds, the observers' view."""

from __future__ import annotations

import asyncio
import typing
from pathlib import Path

from bot.answering.changes import ChangeKind, IndexChanges, NoteChange
from bot.answering.status import IndexInfo
from bot.ops.metrics import CHANGE_KINDS
from bot.serving.service import FactBotService


class Recorder:
    """A service observer that keeps the change events it is handed."""

    def __init__(self) -> None:
        self.changes: list[IndexChanges] = []

    def on_index(self, info: IndexInfo) -> None:
        pass

    def on_reindex(self, seconds: float | None, result: str) -> None:
        pass

    def on_changes(self, changes: IndexChanges) -> None:
        self.changes.append(changes)

    def on_batch(self, size: int) -> None:
        pass


def _set_verdict(path: Path, verdict: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text(
        "".join(f"verdict: {verdict}\n" if ln.startswith("verdict:") else ln for ln in lines),
        encoding="utf-8",
    )


def _only(changes: IndexChanges, note_id: str) -> NoteChange:
    found = [n for n in changes.notes if n.note_id == note_id]
    assert len(found) == 1, changes
    return found[0]


def test_change_kinds_are_the_metrics_labels() -> None:
    assert typing.get_args(ChangeKind) == CHANGE_KINDS


def test_a_rebuild_reports_each_note_change_as_an_event(service: FactBotService) -> None:
    corpus = service.settings.corpus_dir
    recorder = Recorder()
    service.add_observer(recorder)
    before = service.engine.index

    # A verdict changed, a note removed, nothing else.
    _set_verdict(corpus / "factchecks" / "12-15kg-experiments.md", "misleading")
    removed_file = corpus / "factchecks" / "16-svom.md"
    removed_file.unlink()
    report = asyncio.run(service.reindex("test"))

    changes = report.changes
    assert recorder.changes == [changes]
    assert (changes.previous_version, changes.version) == (before.version, report.version)
    assert changes.documents == ()
    assert [n.kind for n in changes.notes] == ["note_changed", "note_removed"]

    edited = _only(changes, "fc-12-15kg-experiments")
    assert edited.verdict_changed and not edited.claim_changed
    assert edited.before is not None and edited.after is not None
    assert (edited.before.verdict, edited.after.verdict) == ("inaccurate", "misleading")
    assert edited.after.summaries["en"] == before.notes["fc-12-15kg-experiments"].summaries["en"]
    # The article sentence holding the claim (the "15 kg" sentence), in the original language.
    covered = [c for c in before.chunks if c.id in edited.covers]
    assert covered and all(c.kind == "article" and c.canonical is None for c in covered)
    assert any("15 kg" in c.text for c in covered)

    gone = _only(changes, "fc-16-svom")
    assert gone.after is None and gone.before is not None and gone.covers
    assert any("SVOM" in c.text for c in before.chunks if c.id in gone.covers)

    assert changes.lines("en") == (
        "notes removed: fc-16-svom",
        "notes changed: fc-12-15kg-experiments",
        "verdict of fc-12-15kg-experiments: Inaccurate → Misleading",
        f"chunks: {len(before.chunks)} → {changes.chunks}",
    )
    assert changes.lines("fr")[0] == "notes retirées : fc-16-svom"
    assert "verdict de fc-12-15kg-experiments : Inexact → Trompeur" in changes.lines("fr")


def test_an_unchanged_corpus_reports_no_content_change(service: FactBotService) -> None:
    report = asyncio.run(service.reindex("test"))
    assert not report.changes.content_changed
    assert report.changes.notes == () and report.changes.lines("en") == ()


def test_a_document_edit_is_an_event(service: FactBotService) -> None:
    article = service.settings.corpus_dir / "article.en.md"
    article.write_text(
        article.read_text(encoding="utf-8").replace("historic", "historical", 1),
        encoding="utf-8",
    )
    changes = asyncio.run(service.reindex("test")).changes
    assert [(d.doc_id, d.kind) for d in changes.documents] == [("article-en", "document_changed")]
