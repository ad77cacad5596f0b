"""`/privacy` on Discord: what factbot keeps about the member, privately, with an "Erase my data"
button. The policy and the wording are the core's (bot/learning/privacy.py, bot/messages.py); this module
only translates the command and the button press in and renders the lines out.

The button carries a fixed custom_id and is understood from it alone in `on_interaction` (also
after a restart); it erases the data of whoever presses it, so it can only ever erase the
presser's own data. The reply replaces the private message with the one line that confirms.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from bot.answer import Language
from bot.chat.discord.checks import CommandClient, ui_language
from bot.chat.discord.render import clip_message
from bot.learning.privacy import PrivacyUnavailable, erased_line, kept_lines
from bot.logs import user_tag
from bot.messages import text

Interaction = discord.Interaction[CommandClient]

log = logging.getLogger("factbot.discord")

ERASE_ID = "factbot:privacy:erase"
NO_MENTIONS = discord.AllowedMentions.none()


def erase_button(language: Language) -> discord.ui.View:
    """The one button under the summary; nothing kept in memory (`on_interaction` handles it)."""
    view = discord.ui.View(timeout=None)
    view.add_item(
        discord.ui.Button(
            style=discord.ButtonStyle.danger,
            label=text("privacy.erase_button", language),
            custom_id=ERASE_ID,
        )
    )
    view.stop()
    return view


@app_commands.command(name="privacy", description="What factbot keeps about you, and erase it")
async def privacy(interaction: Interaction) -> None:
    language = ui_language(interaction)
    learning = interaction.client.learning
    if learning is None:
        await _private(interaction, text("privacy.disabled", language))
        return
    user = str(interaction.user.id)
    try:
        kept = await learning.privacy.kept("discord", user)
    except PrivacyUnavailable as exc:
        log.warning("/privacy for %s: %s", user_tag("discord", user), exc)
        await _private(interaction, text("privacy.unavailable", language))
        return
    await interaction.response.send_message(
        clip_message("\n".join(kept_lines(kept, language))),
        ephemeral=True,
        allowed_mentions=NO_MENTIONS,
        view=erase_button(language),
    )


async def on_interaction(interaction: Interaction) -> None:
    """The client's `on_interaction`: the erase button, known by its custom_id."""
    if interaction.type is not discord.InteractionType.component:
        return
    if str(dict(interaction.data or {}).get("custom_id", "")) != ERASE_ID:
        return
    if interaction.client.already_seen("interaction", interaction.id):
        return
    interaction.client.intake.track_current_task()
    language = ui_language(interaction)
    learning = interaction.client.learning
    user = str(interaction.user.id)
    try:
        if learning is None:
            line = text("privacy.disabled", language)
        else:
            try:
                line = erased_line(await learning.privacy.erase("discord", user), language)
            except PrivacyUnavailable as exc:
                log.warning("/privacy erase for %s: %s", user_tag("discord", user), exc)
                line = text("privacy.unavailable", language)
        await interaction.response.edit_message(content=line, view=None)
    except Exception:
        # Never a traceback in chat: the log has it, the member gets one line.
        log.exception("/privacy erase for %s failed", user_tag("discord", user))
        if not interaction.response.is_done():
            await _private(interaction, text("error.sorry", language))


async def _private(interaction: Interaction, line: str) -> None:
    await interaction.response.send_message(
        clip_message(line), ephemeral=True, allowed_mentions=NO_MENTIONS
    )
