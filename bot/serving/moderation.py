"""Who may moderate, and how often: the one rule both adapters apply (issue 20).

A moderator runs `/reindex`, `/unanswered` and `/note …`, whose notes are served to every
community, so a moderator is someone the *operator* named, never someone who merely administers a
server the bot was added to:

- Discord: a member holding a `MODERATOR_ROLE_IDS` role (role ids are unique to one server), or
  Manage Server in a server the operator listed (`MODERATOR_GUILD_IDS`; empty: `DISCORD_GUILD_IDS`,
  the servers the operator already named for the commands), or a user in
  `DISCORD_MODERATOR_USER_IDS`. In a DM only a listed user is (the adapter keeps the commands to
  servers anyway). With none of the three set, moderation is off and every moderators' command
  answers `disabled_line`.
- Slack: a user in `SLACK_MODERATOR_IDS`, or an admin or owner of the bot's *own* workspace (a
  Slack Connect member who administers their own workspace is not one).

Adapters hand plain facts (ids, a permission flag, team ids) and never decide themselves. The
moderators' cooldown (`ModeratorCooldown`) is enforced by the core where saves and rebuilds enter
it (`bot/notes/desk.py`, `FactBotService.reindex`), keyed on a keyed hash of the moderator.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.answer import Language
from bot.logs import user_tag
from bot.messages import text
from bot.notes.records import Moderator
from bot.serving.ratelimit import Cooldown
from bot.settings import Settings

__all__ = [
    "DISABLED_LOG",
    "DiscordMember",
    "ModeratorCooldown",
    "TooSoon",
    "disabled_line",
    "discord_moderation_enabled",
    "is_discord_moderator",
    "is_slack_moderator",
    "listed_guild_ids",
]

# Logged once at start when Discord moderation is off (operators read English logs).
DISABLED_LOG = (
    "Discord moderation is off: no MODERATOR_ROLE_IDS, MODERATOR_GUILD_IDS (or DISCORD_GUILD_IDS) "
    "or DISCORD_MODERATOR_USER_IDS is set, so /reindex, /unanswered and /note only say how to "
    "enable them (see docs/discord.md, 'Who moderates')"
)


@dataclass(frozen=True)
class DiscordMember:
    """What Discord says about the member behind an interaction."""

    user_id: int
    guild_id: int | None  # None: a DM
    role_ids: frozenset[int]
    manage_guild: bool  # Manage Server (or Administrator) in `guild_id`, as Discord computed it


def listed_guild_ids(settings: Settings) -> tuple[int, ...]:
    """The servers where Manage Server makes a moderator: MODERATOR_GUILD_IDS, else
    DISCORD_GUILD_IDS."""
    return settings.moderator_guild_ids or settings.discord_guild_ids


def discord_moderation_enabled(settings: Settings) -> bool:
    """False when the operator named no moderator at all (no role, server or user listed)."""
    return bool(
        settings.moderator_role_ids
        or listed_guild_ids(settings)
        or settings.discord_moderator_user_ids
    )


def is_discord_moderator(settings: Settings, member: DiscordMember) -> bool:
    if member.user_id in settings.discord_moderator_user_ids:
        return True
    if member.guild_id is None:
        return False
    if member.role_ids & set(settings.moderator_role_ids):
        return True
    return member.manage_guild and member.guild_id in listed_guild_ids(settings)


def is_slack_moderator(
    settings: Settings, user_id: str, user_team: str, bot_team: str, admin: bool
) -> bool:
    """Listed in SLACK_MODERATOR_IDS, or `admin` (admin or owner, per users.info) of the bot's
    own workspace: `user_team` (the user's home team) must be `bot_team` (auth.test's)."""
    if user_id in settings.slack_moderator_ids:
        return True
    return admin and bool(bot_team) and user_team == bot_team


def disabled_line(language: Language) -> str:
    """What a moderators' command answers while no moderator is configured (Discord)."""
    return text("moderation.disabled", language)


class TooSoon(Exception):
    """A moderator's save or /reindex refused by the cooldown: nothing was kept."""

    def __init__(self, wait_seconds: float) -> None:
        super().__init__(f"moderator cooldown: retry in {wait_seconds:.1f} s")
        self.wait_seconds = wait_seconds

    @property
    def seconds(self) -> int:
        return max(1, math.ceil(self.wait_seconds))

    def line(self, language: Language) -> str:
        return text("moderation.too_soon", language, seconds=self.seconds)


class ModeratorCooldown:
    """MODERATOR_COOLDOWN_BURST changes at once per moderator, then one per
    MODERATOR_COOLDOWN_SECONDS; a note save, a removal and a /reindex share the bucket."""

    def __init__(
        self, per_seconds: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        # A refused save keeps nothing and costs nothing: moderators are few and named.
        self._cooldown = Cooldown(per_seconds, burst, clock, charge_refused=False)

    @classmethod
    def for_settings(cls, settings: Settings) -> ModeratorCooldown:
        return cls(settings.moderator_cooldown_seconds, settings.moderator_cooldown_burst)

    def charge(self, by: Moderator) -> None:
        """Count one change by `by`, or raise `TooSoon` (and count nothing)."""
        # Keyed on the process's keyed hash of the user, never on the raw id.
        wait = self._cooldown.hit(user_tag(by.platform, by.user_id))
        if wait > 0:
            raise TooSoon(wait)
