"""A saved bm25s index read with NumPy alone, for answering.

`bm25s` imports SciPy at module import (for building), which is a tenth of a second of every
cold start; scoring a query needs only the saved CSC arrays. `Bm25Scores.load` reads the files
`bm25s.BM25.save` writes and `get_scores` computes exactly what `bm25s.BM25.get_scores` does
(the same `np.add.at` per query token, in the same order, so the same floats:
tests/test_bm25_scores.py compares them). Building stays with bm25s (index/store.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt

# The scoring methods whose saved index has no non-occurrence array: bm25s adds nothing to the
# CSC sums for them. Another method (bm25l, bm25+) is loaded through bm25s itself.
PLAIN_METHODS = frozenset({"lucene", "robertson", "atire"})


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

    def get_scores(self, query_tokens: list[str], /) -> npt.NDArray[np.float32]:
        """One score per document: the sum of each known query token's column (bm25s's
        `get_scores` for tokens given as strings)."""
        if not query_tokens:
            raise ValueError("no query tokens")
        ids = np.asarray(
            [self.vocab[t] for t in query_tokens if t in self.vocab], dtype=self.int_dtype
        )
        if int(ids.max(initial=0)) >= len(self.indptr) - 1:
            raise ValueError("a query token id is past the index's vocabulary")
        starts, ends = self.indptr[ids], self.indptr[ids + 1]
        scores = np.zeros(self.num_docs, dtype=self.dtype)
        for start, end in zip(starts, ends, strict=True):
            np.add.at(scores, self.indices[start:end], self.data[start:end])
        return scores
