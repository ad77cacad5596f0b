"""A saved bm25s index read with NumPy alone, for answering.

`bm25s` imports SciPy at module import (for building), which is a tenth of a second of every
cold start; scoring a query needs only the saved CSC arrays. `Bm25Scores.load` reads the files
`bm25s.BM25.save` writes and `get_scores` computes exactly what `bm25s.BM25.get_scores` does:
bm25s adds each query token's column in turn (`np.add.at`), and so does this, in the same
order, so the floats are the same (tests/test_bm25_scores.py compares them). Building stays
with bm25s (index/store.py).

Within one CSC column a document appears once, so adding a column with a plain fancy-indexed
`+=` adds each value once, as `np.add.at` does, for much less; a small index keeps its score
matrix dense as well, one row per token, and a query sums its tokens' rows (each document's
float32 sum made in the same order). Both are checked at load (`_distinct_rows`): an index whose
columns repeat a document is scored with `np.add.at`.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import numpy.typing as npt

# The scoring methods whose saved index has no non-occurrence array: bm25s adds nothing to the
# CSC sums for them. Another method (bm25l, bm25+) is loaded through bm25s itself.
PLAIN_METHODS = frozenset({"lucene", "robertson", "atire"})
# The most values (tokens x documents) of a score matrix also kept dense: 4 MiB of float32.
DENSE_MAX_VALUES = 1 << 20

# A token's documents and their scores (float32 values), in the column's order: a dict, as a
# query's first token (most of its documents) is then copied in one call.
Postings = dict[int, float]


class Bm25Scores:
    """BM25 scores of every indexed document for a query's tokens."""

    def __init__(
        self,
        vocab: dict[str, int],
        data: npt.NDArray[np.floating],
        indices: npt.NDArray[np.integer],
        indptr: npt.NDArray[np.integer],
        num_docs: int,
        dtype: np.dtype[np.floating],
        int_dtype: np.dtype[np.integer],
    ) -> None:
        self.vocab = vocab
        self.data, self.indices, self.indptr = data, indices, indptr
        self.num_docs = num_docs
        self.dtype, self.int_dtype = dtype, int_dtype
        self.columns = len(indptr) - 1
        self.distinct = _distinct_rows(indices, indptr)
        # Token by document, for a small index whose columns are sets of documents.
        self.dense: npt.NDArray[np.floating] | None = None
        if self.distinct and self.columns * num_docs <= DENSE_MAX_VALUES:
            self.dense = np.zeros((max(self.columns, 0), num_docs), dtype=dtype)
            tokens = np.repeat(np.arange(self.columns), np.diff(indptr))
            self.dense[tokens, indices] = data
        # Token by token, for the same small index: the (document, score) pairs of its column
        # (None for a token whose id is past the matrix: scoring it is an error).
        self.postings: dict[str, Postings | None] | None = None
        if self.dense is not None and self.dtype == np.float32:
            starts, rows, values = indptr.tolist(), indices.tolist(), data.tolist()
            self.postings = {
                token: dict(
                    zip(
                        rows[starts[i] : starts[i + 1]],
                        values[starts[i] : starts[i + 1]],
                        strict=True,
                    )
                )
                if 0 <= i < self.columns
                else None
                for token, i in vocab.items()
            }

    @classmethod
    def load(cls, folder: Path) -> Bm25Scores | None:
        """The index saved in `folder`, or None when it uses a method this reader does not
        score the way bm25s does (the caller then loads it with bm25s). Raises `OSError` and
        `ValueError` (including `json.JSONDecodeError`) on damaged files, as bm25s would."""
        params = json.loads((folder / "params.index.json").read_text(encoding="utf-8"))
        if (
            params.get("method") not in PLAIN_METHODS
            or (folder / "nonoccurrence_array.index.npy").exists()
        ):
            return None
        vocab = json.loads((folder / "vocab.index.json").read_text(encoding="utf-8"))
        if not isinstance(vocab, dict):
            raise ValueError("vocab.index.json is not an object")
        return cls(
            {str(k): int(v) for k, v in vocab.items()},
            np.load(folder / "data.csc.index.npy", allow_pickle=False),
            np.load(folder / "indices.csc.index.npy", allow_pickle=False),
            np.load(folder / "indptr.csc.index.npy", allow_pickle=False),
            int(params["num_docs"]),
            np.dtype(params.get("dtype", "float32")),
            np.dtype(params.get("int_dtype", "int32")),
        )

    def get_scores(self, query_tokens: list[str], /) -> npt.NDArray[np.floating]:
        """One score per document: the sum of each known query token's column (bm25s's
        `get_scores` for tokens given as strings)."""
        if not query_tokens:
            raise ValueError("no query tokens")
        vocab = self.vocab
        ids = [vocab[t] for t in query_tokens if t in vocab]
        if not ids:
            return np.zeros(self.num_docs, dtype=self.dtype)
        if max(ids) >= self.columns or min(ids) < 0:
            raise ValueError("a query token id is past the index's vocabulary")
        if self.dense is not None:
            # Row by row, in query order (a reduction over the first axis of a C-ordered array).
            summed: npt.NDArray[np.floating] = self.dense[ids].sum(axis=0, dtype=self.dtype)
            return summed
        scores = np.zeros(self.num_docs, dtype=self.dtype)
        indptr, indices, data = self.indptr, self.indices, self.data
        for start, end in zip(indptr[ids].tolist(), indptr[np.add(ids, 1)].tolist(), strict=True):
            if self.distinct:
                scores[indices[start:end]] += data[start:end]
            else:
                np.add.at(scores, indices[start:end], data[start:end])
        return scores


def _distinct_rows(indices: npt.NDArray[np.integer], indptr: npt.NDArray[np.integer]) -> bool:
    """Whether every column lists its documents in increasing order, so each once."""
    if len(indptr) < 1 or int(indptr[0]) != 0 or int(indptr[-1]) != len(indices):
        return False
    if not np.all(np.diff(indptr) >= 0):
        return False
    increasing = np.diff(indices.astype(np.int64)) > 0
    # Where a column starts, its first document may be below the previous column's last.
    starts = indptr[1:-1].astype(np.int64)
    increasing[starts[(starts > 0) & (starts < len(indices))] - 1] = True
    return bool(increasing.all())


def positive_scores(postings: Iterable[Postings]) -> dict[int, float]:
    """The documents scoring above zero and their scores, from a query's known tokens'
    postings in query order: the floats `get_scores` gives them (each document's float32 sum
    made in the same order: a sum of two float32 made in float64, then rounded to float32, is
    the float32 sum), in the order the tokens first reach them."""
    sums: dict[int, float] = {}
    rounding = array("f", (0.0,))
    for pairs in postings:
        if sums.keys().isdisjoint(pairs):  # the first token's, often others': nothing to add to
            sums.update(pairs)
            continue
        for row, value in pairs.items():
            total = sums.get(row)
            if total is None:
                sums[row] = value
            else:
                rounding[0] = total + value
                sums[row] = rounding[0]
    return {row: total for row, total in sums.items() if total > 0}
