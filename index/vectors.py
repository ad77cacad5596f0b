"""The dense half of the index: FAISS inner product over unit vectors (cosine similarity).

Small indexes use an exact flat index. Above `HNSW_MIN_ROWS` (chosen from `make bench`, see the
README) an HNSW graph answers faster with a measured recall close to 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

# Measured with `make bench` (benchmarks/results/summary.md, 2 cores, single query, k=64): at 10k
# rows HNSW answers in ~0.4 ms vs ~0.8 ms flat, at 100k ~1.1 ms vs ~12.6 ms, recall@10 >= 0.99
# against flat from 10k rows up; below that flat is as fast and exact. efSearch 512 is the smallest
# value tried (64-512) that keeps recall@10 >= 0.99 on the benchmark's near-duplicate-heavy data;
# efConstruction 200 costs ~23 s at 100k rows, next to ~11 minutes of encoding.
HNSW_MIN_ROWS = 10_000
HNSW_M = 32
HNSW_EF_SEARCH = 512
HNSW_EF_CONSTRUCTION = 200


class VectorIndex:
    """A FAISS index plus its kind ('flat' or 'hnsw')."""

    def __init__(self, index: Any, kind: str) -> None:
        self._index = index
        self.kind = kind

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    def search(
        self, queries: npt.NDArray[np.float32], k: int
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """Top-`k` (scores, ids) per query row; ids are -1 where fewer than k exist."""
        k = max(1, min(k, self.size))
        scores, ids = self._index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return scores, ids

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(path))


def build_vector_index(vectors: npt.NDArray[np.float32], kind: str | None = None) -> VectorIndex:
    """Index `vectors` (unit rows); `kind` None picks flat or HNSW by size."""
    import faiss

    n, dim = vectors.shape
    kind = kind or ("hnsw" if n >= HNSW_MIN_ROWS else "flat")
    index: Any
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        index = faiss.IndexFlatIP(dim)
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return VectorIndex(index, kind)


def load_vector_index(path: Path) -> VectorIndex:
    import faiss

    index: Any = faiss.read_index(str(path))
    kind = "hnsw" if isinstance(index, faiss.IndexHNSWFlat) else "flat"
    if kind == "hnsw":
        index.hnsw.efSearch = HNSW_EF_SEARCH
    return VectorIndex(index, kind)
