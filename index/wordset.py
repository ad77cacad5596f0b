"""A large, fixed set of words in one memory-mapped `.npy` file, looked up by binary search.

A Python `frozenset` of 200k words costs ~25 MiB and seconds to build at every start; a `WordSet`
is opened with `np.load(..., mmap_mode="r")` in a millisecond, costs no memory until looked up,
and answers `word in words` with `np.searchsorted` (a few microseconds).

File format: a 1-D `uint8` `.npy` array holding, in order,

- `width` (little-endian int64): the byte length of the longest word;
- `width + 1` little-endian int64 offsets into the data: the words of `n` UTF-8 bytes are
  `data[offsets[n - 1]:offsets[n]]`;
- the data: for each byte length, its words side by side without separators, sorted bytewise
  (the order `np.searchsorted` uses on a fixed-width bytes array).

Words are stored as UTF-8; a word holding a NUL character cannot be stored (numpy's bytes
type drops trailing NULs).
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

_INT = np.dtype("<i8")
_MAX_WIDTH = 4096  # a sanity bound on the header of a file read back


class WordSetCorrupt(ValueError):
    """The file is not a word set (truncated, overwritten, another format): one line."""


class WordSet:
    """An immutable set of words: `in`, `len`, iteration and `members` (many look-ups at once)."""

    def __init__(self, blob: NDArray[np.uint8]) -> None:
        """Wrap a blob in the file format above (checked: `WordSetCorrupt` when it is not one)."""
        if blob.ndim != 1 or blob.dtype != np.uint8 or blob.size < _INT.itemsize:
            raise WordSetCorrupt("not a one-dimensional uint8 array")
        width = int(blob[: _INT.itemsize].view(_INT)[0])
        header = _INT.itemsize * (width + 2)
        if not 0 <= width <= _MAX_WIDTH or blob.size < header:
            raise WordSetCorrupt(f"bad header (width {width})")
        offsets = np.array(blob[_INT.itemsize : header].view(_INT))
        data = blob[header:]
        if offsets[0] != 0 or offsets[-1] != data.size or np.any(np.diff(offsets) < 0):
            raise WordSetCorrupt("offsets do not match the data")
        self._blob = blob
        # One fixed-width bytes array per word length (index n: words of n bytes).
        self._by_length: list[NDArray[np.bytes_]] = [np.empty(0, dtype="S1")]
        for n in range(1, width + 1):
            start, end = int(offsets[n - 1]), int(offsets[n])
            if (end - start) % n:
                raise WordSetCorrupt(f"the words of {n} bytes do not fill their section")
            # A plain ndarray over the mapped bytes: numpy.memmap's wrapping doubles a look-up.
            self._by_length.append(np.asarray(data[start:end]).view(f"S{n}"))
        self._size = sum(len(a) for a in self._by_length)

    # ------------------------------------------------------------------ making and storing

    @classmethod
    def of(cls, words: Iterable[str]) -> WordSet:
        """The set of `words`, in memory (duplicates dropped)."""
        raws = {w.encode("utf-8") for w in words} - {b""}
        if b"\x00" in b"".join(raws):
            raise ValueError("a word set cannot hold a NUL character")
        # By length, then bytewise: each length's words side by side are its fixed-width array.
        ordered = sorted(sorted(raws), key=len)
        width = len(ordered[-1]) if ordered else 0
        counts = Counter(map(len, ordered))
        offsets = np.cumsum([0] + [n * counts[n] for n in range(1, width + 1)], dtype=_INT)
        header = np.concatenate([np.array([width], dtype=_INT), offsets]).view(np.uint8)
        data = np.frombuffer(b"".join(ordered), dtype=np.uint8)
        return cls(np.concatenate([header, data]))

    @classmethod
    def load(cls, path: Path) -> WordSet:
        """The word set in `path`, memory-mapped (`WordSetCorrupt` when it is not one; `OSError`
        when it cannot be read)."""
        try:
            blob = np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, EOFError) as exc:  # not a .npy, or shorter than its header says
            raise WordSetCorrupt(str(exc).splitlines()[0][:200]) from exc
        return cls(blob)

    def save(self, path: Path) -> None:
        """Write the file to `path` (the caller makes it atomic: a temporary name, then rename)."""
        with path.open("wb") as fh:
            np.save(fh, np.asarray(self._blob), allow_pickle=False)
            fh.flush()
            os.fsync(fh.fileno())

    # ------------------------------------------------------------------ look-ups

    def __contains__(self, word: object) -> bool:
        if not isinstance(word, str):
            return False
        raw = word.encode("utf-8")
        if not 0 < len(raw) < len(self._by_length):
            return False
        # No stored word holds a NUL, so a word holding one matches none (no check needed).
        section = self._by_length[len(raw)]
        i = section.searchsorted(raw)
        return bool(i < len(section) and section[i] == raw)

    def members(self, words: Iterable[str]) -> set[str]:
        """The `words` that are in the set: `{w for w in words if w in self}`, searched in one
        vectorised pass per word length."""
        groups: defaultdict[int, list[tuple[str, bytes]]] = defaultdict(list)
        for word in words:
            raw = word.encode("utf-8")
            if 0 < len(raw) < len(self._by_length):
                groups[len(raw)].append((word, raw))
        found: set[str] = set()
        for n, group in groups.items():
            section = self._by_length[n]
            if not len(section):
                continue
            wanted = np.array([raw for _, raw in group], dtype=f"S{n}")
            at = np.minimum(section.searchsorted(wanted), len(section) - 1)
            hits = (section[at] == wanted).tolist()
            found.update(word for (word, _), hit in zip(group, hits, strict=True) if hit)
        return found

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[str]:
        for section in self._by_length:
            for raw in section.tolist():
                yield raw.decode("utf-8")

    def __repr__(self) -> str:
        return f"WordSet({self._size} words)"
