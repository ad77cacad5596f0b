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
# Where a lead comes from: an article sentence, a note sentence, a sentence of the article's
# summary (`corpus/summary.md`), or the article's front matter (outlet, date, link, title).
LeadKind = Literal["article", "factcheck", "summary", "about"]
# What a reply is (issue 22): a fact answer (retrieval), the article's gist, whether to trust it,
# its publication, a conversation act (greeting, thanks, help, feedback in words), or several
# questions answered part by part.
Act = Literal[
    "fact", "gist", "reliability", "about", "greeting", "thanks", "help", "feedback", "multi"
]
CONVERSATION_ACTS: frozenset[str] = frozenset({"greeting", "thanks", "help", "feedback"})


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
    for an English answer, when there is one), a sentence of a fact-check note's section in the
    answer's language, or (kind "summary") a sentence of the summary's section in the answer's
    language. `source` is the id of the `SourceRef` (article) or `FactCheckRef` (note) it comes
    from, "summary", or for kind "about" the article's document id (the text is then built from
    its front matter, not quoted); `paragraph` or `label` say where it comes from when shown."""

    text: str
    source: str
    kind: LeadKind
    paragraph: int | None = None  # the article paragraph, for an article sentence
    label: str | None = None  # the note's verdict label, for a fact-check sentence

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "source": self.source, "kind": self.kind}


@dataclass(frozen=True)
class ArticleCard:
    """The article at a glance (`/about`, `factbot about`, gist and about answers): its front
    matter, the moderators' summary per language, and the verdict scorecard — (verdict name,
    count) most serious first (`index.verdicts.SEVERITY`), zero counts omitted — over
    `notes_total` notes. `bot.messages.scorecard_line` renders the scorecard."""

    title: str
    outlet: str
    published: str  # ISO date, as the front matter gives it ("2019-03")
    url: str
    language: str
    summary: dict[Language, str]
    scorecard: tuple[tuple[str, int], ...]
    notes_total: int

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "outlet": self.outlet,
            "published": self.published,
            "url": self.url,
            "language": self.language,
            "summary": dict(self.summary),
            "scorecard": [{"verdict": v, "count": n} for v, n in self.scorecard],
            "notes_total": self.notes_total,
        }


@dataclass(frozen=True)
class Answer:
    """The result of one message: quotes and verdicts, an honest refusal, or (see `act`) the
    gist, the reliability, the article's card, a conversation reply, or several answers."""

    question: str
    language: Language
    refused: bool
    text: str
    sources: tuple[SourceRef, ...] = ()
    factchecks: tuple[FactCheckRef, ...] = ()
    index_version: str = ""
    lead: Lead | None = None  # None when refused
    debug: dict[str, float] = field(default_factory=dict, compare=False)
    act: Act = "fact"
    # For "multi": one answer per question of the message, in order, each with its own lead;
    # `text` joins them.
    parts: tuple[Answer, ...] = ()
    # The article's card: set for gist and about answers, and help or greeting replies.
    card: ArticleCard | None = None
    # For "feedback": the id of the conversation's previous answer it is about (set by the
    # intake from its conversation memory; None when there is none). The learning loop records
    # it like a 👎 with the message as its reason. Not part of the JSON contract.
    feedback_on: str | None = field(default=None, compare=False)

    @property
    def is_conversation(self) -> bool:
        """A greeting, thanks, help or feedback reply: no quotes, no notes, never refused."""
        return self.act in CONVERSATION_ACTS

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "question": self.question,
            "language": self.language,
            "act": self.act,
            "refused": self.refused,
            "lead": self.lead.to_json() if self.lead is not None else None,
            "answer": self.text,
            "sources": [s.to_json() for s in self.sources],
            "factchecks": [f.to_json() for f in self.factchecks],
        }
        if self.act == "multi":
            out["parts"] = [p.to_json() for p in self.parts]
        return out
