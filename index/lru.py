"""A bounded mapping that forgets its least recently used entries (memory stays flat).

Bounded in entries and, optionally, in bytes: a cache keyed on what users type must not grow
with the length of what they type (one entry of 40k characters weighs as much as eighty short
questions). `Memo` puts one in front of a one-argument function, thread-safely.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

MiB = 1024 * 1024


def approximate_size(value: object) -> int:
    """Bytes held by `value`: `sys.getsizeof`, plus the items of a tuple, list or frozenset (one
    level: what the caches here hold) and the buffer of a NumPy array view."""
    if type(value) is str:  # the commonest key and value: nothing more to count
        return sys.getsizeof(value)
    size = sys.getsizeof(value)
    if isinstance(value, tuple | list | frozenset | set):
        size += sum(sys.getsizeof(item) for item in value)
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int) and getattr(value, "base", None) is not None:
        size += nbytes  # a view: getsizeof counts its header only
    return size


def entry_size(key: object, value: object) -> int:
    """The default weight of one entry: its key and its value."""
    if type(key) is str and type(value) is str:  # most memos: text to text
        return sys.getsizeof(key) + sys.getsizeof(value)
    return approximate_size(key) + approximate_size(value)


class LruCache(Generic[K, V]):
    """At most `capacity` entries (0 keeps none) and, with `max_bytes`, at most that many bytes
    as `weigh(key, value)` counts them; `get` and `put` make an entry the most recent. An entry
    heavier than `max_bytes` on its own is not kept.

    Not thread-safe: callers that share one across threads hold their own lock. A bounded set is
    an `LruCache[key, None]` (`put(key, None)`, `key in cache`).
    """

    def __init__(
        self,
        capacity: int,
        max_bytes: int | None = None,
        weigh: Callable[[K, V], int] = entry_size,
    ) -> None:
        self.capacity = max(0, capacity)
        self.max_bytes = None if max_bytes is None else max(0, max_bytes)
        self._weigh = weigh
        self._items: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self.bytes = 0  # the weight of the entries held (0 without `max_bytes`)

    def get(self, key: K) -> V | None:
        found = self._items.get(key)
        if found is None:
            return None
        self._items.move_to_end(key)
        return found[0]

    def put(self, key: K, value: V) -> None:
        if self.capacity == 0:
            return
        items, max_bytes = self._items, self.max_bytes
        weight = 0
        if max_bytes is not None:  # weighed only when bounded in bytes
            weight = self._weigh(key, value)
            if weight > max_bytes:
                self.pop(key)
                return
        old = items.pop(key, None)
        if old is not None:
            self.bytes -= old[1]
        items[key] = (value, weight)
        self.bytes += weight
        while len(items) > self.capacity or (max_bytes is not None and self.bytes > max_bytes):
            _, (_, dropped) = items.popitem(last=False)
            self.bytes -= dropped

    def pop(self, key: K) -> V | None:
        """Forget `key`; its value, or None."""
        found = self._items.pop(key, None)
        if found is None:
            return None
        self.bytes -= found[1]
        return found[0]

    def clear(self) -> None:
        self._items.clear()
        self.bytes = 0

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)


class Memo(Generic[K, V]):
    """`function(key)` remembered in an `LruCache` bounded in entries and bytes; thread-safe
    (the event loop and the answering workers share one). The stand-in for
    `functools.lru_cache` wherever the key is text a user typed."""

    def __init__(self, function: Callable[[K], V], capacity: int, max_bytes: int) -> None:
        self.function = function
        self.cache: LruCache[K, V] = LruCache(capacity, max_bytes)
        self._max_bytes = max(0, max_bytes)  # the cache's, as an int
        self._lock = threading.Lock()
        self.__doc__ = function.__doc__
        self.__wrapped__ = function

    def __call__(self, key: K) -> V:
        # The cache's mapping read directly: a hit is one look-up and one move, no method calls.
        items = self.cache._items
        with self._lock:
            found = items.get(key)
            if found is not None:
                items.move_to_end(key)
                return found[0]
        value = self.function(key)  # outside the lock: two threads may both compute it once
        cache = self.cache
        weight = cache._weigh(key, value)  # a Memo is always bounded in bytes
        with self._lock:
            if key in items or not 0 < weight <= self._max_bytes:
                cache.put(key, value)  # the rare cases: `put` handles them
                return value
            # `put` inlined for the commonest case: a new entry that fits.
            items[key] = (value, weight)
            cache.bytes += weight
            while len(items) > cache.capacity or cache.bytes > self._max_bytes:
                _, (_, dropped) = items.popitem(last=False)
                cache.bytes -= dropped
        return value

    def cache_clear(self) -> None:
        with self._lock:
            self.cache.clear()


def memo(capacity: int, max_bytes: int) -> Callable[[Callable[[K], V]], Memo[K, V]]:
    """Decorate a one-argument function with a `Memo` (`capacity` entries, `max_bytes` bytes)."""

    def wrap(function: Callable[[K], V]) -> Memo[K, V]:
        return Memo(function, capacity, max_bytes)

    return wrap
