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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.answer import Language
from bot.answering.retrieval import Hit, expected_answer
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


@dataclass(frozen=True)
class QuestionScorer:
    """Scores sentences against one question: cosine + word overlap + answer type."""

    question: str
    weights: dict[str, float]  # the question's content words and their IDF
    wanted: re.Pattern[str] | None

    @classmethod
    def of(cls, question: str, words: Iterable[str], idf: Callable[[str], float]) -> QuestionScorer:
        return cls(question, {w: idf(w) for w in set(words)}, expected_answer(question))

    def overlap(self, words: frozenset[str]) -> float:
        """IDF-weighted share of the question's words found in `words`."""
        total = sum(self.weights.values())
        if total <= 0:
            return 0.0
        return sum(v for w, v in self.weights.items() if w in words) / total

    def score(self, cosine: float, words: frozenset[str], text: str) -> float:
        typed = self.wanted is not None and self.wanted.search(text) is not None
        return cosine + WORD_WEIGHT * self.overlap(words) + (TYPE_BONUS if typed else 0.0)


@dataclass(frozen=True)
class Candidate:
    """A sentence that could lead: `source` is a quote's unit id or a note id. `score` says how
    well the sentence answers the question; `relevance` adds the retrieval's view of its whole
    unit (a note's claim and section), which tells units apart better than one sentence does."""

    text: str
    source: str
    kind: str  # "article" | "factcheck"
    score: float
    relevance: float


class LeadIndex:
    """What scoring candidates needs from one index, prepared once: the notes' sentences with
    their vectors and content words."""

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

    def quote_words(self, text: str) -> frozenset[str]:
        """Content words of a quote (cached: quotes are corpus sentences, a bounded set)."""
        words = self._quote_words.get(text)
        if words is None:
            words = self._quote_words[text] = frozenset(content_words(text))
        return words

    def quote(
        self, scorer: QuestionScorer, hit: Hit, shown: str, texts: Sequence[str]
    ) -> Candidate:
        """A quoted article sentence as a candidate: `shown` is the text that would lead,
        `texts` the sentence in every language it is quoted in, `hit` its ranked unit."""
        words = frozenset().union(*(self.quote_words(t) for t in texts))
        score = scorer.score(hit.dense, words, "\n".join(texts))
        return Candidate(shown, hit.unit, "article", score, score + RETRIEVAL_WEIGHT * hit.fused)

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
        out: dict[str, Candidate] = {}
        for note, fused in notes.items():
            languages = self.languages.get(note)
            if not languages:
                continue
            rows = self.rows[(note, language if language in languages else languages[0])]
            cosines = (self.vectors[rows] @ vector).tolist()
            claim = self.claims.get(note, "")
            about = scorer.wanted is not None and scorer.wanted.search(claim) is not None
            bonus = CLAIM_TYPE_BONUS if about else 0.0
            best: Candidate | None = None
            for row, cosine in zip(rows, cosines, strict=True):
                s = self.sentences[row]
                words, text, cos = self.words[row], s.text, float(cosine)
                if s.aligned >= 0:
                    cos = max(cos, float(self.vectors[s.aligned] @ vector))
                    words = words | self.words[s.aligned]
                    text = f"{text}\n{self.sentences[s.aligned].text}"
                score = scorer.score(cos, words, text) + bonus
                relevance = score + RETRIEVAL_WEIGHT * fused
                scored = Candidate(s.text, note, "factcheck", score, relevance)
                if best is None or scored.score > best.score:
                    best = scored
            if best is not None:
                out[note] = best
        return out


def choose_lead(
    question: str, quotes: Iterable[Candidate], notes: Iterable[Candidate]
) -> Candidate | None:
    """The lead among the quotes and the notes' best sentences (None when there is neither):
    the most relevant quote or the most relevant note, whichever answers better."""
    best_quote = max(quotes, key=_relevance, default=None)
    best_note = max(notes, key=_relevance, default=None)
    if best_note is None or (best_quote is not None and asks_article(question)):
        return best_quote
    if best_quote is None:
        return best_note
    margin = TRUTH_MARGIN if asks_truth(question) else 0.0
    return best_note if best_note.score > best_quote.score - margin else best_quote


def _relevance(candidate: Candidate) -> float:
    return candidate.relevance
