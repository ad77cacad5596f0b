"""Per-user cooldown shared by the chat adapters (a token bucket per user key)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Cooldown:
    """Allow `burst` questions at once per user, refilled at one per `per_seconds`.

    `hit(key)` returns 0.0 when the call may proceed, else the seconds to wait.
    """

    def __init__(
        self, per_seconds: float, burst: int = 1, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.per_seconds = max(0.0, per_seconds)
        self.burst = max(1, burst)
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last time)

    def hit(self, key: str) -> float:
        if self.per_seconds <= 0:
            return 0.0
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) / self.per_seconds)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            if len(self._buckets) > 10_000:  # forget idle users so memory stays bounded
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 3600}
            return (1.0 - tokens) * self.per_seconds
