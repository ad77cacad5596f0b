"""Per-user cooldown shared by the chat adapters (a token bucket per user key).

Every request a user sends is charged, served or refused (empty, too long, rate-limited): a flood
costs its sender, not the bot. A refused user is told at most once per `per_seconds` (`tell`),
so a flood gets one reply, not one per message. The buckets are bounded (`max_keys`, the least
recently active go first) and `prune` forgets those with nothing left to remember; the intake
calls it on a timer (bot/serving/intake.py).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_MAX_KEYS = 10_000


@dataclass
class _Bucket:
    tokens: float
    last: float  # when it was last charged
    told: float | None = None  # when its user was last told about a refusal


class Cooldown:
    """Allow `burst` questions at once per user, refilled at one per `per_seconds`.

    `hit(key)` charges one token and returns 0.0 when the call may proceed, else the seconds to
    wait. A refused call is charged too, down to `-burst` tokens: flooding lengthens the wait, by
    at most `burst` more periods (unless `charge_refused` is False: then a refused call costs
    nothing, for callers whose refusals cannot flood, such as moderators' saves).
    """

    def __init__(
        self,
        per_seconds: float,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = DEFAULT_MAX_KEYS,
        charge_refused: bool = True,
    ) -> None:
        self.per_seconds = max(0.0, per_seconds)
        self.charge_refused = charge_refused
        self.burst = max(1, burst)
        self.max_keys = max(1, max_keys)
        self._clock = clock
        self._lock = threading.Lock()
        # key -> bucket, least recently charged first
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def hit(self, key: str) -> float:
        if self.per_seconds <= 0:
            return 0.0
        now = self._clock()
        with self._lock:
            bucket = self._charged_bucket(key, now)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            if self.charge_refused:
                bucket.tokens = max(-float(self.burst), bucket.tokens - 1.0)
            return (1.0 - bucket.tokens) * self.per_seconds

    def tell(self, key: str) -> bool:
        """Whether to tell `key`'s user about a refusal now: at most once per `per_seconds`
        (always when there is no cooldown). Saying yes counts as telling."""
        if self.per_seconds <= 0:
            return True
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:  # evicted meanwhile: tell, and remember having told
                bucket = self._charged_bucket(key, now)
            if bucket.told is not None and now - bucket.told < self.per_seconds:
                return False
            bucket.told = now
            return True

    def prune(self) -> int:
        """Forget the users whose bucket is full again and whose last notice is a period old
        (forgetting them changes nothing); returns how many were forgotten."""
        now = self._clock()
        with self._lock:
            idle = [key for key, bucket in self._buckets.items() if self._idle(bucket, now)]
            for key in idle:
                del self._buckets[key]
        return len(idle)

    def __len__(self) -> int:
        with self._lock:
            return len(self._buckets)

    def _charged_bucket(self, key: str, now: float) -> _Bucket:
        """`key`'s bucket refilled up to `now`, made the most recent (evicting the oldest)."""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            refill = (now - bucket.last) / self.per_seconds
            bucket.tokens = min(float(self.burst), bucket.tokens + refill)
            bucket.last = now
        return bucket

    def _idle(self, bucket: _Bucket, now: float) -> bool:
        full = bucket.tokens + (now - bucket.last) / self.per_seconds >= self.burst
        quiet = bucket.told is None or now - bucket.told >= self.per_seconds
        return full and quiet
