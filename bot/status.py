"""What `/sources` and `/reindex` report: plain records, shared by the core and the adapters."""

from __future__ import annotations

from dataclasses import dataclass


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
    """What a moderator's `/reindex` reply says."""

    version: str
    previous_version: str
    chunk_count: int
    seconds: float
    changes: tuple[str, ...]
    coalesced: bool = False
