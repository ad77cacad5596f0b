"""The threads the bot opened or answered in, for every platform: a message there is a follow-up.

Kept in a bounded memory, and in the store through the learning loop (when there is one), so a
thread opened before a restart is still the bot's. A thread is named by a platform string:
Discord's thread id, Slack's "channel:thread_ts".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from index.lru import LruCache

if TYPE_CHECKING:
    from bot.learning.loop import LearningLoop

MAX_OWNED_THREADS = 10_000  # remembered in memory; older ones are asked of the store


class OwnThreads:
    """One platform's threads the bot owns: memory first, then the store."""

    def __init__(
        self, platform: str, learning: LearningLoop | None, size: int = MAX_OWNED_THREADS
    ) -> None:
        self.platform = platform
        self.learning = learning
        self._memory: LruCache[str, None] = LruCache(size)

    def remember(self, thread: str) -> None:
        """The bot opened (or answered in) `thread`: remembered here and in the store."""
        self._memory.put(thread, None)
        if self.learning is not None:
            self.learning.remember_thread(self.platform, thread)

    def known(self, thread: str) -> bool:
        """In memory: no look-up."""
        return thread in self._memory

    async def owns(self, thread: str) -> bool:
        """In memory, else in the store (a thread opened before a restart, then kept in memory)."""
        if self.known(thread):
            return True
        if self.learning is None or not await self.learning.is_bot_thread(self.platform, thread):
            return False
        self._memory.put(thread, None)
        return True
