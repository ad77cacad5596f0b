"""Turn ranked units into an `Answer`: exact quotes, the verdicts that bear on them, the text."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bot.answer import Answer, FactCheckRef, Language, Link, SourceRef
from bot.messages import text
from bot.retrieval import Hit
from index.chunking import Chunk
from index.store import LoadedIndex, NoteRecord
from index.verdicts import is_warning, verdict

# A unit whose dense score falls this far below the best one is not worth quoting beside it.
QUOTE_MARGIN = 0.2
MAX_FACTCHECKS = 3
ARTICLE_LOOKAHEAD = 3

SentencePicker = Callable[[str, Chunk], tuple[int, int]]


def factcheck_ref(note: NoteRecord, language: Language) -> FactCheckRef:
    """A note summarised in `language` (the other language if that section is missing)."""
    summary = note.summaries.get(language) or next(iter(note.summaries.values()), "")
    return FactCheckRef(
        id=note.id,
        claim=note.claim,
        verdict=note.verdict,
        label=note.rating
        if note.rating and language == "en"
        else verdict(note.verdict).label(language),
        summary=summary,
        sources=tuple(Link(title, url) for title, url in note.sources),
    )


def refusal(question: str, language: Language, version: str, why: str | None = None) -> Answer:
    """An honest refusal; `why` names what the corpus does not cover, when known."""
    line = text("answer.refusal", language)
    return Answer(question, language, True, f"{why} {line}" if why else line, index_version=version)


def compose(
    question: str,
    language: Language,
    hits: Sequence[Hit],
    index: LoadedIndex,
    top_k: int,
    pick: SentencePicker,
) -> Answer:
    """Build the answer from the best `top_k` units (the caller has checked relevance)."""
    best = hits[0].dense if hits else 0.0
    chosen = [h for h in hits[:top_k] if h.dense >= best - QUOTE_MARGIN or h is hits[0]]
    if chosen and chosen[0].kind == "factcheck":
        # A note ranked first: quote the article sentence it corrects right after it, so the
        # reader sees the article's words and the correction together.
        claimed = _claimed_sentence(hits, chosen[0].unit, index)
        if claimed is not None and claimed not in chosen:
            chosen = [chosen[0], claimed, *chosen[1:]][:top_k]
    if not any(h.kind == "article" for h in chosen):
        # The bot quotes the article: keep the best nearby sentence when notes fill the top.
        nearby = next((h for h in hits[: top_k + ARTICLE_LOOKAHEAD] if h.kind == "article"), None)
        if nearby is not None:
            chosen.append(nearby)
    article_url = next((d.url for d in index.documents if d.id == _article_id(index)), None)
    sources: list[SourceRef] = []
    note_ids: list[str] = []
    quoted_warnings: set[str] = set()  # notes correcting a sentence the answer quotes
    for hit in chosen:
        if hit.kind == "article":
            sources.append(_article_source(question, language, hit, index, article_url, pick))
            original = next(
                index.chunks[r] for r in hit.chunks if index.chunks[r].canonical is None
            )
            note_ids.extend(original.notes)
            quoted_warnings.update(
                n for n in original.notes if n in index.notes and is_warning(index.notes[n].verdict)
            )
        else:
            note = index.notes[hit.unit]
            note_ids.append(note.id)
            sources.append(
                SourceRef(
                    id=hit.unit,
                    kind="factcheck",
                    doc=note.id,
                    paragraph=None,
                    quote=factcheck_ref(note, language).summary,
                    score=hit.fused,
                    url=note.sources[0][1] if note.sources else None,
                )
            )
    # Notes that bear on the quotes, most relevant to the question first (a quoted sentence can
    # carry several notes; the one about what was asked should lead). Every note correcting a
    # quoted sentence is shown, however many: a quoted mistake never goes out unflagged. Other
    # notes fill the rest, up to MAX_FACTCHECKS.
    relevance = {h.unit: h.fused for h in hits if h.kind == "factcheck"}
    candidates = [n for n in dict.fromkeys(note_ids) if n in index.notes]
    candidates.sort(key=lambda n: (-relevance.get(n, 0.0), not is_warning(index.notes[n].verdict)))
    others = [n for n in candidates if n not in quoted_warnings]
    shown = quoted_warnings.union(others[: max(0, MAX_FACTCHECKS - len(quoted_warnings))])
    notes = [index.notes[n] for n in candidates if n in shown]
    factchecks = tuple(factcheck_ref(n, language) for n in notes)
    return Answer(
        question,
        language,
        False,
        render_text(language, sources, factchecks),
        tuple(sources),
        factchecks,
        index_version=index.version,
    )


def _claimed_sentence(hits: Sequence[Hit], note_id: str, index: LoadedIndex) -> Hit | None:
    """The ranked article unit whose sentence carries `note_id`'s claim."""
    for hit in hits:
        if hit.kind == "article" and any(note_id in index.chunks[r].notes for r in hit.chunks):
            return hit
    return None


def _article_id(index: LoadedIndex) -> str:
    return next((c.doc for c in index.chunks if c.kind == "article" and c.canonical is None), "")


def _article_source(
    question: str,
    language: Language,
    hit: Hit,
    index: LoadedIndex,
    url: str | None,
    pick: SentencePicker,
) -> SourceRef:
    members = [index.chunks[r] for r in hit.chunks]
    original = next(c for c in members if c.canonical is None)
    s, e = (
        pick(question, original) if len(original.sentences) > 1 else (original.start, original.end)
    )
    quote = _slice(original, s, e)
    translation = None
    if language != original.language:
        aligned = next((c for c in members if c.language == language), None)
        if aligned is not None:
            position = original.sentences.index((s, e)) if (s, e) in original.sentences else None
            if position is not None and len(aligned.sentences) == len(original.sentences):
                ts, te = aligned.sentences[position]
                translation = _slice(aligned, ts, te)
            else:
                translation = aligned.text
    return SourceRef(
        id=hit.unit,
        kind="article",
        doc=original.doc,
        paragraph=original.paragraph,
        quote=quote,
        score=hit.fused,
        url=url,
        translation=translation,
    )


def _slice(chunk: Chunk, start: int, end: int) -> str:
    """Text of paragraph span [start, end) from a chunk that starts at `chunk.start`."""
    return chunk.text[start - chunk.start : end - chunk.start]


def render_text(
    language: Language, sources: Sequence[SourceRef], factchecks: Sequence[FactCheckRef]
) -> str:
    """The plain-text answer (console, JSON `answer`)."""
    lines: list[str] = []
    quotes = [s for s in sources if s.kind == "article"]
    if quotes:
        lines.append(f"{text('answer.article', language)}:")
        for s in quotes:
            lines.append(f"  « {s.quote} » (§{s.paragraph})")
            if s.translation:
                lines.append(f"    — “{s.translation}”")
    for f in factchecks:
        heading = text("answer.factcheck", language)
        lines.append(f"{verdict(f.verdict).mark} {heading} — {f.label}: « {f.claim} »")
        lines.append(f"  {text('answer.true', language)}: {f.summary}")
        for link in f.sources[:2]:
            lines.append(f"  → {link.title}: {link.url}")
    return "\n".join(lines)
