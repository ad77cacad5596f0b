"""Where a notification goes: one `Deliver` per running chat platform, chosen by the target's
platform (`Place.platform`). The CLI builds one `Deliveries`, hands it to the `Notifier`, and
each adapter registers itself once it is connected:

    deliveries = Deliveries()
    deliveries.notifier = Notifier(store, notes, ask, deliveries, settings)
    deliveries.register("discord", DiscordDelivery(client))   # bot/chat/discord/loop.py
    deliveries.register("slack", ...)                          # bot/chat/slack/
"""

from __future__ import annotations

import logging

from bot.learning.notify import Deliver, Notice, Notifier
from bot.storage.loop import Place

log = logging.getLogger("factbot.notify")


class Deliveries:
    """A `Deliver` that hands each notice to its platform's adapter."""

    def __init__(self) -> None:
        self._by_platform: dict[str, Deliver] = {}
        # The notifier it serves: the adapters read the note form's reach and the save
        # report's "told" from it (None: the loop is off).
        self.notifier: Notifier | None = None

    def register(self, platform: str, deliver: Deliver) -> None:
        """`platform` ("discord", "slack") delivers through `deliver` from now on."""
        self._by_platform[platform] = deliver

    def unregister(self, platform: str) -> None:
        self._by_platform.pop(platform, None)

    @property
    def platforms(self) -> tuple[str, ...]:
        return tuple(sorted(self._by_platform))

    async def deliver(self, target: Place, message: Notice) -> bool:
        """Post `message` through its platform's adapter; False when that platform is not
        running here (marked failed: a notification never waits for a platform to come)."""
        deliver = self._by_platform.get(target.platform)
        if deliver is None:
            log.warning("notify: no %s adapter runs here; a notice was not sent", target.platform)
            return False
        return await deliver.deliver(target, message)
