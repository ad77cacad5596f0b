"""Writing a file whole or not at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

# Exports are meant to be read by others (committed upstream, served on a page): the mode of an
# ordinary file, not the 0600 of the temporary file they are written through.
EXPORT_MODE = 0o644


def write_atomically(target: Path, text: str, mode: int = EXPORT_MODE) -> None:
    """Write `text` to a temporary file beside `target`, then rename it over `target` (with
    `mode`): readers see the old file or the new one, never half of one. Raises `OSError`;
    leaves no temporary file behind."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    temporary = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            os.fchmod(f.fileno(), mode)
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, target)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
