"""The lead of an answer — the one verbatim sentence that best answers the question — and how
well each fact-check note answers it (which notes are shown, and in which order).

Candidates are the article sentences the answer quotes and the sentences of the notes the
retrieval found. Each is scored against the question with what is already at hand, so no encode
happens here: the cosine to the question's vector (the notes' sentence vectors are computed at
index build time, a quote's is its unit's cosine from the retrieval), plus the IDF-weighted share
of the question's words the sentence holds, plus a bonus when it holds what a "when / how many"
question asks for (and, for a note, when its claim does).

A note sentence leads when it answers better than the best quote; for a question asking what is
actually true ("did it really…?") it leads unless a quote answers much better, and for a question
asking what the article says it never does. Weights measured with `factbot eval` on the dev,
held-out and chat sets (README, "Answer quality").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple, cast, get_args

import numpy as np
import numpy.typing as npt

from bot.answer import FactCheckRef, Language
from bot.answering.retrieval import Hit
from index.embeddings import Vectors
from index.store import LoadedIndex
from index.text import content_words, fold, plain_quotes

WORD_WEIGHT = 0.8  # of the IDF-weighted word overlap, beside the cosine
TYPE_BONUS = 0.1  # a year for "when", a number for "how many"
# A note whose claim holds what the question asks for (a year for "when") is about that: the
# note correcting "en 2023" answers "when did it launch?" better than one that mentions a date.
CLAIM_TYPE_BONUS = 0.15
# Of the retrieval's fused score of a sentence's unit, in its relevance (which quote, which note).
RETRIEVAL_WEIGHT = 8.0
# A fact-check question leads with a note sentence unless the best quote scores this much more.
TRUTH_MARGIN = 0.3

# "Did it really…?", "c'était vraiment…?": the question asks what is true, which the notes say.
_ASKS_TRUTH = re.compile(
    r"\b(?:vraiment|reellement|en vrai|en realite|en fait|finalement|au final|vrai|vraie"
    r"|really|actually|in fact|in reality|truly|true|in the end|finally|rly)\b"
)
# "What does the article say…?", "according to…", "was it supposed to…": what the article says.
_ASKS_ARTICLE = re.compile(
    r"\b(?:article|dit|disait|selon|d'apres|mentionnee?s?|cense|censee|devait|devaient"
    r"|says?|said|claims?|mentioned|according|supposed)\b"
)


def asks_truth(question: str) -> bool:
    """The question asks what is actually true (a fact-check question)."""
    return _ASKS_TRUTH.search(fold(plain_quotes(question))) is not None


def asks_article(question: str) -> bool:
    """The question asks what the article says, true or not."""
    return _ASKS_ARTICLE.search(fold(plain_quotes(question))) is not None


class QuestionScorer:
    """Scores sentences against one question: cosine + word overlap + answer type. (A plain
    class with slots, not a frozen dataclass: every fact answer makes one; treat it as
    immutable.)"""

    __slots__ = ("question", "total", "wanted", "weights")

    def __init__(
        self, question: str, weights: dict[str, float], wanted: re.Pattern[str] | None
    ) -> None:
        self.question = question
        self.weights = weights  # the question's content words and their IDF
        self.wanted = wanted
        self.total = sum(weights.values())  # the weights' sum, the share's denominator

    @classmethod
    def of(
        cls,
        question: str,
        words: Iterable[str],
        idf: Callable[[str], float],
        wanted: re.Pattern[str] | None,
    ) -> QuestionScorer:
        """`wanted`: what the answer holds, `expected_answer(question)` (the retrieval has it)."""
        return cls(question, {w: idf(w) for w in set(words)}, wanted)

    def overlap(self, words: frozenset[str]) -> float:
        """IDF-weighted share of the question's words found in `words`."""
        if self.total <= 0:
            return 0.0
        return sum(v for w, v in self.weights.items() if w in words) / self.total

    def score(self, cosine: float, words: frozenset[str], text: str) -> float:
        typed = self.wanted is not None and self.wanted.search(text) is not None
        return self.scored(cosine, words, typed)

    def scored(self, cosine: float, words: frozenset[str], typed: bool) -> float:
        """`score`, told whether the text holds what `wanted` looks for."""
        return cosine + WORD_WEIGHT * self.overlap(words) + (TYPE_BONUS if typed else 0.0)


class Candidate(NamedTuple):
    """A sentence that could lead: `source` is a quote's unit id or a note id. `score` says how
    well the sentence answers the question; `relevance` adds the retrieval's view of its whole
    unit (a note's claim and section), which tells units apart better than one sentence does.
    (A named tuple: an answer makes one per note, and a frozen dataclass costs more to make.)"""

    text: str
    source: str
    kind: str  # "article" | "factcheck"
    score: float
    relevance: float


class Quoted(NamedTuple):
    """An article sentence as an answer quotes it in one language (bot/answering/compose.py
    makes it once per unit, sentence and language): where it comes from, its text and aligned
    translation, what scores it as a lead, and the notes on its sentence."""

    doc: str
    paragraph: int | None
    quote: str
    translation: str | None
    leading: str  # the text that would lead: the translation for an English answer, if any
    words: frozenset[str]  # content words of the quote and its translation
    text: str  # the quote and its translation, one a line: where an answer type is looked for
    notes: tuple[str, ...]  # the notes whose claim the sentence holds
    warnings: tuple[str, ...]  # of those, the served notes that correct it
    lines: str  # its lines in the plain-text answer


class LeadIndex:
    """What scoring candidates needs from one index, prepared once: the notes' sentences with
    their vectors and content words, laid out per question language (`_Layout`) so scoring
    every note's sentences costs a few array operations, not a Python loop per sentence; and
    what composing an answer reads from the index, made once (bot/answering/compose.py)."""

    def __init__(self, index: LoadedIndex) -> None:
        self.sentences = index.note_sentences
        self.vectors = index.note_vectors
        self.claims = {n.id: n.claim for n in index.notes.values()}
        self.words = [frozenset(content_words(s.text)) for s in self.sentences]
        self.rows: dict[tuple[str, str], list[int]] = {}
        self.languages: dict[str, list[str]] = {}
        for row, s in enumerate(self.sentences):
            self.rows.setdefault((s.note, s.language), []).append(row)
            if s.language not in self.languages.setdefault(s.note, []):
                self.languages[s.note].append(s.language)
        self._quote_words: dict[str, frozenset[str]] = {}
        # Per answer type (a handful of patterns), whether a quote's text holds one.
        self._typed: dict[tuple[str, re.Pattern[str]], bool] = {}
        # Each note summarised per language, made once (bot/answering/compose.py fills it).
        self.refs: dict[tuple[str, Language], FactCheckRef] = {}
        # Each quoted sentence per (unit, span, language), and each article unit's notes (the
        # notes on its chunks), made once (bot/answering/compose.py fills them).
        self.quoted: dict[tuple[str, int, int, Language], Quoted] = {}
        self.unit_notes: dict[str, frozenset[str]] = {}
        # The plain-text answer's lines: per lead (its text, kind, paragraph, label and
        # language), and per note and language with the summary they were made from.
        self.lines: dict[tuple[str, str, int | None, str | None, Language], str] = {}
        self.blocks: dict[tuple[str, Language], tuple[FactCheckRef, str]] = {}
        original = next(
            (c.doc for c in index.chunks if c.kind == "article" and c.canonical is None), ""
        )
        self.article_url = next((d.url for d in index.documents if d.id == original), None)
        self._layouts = {language: _Layout(self, language) for language in get_args(Language)}

    def quote_words(self, text: str) -> frozenset[str]:
        """Content words of a quote (cached: quotes are corpus sentences, a bounded set)."""
        words = self._quote_words.get(text)
        if words is None:
            words = self._quote_words[text] = frozenset(content_words(text))
        return words

    def quote(self, scorer: QuestionScorer, hit: Hit, quoted: Quoted) -> Candidate:
        """A quoted article sentence as a candidate (`hit`: its ranked unit): scored as
        `QuestionScorer.score` scores it, whether its text holds an answer type found once."""
        wanted = scorer.wanted
        typed = False
        if wanted is not None:
            key = (quoted.text, wanted)
            known = self._typed.get(key)
            if known is None:
                known = self._typed[key] = wanted.search(quoted.text) is not None
            typed = known
        score = scorer.scored(hit.dense, quoted.words, typed)
        return _new(
            Candidate,
            (quoted.leading, hit.unit, "article", score, score + RETRIEVAL_WEIGHT * hit.fused),
        )

    def best_sentences(
        self,
        scorer: QuestionScorer,
        vector: Vectors,
        notes: Mapping[str, float],
        language: Language,
    ) -> dict[str, Candidate]:
        """Per note (id -> its fused retrieval score), its sentence that best answers the
        question, in `language` (the other section when the note has none in it). A sentence and
        its translation are read as one: the better cosine and the union of their words (the
        bundled model reads English best)."""
        layout = self._layouts[language]
        out: dict[str, Candidate] = {}
        if not layout.spans:
            return out
        scores = layout.scores(scorer, vector).tolist()
        texts, spans = layout.lead_texts, layout.spans
        for note, fused in notes.items():
            span = spans.get(note)
            if span is None:
                continue
            start, end = span
            sentences = scores[start:end]
            score = max(sentences)  # the first best, as a strict ">" in order would keep
            out[note] = _new(
                Candidate,
                (
                    texts[start + sentences.index(score)],
                    note,
                    "factcheck",
                    score,
                    score + RETRIEVAL_WEIGHT * fused,
                ),
            )
        return out

    def relevance(
        self,
        scorer: QuestionScorer,
        vector: Vectors,
        notes: Mapping[str, float],
        language: Language,
    ) -> tuple[dict[str, float], Candidate | None]:
        """What an answer needs of `best_sentences`, for less: each note's relevance, and the
        most relevant note's best sentence (the first of ties, in `notes` order), the only one
        that can lead."""
        layout = self._layouts[language]
        relevance: dict[str, float] = {}
        if not layout.spans:
            return relevance, None
        scores = layout.scores(scorer, vector)
        best = np.maximum.reduceat(scores, layout.starts).tolist()
        note_at = layout.note_at
        top: str | None = None
        top_relevance = top_score = 0.0
        for note, fused in notes.items():
            i = note_at.get(note)
            if i is None:
                continue
            score = best[i]
            relevance[note] = r = score + RETRIEVAL_WEIGHT * fused
            if top is None or r > top_relevance:  # max() keeps the first of ties
                top, top_relevance, top_score = note, r, score
        if top is None:
            return relevance, None
        start, end = layout.spans[top]
        text = layout.lead_texts[start + int(scores[start:end].argmax())]
        return relevance, _new(Candidate, (text, top, "factcheck", top_score, top_relevance))


# Makes a named tuple without its Python-level `__new__` (as retrieval.py makes its hits).
_new = tuple.__new__


class _Layout:
    """Every note's sentences as `best_sentences` reads them for questions in one language (the
    note's section in that language, else its first one), in flat arrays: position `i` is
    sentence row `rows[i]`, read with its aligned translation (itself when it has none). Its
    scores are those of scoring each sentence on its own (`QuestionScorer.score`): the same
    float operations in the same order, on cosines from one matrix-vector product (equal to a
    lone dot product's within float32 rounding; tests/test_lead.py compares them)."""

    def __init__(self, leads: LeadIndex, language: str) -> None:
        self.spans: dict[str, tuple[int, int]] = {}  # note -> its positions [start, end)
        rows: list[int] = []
        for note, languages in leads.languages.items():
            group = leads.rows[(note, language if language in languages else languages[0])]
            self.spans[note] = (len(rows), len(rows) + len(group))
            rows.extend(group)
        self.rows = rows
        self.note_at = {note: i for i, note in enumerate(self.spans)}
        self.starts = np.array([s for s, _ in self.spans.values()], dtype=np.intp)
        sentences = [leads.sentences[r] for r in rows]
        self.lead_texts = [s.text for s in sentences]
        # Each position's sentence vector, then its translation's: one product scores both.
        partners = [
            s.aligned if s.aligned >= 0 else r for r, s in zip(rows, sentences, strict=True)
        ]
        self.matrix = np.ascontiguousarray(leads.vectors[[*rows, *partners]])
        postings: dict[str, list[int]] = {}
        self.texts: list[str] = []
        for i, s in enumerate(sentences):
            words, text = leads.words[rows[i]], s.text
            if s.aligned >= 0:
                words = words | leads.words[s.aligned]
                text = f"{text}\n{leads.sentences[s.aligned].text}"
            self.texts.append(text)
            for word in words:
                postings.setdefault(word, []).append(i)
        self.postings = {w: tuple(p) for w, p in postings.items()}
        self.claims = [leads.claims.get(s.note, "") for s in sentences]
        # Per answer type (a year, a number: a handful of patterns), the bonus of each position.
        self._bonuses: dict[
            re.Pattern[str], tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]
        ] = {}

    def scores(self, scorer: QuestionScorer, vector: Vectors) -> npt.NDArray[np.float64]:
        """`QuestionScorer.score` of every position, plus the note's claim bonus."""
        n = len(self.rows)
        both = self.matrix @ vector
        cosines = np.maximum(both[:n], both[n:])  # the sentence's or its translation's
        total = scorer.total
        at: list[int] = []
        weights: list[float] = []
        if total > 0:
            postings = self.postings
            for word, weight in scorer.weights.items():
                holding = postings.get(word)
                if holding is not None:
                    at += holding
                    weights += [weight] * len(holding)
        if at:
            # Each position's weights summed in the question's word order (bincount adds in
            # the order given), as `QuestionScorer.overlap` does.
            found = cast("npt.NDArray[np.float64]", np.bincount(at, weights, n))
            scores: npt.NDArray[np.float64] = cosines + WORD_WEIGHT * (found / total)
        else:
            scores = cosines.astype(np.float64)
        if scorer.wanted is not None:
            # (score + its type bonus) + the claim's, in this order, as before.
            typed, claimed = self._bonus(scorer.wanted)
            scores += typed
            scores += claimed
        return scores

    def _bonus(
        self, wanted: re.Pattern[str]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        bonus = self._bonuses.get(wanted)
        if bonus is None:
            typed = np.array([TYPE_BONUS if wanted.search(t) else 0.0 for t in self.texts])
            claimed = np.array([CLAIM_TYPE_BONUS if wanted.search(c) else 0.0 for c in self.claims])
            bonus = self._bonuses[wanted] = (typed, claimed)
        return bonus


def choose_lead(
    question: str, quotes: Iterable[Candidate], notes: Iterable[Candidate]
) -> Candidate | None:
    """The lead among the quotes and the notes' best sentences (None when there is neither):
    the most relevant quote or the most relevant note, whichever answers better."""
    best_quote = max(quotes, key=_relevance, default=None)
    best_note = max(notes, key=_relevance, default=None)
    if best_note is None:
        return best_quote
    if best_quote is None:
        return best_note
    folded = fold(plain_quotes(question))  # once, for both questions asked of it
    if _ASKS_ARTICLE.search(folded) is not None:
        return best_quote
    margin = TRUTH_MARGIN if _ASKS_TRUTH.search(folded) is not None else 0.0
    return best_note if best_note.score > best_quote.score - margin else best_quote


def _relevance(candidate: Candidate) -> float:
    return candidate.relevance
