"""Dropping redelivered events, for every platform: an event handled once is not handled again.

Discord's gateway may replay an interaction or a message across a resume, Slack resends an event
after a reconnection (same `event_id`): a redelivery comes within seconds, not thousands of
events, so a bounded memory of the last ids is enough.
"""

from __future__ import annotations

import logging

from index.lru import LruCache

SEEN_EVENTS = 2_000


class Redelivery:
    """The ids of the last `size` events handled; `first_time` says whether to handle one."""

    def __init__(self, log: logging.Logger, prefix: str = "", size: int = SEEN_EVENTS) -> None:
        self._seen: LruCache[tuple[str, str | int], None] = LruCache(size)
        self._log, self._prefix = log, prefix

    def first_time(self, kind: str, event_id: str | int) -> bool:
        """True the first time (`kind`, `event_id`) is seen, remembering it; False (with one log
        line) for a copy. An empty id (an event without one) is always new."""
        if not event_id:
            return True
        key = (kind, event_id)
        if key in self._seen:
            self._log.info("%signoring redelivered %s %s", self._prefix, kind, event_id)
            return False
        self._seen.put(key, None)
        return True
