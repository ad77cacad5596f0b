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
from dataclasses import dataclass, field
from typing import NamedTuple, get_args

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


@dataclass(frozen=True)
class QuestionScorer:
    """Scores sentences against one question: cosine + word overlap + answer type."""

    question: str
    weights: dict[str, float]  # the question's content words and their IDF
    wanted: re.Pattern[str] | None
    total: float = field(init=False)  # the weights' sum, the share's denominator

    def __post_init__(self) -> None:
        object.__setattr__(self, "total", sum(self.weights.values()))

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


class LeadIndex:
    """What scoring candidates needs from one index, prepared once: the notes' sentences with
    their vectors and content words, laid out per question language (`_Layout`) so scoring
    every note's sentences costs a few array operations, not a Python loop per sentence."""

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
        # Each note summarised per language, made once (bot/answering/compose.py fills it).
        self.refs: dict[tuple[str, Language], FactCheckRef] = {}
        self._layouts = {language: _Layout(self, language) for language in get_args(Language)}

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
        layout = self._layouts[language]
        out: dict[str, Candidate] = {}
        if not layout.spans:
            return out
        best, scores = layout.best(layout.scores(scorer, vector))
        texts, note_at = layout.lead_texts, layout.note_at
        for note, fused in notes.items():
            i = note_at.get(note)
            if i is None:
                continue
            score = scores[i]
            out[note] = Candidate(
                texts[best[i]], note, "factcheck", score, score + RETRIEVAL_WEIGHT * fused
            )
        return out


class _Layout:
    """Every note's sentences as `best_sentences` reads them for questions in one language (the
    note's section in that language, else its first one), in flat arrays: position `i` is
    sentence row `rows[i]`, read with its aligned translation. Its scores are bit for bit those
    of scoring each sentence on its own (`QuestionScorer.score`): the same BLAS calls on the same
    rows (a note's sentences in one matrix-vector product, a translation in one dot product;
    batched through matmul's broadcasting, which makes the same calls), and the same float
    operations in the same order."""

    def __init__(self, leads: LeadIndex, language: str) -> None:
        # The notes with as many sentences side by side, so that the sentence matrices of
        # one size stack into one array: one matmul runs each one's product.
        groups: dict[int, list[tuple[str, list[int]]]] = {}
        for note, languages in leads.languages.items():
            group = leads.rows[(note, language if language in languages else languages[0])]
            groups.setdefault(len(group), []).append((note, group))
        self.spans: dict[str, tuple[int, int]] = {}
        rows: list[int] = []
        for members in groups.values():
            for note, group in members:
                self.spans[note] = (len(rows), len(rows) + len(group))
                rows.extend(group)
        self.rows = rows
        self.lead_texts = [leads.sentences[r].text for r in rows]
        # The scores in a grid, a note a row padded with -inf, for one argmax of them all.
        self.note_at = {note: i for i, note in enumerate(self.spans)}
        self.width = max((e - s for s, e in self.spans.values()), default=0)
        self.first = np.array([s for s, _ in self.spans.values()], dtype=np.intp)
        self.grid_at = np.array(
            [
                i * self.width + j
                for i, (s, e) in enumerate(self.spans.values())
                for j in range(e - s)
            ],
            dtype=np.intp,
        )
        vectors = leads.vectors
        self.blocks = [np.stack([vectors[g] for _, g in members]) for members in groups.values()]
        sentences = [leads.sentences[r] for r in rows]
        at = [i for i, s in enumerate(sentences) if s.aligned >= 0]
        self.aligned_at = np.array(at, dtype=np.intp)
        # (k, 1, dim) @ (dim, 1): one dot product per translation, as `vectors[row] @ vector`.
        self.aligned = (
            np.stack([vectors[sentences[i].aligned] for i in at])[:, None, :] if at else None
        )
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
        self.postings = {w: np.array(p, dtype=np.intp) for w, p in postings.items()}
        self.claims = [leads.claims.get(s.note, "") for s in sentences]
        # Per answer type (a year, a number: a handful of patterns), the bonus of each position.
        self._bonuses: dict[
            re.Pattern[str], tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]
        ] = {}

    def scores(self, scorer: QuestionScorer, vector: Vectors) -> npt.NDArray[np.float64]:
        """`QuestionScorer.score` of every position, plus the note's claim bonus."""
        if not self.blocks:  # an index without notes
            return np.zeros(0)
        cosines = np.concatenate([(stack @ vector).reshape(-1) for stack in self.blocks])
        if self.aligned is not None:
            translated = (self.aligned @ vector[:, None])[:, 0, 0]
            cosines[self.aligned_at] = np.maximum(cosines[self.aligned_at], translated)
        scores = cosines.astype(np.float64)
        total = scorer.total
        if total > 0:
            # Summed in the question's word order, as `QuestionScorer.overlap` does.
            found = np.zeros(len(self.rows))
            for word, weight in scorer.weights.items():
                holding = self.postings.get(word)
                if holding is not None:
                    found[holding] += weight
            scores = scores + WORD_WEIGHT * (found / total)
        if scorer.wanted is not None:
            # (score + its type bonus) + the claim's, in this order, as before.
            typed, claimed = self._bonus(scorer.wanted)
            scores = scores + typed + claimed
        return scores

    def best(self, scores: npt.NDArray[np.float64]) -> tuple[list[int], list[float]]:
        """Per note (in `note_at` order), the position of its best score and that score: the
        first best, as a strict ">" over its sentences in order would keep."""
        grid = np.full(len(self.first) * self.width, -np.inf)
        grid[self.grid_at] = scores
        at = grid.reshape(len(self.first), self.width).argmax(axis=1) + self.first
        return at.tolist(), scores[at].tolist()

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
