"""The retrieval's per-question shortcuts give what the plain search gave.

The search reads a small flat index with one NumPy product, scores BM25 from postings in Python
and ranks units by number (bot/answering/retrieval.py, index/bm25_scores.py); the reference
below is the search it replaced, FAISS and per-row dictionaries, on the real index and model.
Cosines from NumPy's product and FAISS's may differ in the last bit (another summation order,
another CPU's kernels), so they are compared within float32 rounding, and an order may differ
only where two cosines are that close; every BM25 figure is the same float32 sums.
"""

from __future__ import annotations

import itertools
import json
import random
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from bot.answering.engine import Engine
from bot.answering.retrieval import (
    ANSWER_TYPE_BONUS,
    DENSE_CANDIDATES,
    RRF_K,
    RRF_WEIGHTS,
    Retrieval,
    Retriever,
    expected_answer,
)
from bot.settings import Settings
from index import text as text_module
from index.bm25_scores import Bm25Scores, _distinct_rows, positive_scores
from index.embeddings import Vectors
from index.store import IndexStore
from index.text import STOPWORDS, content_words, fold, plain_quotes

DATA = Path(__file__).parent / "data"
TOLERANCE = 1e-5  # far above float32 rounding of a cosine (~6e-8), far below any real gap

Reference = tuple[list[tuple[str, float, float, float]], float, float, float]


def _reference(
    r: Retriever, question: str, vector: Vectors, kinds: frozenset[str] | None
) -> Reference:
    """The search as it was: FAISS's nearest rows, the best per unit, RRF over dicts."""
    index = r.index
    k = min(DENSE_CANDIDATES, len(r.chunks))
    scores, ids = index.dense.search(vector.reshape(1, -1), k)
    background = float((index.background @ vector).max())
    dense: dict[str, float] = {}
    for score, row in zip(scores[0].tolist(), ids[0].tolist(), strict=True):
        unit = r.unit_of[row]
        if row >= 0 and (kinds is None or r.unit_kind[unit] in kinds):
            dense[unit] = max(dense.get(unit, -1.0), score)
    words = content_words(question)
    lexical: dict[str, float] = {}
    if words:
        bm = index.bm25.get_scores(list(words))
        top = np.argpartition(-bm, k - 1)[:k] if len(bm) > k else np.arange(len(bm))
        top = top[bm[top] > 0]
        for row, score in zip(top.tolist(), bm[top].tolist(), strict=True):
            unit = r.unit_of[row]
            if kinds is None or r.unit_kind[unit] in kinds:
                lexical[unit] = max(lexical.get(unit, 0.0), score)
    fused: dict[str, float] = {}
    for weight, ranking in zip(RRF_WEIGHTS, (dense, lexical), strict=True):
        ordered = sorted(ranking, key=ranking.__getitem__, reverse=True)
        for rank, unit in enumerate(ordered, start=RRF_K + 1):
            fused[unit] = fused.get(unit, 0.0) + weight / rank
    wanted = expected_answer(question)
    if wanted is not None:
        for unit in fused:
            if any(wanted.search(r.chunks[row].embed_text) for row in r.units[unit]):
                fused[unit] += ANSWER_TYPE_BONUS
    hits = sorted(
        ((u, f, dense.get(u, 0.0), lexical.get(u, 0.0)) for u, f in fused.items()),
        key=lambda h: (-h[1], -h[2], h[0]),
    )
    dense_top = max(dense.values(), default=0.0)
    total = sum(r.idf(w) for w in words)
    found = sum(r.idf(w) for w in words if w in index.doc_freq)
    coverage = found / total if words and total > 0 else 0.0
    return hits, dense_top, dense_top - background, coverage


def _near_tie(values: list[float]) -> bool:
    ordered = sorted(values)
    return any(b - a < TOLERANCE for a, b in itertools.pairwise(ordered))


def _questions() -> list[str]:
    out = []
    for name in ("questions", "heldout", "chat"):
        for line in (DATA / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
            if line.strip():
                out.append(json.loads(line)["question"])
    return out


def test_the_search_ranks_as_the_faiss_search_did(make_settings: Callable[..., Settings]) -> None:
    engine = Engine.open(make_settings())
    retriever = engine.retriever
    assert retriever._stack is not None  # the real index is small and flat: the NumPy path
    prepared = [engine.prepare(q) for q in _questions()]
    questions = [p.question for p in prepared]
    vectors = engine.embedder.encode_queries([p.embedded for p in prepared])
    # Many more inputs: each question's vector nudged, so rankings cross at new places.
    rng = np.random.default_rng(7)
    noisy = vectors + rng.normal(0.0, 0.05, vectors.shape).astype(np.float32)
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    questions, vectors = questions * 2, np.concatenate([vectors, noisy.astype(np.float32)])
    compared = same = 0
    for kinds in (None, frozenset({"factcheck"}), frozenset({"article"})):
        found = retriever.search_many(questions, vectors, kinds)
        for question, vector, got in zip(questions, vectors, found, strict=True):
            hits, dense_top, margin, coverage = _reference(retriever, question, vector, kinds)
            compared += 1
            assert isinstance(got, Retrieval)
            assert got.dense_top == pytest.approx(dense_top, abs=TOLERANCE)
            assert got.margin == pytest.approx(margin, abs=TOLERANCE)
            assert got.coverage == coverage and got.words == content_words(question)
            assert got.wanted == expected_answer(question)
            for hit in got.hits:
                assert hit.chunks == retriever.units[hit.unit]
                assert hit.kind == retriever.unit_kind[hit.unit]
            mine = [(h.unit, h.fused, h.dense, h.lexical) for h in got.hits]
            if [h[0] for h in mine] == [h[0] for h in hits] and all(
                a[1] == b[1] and a[3] == b[3] and abs(a[2] - b[2]) < TOLERANCE
                for a, b in zip(mine, hits, strict=True)
            ):
                same += 1
                continue
            # Only two cosines within rounding of each other may swap their dense ranks.
            assert _near_tie([h[2] for h in hits if h[2]]), (question, mine[:5], hits[:5])
    assert same >= 0.99 * compared, (same, compared)


def test_bm25_postings_sum_to_the_scores_of_the_csc_columns(prebuilt_index: Path) -> None:
    """`positive_scores` over a query's postings is `get_scores` where it is positive: the
    same float32 additions in the same order (a float64 sum of two float32, rounded to float32,
    is their float32 sum), so the same floats, on every CPU."""
    folder = IndexStore(prebuilt_index).load().path / "bm25"
    bm25 = Bm25Scores.load(folder)
    assert bm25 is not None and bm25.postings is not None and bm25.dense is not None
    words = [w for w, p in bm25.postings.items() if p is not None]
    rng = random.Random(11)
    queries = [[w] for w in words] + [
        # Repeated words too: a question may stem to one word twice.
        [rng.choice(words) for _ in range(rng.randint(2, 12))]
        for _ in range(2000)
    ]
    for query in queries:
        expected = bm25.get_scores(query)
        postings = [p for p in (bm25.postings[w] for w in query) if p is not None]
        got = positive_scores(postings)
        assert got == {r: s for r, s in enumerate(expected.tolist()) if s > 0}, query
        # In the order the tokens first reach the documents (a column's copied as a whole).
        assert list(got) == [r for r in dict.fromkeys(r for p in postings for r in p) if r in got]
        # ...and `get_scores` is still one np.add.at per token, in query order.
        reference = np.zeros(bm25.num_docs, dtype=bm25.dtype)
        for w in query:
            i = bm25.vocab[w]
            start, end = bm25.indptr[i], bm25.indptr[i + 1]
            np.add.at(reference, bm25.indices[start:end], bm25.data[start:end])
        assert np.array_equal(expected, reference), query


def test_a_plain_add_equals_add_at_only_where_a_column_repeats_no_document() -> None:
    """Fancy-indexed `+=` adds a repeated index once, `np.add.at` every time: the reader adds
    columns with `+=` (or keeps them dense) only when each column lists a document once."""
    indptr = np.array([0, 2, 5])
    distinct = np.array([0, 3, 1, 2, 4])  # column 0: documents 0, 3; column 1: 1, 2, 4
    repeated = np.array([0, 3, 1, 1, 4])  # column 1 lists document 1 twice
    data = np.array([0.5, 1.0, 0.25, 2.0, 3.0], dtype=np.float32)
    assert _distinct_rows(distinct, indptr) and not _distinct_rows(repeated, indptr)
    vocab = {"a": 0, "b": 1}
    for indices in (distinct, repeated):
        scores = Bm25Scores(vocab, data, indices, indptr, 5, np.dtype("float32"), np.dtype("int32"))
        assert (scores.dense is not None) == (indices is distinct)
        for query in (["a"], ["b"], ["a", "b", "b"], ["b", "a"]):
            reference = np.zeros(5, dtype=np.float32)
            for i in (vocab[w] for w in query):
                np.add.at(
                    reference, indices[indptr[i] : indptr[i + 1]], data[indptr[i] : indptr[i + 1]]
                )
            assert np.array_equal(scores.get_scores(query), reference), (indices, query)
    plain = np.zeros(5, dtype=np.float32)
    plain[repeated[2:5]] += data[2:5]
    assert plain[1] == 2.0  # the repeated document got one of its two values: why it is checked


def _content_words_per_text(text: str) -> tuple[str, ...]:
    """`content_words` as first written: every word of the text split, tested and stemmed."""
    out: list[str] = []
    for raw in re.findall(r"[a-z0-9]+(?:[-'][a-z0-9]+)*|%", fold(plain_quotes(text))):
        for word in re.split(r"['-]", raw):
            if len(word) < 2 and not word.isdigit() and word != "%":
                continue
            if word in STOPWORDS:
                continue
            if word in text_module._UNITS:
                out.append(text_module._UNITS[word])
                continue
            out.extend(text_module._stem_pair(word))
    return tuple(out)


def test_content_words_remembered_word_by_word_are_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each word's stems remembered once (the memo cleared when full, long words not kept): the
    same words as the per-text code, on the question sets, corpus words and random messages."""
    monkeypatch.setattr(text_module, "_RAW_WORDS", {})
    monkeypatch.setattr(text_module, "_RAW_WORDS_CAPACITY", 500)  # cleared many times below
    rng = random.Random(24)
    questions = _questions()
    words = sorted({w for q in questions for w in q.split()})
    pieces = (*words, "l'", "qu’", "-", "-elle", "'", "%", "15", "kilos", "Pékin", "ŉ", "ʼ", "x")
    texts = [*questions, "a" * 41, "l'" + "b" * 45, "veut-elle 15 kilos d’expériences ?"]
    for _ in range(5_000):
        texts.append(" ".join(rng.choice(pieces) for _ in range(rng.randint(1, 14))))
    texts.append("".join(rng.choice(pieces) for _ in range(30)))
    for text in texts * 2:  # the second time, words come from the memo
        assert content_words.function(text) == _content_words_per_text(text), text
    assert 0 < len(text_module._RAW_WORDS) <= 500
    assert all(len(raw) <= text_module._RAW_WORD_MAX_LENGTH for raw in text_module._RAW_WORDS)
