"""Moderators' notes from chat: the form, the corpus validator, saving with history, the rebuild.

    desk = NoteDesk(service, repository, settings)
    form = await desk.form()                       # blank, for /note add
    form = await desk.form("fc-13-launch-date")    # filled, for /note edit (or an older revision)
    outcome = await desk.save(form, moderator, note_id=None)  # NoteSaved | NoteRejected | ...
    await desk.remove("fc-13-launch-date", moderator)
    await desk.show(note_id); await desk.history(note_id); await desk.choices("fc-1")

Transport-independent: Discord and Slack open the same form, hand what the moderator typed here
and render the outcome with `bot/notes/wording.py`. A submitted form becomes the text of a corpus
note file and goes through the same validator as the files under `corpus/factchecks/`, against
the corpus as it would be with the change (`index/corpus.py`); nothing is saved unless it passes.
A saved change is a new revision in the database (`bot/storage/notes.py`); the index is then
rebuilt exactly as `/reindex` does (`FactBotService.reindex`). Every method raises
`NotesUnavailable` (one line) when the database cannot be reached.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, Protocol, TypeVar

from bot.answer import Answer, Language
from bot.answering.index_lifecycle import ReindexFailed
from bot.community import community_of
from bot.notes.records import (
    FORM_FIELDS,
    FORM_LIMITS,
    FormField,
    FormProblem,
    Moderator,
    NoteForm,
    NoteHistory,
    NoteRejected,
    NoteRevision,
    NoteSaved,
    NoteShown,
    NotesUnavailable,
    NoteUnknown,
    Served,
)
from bot.storage.errors import StorageError
from bot.storage.notes import Action, NoteRepository, RevisionRow
from index.corpus import (
    ChatNote,
    CorpusInvalid,
    FactCheck,
    NoteOverlay,
    Problem,
    file_notes,
    load_corpus,
    note_digest,
    parse_note,
    served_from,
)
from index.note_file import render_note
from index.text import clean_field

if TYPE_CHECKING:
    from bot.answering.engine import Engine
    from bot.answering.status import ReindexReport
    from bot.settings import Settings


class ModeratorCharge(Protocol):
    """The moderators' cooldown (`bot.serving.moderation.ModeratorCooldown` is one)."""

    def charge(self, by: Moderator) -> None: ...


class DeskHost(Protocol):
    """What the desk needs of the service that hosts it (`FactBotService` is one): the served
    engine, the moderators' cooldown, a rebuild, a question asked. A protocol, so the desk never
    imports serving."""

    settings: Settings

    @property
    def moderators(self) -> ModeratorCharge: ...

    @property
    def engine(self) -> Engine: ...

    async def reindex(self, actor: str) -> ReindexReport: ...

    async def ask(self, question: str) -> Answer: ...


log = logging.getLogger("factbot.notes")

P = ParamSpec("P")
T = TypeVar("T")

MAX_ID_WORDS = 6
# The report's sample question: among the questions refused in the last SAMPLE_DAYS days (at most
# SAMPLE_CANDIDATES, newest first), the SAMPLE_TRIED nearest to the note are asked of the new index.
SAMPLE_DAYS = 30
SAMPLE_CANDIDATES = 200
SAMPLE_TRIED = 3
_URL = re.compile(r"https?://\S+")


# ---------------------------------------------------------------------- the form as a note file


def parse_sources(text: str) -> list[tuple[str, str]]:
    """The form's sources, one per line: `title | url`, `title url` or a bare URL. A line with
    no http(s) URL keeps an empty URL, which the validator then names."""
    sources: list[tuple[str, str]] = []
    for raw in text.splitlines():
        line = raw.strip().lstrip("-•* ").strip()
        if not line:
            continue
        found = _URL.search(line)
        url = found.group(0).rstrip(").,;>") if found else ""
        title = (line[: found.start()] + line[found.end() :]) if found else line
        title = title.strip().strip("|:–—-").strip()
        sources.append((title or url, url))
    return sources


def form_sources(sources: tuple[tuple[str, str], ...]) -> str:
    """Sources as the form shows them, one `title | url` per line."""
    return "\n".join(
        f"{title} | {url}" if title and title != url else url for title, url in sources
    )


def new_note_id(claim: str, taken: set[str]) -> str:
    """`fc-` and the claim's first words, ASCII, unique among `taken`."""
    plain = unicodedata.normalize("NFKD", claim).encode("ascii", "ignore").decode().lower()
    words = re.findall(r"[a-z0-9]+", plain)[:MAX_ID_WORDS]
    base = "fc-" + ("-".join(words) or "note")
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


# The form's fields that hold several lines (the others are one line each).
MULTILINE_FIELDS: frozenset[FormField] = frozenset({"fr", "en", "sources"})


def clean_form(form: NoteForm) -> NoteForm:
    """The form as it is validated and stored: no control, bidi or zero-width characters (a
    note made in chat never holds what the corpus validator refuses in a file), trimmed."""
    return NoteForm(
        *(clean_field(getattr(form, f), f in MULTILINE_FIELDS).strip() for f in FORM_FIELDS)
    )


def note_form(note: FactCheck) -> NoteForm:
    """A note as the form shows it (for `/note edit`)."""
    return NoteForm(
        claim=note.claim,
        verdict=note.verdict,
        fr=note.sections.get("fr", ""),
        en=note.sections.get("en", ""),
        sources=form_sources(tuple((s.title, s.url) for s in note.sources)),
    )


def _field(problem: Problem) -> FormField | None:
    return problem.field if problem.field in FORM_FIELDS else None


# ---------------------------------------------------------------------- the desk


class NoteDesk:
    """Moderators' note commands, over the notes database and the service's index."""

    def __init__(self, service: DeskHost, repository: NoteRepository) -> None:
        self._service = service
        self.repository = repository
        self._corpus_dir = Path(service.settings.corpus_dir)

    # -------------------------------------------------------------- reading

    async def form(
        self, note_id: str | None = None, revision: int | None = None
    ) -> NoteForm | NoteUnknown:
        """A blank form, the form of the note served as `note_id`, or of one of its revisions."""
        if note_id is None:
            return NoteForm()
        return await self._call(self._form, note_id.strip(), revision)

    def _form(self, note_id: str, revision: int | None) -> NoteForm | NoteUnknown:
        if revision is not None:
            row = next(
                (r for r in self.repository.history(note_id) if r.revision == revision), None
            )
            if row is None or row.body is None:
                return NoteUnknown(note_id)
            note = parse_note(row.body, f"chat:{note_id}@{revision}", None, [])
            return note_form(note) if note is not None else NoteUnknown(note_id)
        state = self._state()
        note = state.served.get(note_id)
        if note is None:
            # A note removed in chat opens with its last version: submitting restores it.
            rows = [r for r in self.repository.history(note_id) if r.body is not None]
            if rows:
                restored = parse_note(rows[-1].body or "", f"chat:{note_id}", None, [])
                if restored is not None:
                    return note_form(restored)
            file_note = state.files.get(note_id)
            return note_form(file_note[0]) if file_note else NoteUnknown(note_id)
        return note_form(note)

    async def choices(self, prefix: str = "", limit: int = 25) -> list[tuple[str, str]]:
        """(note id, claim) of the served notes whose id or claim contains `prefix`."""
        return await self._call(self._choices, prefix.strip().lower(), limit)

    def _choices(self, prefix: str, limit: int) -> list[tuple[str, str]]:
        state = self._state()
        found = [
            (note.id, note.claim)
            for note in sorted(state.served.values(), key=lambda n: n.id)
            if prefix in note.id.lower() or prefix in note.claim.lower()
        ]
        return found[:limit]

    async def show(self, note_id: str) -> NoteShown | NoteUnknown:
        """The note served as `note_id`, and where it comes from."""
        return await self._call(self._show, note_id.strip())

    def _show(self, note_id: str) -> NoteShown | NoteUnknown:
        state = self._state()
        note = state.served.get(note_id)
        if note is None:
            return NoteUnknown(note_id)
        rows = self.repository.history(note_id) if note.revision is not None else []
        row = rows[-1] if rows else None
        file_note = state.files.get(note_id)
        return NoteShown(
            note_id=note.id,
            claim=note.claim,
            verdict=note.verdict,
            fr=note.sections.get("fr", ""),
            en=note.sections.get("en", ""),
            sources=tuple((s.title, s.url) for s in note.sources),
            served="chat" if note.revision is not None else "file",
            file_path=file_note[0].path if file_note else None,
            revision=note.revision,
            updated_by=_author(row) if row else None,
            updated_at=row.created_at if row else None,
        )

    async def history(self, note_id: str) -> NoteHistory | NoteUnknown:
        """Every chat change to `note_id`, and which version readers get."""
        return await self._call(self._history, note_id.strip())

    def _history(self, note_id: str) -> NoteHistory | NoteUnknown:
        state = self._state()
        rows = self.repository.history(note_id)
        file_note = state.files.get(note_id)
        if not rows and file_note is None:
            return NoteUnknown(note_id)
        served: Served = "file"
        file_newer = False
        if rows:
            last = rows[-1]
            change = ChatNote(note_id, last.body, last.revision, last.base_digest)
            served = served_from(file_note[1] if file_note else None, change)
            file_newer = served == "file"
        return NoteHistory(
            note_id=note_id,
            revisions=tuple(_revision(r) for r in rows),
            file_path=file_note[0].path if file_note else None,
            served=served,
            served_revision=rows[-1].revision if rows and served != "file" else None,
            file_newer=file_newer,
        )

    # -------------------------------------------------------------- changing

    async def save(
        self,
        form: NoteForm,
        by: Moderator,
        note_id: str | None = None,
        language: Language = "en",
        notify: bool = True,
    ) -> NoteSaved | NoteRejected | NoteUnknown:
        """Validate the form as a corpus note; if it passes, store it as a new revision of
        `note_id` (a new note when None) and rebuild the index. Nothing is saved otherwise;
        a valid form past the moderator's cooldown raises `bot.serving.moderation.TooSoon`.
        `notify` False: a silent change (a typo fix): no thread or subscriber is told."""
        checked = await self._call(self._check_and_store, form, by, note_id, notify)
        if not isinstance(checked, _Stored):
            return checked
        return await self._publish(checked, language)

    async def remove(
        self, note_id: str, by: Moderator, notify: bool = True
    ) -> NoteSaved | NoteUnknown:
        """Stop serving `note_id` (its history is kept; `/note edit` restores it). Raises
        `bot.serving.moderation.TooSoon` past the moderator's cooldown (nothing removed)."""
        stored = await self._call(self._store_removal, note_id.strip(), by, notify)
        if not isinstance(stored, _Stored):
            return stored
        saved = await self._publish(stored, "en")
        assert not isinstance(saved, NoteRejected)
        return saved

    # -------------------------------------------------------------- internals

    async def _call(self, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`work` on a worker thread (each is a few database round trips and file reads)."""
        try:
            return await asyncio.to_thread(work, *args, **kwargs)
        except StorageError as exc:
            raise NotesUnavailable(str(exc)) from exc

    def _state(self, overlay: NoteOverlay | None = None) -> _State:
        return _State.read(self._corpus_dir, overlay or self.repository.overlay())

    def _check_and_store(
        self, form: NoteForm, by: Moderator, note_id: str | None, notify: bool = True
    ) -> _Stored | NoteRejected | NoteUnknown:
        form = clean_form(form)
        too_long = [
            FormProblem(f, f"{len(getattr(form, f))} characters: at most {FORM_LIMITS[f]}")
            for f in FORM_FIELDS
            if len(getattr(form, f)) > FORM_LIMITS[f]
        ]
        if too_long:
            return NoteRejected(tuple(too_long))
        overlay = self.repository.overlay()
        state = self._state(overlay)
        if note_id is None:
            action: Action = "added"
            note_id = new_note_id(form.claim, state.known_ids())
            previous = None
        else:
            note_id = note_id.strip()
            if note_id not in state.known_ids():
                return NoteUnknown(note_id)
            action = "edited"
            previous = state.served.get(note_id)
        rating = (
            previous.rating if previous is not None and previous.verdict == form.verdict else None
        )
        text = render_note(
            note_id,
            form.claim,
            form.verdict,
            dt.datetime.now(dt.UTC).date().isoformat(),
            parse_sources(form.sources),
            {"fr": form.fr, "en": form.en},
            rating,
        )
        file_note = state.files.get(note_id)
        base = note_digest(file_note[1]) if file_note else None
        change = ChatNote(note_id, text, overlay.revision + 1, base)
        rejected = self._validate(overlay, change)
        if rejected is not None:
            return rejected
        # Only a change that would be kept is charged: fixing a rejected form costs nothing.
        self._service.moderators.charge(by)
        revision = self.repository.append(
            note_id, action, text, base, by.platform, by.user_id, by.name, notify
        )
        log.info(
            "note %s %s by %s (%s): revision %d", note_id, action, by.name, by.platform, revision
        )
        return _Stored(note_id, action, revision, form.claim, form.verdict, form, by)

    def _validate(self, overlay: NoteOverlay, change: ChatNote) -> NoteRejected | None:
        """The corpus validator's verdict on the corpus as it would be with `change`."""
        others = tuple(n for n in overlay.notes if n.id != change.id)
        try:
            load_corpus(self._corpus_dir, NoteOverlay(change.revision, (*others, change)))
        except CorpusInvalid as exc:
            mine = [p for p in exc.problems if p.path == change.path]
            theirs = len(exc.problems) - len(mine)
            # Chat shows where the article is in the corpus, not where the corpus is on disk.
            on_disk = f"{self._corpus_dir}/"
            problems = [FormProblem(_field(p), p.message.replace(on_disk, "")) for p in mine]
            if theirs:
                first = next(p for p in exc.problems if p.path != change.path)
                problems.append(
                    FormProblem(
                        None,
                        f"the corpus has {theirs} other problem(s), to fix first (see "
                        f"`factbot corpus check`): {first.relative_to(self._corpus_dir)}",
                    )
                )
            return NoteRejected(tuple(problems))
        return None

    def _store_removal(
        self, note_id: str, by: Moderator, notify: bool = True
    ) -> _Stored | NoteUnknown:
        state = self._state()
        note = state.served.get(note_id)
        if note is None:
            return NoteUnknown(note_id)
        self._service.moderators.charge(by)
        file_note = state.files.get(note_id)
        base = note_digest(file_note[1]) if file_note else None
        revision = self.repository.append(
            note_id, "removed", None, base, by.platform, by.user_id, by.name, notify
        )
        log.info("note %s removed by %s (%s): revision %d", note_id, by.name, by.platform, revision)
        return _Stored(note_id, "removed", revision, note.claim, None, note_form(note), by)

    async def _publish(self, stored: _Stored, language: Language) -> NoteSaved:
        """Rebuild until the served index holds `stored` (a build that was already running when
        it was saved is joined, then followed by one that includes it)."""
        service = self._service
        previous = service.engine.version
        actor = f"note {stored.note_id} revision {stored.revision}"
        saved = NoteSaved(
            stored.note_id,
            stored.action,
            stored.revision,
            stored.claim,
            stored.verdict,
            None,
            previous,
            None,
            None,
        )
        try:
            for _ in range(2):
                report = await service.reindex(actor=actor)
                if service.engine.notes_revision >= stored.revision:
                    break
        except ReindexFailed as exc:
            return dataclasses.replace(saved, rebuild_problems=tuple(exc.problems))
        return dataclasses.replace(
            saved,
            index_version=service.engine.version,
            changes=report.changes,
            sample_question=await self._sample_question(stored, language),
        )

    async def _sample_question(self, stored: _Stored, language: Language) -> str | None:
        """A question the new index answers with this note (for an added or edited note): one
        the saver's community asked and the bot refused, best of all (never another server's or
        workspace's, nor a DM); else the claim or the note's first sentence asked as a
        question."""
        if stored.action == "removed":
            return None
        community = community_of(stored.by.platform, stored.by.community)
        asked: list[str] = []
        if community is not None:
            try:
                asked = await asyncio.to_thread(
                    self.repository.unanswered, SAMPLE_DAYS, SAMPLE_CANDIDATES, community
                )
            except StorageError:
                asked = []
        body = stored.form.fr if language == "fr" else stored.form.en
        first = re.split(r"(?<=[.!?])\s", body.strip(), maxsplit=1)[0]
        own = [c.strip().rstrip(".") + " ?" for c in (stored.claim, first)]
        closest = await asyncio.to_thread(self._closest, stored.note_id, asked)
        for question in [*closest, *own]:
            answer = await self._service.ask(question)
            if any(ref.id == stored.note_id for ref in answer.factchecks):
                return question
        return None

    def _closest(self, note_id: str, questions: list[str]) -> list[str]:
        """The `SAMPLE_TRIED` of `questions` nearest to the note's sentences in the served index."""
        if not questions:
            return []
        index = self._service.engine.index
        rows = [i for i, s in enumerate(index.note_sentences) if s.note == note_id]
        if not rows:
            return []
        vectors = self._service.engine.embedder.encode(questions)
        nearest = (vectors @ index.note_vectors[rows].T).max(axis=1)
        order = sorted(range(len(questions)), key=lambda i: -float(nearest[i]))
        return [questions[i] for i in order[:SAMPLE_TRIED]]


@dataclasses.dataclass(frozen=True)
class _Stored:
    note_id: str
    action: Action
    revision: int
    claim: str
    verdict: str | None
    form: NoteForm
    by: Moderator


@dataclasses.dataclass(frozen=True)
class _State:
    """The corpus files' notes and the notes served with the chat changes laid over them."""

    files: dict[str, tuple[FactCheck, str]]  # id -> (note, file text)
    served: dict[str, FactCheck]
    removed: frozenset[str]

    @classmethod
    def read(cls, root: Path, overlay: NoteOverlay) -> _State:
        files = file_notes(root)
        served = {note_id: note for note_id, (note, _) in files.items()}
        removed: set[str] = set()
        for change in overlay.notes:
            file_note = files.get(change.id)
            where = served_from(file_note[1] if file_note else None, change)
            if where == "file":
                continue
            served.pop(change.id, None)
            if where == "removed" or change.text is None:
                removed.add(change.id)
                continue
            note = parse_note(change.text, change.path, None, [])
            if note is not None:
                served[change.id] = dataclasses.replace(note, revision=change.revision)
        return cls(files, served, frozenset(removed))

    def known_ids(self) -> set[str]:
        return set(self.files) | set(self.served) | set(self.removed)


def _author(row: RevisionRow) -> str:
    return f"{row.author_name} ({row.platform})"


def _revision(row: RevisionRow) -> NoteRevision:
    note = (
        parse_note(row.body, f"chat:{row.note_id}@{row.revision}", None, []) if row.body else None
    )
    return NoteRevision(
        revision=row.revision,
        action=row.action,
        author=_author(row),
        platform=row.platform,
        at=row.created_at,
        verdict=note.verdict if note else None,
        claim=note.claim if note else None,
    )
