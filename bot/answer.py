"""The one value every adapter renders: `Answer`, plus the small records it holds.

Adapters (console, Discord, Slack) turn an `Answer` into text, an embed or Block Kit; they never
look anything up themselves. `Answer.to_json()` is the stable JSON contract of `factbot ask --json`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from index.verdicts import is_warning

Language = Literal["fr", "en"]
SourceKind = Literal["article", "factcheck"]


@dataclass(frozen=True)
class Link:
    title: str
    url: str

    @property
    def host(self) -> str:
        return link_host(self.url)


def link_host(url: str) -> str:
    """The host `url` goes to, shown beside a link's title so that a title cannot pass for
    another site: lower case, an internationalised name in its ASCII (punycode) form; "" when
    there is none."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:  # not a valid internationalised name: show it, escaped
        return host.encode("ascii", "backslashreplace").decode("ascii")


@dataclass(frozen=True)
class SourceRef:
    """One verbatim quote from the corpus, with where it comes from."""

    id: str
    kind: SourceKind
    doc: str
    paragraph: int | None
    quote: str
    score: float
    url: str | None = None
    # For an English question quoting the French article: the aligned English sentence(s).
    translation: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "doc": self.doc,
            "paragraph": self.paragraph,
            "quote": self.quote,
            "score": round(self.score, 4),
            "url": self.url,
        }
        if self.translation is not None:
            out["translation"] = self.translation
        return out


@dataclass(frozen=True)
class FactCheckRef:
    """A fact-check note that bears on the answer, summarised in the answer's language."""

    id: str
    claim: str
    verdict: str
    label: str
    summary: str
    sources: tuple[Link, ...] = ()

    @property
    def is_warning(self) -> bool:
        """The note corrects its claim (see `index.verdicts`); unknown verdicts count as warnings."""
        return is_warning(self.verdict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "claim": self.claim,
            "verdict": self.verdict,
            "summary": self.summary,
            "sources": [{"title": s.title, "url": s.url} for s in self.sources],
        }


@dataclass(frozen=True)
class Lead:
    """The one verbatim sentence that best answers the question, shown first by every adapter.

    `text` is an exact substring of a corpus file: an article sentence (the English translation's
    for an English answer, when there is one) or a sentence of a fact-check note's section in the
    answer's language. `source` is the id of the `SourceRef` (article) or `FactCheckRef` (note) it
    comes from; `paragraph` or `label` say where it comes from when it is shown."""

    text: str
    source: str
    kind: SourceKind
    paragraph: int | None = None  # the article paragraph, for an article sentence
    label: str | None = None  # the note's verdict label, for a fact-check sentence

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "source": self.source, "kind": self.kind}


@dataclass(frozen=True)
class Answer:
    """The result of one question: quotes and verdicts, or an honest refusal."""

    question: str
    language: Language
    refused: bool
    text: str
    sources: tuple[SourceRef, ...] = ()
    factchecks: tuple[FactCheckRef, ...] = ()
    index_version: str = ""
    lead: Lead | None = None  # None when refused
    debug: dict[str, float] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "language": self.language,
            "refused": self.refused,
            "lead": self.lead.to_json() if self.lead is not None else None,
            "answer": self.text,
            "sources": [s.to_json() for s in self.sources],
            "factchecks": [f.to_json() for f in self.factchecks],
        }
