"""What `/sources` and `/reindex` report: plain records, shared by the core and the adapters."""

from __future__ import annotations

from dataclasses import dataclass

from bot.answering.changes import IndexChanges


@dataclass(frozen=True)
class DocumentInfo:
    id: str
    title: str
    language: str
    url: str | None


@dataclass(frozen=True)
class IndexInfo:
    """What `/sources` shows."""

    documents: tuple[DocumentInfo, ...]
    note_count: int
    version: str
    model: str
    built_at: str
    chunk_count: int


@dataclass(frozen=True)
class ReindexReport:
    """What a moderator's `/reindex` reply says: what the build changed, and how long it took."""

    changes: IndexChanges
    seconds: float
    coalesced: bool = False

    @property
    def version(self) -> str:
        return self.changes.version

    @property
    def previous_version(self) -> str:
        return self.changes.previous_version

    @property
    def chunk_count(self) -> int:
        return self.changes.chunks
