"""The NumPy reader of a saved bm25s index scores exactly as bm25s does, on the real index."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import bm25s
import numpy as np
import pytest

from index.bm25_scores import Bm25Scores
from index.store import IndexStore


def _bm25_folder(prebuilt_index: Path) -> Path:
    return IndexStore(prebuilt_index).load().path / "bm25"


def test_scores_equal_bm25s_for_every_word_and_random_queries(prebuilt_index: Path) -> None:
    folder = _bm25_folder(prebuilt_index)
    ours = Bm25Scores.load(folder)
    assert ours is not None
    theirs = bm25s.BM25.load(str(folder), load_corpus=False, show_progress=False)
    words = [w for w in json.loads((folder / "vocab.index.json").read_text()) if w]
    rng = random.Random(7)
    queries = [[w] for w in words] + [
        rng.sample(words, rng.randint(2, 8)) + (["zzz-unknown"] if i % 3 == 0 else [])
        for i in range(500)
    ]
    queries.append(["zzz-unknown"])  # nothing known: all zeros on both sides
    for query in queries:
        expected, got = theirs.get_scores(query), ours.get_scores(query)
        assert got.dtype == expected.dtype and np.array_equal(got, expected), query


def test_a_query_bm25s_refuses_is_refused_too(prebuilt_index: Path) -> None:
    # bm25s's saved vocabulary holds an empty token past the score matrix: asking for it is
    # an error there, and must not be a silent zero here.
    folder = _bm25_folder(prebuilt_index)
    ours = Bm25Scores.load(folder)
    assert ours is not None
    theirs = bm25s.BM25.load(str(folder), load_corpus=False, show_progress=False)
    for query in ([""], []):
        with pytest.raises((ValueError, IndexError)):
            theirs.get_scores(query)
        with pytest.raises(ValueError):
            ours.get_scores(query)


def test_an_index_with_another_method_is_left_to_bm25s(
    prebuilt_index: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "bm25"
    shutil.copytree(_bm25_folder(prebuilt_index), folder)
    params = json.loads((folder / "params.index.json").read_text())
    params["method"] = "bm25+"
    (folder / "params.index.json").write_text(json.dumps(params))
    assert Bm25Scores.load(folder) is None


def test_a_loaded_index_scores_without_importing_bm25s(prebuilt_index: Path) -> None:
    # A fresh interpreter: loading the published index (what a cold `factbot ask` does) must
    # import neither bm25s nor SciPy.
    code = (
        "import sys; from pathlib import Path; from index.store import IndexStore; "
        f"IndexStore(Path({str(prebuilt_index)!r})).load(); "
        "print(sorted(m for m in ('bm25s', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
