"""The memory-mapped word set (index/wordset.py): the same answers as a Python set, from a file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.wordset import WordSet, WordSetCorrupt

WORDS = frozenset(
    # Mixed lengths, shared prefixes, non-ASCII (several bytes a character), digits, apostrophes.
    "a an ant anthem z zz été ete naïve naive 日本 ß ss moon moonrock chang'e 2024 x-ray".split()
)


@pytest.fixture
def stored(tmp_path: Path) -> WordSet:
    path = tmp_path / "words.npy"
    WordSet.of(WORDS).save(path)
    return WordSet.load(path)


def test_membership_and_iteration_match_the_python_set(stored: WordSet) -> None:
    for words in (WordSet.of(WORDS), stored):
        assert len(words) == len(WORDS)
        assert set(words) == WORDS
        for word in WORDS:
            assert word in words, word
        absent = ["", "b", "ants", "anthems", "eté", "日", "日本語", "moo", "zzz", "a" * 40, "é"]
        for word in absent:
            assert word not in words, word
        assert words.members([*WORDS, *absent]) == set(WORDS)
        assert 3 not in words


def test_a_loaded_set_is_memory_mapped(stored: WordSet, tmp_path: Path) -> None:
    blob = np.load(tmp_path / "words.npy", mmap_mode="r")
    assert isinstance(blob, np.memmap)
    assert set(WordSet(blob)) == set(stored)


def test_a_large_set_agrees_with_a_python_set_on_every_neighbour() -> None:
    words = frozenset(f"{a}{b}{c}" for a in "abcé" for b in "xyzü" for c in ("", "q", "qq", "é"))
    every = {w[:i] + ch + w[i:] for w in words for i in range(len(w) + 1) for ch in "aqxé"}
    made = WordSet.of(words)
    assert made.members(every | words) == (every | words) & words
    assert {w for w in every if w in made} == every & words


def test_empty_set(tmp_path: Path) -> None:
    WordSet.of([]).save(tmp_path / "empty.npy")
    empty = WordSet.load(tmp_path / "empty.npy")
    assert len(empty) == 0 and list(empty) == [] and "a" not in empty
    assert empty.members(["a", ""]) == set()


def test_a_nul_character_cannot_be_stored() -> None:
    with pytest.raises(ValueError, match="NUL"):
        WordSet.of(["ok", "bad\x00"])
    assert "a\x00" not in WordSet.of(["a", "ab"])


@pytest.mark.parametrize("damage", ["truncate", "header", "not-npy", "float", "empty"])
def test_a_damaged_file_is_refused_in_one_line(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "words.npy"
    WordSet.of(WORDS).save(path)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) - 7])
    elif damage == "header":  # the width field says more lengths than the file holds
        start = len(data) - np.load(path).size
        path.write_bytes(data[:start] + b"\xff" * 8 + data[start + 8 :])
    elif damage == "not-npy":
        path.write_bytes(b"hello, world")
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        np.save(path, np.zeros(8))
    with pytest.raises(WordSetCorrupt) as caught:
        WordSet.load(path)
    assert "\n" not in str(caught.value)
