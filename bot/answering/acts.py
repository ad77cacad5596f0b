"""The replies that are not fact answers (issue 22): the article's gist, whether to trust it, its
publication, the conversation replies, and several questions joined into one reply.

Each is built from the loaded index alone (its documents' front matter, the moderators' summary,
the notes' verdicts) and the catalogue; nothing here retrieves or encodes. `card` is the index's
`article_card`, when the caller made it once (the engine does). Leads keep the
contract of `bot.answer.Lead`: a gist leads with a sentence of the summary, a reliability answer
with a sentence of its most serious note, an about answer with a line built from the front
matter; conversation replies have no lead, no quotes and no notes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from bot.answer import Act, Answer, ArticleCard, FactCheckRef, Language, Lead
from bot.answering.compose import factcheck_ref
from bot.messages import lead_origin, scorecard_line, text
from index.store import DocRecord, LoadedIndex
from index.text import split_sentences
from index.verdicts import is_warning, severity_rank, verdict

# A reliability answer's plain text lists this many notes (all of them are in `factchecks`).
RELIABILITY_SHOWN = 5


def _article(index: LoadedIndex) -> DocRecord | None:
    """The original article: the document the others translate (the first one)."""
    return index.documents[0] if index.documents else None


def _headline(index: LoadedIndex, language: Language) -> str:
    """The article's title in `language` (its translation's), else the original's."""
    doc = next((d for d in index.documents if d.language == language), None) or _article(index)
    return doc.title if doc is not None else ""


def scorecard(index: LoadedIndex) -> tuple[tuple[str, int], ...]:
    """(verdict, count) over the served notes, most serious first, zero counts omitted."""
    counts = Counter(n.verdict for n in index.notes.values())
    return tuple(
        (name, counts[name]) for name in sorted(counts, key=lambda v: (severity_rank(v), v))
    )


def article_card(index: LoadedIndex) -> ArticleCard:
    """The article at a glance: front matter, summary, scorecard."""
    doc = _article(index)
    summary: dict[Language, str] = {}
    for language in ("fr", "en"):
        section = index.summary.get(language)
        if section:
            summary[language] = section
    return ArticleCard(
        title=doc.title if doc is not None else "",
        outlet=(doc.outlet or "") if doc is not None else "",
        published=(doc.published or "") if doc is not None else "",
        url=(doc.url or "") if doc is not None else "",
        language=doc.language if doc is not None else "",
        summary=summary,
        scorecard=scorecard(index),
        notes_total=len(index.notes),
    )


def _first_sentence(section: str) -> str:
    spans = split_sentences(section)
    s, e = spans[0] if spans else (0, len(section))
    return section[s:e]


def _card_lines(card: ArticleCard, headline: str, language: Language) -> list[str]:
    return [
        text("card.headline_line", language, title=headline),
        scorecard_line(card.scorecard, card.notes_total, language),
    ]


def card_text(card: ArticleCard, language: Language) -> str:
    """The article card as plain text (`factbot about`, the console's /about)."""
    lines = [
        text("card.headline_line", language, title=card.title),
        f"{text('card.outlet', language)}: {card.outlet}",
        f"{text('card.published', language)}: {card.published}",
        f"{text('card.link', language)}: {card.url}",
    ]
    summary = card.summary.get(language) or next(iter(card.summary.values()), "")
    if summary:
        lines.append(f"{text('card.summary', language)}: {summary}")
    lines.append(scorecard_line(card.scorecard, card.notes_total, language))
    return "\n".join(lines)


def gist(
    question: str, language: Language, index: LoadedIndex, card: ArticleCard | None = None
) -> Answer:
    """The summary first (its first sentence is the lead), then the headline and the scorecard."""
    card = card or article_card(index)
    section = index.summary.get(language) or next(iter(index.summary.values()), "")
    if section:
        lead: Lead | None = Lead(_first_sentence(section), "summary", "summary")
        body = [section]
    else:  # a corpus without summary.md: the headline is the gist
        lead = None
        body = [text("gist.no_summary", language)]
    lines = [*body, "", *_card_lines(card, _headline(index, language), language)]
    if lead is not None:
        lines.insert(
            0, f"{text('lead.title', language)}: « {lead.text} » ({lead_origin(lead, language)})"
        )
    return Answer(
        question,
        language,
        False,
        "\n".join(lines),
        index_version=index.version,
        lead=lead,
        act="gist",
        card=card,
    )


def about(
    question: str, language: Language, index: LoadedIndex, card: ArticleCard | None = None
) -> Answer:
    """Outlet, date, link, title and language of the article, from its front matter, in the
    lead; then the scorecard."""
    card = card or article_card(index)
    doc = _article(index)
    line = text(
        "about.lead",
        language,
        title=card.title,
        published=card.published,
        outlet=card.outlet,
        in_language=text(f"language.{card.language}", language)
        if card.language in ("fr", "en")
        else card.language,
        url=card.url,
    )
    lead = Lead(line, doc.id if doc is not None else "", "about")
    lines = [f"{text('lead.title', language)}: {line}"]
    translated = _headline(index, language)
    if translated != card.title:
        lines.append(text("card.headline_line", language, title=translated))
    lines.append(scorecard_line(card.scorecard, card.notes_total, language))
    return Answer(
        question,
        language,
        False,
        "\n".join(lines),
        index_version=index.version,
        lead=lead,
        act="about",
        card=card,
    )


def warnings(index: LoadedIndex, language: Language) -> list[FactCheckRef]:
    """The notes that are not accurate, most serious first (then in the corpus's order)."""
    notes = [n for n in index.notes.values() if is_warning(n.verdict)]
    order = {n.id: i for i, n in enumerate(index.notes.values())}
    notes.sort(key=lambda n: (severity_rank(n.verdict), order[n.id]))
    return [factcheck_ref(n, language) for n in notes]


def reliability(
    question: str, language: Language, index: LoadedIndex, card: ArticleCard | None = None
) -> Answer:
    """The scorecard, then the notes that are not accurate, most serious first, each with its
    claim and what is true in one sentence; the rest through /factcheck."""
    card = card or article_card(index)
    listed = warnings(index, language)
    lines: list[str] = []
    lead: Lead | None = None
    if listed:
        first = listed[0]
        lead = Lead(_first_sentence(first.summary), first.id, "factcheck", label=first.label)
        lines.append(
            f"{text('lead.title', language)}: « {lead.text} » ({lead_origin(lead, language)})"
        )
        lines.append(text("reliability.intro", language))
    else:
        lines.append(text("reliability.sound", language))
    lines.append(scorecard_line(card.scorecard, card.notes_total, language))
    for f in listed[:RELIABILITY_SHOWN]:
        lines.append(f"{verdict(f.verdict).mark} {f.label}: « {f.claim} »")
        lines.append(f"  {text('answer.true', language)}: {_first_sentence(f.summary)}")
    if len(listed) > RELIABILITY_SHOWN:
        lines.append(text("and_more", language, n=len(listed) - RELIABILITY_SHOWN))
    lines.append(text("reliability.more", language))
    return Answer(
        question,
        language,
        False,
        "\n".join(lines),
        factchecks=tuple(listed),
        index_version=index.version,
        lead=lead,
        act="reliability",
        card=card,
    )


def conversation(
    question: str,
    language: Language,
    act: Act,
    index: LoadedIndex,
    card: ArticleCard | None = None,
) -> Answer:
    """A greeting, thanks, help or feedback reply: the catalogue's words, naming the article
    (and for help the commands); no lead, no quotes, no notes, never refused."""
    card = card or article_card(index)
    title = _headline(index, language)
    if act == "greeting":
        reply = text("reply.greeting", language, title=title)
    elif act == "help":
        reply = text(
            "reply.help",
            language,
            title=title,
            outlet=card.outlet,
            published=card.published,
            commands=text("reply.help_commands", language),
        )
    elif act == "feedback":
        reply = text("reply.feedback", language)
    else:
        reply = text("reply.thanks", language)
    shows_card = act in ("greeting", "help")
    return Answer(
        question,
        language,
        False,
        reply,
        index_version=index.version,
        act=act,
        card=card if shows_card else None,
    )


def joined(question: str, language: Language, parts: Sequence[Answer], version: str) -> Answer:
    """Several questions' answers as one reply: each part numbered with its question and its
    own text; the top level carries the first answered part's lead and every part's quotes and
    notes (each once), refused only when every part is."""
    lines: list[str] = []
    for n, part in enumerate(parts, start=1):
        lines.append(text("multi.part", language, n=n, question=part.question))
        lines.append(part.text)
        lines.append("")
    sources = {s.id: s for p in parts for s in p.sources}
    notes = {f.id: f for p in parts for f in p.factchecks}
    lead = next((p.lead for p in parts if p.lead is not None), None)
    return Answer(
        question,
        language,
        all(p.refused for p in parts),
        "\n".join(lines).rstrip(),
        sources=tuple(sources.values()),
        factchecks=tuple(notes.values()),
        index_version=version,
        lead=lead,
        act="multi",
        parts=tuple(parts),
    )
