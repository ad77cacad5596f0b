"""Hybrid retrieval over one loaded index: dense (FAISS) + lexical (BM25), fused by RRF.

Chunks are grouped into *units* before ranking: an article sentence and its aligned translation
are one unit (so an English question that matches the English rendering quotes the French
original), and the two language sections of a note are one unit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from index.chunking import Chunk
from index.embeddings import Vectors
from index.store import LoadedIndex
from index.text import content_words

# Reciprocal rank fusion with per-language weights. The bundled model is English-only, so for
# French questions the lexical ranking deserves more trust (measured with `factbot eval`).
RRF_K = 5
DENSE_WEIGHT = {"fr": 0.3, "en": 0.5}
DENSE_CANDIDATES = 64


@dataclass(frozen=True)
class Hit:
    """One ranked unit with the evidence behind its rank."""

    unit: str  # canonical chunk id (article) or note id (fact-check)
    kind: str
    fused: float
    dense: float
    lexical: float
    chunks: tuple[int, ...]  # row numbers of the member chunks in the index


@dataclass(frozen=True)
class Retrieval:
    hits: list[Hit]
    dense_top: float
    background_top: float  # best cosine to a typical off-topic question
    coverage: float  # IDF-weighted share of the question's content words found in the corpus
    words: tuple[str, ...]


class Retriever:
    """Ranks the units of one immutable `LoadedIndex`."""

    def __init__(self, index: LoadedIndex) -> None:
        self.index = index
        self.chunks = index.chunks
        self.units: dict[str, list[int]] = {}
        self.unit_of: list[str] = []
        for row, chunk in enumerate(self.chunks):
            unit = unit_id(chunk)
            self.units.setdefault(unit, []).append(row)
            self.unit_of.append(unit)
        self.unit_kind = {u: self.chunks[rows[0]].kind for u, rows in self.units.items()}
        self._n = max(1, len(self.chunks))

    def idf(self, word: str) -> float:
        df = self.index.doc_freq.get(word, 0)
        return math.log(1.0 + (self._n - df + 0.5) / (df + 0.5))

    def coverage(self, words: tuple[str, ...]) -> float:
        if not words:
            return 0.0
        total = sum(self.idf(w) for w in words)
        found = sum(self.idf(w) for w in words if w in self.index.doc_freq)
        return found / total if total > 0 else 0.0

    def search(
        self,
        question: str,
        vector: Vectors,
        language: str = "en",
        kinds: frozenset[str] | None = None,
    ) -> Retrieval:
        """Rank units for one question (`vector` is its unit embedding, shape (dim,))."""
        words = content_words(question)
        k = min(DENSE_CANDIDATES, len(self.chunks))
        scores, ids = self.index.dense.search(vector.reshape(1, -1), k)
        dense: dict[str, float] = {}
        for score, row in zip(scores[0], ids[0], strict=True):
            if row < 0:
                continue
            unit = self.unit_of[int(row)]
            dense[unit] = max(dense.get(unit, -1.0), float(score))
        lexical: dict[str, float] = {}
        if words:
            bm = self.index.bm25.get_scores(list(words))
            # Only the best rows matter to the fusion; a partial sort keeps large indexes fast.
            top = np.argpartition(-bm, k - 1)[:k] if len(bm) > k else np.arange(len(bm))
            for row in top[bm[top] > 0]:
                unit = self.unit_of[int(row)]
                lexical[unit] = max(lexical.get(unit, 0.0), float(bm[row]))
        if kinds is not None:
            dense = {u: s for u, s in dense.items() if self.unit_kind[u] in kinds}
            lexical = {u: s for u, s in lexical.items() if self.unit_kind[u] in kinds}
        fused: dict[str, float] = {}
        w = DENSE_WEIGHT.get(language, 0.5)
        for weight, ranking in ((w, dense), (1.0 - w, lexical)):
            for rank, unit in enumerate(sorted(ranking, key=lambda u: -ranking[u]), start=1):
                fused[unit] = fused.get(unit, 0.0) + weight / (RRF_K + rank)
        hits = [
            Hit(
                unit=u,
                kind=self.unit_kind[u],
                fused=f,
                dense=dense.get(u, 0.0),
                lexical=lexical.get(u, 0.0),
                chunks=tuple(self.units[u]),
            )
            for u, f in fused.items()
        ]
        hits.sort(key=lambda h: (-h.fused, -h.dense, h.unit))
        return Retrieval(
            hits=hits,
            dense_top=max(dense.values(), default=0.0),
            background_top=float((self.index.background @ vector).max())
            if len(self.index.background)
            else 0.0,
            coverage=self.coverage(words),
            words=words,
        )

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


def unit_id(chunk: Chunk) -> str:
    if chunk.kind == "factcheck":
        return chunk.doc
    return chunk.canonical or chunk.id


def _dedupe(units: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for u in units:
        seen.setdefault(u, None)
    return list(seen)
