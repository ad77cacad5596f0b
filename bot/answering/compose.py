"""Turn ranked units into an `Answer`: the lead, exact quotes, the verdicts that bear on the
question, the plain text."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bot.answer import Answer, FactCheckRef, Language, Lead, Link, SourceRef
from bot.answering.lead import Candidate, LeadIndex, QuestionScorer, choose_lead
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
) -> Answer:
    """Build the answer from the best `top_k` units (the caller has checked relevance).

    `leads`, `scorer` and `vector` (the question's embedding) choose the lead and rank the notes
    by how well they answer the question (bot/answering/lead.py)."""
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
    quotes: list[Candidate] = []
    attached: list[str] = []  # notes whose claim a quoted sentence holds
    quoted_warnings: set[str] = set()  # notes correcting a sentence the answer quotes
    # A note correcting a quoted sentence is as relevant to the retrieval as that sentence.
    inherited: dict[str, float] = {}
    for hit in chosen:
        if hit.kind == "article":
            source = _article_source(question, language, hit, index, article_url, pick)
            sources.append(source)
            # An English answer leads with the aligned English sentence, a verbatim corpus text.
            leading = (
                source.translation if language == "en" and source.translation else source.quote
            )
            texts = [t for t in (source.quote, source.translation) if t]
            quotes.append(leads.quote(scorer, hit, leading, texts))
            original = next(
                index.chunks[r] for r in hit.chunks if index.chunks[r].canonical is None
            )
            attached.extend(original.notes)
            for n in original.notes:
                if n in index.notes and is_warning(index.notes[n].verdict):
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
    found = {h.unit: h.fused for h in hits if h.kind == "factcheck"}
    pool = {
        n: max(found.get(n, 0.0), inherited.get(n, 0.0))
        for n in [*found, *attached]
        if n in index.notes
    }
    answers = leads.best_sentences(scorer, vector, pool, language)
    chosen_lead = choose_lead(question, quotes, answers.values())
    relevance = {n: c.relevance for n, c in answers.items()}
    factchecks = _notes_shown(relevance, quoted_warnings, chosen_lead, index, language, leads)
    shown = {f.id for f in factchecks}
    # A note is a source only when it is shown: no unrelated note among the sources.
    sources = [s for s in sources if s.kind == "article" or s.doc in shown]
    lead = _lead(chosen_lead, sources, factchecks)
    return Answer(
        question,
        language,
        False,
        render_text(language, sources, factchecks, lead),
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
    notes answering nearly as well as the best one, up to MAX_FACTCHECKS in all."""
    lead_note = lead.source if lead is not None and lead.kind == "factcheck" else None
    top = max(relevance.values(), default=0.0)
    ranked = sorted(relevance, key=lambda n: (n != lead_note, -relevance[n], n))
    ranked += sorted(quoted_warnings - set(relevance))  # a note without sentences in the index
    required = quoted_warnings | ({lead_note} if lead_note else set())
    room = max(0, MAX_FACTCHECKS - len(required))
    others = [n for n in ranked if n not in required and relevance[n] >= top - NOTE_MARGIN]
    shown = required.union(others[:room])
    return tuple(_ref(leads, index.notes[n], language) for n in ranked if n in shown)


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
    language: Language,
    sources: Sequence[SourceRef],
    factchecks: Sequence[FactCheckRef],
    lead: Lead | None = None,
) -> str:
    """The plain-text answer (console, JSON `answer`): the lead first, then the quotes and notes."""
    lines: list[str] = []
    if lead is not None:
        lines.append(
            f"{text('lead.title', language)}: « {lead.text} » ({lead_origin(lead, language)})"
        )
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
