"""Progress of long work (a build's encoding, the model export), for whoever wants to show it.

A report is `progress(label, done, total)`: a task starts with `done == 0`, `done` never goes
back, and its last report has `done == total`; `label` says what is being done now (it may
change within a task: the export's steps). The work also logs one line per step itself, so a
log says what happened whether anyone watches or not; a report is only for a live display.

The command line cannot hand a callback down every layer between it and the work (the export
runs inside the embedder's loader), so it installs one for its own context with `reporting`, and
the work asks `current()`. A context variable: a thread or task started outside the block (the
bot's reindex from chat) sees none, so nothing draws into the bot's log.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator

Progress = Callable[[str, int, int], None]

_current: contextvars.ContextVar[Progress | None] = contextvars.ContextVar(
    "factbot_progress", default=None
)


def current() -> Progress | None:
    """The progress callback the calling context installed, or None."""
    return _current.get()


@contextlib.contextmanager
def reporting(progress: Progress | None) -> Iterator[None]:
    """Long work started inside the block reports to `progress` (None: to no one)."""
    token = _current.set(progress)
    try:
        yield
    finally:
        _current.reset(token)
