"""Turn ranked units into an `Answer`: the lead, exact quotes, the verdicts that bear on the
question, the plain text."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import get_args

from bot.answer import Answer, FactCheckRef, Language, Lead, Link, SourceRef
from bot.answering.lead import Candidate, LeadIndex, QuestionScorer, Quoted, choose_lead
from bot.answering.retrieval import Hit
from bot.messages import lead_origin, text
from index.chunking import Chunk
from index.embeddings import Vectors
from index.store import LoadedIndex, NoteRecord
from index.verdicts import is_warning, verdict

# A unit whose dense score falls this far below the best one is not worth quoting beside it.
QUOTE_MARGIN = 0.2
MAX_FACTCHECKS = 3
# A note this much less relevant than the most relevant one (bot/answering/lead.py: its best sentence and
# the retrieval's view of it) does not bear on the question, unless it corrects a quoted sentence.
NOTE_MARGIN = 0.4
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
    leads: LeadIndex,
    scorer: QuestionScorer,
    vector: Vectors,
    asked: str | None = None,
) -> Answer:
    """Build the answer from the best `top_k` units (the caller has checked relevance).

    `leads`, `scorer` and `vector` (the question's embedding) choose the lead and rank the notes
    by how well they answer the question (bot/answering/lead.py). The answer is to `asked`
    (the question as the user typed it) when given, else to `question`."""
    first = hits[0] if hits else None
    floor = (first.dense if first is not None else 0.0) - QUOTE_MARGIN
    chosen = [h for h in hits[:top_k] if h.dense >= floor or h is first]
    if chosen and chosen[0].kind == "factcheck":
        # A note ranked first: quote the article sentence it corrects right after it, so the
        # reader sees the article's words and the correction together.
        claimed = _claimed_sentence(hits, chosen[0].unit, index, leads)
        if claimed is not None and claimed not in chosen:
            chosen = [chosen[0], claimed, *chosen[1:]][:top_k]
    if not any(h.kind == "article" for h in chosen):
        # The bot quotes the article: keep the best nearby sentence when notes fill the top.
        nearby = next((h for h in hits[: top_k + ARTICLE_LOOKAHEAD] if h.kind == "article"), None)
        if nearby is not None:
            chosen.append(nearby)
    article_url = leads.article_url
    sources: list[SourceRef] = []
    quotes: list[Candidate] = []
    shown_quotes: list[Quoted] = []  # the article sources' sentences, in order
    attached: list[str] = []  # notes whose claim a quoted sentence holds
    quoted_warnings: set[str] = set()  # notes correcting a sentence the answer quotes
    # A note correcting a quoted sentence is as relevant to the retrieval as that sentence.
    inherited: dict[str, float] = {}
    for hit in chosen:
        if hit.kind == "article":
            quoted = _quoted(question, language, hit, index, pick, leads)
            sources.append(
                SourceRef(
                    hit.unit,
                    "article",
                    quoted.doc,
                    quoted.paragraph,
                    quoted.quote,
                    hit.fused,
                    article_url,
                    quoted.translation,
                )
            )
            quotes.append(leads.quote(scorer, hit, quoted))
            shown_quotes.append(quoted)
            attached.extend(quoted.notes)
            for n in quoted.warnings:
                quoted_warnings.add(n)
                inherited[n] = max(inherited.get(n, 0.0), hit.fused)
        else:
            note = index.notes[hit.unit]
            sources.append(
                SourceRef(
                    id=hit.unit,
                    kind="factcheck",
                    doc=note.id,
                    paragraph=None,
                    quote=_ref(leads, note, language).summary,
                    score=hit.fused,
                    url=note.sources[0][1] if note.sources else None,
                )
            )
    # Every note the retrieval found or a quote carries, scored by its sentence that best
    # answers the question; the lead is that sentence or a quote (bot/answering/lead.py).
    notes = index.notes
    pool = {h.unit: h.fused for h in hits if h.kind == "factcheck" and h.unit in notes}
    for n in attached:
        if n in notes and n not in pool:
            pool[n] = 0.0
    for n, fused in inherited.items():
        pool[n] = max(pool[n], fused)
    relevance, best_note = leads.relevance(scorer, vector, pool, language)
    chosen_lead = choose_lead(question, quotes, () if best_note is None else (best_note,))
    factchecks = _notes_shown(relevance, quoted_warnings, chosen_lead, index, language, leads)
    if len(sources) > len(shown_quotes):
        # A note is a source only when it is shown: no unrelated note among the sources.
        shown = {f.id for f in factchecks}
        sources = [s for s in sources if s.kind == "article" or s.doc in shown]
    lead = _lead(chosen_lead, sources, factchecks)
    return Answer(
        question if asked is None else asked,
        language,
        False,
        _text(language, shown_quotes, factchecks, lead, leads),
        tuple(sources),
        factchecks,
        index_version=index.version,
        lead=lead,
    )


def _notes_shown(
    relevance: dict[str, float],
    quoted_warnings: set[str],
    lead: Candidate | None,
    index: LoadedIndex,
    language: Language,
    leads: LeadIndex,
) -> tuple[FactCheckRef, ...]:
    """The notes that bear on the question, the one that best answers it first (the lead's).

    Every note correcting a quoted sentence is shown, however many and however far from the
    question: a quoted mistake never goes out unflagged. Besides them, the lead's note and the
    notes answering nearly as well as the best one, up to MAX_FACTCHECKS in all; in order of
    relevance (then of id), then the required notes without sentences in the index, by id."""
    lead_note = lead.source if lead is not None and lead.kind == "factcheck" else None
    required = quoted_warnings | {lead_note} if lead_note is not None else quoted_warnings
    room = max(0, MAX_FACTCHECKS - len(required))
    cut = max(relevance.values(), default=0.0) - NOTE_MARGIN
    # Only the notes that can be shown are ranked: the required ones and those near the top.
    near = sorted([(-r, n) for n, r in relevance.items() if r >= cut or n in required])
    ranked = [lead_note] if lead_note in relevance else []
    for _, n in near:
        if n in required:
            if n != lead_note:
                ranked.append(n)
        elif room > 0:
            ranked.append(n)
            room -= 1
    ranked += sorted(n for n in quoted_warnings if n not in relevance)
    return tuple(_ref(leads, index.notes[n], language) for n in ranked)


def _ref(leads: LeadIndex, note: NoteRecord, language: Language) -> FactCheckRef:
    """`factcheck_ref`, made once per note and language of the index `leads` was made from."""
    ref = leads.refs.get((note.id, language))
    if ref is None:
        ref = leads.refs[(note.id, language)] = factcheck_ref(note, language)
    return ref


def _lead(
    chosen: Candidate | None, sources: Sequence[SourceRef], factchecks: Sequence[FactCheckRef]
) -> Lead | None:
    if chosen is None:
        return None
    if chosen.kind == "article":
        paragraph = next((s.paragraph for s in sources if s.id == chosen.source), None)
        return Lead(chosen.text, chosen.source, "article", paragraph=paragraph)
    label = next((f.label for f in factchecks if f.id == chosen.source), None)
    return Lead(chosen.text, chosen.source, "factcheck", label=label)


def _claimed_sentence(
    hits: Sequence[Hit], note_id: str, index: LoadedIndex, leads: LeadIndex
) -> Hit | None:
    """The ranked article unit whose sentence carries `note_id`'s claim."""
    for hit in hits:
        if hit.kind == "article" and note_id in _unit_notes(hit, index, leads):
            return hit
    return None


def _unit_notes(hit: Hit, index: LoadedIndex, leads: LeadIndex) -> frozenset[str]:
    """The notes on the chunks of `hit`'s unit (made once per unit)."""
    notes = leads.unit_notes.get(hit.unit)
    if notes is None:
        notes = frozenset(n for r in hit.chunks for n in index.chunks[r].notes)
        leads.unit_notes[hit.unit] = notes
    return notes


def _quoted(
    question: str,
    language: Language,
    hit: Hit,
    index: LoadedIndex,
    pick: SentencePicker,
    leads: LeadIndex,
) -> Quoted:
    """The sentence an article hit quotes (picked when its chunk has several) in `language`:
    made once per unit, sentence and language of the index `leads` was made from."""
    chunks = index.chunks
    original = next(chunks[r] for r in hit.chunks if chunks[r].canonical is None)
    s, e = (
        pick(question, original) if len(original.sentences) > 1 else (original.start, original.end)
    )
    key = (hit.unit, s, e, language)
    quoted = leads.quoted.get(key)
    if quoted is not None:
        return quoted
    quote = _slice(original, s, e)
    translation = None
    if language != original.language:
        aligned = next((chunks[r] for r in hit.chunks if chunks[r].language == language), None)
        if aligned is not None:
            position = original.sentences.index((s, e)) if (s, e) in original.sentences else None
            if position is not None and len(aligned.sentences) == len(original.sentences):
                ts, te = aligned.sentences[position]
                translation = _slice(aligned, ts, te)
            else:
                translation = aligned.text
    # An English answer leads with the aligned English sentence, a verbatim corpus text.
    leading = translation if language == "en" and translation else quote
    texts = [t for t in (quote, translation) if t]
    quoted = leads.quoted[key] = Quoted(
        doc=original.doc,
        paragraph=original.paragraph,
        quote=quote,
        translation=translation,
        leading=leading,
        words=frozenset().union(*(leads.quote_words(t) for t in texts)),
        text="\n".join(texts),
        lines=_quote_lines(quote, original.paragraph, translation),
        notes=original.notes,
        warnings=tuple(
            n for n in original.notes if n in index.notes and is_warning(index.notes[n].verdict)
        ),
    )
    return quoted


def _slice(chunk: Chunk, start: int, end: int) -> str:
    """Text of paragraph span [start, end) from a chunk that starts at `chunk.start`."""
    return chunk.text[start - chunk.start : end - chunk.start]


def render_text(
    language: Language,
    sources: Sequence[SourceRef],
    factchecks: Sequence[FactCheckRef],
    lead: Lead | None = None,
) -> str:
    """The plain-text answer (console, JSON `answer`): the lead first, then the quotes and notes."""
    lines: list[str] = []
    if lead is not None:
        lines.append(_lead_line(lead, language))
    quotes = [s for s in sources if s.kind == "article"]
    if quotes:
        lines.append(_ARTICLE_HEADING[language])
        lines.extend(_quote_lines(s.quote, s.paragraph, s.translation) for s in quotes)
    lines.extend(_factcheck_lines(f, language) for f in factchecks)
    return "\n".join(lines)


def _text(
    language: Language,
    quotes: Sequence[Quoted],
    factchecks: Sequence[FactCheckRef],
    lead: Lead | None,
    leads: LeadIndex,
) -> str:
    """`render_text` of a composed answer (`quotes`: its article sources' sentences), from the
    lines made once per sentence, note and lead of the index `leads` was made from."""
    lines: list[str] = []
    if lead is not None:
        key = (lead.text, lead.kind, lead.paragraph, lead.label, language)
        line = leads.lines.get(key)
        if line is None:
            line = leads.lines[key] = _lead_line(lead, language)
        lines.append(line)
    if quotes:
        lines.append(_ARTICLE_HEADING[language])
        lines.extend(q.lines for q in quotes)
    for f in factchecks:
        cached = leads.blocks.get((f.id, language))
        if cached is None or cached[0] is not f:
            cached = leads.blocks[(f.id, language)] = (f, _factcheck_lines(f, language))
        lines.append(cached[1])
    return "\n".join(lines)


_ARTICLE_HEADING: dict[Language, str] = {
    language: f"{text('answer.article', language)}:" for language in get_args(Language)
}


def _lead_line(lead: Lead, language: Language) -> str:
    return f"{text('lead.title', language)}: « {lead.text} » ({lead_origin(lead, language)})"


def _quote_lines(quote: str, paragraph: int | None, translation: str | None) -> str:
    line = f"  « {quote} » (§{paragraph})"
    return f"{line}\n    — “{translation}”" if translation else line


def _factcheck_lines(f: FactCheckRef, language: Language) -> str:
    heading = text("answer.factcheck", language)
    lines = [
        f"{verdict(f.verdict).mark} {heading} — {f.label}: « {f.claim} »",
        f"  {text('answer.true', language)}: {f.summary}",
    ]
    lines.extend(f"  → {link.title}: {link.url}" for link in f.sources[:2])
    return "\n".join(lines)
