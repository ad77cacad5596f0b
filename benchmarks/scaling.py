"""Index build time and query latency against corpus size; flat FAISS vs HNSW.

Synthetic corpora are the real corpus with `replicas - 1` perturbed copies of the article body
appended (French and English alike, sentence-aligned, words swapped and replaced from the
article's own vocabulary, numbers changed): a valid corpus `factbot index` accepts, built through
the same `build_from_corpus` path. The fact-check notes are kept as they are.

At ~100k chunks encoding would take most of the run, so that build uses a stand-in encoder
(vectors mixed from real embeddings) and adds an encode time extrapolated from a measured sample
of the same texts: reported as `estimated`, never as measured.
"""

from __future__ import annotations

import itertools
import random
import re
import shutil
import tempfile
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from benchmarks.common import REAL_CORPUS, log, stats_ms

Vectors = npt.NDArray[np.float32]
RECALL_TARGET = 0.99
EF_SEARCH_VALUES = (64, 128, 256, 512)
_WORD = re.compile(r"^[a-zà-öø-ÿœæ]+$")
_DIGITS = re.compile(r"\d")


# ---------------------------------------------------------------------------- synthetic corpus


def _split_front(text: str) -> tuple[str, str]:
    """(front matter including both '---' lines, body)."""
    if not text.startswith("---"):
        return "", text
    end = text.index("\n---", 3)
    cut = text.index("\n", end + 1) + 1
    return text[:cut], text[cut:]


def _paragraphs(body: str) -> list[str]:
    return [" ".join(b.split("\n")).strip() for b in body.strip().split("\n\n") if b.strip()]


def _perturb(paragraph: str, vocab: Sequence[str], rng: random.Random) -> str:
    """Same sentences (count and punctuation), different words: swaps, replacements, numbers."""
    from index.text import split_sentences

    tokens = paragraph.split(" ")
    words = [i for i, t in enumerate(tokens) if _WORD.match(t)]
    for i in words:
        if rng.random() < 0.3:
            tokens[i] = rng.choice(vocab)
    for a, b in itertools.pairwise(words):
        if rng.random() < 0.15:
            tokens[a], tokens[b] = tokens[b], tokens[a]
    out = " ".join(
        _DIGITS.sub(lambda _: str(rng.randint(1, 9)), t) if any(c.isdigit() for c in t) else t
        for t in tokens
    )
    return out if len(split_sentences(out)) == len(split_sentences(paragraph)) else paragraph


def body_sentences(corpus: Path = REAL_CORPUS) -> int:
    """Sentences in the article body (title excluded), per language."""
    from index.text import split_sentences

    _, body = _split_front((corpus / "article.fr.md").read_text(encoding="utf-8"))
    return sum(len(split_sentences(p)) for p in _paragraphs(body)[1:])


def replicas_for(target_chunks: int, corpus: Path = REAL_CORPUS) -> int:
    """Replicas of the article body that give about `target_chunks` chunks."""
    from bot.answering.index_lifecycle import chunking_config
    from bot.settings import Settings
    from index.chunking import chunk_corpus
    from index.corpus import load_corpus

    base = len(chunk_corpus(load_corpus(corpus), chunking_config(Settings())))
    per_replica = 2 * body_sentences(corpus)
    return max(1, round((target_chunks - base) / per_replica) + 1)


def write_synthetic_corpus(dest: Path, replicas: int, seed: int = 11) -> Path:
    """The real corpus with `replicas - 1` perturbed copies of the article body appended."""
    shutil.copytree(REAL_CORPUS, dest)
    rng = random.Random(seed)
    for name in ("article.fr.md", "article.en.md"):
        path = dest / name
        front, body = _split_front(path.read_text(encoding="utf-8"))
        paras = _paragraphs(body)
        vocab = sorted({w for p in paras for w in p.split(" ") if _WORD.match(w) and len(w) > 2})
        out = list(paras)
        for _ in range(replicas - 1):
            out.extend(_perturb(p, vocab, rng) for p in paras[1:])
        path.write_text(front + "\n" + "\n\n".join(out) + "\n", encoding="utf-8")
    return dest


# ---------------------------------------------------------------------------- encoders


class TimedEmbedder:
    """Delegates to a real `Embedder` and adds up the seconds spent encoding."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self.seconds = 0.0
        self.texts = 0

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> Vectors:
        t = time.perf_counter()
        out: Vectors = self._inner.encode(texts, batch_size=batch_size)
        self.seconds += time.perf_counter() - t
        self.texts += len(texts)
        return out

    def encode_queries(self, texts: Sequence[str]) -> Vectors:
        out: Vectors = self._inner.encode_queries(texts)
        return out


def mix_vectors(base: Vectors, keys: npt.NDArray[np.uint64], noise: float = 0.01) -> Vectors:
    """One unit vector per key: a random blend of two `base` rows plus a little noise."""
    n = len(base)
    i = (keys % n).astype(np.int64)
    j = ((keys // n) % n).astype(np.int64)
    a = np.asarray(0.3 + 0.4 * ((keys >> np.uint64(20)) % np.uint64(1000)) / 1000.0, np.float32)
    rng = np.random.default_rng(int(keys.sum() % (2**32)) if len(keys) else 0)
    out = a[:, None] * base[i] + (1 - a[:, None]) * base[j]
    out += np.asarray(rng.normal(0, noise, out.shape), np.float32)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return np.ascontiguousarray(out, dtype=np.float32)


@dataclass
class SyntheticEmbedder:
    """A stand-in encoder: deterministic vectors mixed from real embeddings, no model call."""

    base: Vectors
    name: str
    seconds: float = 0.0
    texts: int = 0
    dimension: int = field(init=False)

    def __post_init__(self) -> None:
        self.dimension = int(self.base.shape[1])

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> Vectors:
        t = time.perf_counter()
        keys = np.array([zlib.crc32(s.encode()) * 2654435761 for s in texts], dtype=np.uint64)
        out = mix_vectors(self.base, keys)
        self.seconds += time.perf_counter() - t
        self.texts += len(texts)
        return out


# ---------------------------------------------------------------------------- builds


def _retrieval_latency(index: Any, queries: Sequence[str], vectors: Vectors) -> dict[str, Any]:
    """Retriever.search (dense + BM25 + fusion, no encode) over `index`, one query at a time."""
    from bot.answering.retrieval import Retriever
    from index.text import content_words

    retriever = Retriever(index)
    retriever.search(queries[0], vectors[0])
    times, dense, lexical = [], [], []
    k = min(64, len(index.chunks))
    for q, v in zip(queries, vectors, strict=True):
        t = time.perf_counter()
        retriever.search(q, v)
        times.append(time.perf_counter() - t)
        t = time.perf_counter()
        index.dense.search(v.reshape(1, -1), k)
        dense.append(time.perf_counter() - t)
        t = time.perf_counter()
        index.bm25.get_scores(list(content_words(q)))
        lexical.append(time.perf_counter() - t)
    out: dict[str, Any] = stats_ms(times)
    out["dense_search_p50_ms"] = stats_ms(dense)["p50_ms"]
    out["bm25_get_scores_p50_ms"] = stats_ms(lexical)["p50_ms"]
    return out


def build_at(
    target: int,
    embedder: Any,
    queries: Sequence[str],
    query_vectors: Vectors,
    estimate_from: Vectors | None = None,
    sample: int = 1000,
) -> tuple[dict[str, Any], Vectors]:
    """Build a synthetic corpus of about `target` chunks; returns (figures, the chunk vectors).

    With `estimate_from` (real embeddings), the build uses `SyntheticEmbedder` and the encode
    time is extrapolated from the real `embedder` on a random sample of `sample` chunk texts.
    """
    from bot.answering.index_lifecycle import build_from_corpus
    from bot.settings import Settings
    from index.store import IndexStore

    replicas = replicas_for(target)
    root = Path(tempfile.mkdtemp(prefix=f"factbot-build-{target}-"))
    try:
        corpus = write_synthetic_corpus(root / "corpus", replicas)
        settings = Settings.from_mapping(
            {"CORPUS_DIR": str(corpus), "INDEX_DIR": str(root / "index"), "LOG_LEVEL": "WARNING"}
        )
        stand_in = estimate_from is not None
        enc = (
            SyntheticEmbedder(estimate_from, embedder.name)
            if estimate_from is not None
            else TimedEmbedder(embedder)
        )
        t = time.perf_counter()
        index = build_from_corpus(settings, IndexStore(settings.index_dir), enc)
        total = time.perf_counter() - t
        chunks = len(index.chunks)
        other = total - enc.seconds
        row: dict[str, Any] = {
            "target": target,
            "chunks": chunks,
            "dense_index": index.dense.kind,
            "non_encode_s": round(other, 2),
        }
        if stand_in:
            texts = [c.embed_text for c in index.chunks]
            picked = random.Random(3).sample(texts, min(sample, len(texts)))
            t = time.perf_counter()
            embedder.encode(picked, batch_size=settings.embed_batch_size)
            rate = len(picked) / (time.perf_counter() - t)
            est = enc.texts / rate
            row.update(
                method=f"estimated: encode extrapolated from {len(picked)} sampled chunks "
                f"at {rate:.0f} texts/s; the rest measured with a stand-in encoder",
                encode_s=round(est, 1),
                seconds=round(other + est, 1),
                chunks_per_s=round(chunks / (other + est), 1),
                encode_texts_per_s=round(rate, 1),
            )
        else:
            row.update(
                method="measured",
                encode_s=round(enc.seconds, 2),
                seconds=round(total, 2),
                chunks_per_s=round(chunks / total, 1),
                encode_texts_per_s=round(enc.texts / enc.seconds, 1) if enc.seconds else None,
            )
        row["retrieval"] = _retrieval_latency(index, queries, query_vectors)
        log(f"build ~{target}: {chunks} chunks, {row['seconds']}s ({row['method'][:9]})")
        return row, index.vectors
    finally:
        shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------------------- flat vs HNSW


def dataset(base: Vectors, n: int, seed: int = 5) -> Vectors:
    """`n` unit vectors: the real `base` rows (shuffled) first, then blends of them."""
    rng = np.random.default_rng(seed)
    real = base[rng.permutation(len(base))][:n]
    if n <= len(real):
        return np.ascontiguousarray(real)
    keys = rng.integers(0, 2**62, size=n - len(real), dtype=np.uint64)
    return np.ascontiguousarray(np.vstack([real, mix_vectors(base, keys)]))


def _search_times(index: Any, queries: Vectors, k: int) -> tuple[list[float], Any, Any]:
    index.search(queries[:1], k)
    times, ids, scores = [], [], []
    for q in queries:
        t = time.perf_counter()
        score, found = index.search(q.reshape(1, -1), k)
        times.append(time.perf_counter() - t)
        ids.append(found[0])
        scores.append(score[0])
    return times, np.array(ids), np.array(scores)


def _recall(found: Any, truth: Any, k: int) -> float:
    hits = [len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found, truth, strict=True)]
    return round(float(np.mean(hits)), 4)


def ann_benchmark(
    base: Vectors, queries: Vectors, sizes: Sequence[int], k: int = 64
) -> dict[str, Any]:
    """Single-query latency of flat vs HNSW (at k, what the retriever asks) and HNSW recall."""
    from index import vectors as iv

    rows = []
    for n in sizes:
        data = dataset(base, n)
        flat = iv.build_vector_index(data, kind="flat")
        t = time.perf_counter()
        hnsw = iv.build_vector_index(data, kind="hnsw")
        build_s = time.perf_counter() - t
        kk = min(k, n)
        flat_t, truth, truth_scores = _search_times(flat, queries, kk)
        row: dict[str, Any] = {
            "rows": n,
            "flat_p50_ms": round(float(np.median(flat_t)) * 1000, 3),
            "hnsw_build_s": round(build_s, 2),
            "hnsw": {},
        }
        for ef in EF_SEARCH_VALUES:
            hnsw._index.hnsw.efSearch = ef
            times, found, scores = _search_times(hnsw, queries, kk)
            top = min(10, kk)
            row["hnsw"][str(ef)] = {
                "p50_ms": round(float(np.median(times)) * 1000, 3),
                "recall_at_10": _recall(found, truth, top),
                f"recall_at_{kk}": _recall(found, truth, kk),
                # Mean cosine lost per top-10 result: ~0 when the misses are near-ties.
                "score_loss_at_10": round(
                    float(np.mean(truth_scores[:, :top] - scores[:, :top])), 5
                ),
            }
        hnsw._index.hnsw.efSearch = iv.HNSW_EF_SEARCH
        cur = row["hnsw"].get(str(iv.HNSW_EF_SEARCH), {})
        log(
            f"ANN {n} rows: flat {row['flat_p50_ms']} ms, hnsw(ef={iv.HNSW_EF_SEARCH}) "
            f"{cur.get('p50_ms')} ms recall@10 {cur.get('recall_at_10')}"
        )
        rows.append(row)
    return {
        "rows": rows,
        "k": k,
        "queries": len(queries),
        "hnsw_params": {
            "M": iv.HNSW_M,
            "efConstruction": iv.HNSW_EF_CONSTRUCTION,
            "efSearch": iv.HNSW_EF_SEARCH,
        },
        "current_hnsw_min_rows": iv.HNSW_MIN_ROWS,
        "recommended_hnsw_min_rows": choose_threshold(rows, iv.HNSW_EF_SEARCH),
        "data": "rows up to the real-embedding pool are real embeddings of synthetic chunks; "
        "beyond, blends of two of them plus noise; queries are real question embeddings",
    }


def choose_threshold(rows: Sequence[dict[str, Any]], ef: int) -> int | None:
    """The smallest measured size from which HNSW (at `ef`) is faster with recall@10 >= 0.99.

    None when that never holds on the measured sizes (keep flat up to the largest size).
    """
    best: int | None = None
    for row in sorted(rows, key=lambda r: -int(r["rows"])):
        h = row["hnsw"].get(str(ef))
        if h and h["p50_ms"] < row["flat_p50_ms"] and h["recall_at_10"] >= RECALL_TARGET:
            best = int(row["rows"])
        else:
            break
    return best
