"""Load and validate the corpus: the article, its aligned translation and the fact-check notes.

`load_corpus(path)` returns typed records or raises `CorpusInvalid` carrying one `Problem` per
defect, each naming the file (and line where it applies). `check_corpus(path)` returns the
problems without raising. The format is described in `corpus/README.md`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from index.text import find_normalized, split_sentences, unsafe_character
from index.verdicts import VERDICTS as VERDICTS  # the verdicts a note may carry (re-exported)

SECTION_HEADINGS = {"fr": "## Français", "en": "## English"}
ARTICLE_FIELDS = ("id", "title", "language", "published")
NOTE_FIELDS = ("id", "claim", "verdict", "reviewed", "sources")
# A note id: letters and digits in groups joined by one `-` or `_` ("fc-13-launch-date"). Ids
# name files (`factbot notes export`) and travel in commands, so nothing else is allowed in one.
NOTE_ID = re.compile(r"[A-Za-z0-9]+(?:[-_][A-Za-z0-9]+)*")
NOTE_ID_MAX_CHARS = 100
# The moderators' short summary of the article (issue 22), one section per language; optional.
SUMMARY_FILE = "summary.md"
SUMMARY_FIELDS = ("id", "reviewed")
SUMMARY_MAX_CHARS = 1500  # per language section: a gist is short


def is_note_id(value: str) -> bool:
    """Whether `value` is a well-formed note id (`NOTE_ID`, at most `NOTE_ID_MAX_CHARS`)."""
    return len(value) <= NOTE_ID_MAX_CHARS and NOTE_ID.fullmatch(value) is not None


@dataclass(frozen=True)
class Problem:
    """One defect in the corpus, located as precisely as possible."""

    path: str
    message: str
    line: int | None = None
    # For a note: the front-matter key or section ("claim", "verdict", "sources", "fr", "en")
    # the problem is about, so a form can show it beside its field.
    field: str | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"

    def relative_to(self, root: str | Path) -> str:
        """The problem as chat shows it: files named relative to the corpus folder `root`,
        never where the corpus is on the server."""
        folder = str(root).rstrip("/")
        path = "the corpus folder" if self.path == folder else self.path.removeprefix(f"{folder}/")
        where = f"{path}:{self.line}" if self.line else path
        return f"{where}: {self.message.replace(f'{folder}/', '')}"


class CorpusInvalid(Exception):
    """The corpus has defects; `problems` lists every one found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class Paragraph:
    number: int  # 0 is the title, 1.. the body paragraphs
    text: str
    sentences: tuple[tuple[int, int], ...]  # character spans inside `text`


@dataclass(frozen=True)
class Document:
    id: str
    path: str
    title: str
    language: str
    paragraphs: tuple[Paragraph, ...]
    url: str | None = None
    outlet: str | None = None
    published: str | None = None
    translation_of: str | None = None


@dataclass(frozen=True)
class Source:
    title: str
    url: str
    published: str | None = None


@dataclass(frozen=True)
class ClaimSpan:
    """Where a note's claim sits in the article: paragraph and character span inside it."""

    paragraph: int
    start: int
    end: int


@dataclass(frozen=True)
class FactCheck:
    id: str
    path: str
    claim: str
    verdict: str
    reviewed: str
    sources: tuple[Source, ...]
    sections: dict[str, str]  # language -> body text of that section
    claim_span: ClaimSpan | None = None
    rating: str | None = None
    revision: int | None = None  # the database revision, for a note made or changed in chat

    def summary(self, language: str) -> str:
        """First paragraph of the section in `language` (falls back to the other one)."""
        body = self.sections.get(language) or next(iter(self.sections.values()), "")
        return body.strip().split("\n\n", 1)[0].strip()


@dataclass(frozen=True)
class Summary:
    """`summary.md`: the article's gist per language, written and owned by the moderators (what
    a gist question leads with; never quoted as the article's words)."""

    path: str
    reviewed: str
    sections: dict[str, str]  # language -> the summary text


@dataclass(frozen=True)
class Corpus:
    article: Document
    translations: dict[str, Document]  # language -> aligned translation of the article
    factchecks: tuple[FactCheck, ...]
    content_hash: str
    notes_revision: int = 0  # the newest chat revision overlaid (0: files only)
    summary: Summary | None = None

    @property
    def documents(self) -> tuple[Document, ...]:
        return (self.article, *self.translations.values())


@dataclass(frozen=True)
class ChatNote:
    """The latest change to one note made in chat (kept in the database, not in a file)."""

    id: str
    text: str | None  # the note as a corpus file's text; None when it was removed in chat
    revision: int
    # `note_digest` of the corpus file's text this change was made over; None: no file then.
    base_digest: str | None

    @property
    def path(self) -> str:
        """How problems name it."""
        return f"chat:{self.id}@{self.revision}"


@dataclass(frozen=True)
class NoteOverlay:
    """The notes made or changed in chat, laid over the corpus files."""

    revision: int  # the newest revision in the database (0: none yet)
    notes: tuple[ChatNote, ...]


def note_digest(text: str) -> str:
    """A note file's digest, recorded with each chat change made over it."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def served_from(file_text: str | None, change: ChatNote) -> Literal["file", "chat", "removed"]:
    """Which version of a note readers get when it has a file and a chat change.

    The most recent change wins: the chat change, unless the file changed on disk after it (its
    digest is no longer the one the change was made over: an upstream edit, reviewed in git).
    """
    if file_text is not None and note_digest(file_text) != change.base_digest:
        return "file"
    return "chat" if change.text is not None else "removed"


# --------------------------------------------------------------------------- parsing helpers


def _split_front_matter(
    path: str, text: str, problems: list[Problem]
) -> tuple[dict[str, Any], str, int] | None:
    """(front matter, body, line number where the body starts) or None with a problem added."""
    import yaml  # here: a start whose index is current parses no corpus file

    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        problems.append(
            Problem(path, "missing front matter: the file must start with a '---' line", 1)
        )
        return None
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        problems.append(Problem(path, "front matter is not closed: add a '---' line after it", 1))
        return None
    try:
        meta = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        problems.append(Problem(path, f"malformed front matter (YAML): {reason}", line))
        return None
    if not isinstance(meta, dict):
        problems.append(Problem(path, "malformed front matter: expected 'key: value' lines", 2))
        return None
    return meta, "\n".join(lines[end + 1 :]), end + 2


def _field_line(text: str, name: str) -> int | None:
    for i, line in enumerate(text.split("\n"), start=1):
        if line.startswith(f"{name}:"):
            return i
    return None


def _as_str(value: Any) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else str(value).strip()


def _paragraphs(body: str) -> tuple[Paragraph, ...]:
    blocks = [b.strip() for b in body.strip().split("\n\n")]
    blocks = [" ".join(b.split("\n")) if "\n" in b else b for b in blocks if b]
    return tuple(
        Paragraph(number=i, text=b, sentences=tuple(split_sentences(b)))
        for i, b in enumerate(blocks)
    )


def _check_characters(rel: str, text: str, problems: list[Problem]) -> None:
    """One problem for a file holding control, bidi or zero-width characters (the first)."""
    found = unsafe_character(text)
    if found is not None:
        line, char = found
        problems.append(
            Problem(
                rel,
                f"invisible or control character U+{ord(char):04X} "
                f"({unicodedata.name(char, 'control')}): remove it",
                line,
            )
        )


def _load_document(path: Path, rel: str, problems: list[Problem]) -> Document | None:
    text = path.read_text(encoding="utf-8")
    _check_characters(rel, text, problems)
    parsed = _split_front_matter(rel, text, problems)
    if parsed is None:
        return None
    meta, body, _ = parsed
    missing = [f for f in ARTICLE_FIELDS if not _as_str(meta.get(f))]
    if missing:
        problems.append(Problem(rel, f"front matter lacks: {', '.join(missing)}", 1))
        return None
    paragraphs = _paragraphs(body)
    if not paragraphs:
        problems.append(Problem(rel, "the document has no text after its front matter"))
        return None
    return Document(
        id=_as_str(meta["id"]),
        path=rel,
        title=_as_str(meta["title"]),
        language=_as_str(meta["language"]),
        paragraphs=paragraphs,
        url=_as_str(meta.get("url")) or None,
        outlet=_as_str(meta.get("outlet")) or None,
        published=_as_str(meta.get("published")) or None,
        translation_of=_as_str(meta.get("translation_of")) or None,
    )


def _sections(rel: str, body: str, body_line: int, problems: list[Problem]) -> dict[str, str]:
    found: dict[str, list[str]] = {}
    current: str | None = None
    for line in body.split("\n"):
        stripped = line.strip()
        if stripped.startswith("## "):
            current = next((lang for lang, h in SECTION_HEADINGS.items() if stripped == h), None)
            if current is not None:
                found[current] = []
            continue
        if current is not None:
            found[current].append(line)
    out = {lang: "\n".join(lines).strip() for lang, lines in found.items()}
    for lang, heading in SECTION_HEADINGS.items():
        if not out.get(lang):
            problems.append(
                Problem(rel, f"missing or empty language section '{heading}'", body_line, lang)
            )
    return out


def parse_note(
    text: str, rel: str, article: Document | None, problems: list[Problem]
) -> FactCheck | None:
    """One note from its file text (`rel` names it in problems), validated against `article`;
    None with the problems added when it is not valid."""
    parsed = _split_front_matter(rel, text, problems)
    if parsed is None:
        return None
    meta, body, body_line = parsed
    before = len(problems)
    missing = [f for f in NOTE_FIELDS if not meta.get(f)]
    if missing:
        field = missing[0] if len(missing) == 1 else None
        problems.append(Problem(rel, f"front matter lacks: {', '.join(missing)}", 1, field))
        return None
    note_id = _as_str(meta["id"])
    if not is_note_id(note_id):
        problems.append(
            Problem(
                rel,
                f"id {note_id[:NOTE_ID_MAX_CHARS]!r} is not a note id: letters and digits joined "
                f"by '-' or '_', at most {NOTE_ID_MAX_CHARS} characters",
                _field_line(text, "id"),
            )
        )
    verdict = _as_str(meta["verdict"])
    if verdict not in VERDICTS:
        problems.append(
            Problem(
                rel,
                f"unknown verdict {verdict!r}; use one of: {', '.join(VERDICTS)}",
                _field_line(text, "verdict"),
                "verdict",
            )
        )
    claim = _as_str(meta["claim"])
    span: ClaimSpan | None = None
    if article is not None:
        for para in article.paragraphs:
            hit = find_normalized(para.text, claim)
            if hit is not None:
                span = ClaimSpan(para.number, *hit)
                break
        if span is None:
            problems.append(
                Problem(
                    rel,
                    "claim not found verbatim in the article (copy it exactly from "
                    f"{article.path}; typographic and straight apostrophes are interchangeable)",
                    _field_line(text, "claim"),
                    "claim",
                )
            )
    sources: list[Source] = []
    raw_sources = meta["sources"]
    if not isinstance(raw_sources, list):
        problems.append(
            Problem(
                rel,
                "sources must be a list of {title, url, published}",
                _field_line(text, "sources"),
                "sources",
            )
        )
        raw_sources = []
    for i, src in enumerate(raw_sources, start=1):
        if not isinstance(src, dict):
            problems.append(
                Problem(
                    rel,
                    f"source {i} must be a mapping with title and url",
                    _field_line(text, "sources"),
                    "sources",
                )
            )
            continue
        url = _as_str(src.get("url"))
        if not url.startswith(("http://", "https://")):
            problems.append(
                Problem(
                    rel,
                    f"source {i} ({_as_str(src.get('title')) or 'untitled'}) has no URL (http or https)",
                    _field_line(text, "sources"),
                    "sources",
                )
            )
            continue
        sources.append(
            Source(_as_str(src.get("title")) or url, url, _as_str(src.get("published")) or None)
        )
    sections = _sections(rel, body, body_line, problems)
    if len(problems) > before:
        return None
    return FactCheck(
        id=note_id,
        path=rel,
        claim=claim,
        verdict=verdict,
        reviewed=_as_str(meta["reviewed"]),
        sources=tuple(sources),
        sections=sections,
        claim_span=span,
        rating=_as_str(meta.get("rating")) or None,
    )


def _check_alignment(article: Document, translation: Document, problems: list[Problem]) -> None:
    a, t = article.paragraphs, translation.paragraphs
    if len(a) != len(t):
        problems.append(
            Problem(
                translation.path,
                f"paragraphs misaligned: {len(t)} paragraphs here, {len(a)} in {article.path} "
                "(the translation must keep the same paragraphs in the same order)",
            )
        )
        return
    for pa, pt in zip(a, t, strict=True):
        if len(pa.sentences) != len(pt.sentences):
            problems.append(
                Problem(
                    translation.path,
                    f"paragraph {pa.number}: {len(pt.sentences)} sentences here, "
                    f"{len(pa.sentences)} in {article.path} (keep the translation sentence-aligned)",
                )
            )


def _hash_files(root: Path, files: Iterable[Path], overlay: NoteOverlay | None = None) -> str:
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(f.read_bytes())
        digest.update(b"\0")
    # The chat notes, in id order: the same files and database give the same hash on every host.
    for note in sorted(overlay.notes if overlay is not None else (), key=lambda n: n.id):
        digest.update(f"chat:{note.id}:{note.base_digest or ''}\0".encode())
        digest.update((note.text if note.text is not None else "\0removed").encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _load_summary(path: Path, rel: str, problems: list[Problem]) -> Summary | None:
    """`summary.md`, validated: front matter (`SUMMARY_FIELDS`), both language sections,
    each one paragraph-ish text of at most `SUMMARY_MAX_CHARS`, no invisible character."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        problems.append(Problem(rel, "not UTF-8 text"))
        return None
    before = len(problems)
    _check_characters(rel, text, problems)
    parsed = _split_front_matter(rel, text, problems)
    if parsed is None:
        return None
    meta, body, body_line = parsed
    missing = [f for f in SUMMARY_FIELDS if not _as_str(meta.get(f))]
    if missing:
        problems.append(Problem(rel, f"front matter lacks: {', '.join(missing)}", 1))
    sections = _sections(rel, body, body_line, problems)
    for lang, section in sections.items():
        if len(section) > SUMMARY_MAX_CHARS:
            problems.append(
                Problem(
                    rel,
                    f"the '{SECTION_HEADINGS[lang]}' summary is {len(section)} characters "
                    f"(at most {SUMMARY_MAX_CHARS}: a summary is short)",
                    body_line,
                    lang,
                )
            )
    if len(problems) > before:
        return None
    return Summary(rel, _as_str(meta.get("reviewed")), sections)


def corpus_files(root: Path) -> list[Path]:
    """The files that make up the corpus, in a stable order."""
    docs = sorted(p for p in root.glob("*.md") if p.name.lower() != "readme.md")
    notes = sorted((root / "factchecks").glob("*.md"))
    return docs + notes


def file_notes(root: Path) -> dict[str, tuple[FactCheck, str]]:
    """The notes of the files under `root/factchecks`, by id, with their file text (not checked
    against the article; unreadable or invalid files are left out: `check_corpus` names them)."""
    notes: dict[str, tuple[FactCheck, str]] = {}
    for path in sorted((root / "factchecks").glob("*.md")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        note = parse_note(text, str(path), None, [])
        if note is not None:
            notes.setdefault(note.id, (note, text))
    return notes


def corpus_hash(root: Path, overlay: NoteOverlay | None = None) -> str:
    """Content hash of the corpus files and chat notes (what the index manifest records)."""
    return _hash_files(root, corpus_files(root), overlay)


# --------------------------------------------------------------------------- public API


def load_corpus(root: str | Path, overlay: NoteOverlay | None = None) -> Corpus:
    """Load and validate the corpus under `root`, with the notes made in chat laid over its
    files (`overlay`); raise `CorpusInvalid` listing every problem."""
    root = Path(root)
    problems: list[Problem] = []
    if not root.is_dir():
        raise CorpusInvalid([Problem(str(root), "corpus folder not found")])
    files = corpus_files(root)
    documents: list[Document] = []
    summary: Summary | None = None
    for path in files:
        if path.parent == root and path.name == SUMMARY_FILE:
            summary = _load_summary(path, str(path), problems)
        elif path.parent == root:
            try:
                doc = _load_document(path, str(path), problems)
            except UnicodeDecodeError:
                problems.append(Problem(str(path), "not UTF-8 text"))
                continue
            if doc is not None:
                documents.append(doc)
    originals = [d for d in documents if d.translation_of is None]
    article: Document | None = None
    if len(originals) != 1:
        problems.append(
            Problem(
                str(root),
                f"expected exactly one article (a document without translation_of), found {len(originals)}",
            )
        )
    else:
        article = originals[0]
    translations: dict[str, Document] = {}
    for doc in documents:
        if doc.translation_of is None or article is None:
            continue
        if doc.translation_of != article.id:
            problems.append(
                Problem(doc.path, f"translation_of {doc.translation_of!r} names no article")
            )
            continue
        _check_alignment(article, doc, problems)
        translations[doc.language] = doc
    file_notes: list[tuple[FactCheck, str]] = []
    for path in files:
        if path.parent == root:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            problems.append(Problem(str(path), "not UTF-8 text"))
            continue
        _check_characters(str(path), text, problems)
        note = parse_note(text, str(path), article, problems)
        if note is not None:
            file_notes.append((note, text))
    notes = _overlaid(file_notes, overlay, article, problems)
    if problems or article is None:
        raise CorpusInvalid(problems)
    return Corpus(
        article=article,
        translations=translations,
        factchecks=tuple(notes),
        content_hash=_hash_files(root, files, overlay),
        notes_revision=overlay.revision if overlay is not None else 0,
        summary=summary,
    )


def _overlaid(
    file_notes: list[tuple[FactCheck, str]],
    overlay: NoteOverlay | None,
    article: Document | None,
    problems: list[Problem],
) -> list[FactCheck]:
    """The file notes with the chat notes laid over them (see `served_from`), ids unique."""
    chat = {n.id: n for n in overlay.notes} if overlay is not None else {}
    notes: list[FactCheck] = []
    seen: dict[str, str] = {}
    files_by_id: dict[str, str] = {}

    def keep(note: FactCheck) -> None:
        if note.id in seen:
            problems.append(
                Problem(note.path, f"duplicate note id {note.id!r} (also in {seen[note.id]})", 1)
            )
            return
        seen[note.id] = note.path
        notes.append(note)

    for note, text in file_notes:
        files_by_id.setdefault(note.id, text)
        change = chat.get(note.id)
        if change is None or served_from(text, change) == "file":
            keep(note)
    for change in chat.values():
        if served_from(files_by_id.get(change.id), change) != "chat" or change.text is None:
            continue
        made = parse_note(change.text, change.path, article, problems)
        if made is None:
            continue
        if made.id != change.id:
            problems.append(Problem(change.path, f"the note's id is {made.id!r}", 1))
            continue
        keep(dataclasses.replace(made, revision=change.revision))
    return notes


def check_corpus(root: str | Path, overlay: NoteOverlay | None = None) -> list[Problem]:
    """Every problem in the corpus under `root` with `overlay` (empty when it is valid)."""
    try:
        load_corpus(root, overlay)
    except CorpusInvalid as exc:
        return exc.problems
    return []
