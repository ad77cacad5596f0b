"""File digests and package versions recorded in manifests (the index's and the model export's),
and the stamp that spares re-hashing files nobody touched."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path

STAMP_FORMAT = 1


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def package_versions(names: Iterable[str]) -> dict[str, str]:
    """Installed version of each distribution ('absent' when it is not installed)."""
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def folder_checksums(folder: Path) -> dict[str, str]:
    """SHA-256 of every file below `folder`, keyed by its relative POSIX path."""
    return {
        p.relative_to(folder).as_posix(): sha256_file(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def file_stamp(path: Path) -> list[int]:
    """What rewriting, truncating or touching a file changes: size, mtime, inode and ctime (a
    program can set an mtime back, never a ctime)."""
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns]


def verify_files(folder: Path, digests: Mapping[str, str], stamp: Path) -> str | None:
    """Why the files of `digests` (relative path -> SHA-256) below `folder` do not match, or None.

    Each file is hashed only when the `stamp` file, written after the last full verification of
    these digests, does not match its `file_stamp`: an untouched folder costs a few `stat`s. A
    file changed in place changes its stamp, so it is hashed again. The stamp is written
    atomically when it can be (a read-only folder is hashed at every call instead)."""
    current: dict[str, list[int]] = {}
    for rel in digests:
        try:
            if not (folder / rel).is_file():
                return f"{rel} missing"
            current[rel] = file_stamp(folder / rel)
        except OSError:
            return f"{rel} missing"
    expected = {"format": STAMP_FORMAT, "digests": _digest_of(digests), "files": current}
    try:
        if json.loads(stamp.read_text(encoding="utf-8")) == expected:
            return None
    except (OSError, ValueError):
        pass  # no stamp yet, or a damaged one: verify in full
    for rel, digest in digests.items():
        try:
            actual = sha256_file(folder / rel)
        except OSError:
            return f"{rel} unreadable"
        if actual != digest:
            return f"{rel} checksum mismatch"
    # The stat was taken before hashing: a file changed meanwhile will not match next time.
    write_json_atomically(stamp, expected)
    return None


def write_json_atomically(path: Path, data: object) -> bool:
    """Write `data` as JSON to `path` through a temporary file and a rename (a reader sees the
    old file or the new one, never half of one); False when the folder is not writable."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError:
        return False
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.chmod(tmp, 0o644)  # like the files it describes: nothing secret, readable by a reader
        os.replace(tmp, path)
        return True
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return False


def _digest_of(digests: Mapping[str, str]) -> str:
    """One SHA-256 for a set of digests: a stamp vouches for these expected contents only."""
    return hashlib.sha256(json.dumps(dict(sorted(digests.items()))).encode()).hexdigest()
