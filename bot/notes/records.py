"""What moderators' note commands take and give back: plain records, shared by the core
(`bot/notes/desk.py`) and the adapters, which render them with `bot/notes/wording.py`.

The form has the same five fields on every platform (`FORM_FIELDS`): the claim (a verbatim quote
of the article), the verdict (one of `index/verdicts.py`), what is true in French and in English,
and the sources, one per line as `title | https://…` (or a bare URL).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from bot.answering.changes import IndexChanges
from bot.storage.notes import Action

FormField = Literal["claim", "verdict", "fr", "en", "sources"]
FORM_FIELDS: tuple[FormField, ...] = ("claim", "verdict", "fr", "en", "sources")

# Longest text each field takes: within both Discord's (4000) and Slack's (3000) input limits.
FORM_LIMITS: dict[FormField, int] = {
    "claim": 600,
    "verdict": 40,
    "fr": 3000,
    "en": 3000,
    "sources": 1500,
}

# Where the note a reader sees comes from: a corpus file, a change made in chat, or nowhere
# (removed in chat, or never existed).
Served = Literal["file", "chat", "removed"]


@dataclass(frozen=True)
class NoteForm:
    """What a moderator typed in the note form (blank for `/note add`, filled for `/note edit`)."""

    claim: str = ""
    verdict: str = ""
    fr: str = ""
    en: str = ""
    sources: str = ""  # one per line: "title | https://…" or a bare URL


@dataclass(frozen=True)
class Moderator:
    """Who makes a change: the raw user id is only hashed (keyed) before it is stored; the
    display name is kept with the change, for attribution. `community` is the server (Discord
    guild id) or workspace (Slack team id) they act from: the save report's sample question is
    drawn from that community's questions only (None: from none)."""

    platform: str  # "discord" | "slack" | "cli"
    user_id: str
    name: str
    community: str | None = None


@dataclass(frozen=True)
class FormProblem:
    """One thing wrong with a submitted form; `field` None concerns the note as a whole."""

    field: FormField | None
    message: str


@dataclass(frozen=True)
class NoteRejected:
    """The form did not pass the corpus validator: nothing was saved."""

    problems: tuple[FormProblem, ...]


@dataclass(frozen=True)
class NoteUnknown:
    """No note has this id (or, for a revision, no such revision)."""

    note_id: str


@dataclass(frozen=True)
class NoteSaved:
    """A change saved with its history; what the moderator's private report says."""

    note_id: str
    action: Action
    revision: int  # the database revision of this change
    claim: str
    verdict: str | None  # None for a removal
    index_version: str | None  # the index now served; None when the rebuild failed
    previous_version: str
    changes: IndexChanges | None  # what the rebuild changed (None: it failed)
    sample_question: str | None  # a question the new index now answers with this note
    rebuild_problems: tuple[str, ...] = ()  # saved, but the rebuild failed: the old index serves


@dataclass(frozen=True)
class NoteShown:
    """`/note show`: the note as served now, and where it comes from."""

    note_id: str
    claim: str
    verdict: str
    fr: str
    en: str
    sources: tuple[tuple[str, str], ...]  # (title, url)
    served: Served
    file_path: str | None  # the corpus file with this id, if any
    revision: int | None  # the chat revision served, if any
    updated_by: str | None
    updated_at: datetime | None


@dataclass(frozen=True)
class NoteRevision:
    """One entry of `/note history`."""

    revision: int
    action: Action
    author: str  # display name at the time, with its platform
    platform: str
    at: datetime
    verdict: str | None
    claim: str | None


@dataclass(frozen=True)
class NoteHistory:
    """Every chat change to one note, oldest first, and which version is served and why."""

    note_id: str
    revisions: tuple[NoteRevision, ...]
    file_path: str | None
    served: Served
    served_revision: int | None
    # True when the corpus file changed on disk after the latest chat change: the file wins.
    file_newer: bool = False


class NotesUnavailable(Exception):
    """The notes database cannot be reached now: one line for the moderator and the log."""
