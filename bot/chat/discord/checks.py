"""Discord's moderator checks, and the client surface the command modules read.

`/reindex`, `/unanswered` and `/note` (bot/chat/discord/notes.py) share one rule, the core's
(`bot/serving/moderation.py`); the feedback and notes modules type their interactions with
`CommandClient`, so none of them imports the client module that registers them (no cycle).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.answer import Language
from bot.chat import flows
from bot.serving import moderation
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.chat.delivery import Deliveries
    from bot.learning.loop import LearningLoop
    from bot.serving.intake import Intake
    from bot.serving.service import FactBotService

log = logging.getLogger("factbot.discord")


class CommandClient(discord.Client):
    """What the command modules read of the client; `FactBotClient` is the one subclass."""

    settings: Settings
    service: FactBotService
    intake: Intake
    learning: LearningLoop | None
    # Closing the loop: where notices go and the notifier (None: the loop is off).
    deliveries: Deliveries | None = None

    def already_seen(self, kind: str, event_id: int) -> bool:
        """True for an interaction or message id handled before (the client remembers them)."""
        raise NotImplementedError


def ui_language(interaction: discord.Interaction[CommandClient]) -> Language:
    return "fr" if str(interaction.locale).startswith("fr") else "en"


def not_moderator(language: Language, command: str = "reindex") -> str:
    """The refusal a member gets for a moderators' command (`command`: its top-level name)."""
    return flows.not_moderator("discord", language, command)


NOT_MODERATOR = not_moderator("en")


def is_moderator(interaction: discord.Interaction[CommandClient], settings: Settings) -> bool:
    """The core's rule (`bot/serving/moderation.py`) on what Discord says about this member."""
    user = interaction.user
    roles = user.roles if isinstance(user, discord.Member) else []
    member = moderation.DiscordMember(
        user_id=user.id,
        guild_id=interaction.guild_id,
        role_ids=frozenset(role.id for role in roles),
        # Discord computes this from the member's roles in this server: no cache involved.
        manage_guild=interaction.guild_id is not None and interaction.permissions.manage_guild,
    )
    return moderation.is_discord_moderator(settings, member)


def moderator_refusal(interaction: discord.Interaction[CommandClient], command: str) -> str | None:
    """None for a moderator; else the line to show: moderation is off (nobody is configured), or
    this member is not one. `command` is the top-level name (the refusal's wording)."""
    settings = interaction.client.settings
    language = ui_language(interaction)
    if not moderation.discord_moderation_enabled(settings):
        return moderation.disabled_line(language)
    if is_moderator(interaction, settings):
        return None
    return not_moderator(language, command)


class NotModerator(app_commands.CheckFailure):
    """Raised by the moderators' check with the refusal's line; the tree error handler shows it."""


def moderators_only(interaction: discord.Interaction[CommandClient]) -> bool:
    name = interaction.command.qualified_name if interaction.command else "?"
    refusal = moderator_refusal(interaction, name.split()[0])
    if refusal is None:
        return True
    log.info(
        "/%s denied to %s in guild %s: not a moderator",
        name,
        interaction.user.display_name,  # never the raw user id in the log
        interaction.guild_id,
    )
    raise NotModerator(refusal)
