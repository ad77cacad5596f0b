"""Hybrid retrieval over one loaded index: dense (FAISS) + lexical (BM25), fused by RRF.

Chunks are grouped into *units* before ranking: an article sentence and its aligned translation
are one unit (so an English question that matches the English rendering quotes the French
original), and the two language sections of a note are one unit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from index.bm25_scores import Bm25Scores, Postings, positive_scores
from index.chunking import Chunk
from index.embeddings import Vectors
from index.store import LoadedIndex
from index.text import content_words, fold

# Reciprocal rank fusion of the dense and the BM25 rankings. French questions reach the dense
# index through their English gloss (bot/answering/engine.py), so one weight serves both languages
# (measured with `factbot eval`, figures in the README).
RRF_K = 5
DENSE_WEIGHT = 0.5
DENSE_CANDIDATES = 64
RRF_WEIGHTS = (DENSE_WEIGHT, 1.0 - DENSE_WEIGHT)  # the dense ranking's, the lexical one's
# Added to the fused score of a passage holding what a "how many / which year" question asks
# for: half of what a first place in one ranking earns (measured with `factbot eval`).
ANSWER_TYPE_BONUS = 0.5 / (RRF_K + 1)
# The most values (rows x dimension) of a flat index plus the background questions that one
# NumPy product searches: below it OpenBLAS's matrix-vector product stays on the calling thread
# (it threads from 115,200 x GEMM_MULTITHREAD_THRESHOLD values; measured: 1,000 x 384 stayed,
# 2,000 x 384 woke a second thread); above it FAISS searches.
MATVEC_MAX_VALUES = 256 * 1024


# A word's IDF (None: not in the corpus) and BM25 postings (None: none kept, or not a token).
_Entry = tuple[float | None, Postings | None]
_UNKNOWN: _Entry = (None, None)


class Hit(NamedTuple):
    """One ranked unit with the evidence behind its rank (a named tuple: a search makes one per
    candidate unit, and a frozen dataclass costs four times as much to create)."""

    unit: str  # canonical chunk id (article) or note id (fact-check)
    kind: str
    fused: float
    dense: float
    lexical: float
    chunks: tuple[int, ...]  # row numbers of the member chunks in the index


class Retrieval(NamedTuple):
    """What one search found (a named tuple: one per question, cheaper than a dataclass)."""

    hits: list[Hit]
    dense_top: float
    margin: float  # best cosine to the corpus minus best cosine to a typical off-topic question
    coverage: float  # IDF-weighted share of the question's content words found in the corpus
    words: tuple[str, ...]
    wanted: re.Pattern[str] | None = None  # `expected_answer` of the question


class Retriever:
    """Ranks the units of one immutable `LoadedIndex`."""

    def __init__(self, index: LoadedIndex) -> None:
        self.index = index
        self.chunks = index.chunks
        members: dict[str, list[int]] = {}
        self.unit_of: list[str] = []
        for row, chunk in enumerate(self.chunks):
            unit = unit_id(chunk)
            members.setdefault(unit, []).append(row)
            self.unit_of.append(unit)
        # Row numbers of each unit's chunks, as the tuples every Hit carries.
        self.units: dict[str, tuple[int, ...]] = {u: tuple(rows) for u, rows in members.items()}
        self.unit_kind = {u: self.chunks[rows[0]].kind for u, rows in self.units.items()}
        self._n = max(1, len(self.chunks))
        # Every corpus word's IDF computed once; a word the corpus lacks has the unseen one.
        self._idf = {w: self._idf_of(df) for w, df in index.doc_freq.items()}
        self._unseen_idf = self._idf_of(0)
        # One look-up per question word gives its IDF (None: not in the corpus) and, when the
        # BM25 index keeps them (a small one), its postings: coverage and BM25 from one place.
        bm25 = index.bm25
        postings = (bm25.postings if isinstance(bm25, Bm25Scores) else None) or {}
        self._postings = isinstance(bm25, Bm25Scores) and bm25.postings is not None
        self._documents = bm25.num_docs if isinstance(bm25, Bm25Scores) else len(self.chunks)
        self._invalid = frozenset(w for w, p in postings.items() if p is None)
        self._lexicon: dict[str, _Entry] = {
            w: (self._idf.get(w), postings.get(w)) for w in postings.keys() | self._idf.keys()
        }
        # A search works on unit numbers (their order in `units`), named only in its hits.
        self._names = list(self.units)
        self._kinds = [self.unit_kind[u] for u in self._names]
        self._rows = list(self.units.values())
        number = {u: i for i, u in enumerate(self._names)}
        self._unit_number = [number[u] for u in self.unit_of]  # by row
        self._by_name = sorted(range(len(self._names)), key=self._names.__getitem__)
        # Per answer type (a year, a number: a handful of patterns), the units that hold one;
        # per set of kinds, the units of those kinds.
        self._typed: dict[re.Pattern[str], frozenset[int]] = {}
        self._of_kinds: dict[frozenset[str], list[bool]] = {}
        # RRF's term of each rank of each ranking (one holds at most one rank per unit).
        ranks = max(DENSE_CANDIDATES, len(self._names))
        self._rrf = [_rrf_terms(weight, ranks) for weight in RRF_WEIGHTS]
        # A small flat index is searched with one NumPy product of the question's vector by the
        # background questions' vectors and the chunks' (grouped by unit), stacked, and one
        # reduction that gives the best background cosine and every chunk's: much cheaper than
        # a FAISS search plus a product, and single-threaded below MATVEC_MAX_VALUES.
        self._background = len(index.background)
        self._stack: Vectors | None = None
        self._reduce_at: npt.NDArray[np.intp] | None = None
        grouped = [r for rows in self._rows for r in rows]
        if self.chunks and index.dense.kind == "flat":
            stack = np.concatenate([index.background, index.vectors[grouped]])
            if stack.size <= MATVEC_MAX_VALUES:
                self._stack = np.ascontiguousarray(stack, dtype=np.float32)
                if self._background:  # [0, b) is the background, then one row per index
                    at = [0, *range(self._background, len(stack))]
                    self._reduce_at = np.array(at, dtype=np.intp)
        # Where each unit's cosines lie among the chunks' in that order; None when every unit
        # has two chunks (a sentence and its translation, a note in two languages).
        ends = np.cumsum([len(rows) for rows in self._rows]).tolist()
        self._spans: list[tuple[int, int]] | None = list(
            zip([0, *ends][: len(ends)], ends, strict=True)
        )
        if all(len(rows) == 2 for rows in self._rows):
            self._spans = None

    def idf(self, word: str) -> float:
        return self._idf.get(word, self._unseen_idf)

    def _idf_of(self, df: int) -> float:
        return math.log(1.0 + (self._n - df + 0.5) / (df + 0.5))

    def coverage(self, words: tuple[str, ...]) -> float:
        """IDF-weighted share of `words` found in the corpus."""
        lexicon = self._lexicon
        return self._coverage([lexicon.get(w, _UNKNOWN) for w in words])

    def _coverage(self, entries: list[_Entry]) -> float:
        if not entries:
            return 0.0
        unseen = self._unseen_idf
        idf = [unseen if v is None else v for v, _ in entries]
        total = sum(idf)
        found = sum([v for v, _ in entries if v is not None])
        return found / total if total > 0 else 0.0

    def search(
        self,
        question: str,
        vector: Vectors,
        kinds: frozenset[str] | None = None,
    ) -> Retrieval:
        """Rank units for one question (`vector` is the unit embedding of the question, or of
        its English gloss for a French question; shape (dim,))."""
        return self.search_many([question], vector.reshape(1, -1), kinds)[0]

    def search_many(
        self,
        questions: Sequence[str],
        vectors: Vectors,
        kinds: frozenset[str] | None = None,
    ) -> list[Retrieval]:
        """`search` for a batch of questions (`vectors` has one row each)."""
        # One product (or FAISS call) per row on purpose: a batched one runs on threads (FAISS's
        # OpenMP, OpenBLAS's) that keep spinning and slow the next encode on 2 cores (8 askers:
        # 96 vs 153 q/s, measured).
        return [
            self._rank(question, *self._dense(vector, kinds), kinds)
            for question, vector in zip(questions, vectors, strict=True)
        ]

    def _rank(
        self,
        question: str,
        dense: dict[int, float],
        background_top: float,
        kinds: frozenset[str] | None,
    ) -> Retrieval:
        """Fuse the dense and lexical rankings (`dense`: each unit's best cosine, by number)."""
        words = content_words(question)
        lexicon = self._lexicon
        entries = [lexicon.get(w, _UNKNOWN) for w in words]
        lexical = self._lexical(words, entries, kinds)
        # reverse=True keeps ties in insertion order, as a stable ascending sort on -score. The
        # dense term first (0.0 + term is term), then the lexical one added.
        dense_terms, lexical_terms = self._rrf
        ordered = sorted(dense, key=dense.__getitem__, reverse=True)
        fused = dict(zip(ordered, dense_terms, strict=False))  # the terms may be more
        get = fused.get
        for unit, term in zip(
            sorted(lexical, key=lexical.__getitem__, reverse=True), lexical_terms, strict=False
        ):
            fused[unit] = get(unit, 0.0) + term
        wanted = expected_answer(question)
        if wanted is not None:
            # "How many…?", "In which year…?": a passage without a number cannot be the answer.
            typed = self._typed_units(wanted)
            for unit in fused:
                if unit in typed:
                    fused[unit] += ANSWER_TYPE_BONUS
        # Every fused unit is kept: a note ranked first brings the sentence it corrects, wherever
        # that sentence ranks (bot/answering/compose.py).
        # Made in the order of the units' ids, the first key of their order (below): the two
        # stable sorts on C-level keys that follow finish it (cosine, then score).
        names, kind, rows, new = self._names, self._kinds, self._rows, tuple.__new__
        hits: list[Hit] = [
            new(Hit, (names[u], kind[u], f, dense.get(u, 0.0), lexical.get(u, 0.0), rows[u]))
            for u in self._by_name
            if (f := get(u)) is not None
        ]
        hits.sort(key=_DENSE, reverse=True)
        hits.sort(key=_FUSED, reverse=True)
        dense_top = max(dense.values(), default=0.0)
        return Retrieval(
            hits=hits,
            dense_top=dense_top,
            margin=dense_top - background_top,
            coverage=self._coverage(entries),
            words=words,
            wanted=wanted,
        )

    def _typed_units(self, wanted: re.Pattern[str]) -> frozenset[int]:
        """The units with a chunk holding what `wanted` looks for."""
        typed = self._typed.get(wanted)
        if typed is None:
            typed = self._typed[wanted] = frozenset(
                unit
                for unit, rows in enumerate(self._rows)
                if any(wanted.search(self.chunks[r].embed_text) for r in rows)
            )
        return typed

    def _of_kind(self, kinds: frozenset[str] | None) -> list[bool] | None:
        """Whether each unit is of one of `kinds` (None: no filter)."""
        if kinds is None:
            return None
        of_kind = self._of_kinds.get(kinds)
        if of_kind is None:
            of_kind = self._of_kinds[kinds] = [kind in kinds for kind in self._kinds]
        return of_kind

    def _dense(
        self, vector: Vectors, kinds: frozenset[str] | None
    ) -> tuple[dict[int, float], float]:
        """Best cosine per unit (by number) among the question's nearest chunks (of the given
        kinds), and the best cosine to a typical off-topic question."""
        n = len(self.chunks)
        k = min(DENSE_CANDIDATES, n)
        of_kind = self._of_kind(kinds)
        if self._stack is not None:
            scores = self._stack @ vector
            if self._reduce_at is None:
                cosines, background = scores.tolist(), 0.0
            else:
                cosines = np.maximum.reduceat(scores, self._reduce_at).tolist()
                background = cosines.pop(0)
            if self._spans is None:
                best = list(map(max, cosines[0::2], cosines[1::2]))
            else:
                best = [max(cosines[a:b]) for a, b in self._spans]
            # A unit is among the nearest when its best chunk is: at least the k-th cosine (two
            # equal cosines at the k-th place both count; FAISS kept one).
            floor = sorted(cosines)[n - k] if k < n else -math.inf
            dense = {
                u: b for u, b in enumerate(best) if b >= floor and (of_kind is None or of_kind[u])
            }
            return dense, background
        # FAISS: an HNSW graph, or a flat index too large for one single-threaded product.
        background = float((self.index.background @ vector).max()) if self._background else 0.0
        found, ids = self.index.dense.search(vector.reshape(1, -1), k)
        dense = {}
        unit_number = self._unit_number
        for score, row in zip(found[0].tolist(), ids[0].tolist(), strict=True):
            if row < 0:
                continue
            unit = unit_number[row]
            if of_kind is None or of_kind[unit]:
                dense[unit] = max(dense.get(unit, -1.0), score)
        return dense, background

    def _lexical(
        self,
        words: tuple[str, ...],
        entries: list[_Entry],
        kinds: frozenset[str] | None,
    ) -> dict[int, float]:
        """Best BM25 score per unit (by number) among the best rows (of the given kinds);
        `entries` are the words' in `_lexicon`."""
        lexical: dict[int, float] = {}
        if not words:
            return lexical
        k = min(DENSE_CANDIDATES, len(self.chunks))
        unit_number, of_kind = self._unit_number, self._of_kind(kinds)
        bm = None
        if self._postings and self._invalid.isdisjoint(words):
            scored = positive_scores([p for _, p in entries if p is not None])
            documents = self._documents
        else:
            bm = self.index.bm25.get_scores(list(words))
            scored = {row: score for row, score in enumerate(bm.tolist()) if score > 0}
            documents = len(bm)
        for row, score in scored.items():
            unit = unit_number[row]
            if (of_kind is None or of_kind[unit]) and score > lexical.get(unit, 0.0):
                lexical[unit] = score
        if (documents <= k or len(scored) <= k) and len(set(lexical.values())) == len(lexical):
            # Every positive row is among the best k, and no two units score the same: the
            # order the rows come in, which decides between equal scores, does not matter.
            return lexical
        # Only the best rows matter to the fusion; a partial sort keeps large indexes fast. The
        # order they come in decides between equal scores.
        if bm is None:
            bm = self.index.bm25.get_scores(list(words))
        top = np.argpartition(-bm, k - 1)[:k].tolist() if len(bm) > k else range(len(bm))
        lexical = {}
        for row in top:
            positive = scored.get(row)
            if positive is not None:
                unit = unit_number[row]
                if of_kind is None or of_kind[unit]:
                    lexical[unit] = max(lexical.get(unit, 0.0), positive)
        return lexical

    def dense_only(self, vector: Vectors) -> list[str]:
        """Units by dense score alone (for `factbot eval`)."""
        k = min(DENSE_CANDIDATES, len(self.chunks))
        _, ids = self.index.dense.search(vector.reshape(1, -1), k)
        return _dedupe(self.unit_of[int(r)] for r in ids[0] if r >= 0)

    def lexical_only(self, question: str) -> list[str]:
        """Units by BM25 alone (for `factbot eval`)."""
        words = content_words(question)
        if not words:
            return []
        bm = self.index.bm25.get_scores(list(words))
        order = np.argsort(-bm, kind="stable")
        return _dedupe(self.unit_of[int(r)] for r in order if bm[r] > 0)


# Questions that ask for a year or a quantity, in French or English (accent-folded, lower case).
_ASKS_YEAR = re.compile(
    r"\b(?:en quelle annee|quelle annee|quand|a quelle date|when|what year|which year|what date)\b"
)
_ASKS_NUMBER = re.compile(
    r"\b(?:combien|quel(?:le)? (?:poids|masse|taille|quantite|pourcentage|montant|nombre)"
    r"|how (?:many|much|heavy|long|far|big)|what (?:weight|mass|percentage|amount|number))\b"
)
_YEAR = re.compile(r"\b(?:1[89]\d\d|20\d\d)\b")
_NUMBER = re.compile(r"\d")


def expected_answer(question: str) -> re.Pattern[str] | None:
    """What the answer must contain when the question asks for a year or a quantity."""
    folded = fold(question)
    if _ASKS_YEAR.search(folded):
        return _YEAR
    if _ASKS_NUMBER.search(folded):
        return _NUMBER
    return None


# The hits' order: best fused score first; ties go to the better cosine, then to the unit id.
_FUSED, _DENSE = itemgetter(2), itemgetter(3)


def _rrf_terms(weight: float, ranks: int) -> list[float]:
    """`weight / rank` for the first `ranks` ranks (RRF: the first rank is RRF_K + 1)."""
    return [weight / rank for rank in range(RRF_K + 1, RRF_K + 1 + ranks)]


def unit_id(chunk: Chunk) -> str:
    if chunk.kind == "factcheck":
        return chunk.doc
    return chunk.canonical or chunk.id


def _dedupe(units: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for u in units:
        seen.setdefault(u, None)
    return list(seen)
