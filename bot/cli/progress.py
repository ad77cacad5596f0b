"""Progress on the terminal: while `factbot` builds the index or exports the model, a bar on
stderr when stderr is a terminal, and nothing more when it is not (the work logs one line per
step itself, so a pipe or a log file gets those lines and no carriage return). Never stdout:
`factbot ask --json` prints its JSON there and nothing else.

The bar keeps to the bottom line: while it is shown, a log line written to the same terminal
clears it first, and it is drawn again below the line.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Iterator
from typing import Any, TextIO

from index.progress import reporting

# No rate: the export's steps are not work units, and "0.21it/s" says nothing.
BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}]"


class TerminalBar:
    """A progress callback (index/progress.py) drawing one bar per task on `stream`."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._bar: Any = None  # a tqdm bar (tqdm ships no type hints)
        self._lock = threading.RLock()  # log lines may come from other threads

    def __call__(self, label: str, done: int, total: int) -> None:
        with self._lock:
            if done == 0 or self._bar is None:
                self.close()
                self._bar = _new_bar(label, total, self._stream)
            self._bar.set_description_str(label, refresh=False)
            self._bar.update(done - self._bar.n)
            if done >= total:
                self.close()

    def close(self) -> None:
        """Take the bar off the screen (its task's log lines stay)."""
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None

    def write_above(self, text: str) -> None:
        """Write `text` to the terminal with the bar out of its way."""
        with self._lock:
            if self._bar is not None:
                self._bar.clear()
            self._stream.write(text)
            if self._bar is not None:
                self._bar.refresh()


class _AboveBar:
    """The stream log handlers write to while a bar may be shown."""

    def __init__(self, bar: TerminalBar, stream: TextIO) -> None:
        self._bar = bar
        self._stream = stream

    def write(self, text: str) -> int:
        self._bar.write_above(text)
        return len(text)

    def flush(self) -> None:
        self._stream.flush()


def _new_bar(label: str, total: int, stream: TextIO) -> Any:
    from tqdm import tqdm  # only once a bar is drawn: most commands never need it

    return tqdm(
        total=total,
        desc=label,
        file=stream,
        leave=False,  # the log lines are the record; the bar goes when its task ends
        dynamic_ncols=True,
        bar_format=BAR_FORMAT,
    )


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (ValueError, OSError):  # closed or detached
        return False


@contextlib.contextmanager
def terminal_progress(stream: TextIO | None = None) -> Iterator[None]:
    """Long work run inside the block (in this thread) shows a bar on `stream` (stderr) when it
    is a terminal; otherwise the block runs as it is."""
    out = sys.stderr if stream is None else stream
    if not is_terminal(out):
        yield
        return
    bar = TerminalBar(out)
    handlers = [
        h
        for h in logging.getLogger().handlers
        if isinstance(h, logging.StreamHandler) and h.stream is out
    ]
    for handler in handlers:
        handler.setStream(_AboveBar(bar, out))
    try:
        with reporting(bar):
            yield
    finally:
        bar.close()
        for handler in handlers:
            handler.setStream(out)
