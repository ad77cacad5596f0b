"""`/about` and `/help` on Discord, and the article card posted on joining a server (when
ABOUT_ON_JOIN is on).

`/about` shows the article card publicly (title, outlet, date, link, summary, scorecard), like
`/sources`, and is rate-limited like it. `/help` answers privately: what the bot does, the
article it talks about, and the commands as this member's Discord shows them (names and
descriptions in their language, `bot/chat/discord/translator.py`); the moderators' commands
only to moderators.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from bot.answer import ArticleCard, Language
from bot.answering.acts import article_card
from bot.chat.discord.acts import card_embed
from bot.chat.discord.checks import CommandClient, is_moderator, ui_language
from bot.chat.discord.render import clip_message, truncate
from bot.chat.discord.translator import localised
from bot.messages import text
from bot.serving import moderation
from bot.serving.intake import Refusal, Request

Interaction = discord.Interaction[CommandClient]

log = logging.getLogger("factbot.discord")

NO_MENTIONS = discord.AllowedMentions.none()
# The commands only moderators may run (hidden from the others in /help).
MODERATOR_COMMANDS = frozenset({"reindex", "unanswered", "note"})


def current_card(client: CommandClient) -> ArticleCard | None:
    """The card of the index being served (None before one is loaded)."""
    try:
        return article_card(client.service.engine.index)
    except AttributeError:  # no engine yet
        return None


@app_commands.command(
    name="about", description="The article: headline, outlet, date, link, summary, scorecard"
)
async def about(interaction: Interaction) -> None:
    language = ui_language(interaction)
    # Public, like /sources: rate-limited like a question (a "sources" request has no text).
    request = Request(
        "discord",
        str(interaction.user.id),
        "",
        "sources",
        guild=None if interaction.guild_id is None else str(interaction.guild_id),
        channel=None if interaction.channel_id is None else str(interaction.channel_id),
        locale=language,
    )
    decided = interaction.client.intake.admit(request)
    if isinstance(decided, Refusal):
        if decided.notify:
            await _private(interaction, decided.message)
        return
    card = current_card(interaction.client)
    if card is None:
        await _private(interaction, text("about.unavailable", language))
        return
    await interaction.response.send_message(
        embed=card_embed(card, language), allowed_mentions=NO_MENTIONS
    )


@app_commands.command(name="help", description="What factbot does, and its commands")
async def help_(interaction: Interaction) -> None:
    language = ui_language(interaction)
    card = current_card(interaction.client)
    moderator = (
        interaction.guild_id is not None
        and moderation.discord_moderation_enabled(interaction.client.settings)
        and is_moderator(interaction, interaction.client.settings)
    )
    commands = await command_lines(interaction, language, moderator)
    await _private(interaction, help_text(card, language, commands))


def help_text(card: ArticleCard | None, language: Language, commands: list[str]) -> str:
    """The help: who the bot is and which article it talks about, then one line a command."""
    if card is not None:
        intro = text(
            "reply.help",
            language,
            title=card.title,
            outlet=card.outlet,
            published=card.published,
            commands="",
        ).strip()
    else:
        intro = text("about.unavailable", language)
    return clip_message("\n".join([intro, "", *commands]))


async def command_lines(interaction: Interaction, language: Language, moderator: bool) -> list[str]:
    """ "**/name** — description" for each command of the tree, in the member's language; the
    moderators' ones only for a moderator."""
    tree = interaction.client.tree
    lines: list[str] = []
    for command in tree.get_commands():
        if isinstance(command, app_commands.ContextMenu):
            continue
        if command.name in MODERATOR_COMMANDS and not moderator:
            continue
        name = localised(command.name, language)
        description = localised(command.description, language)
        lines.append(f"**/{name}** — {truncate(description, 120)}")
    return lines


async def card_on_join(client: CommandClient, guild: discord.Guild) -> None:
    """ABOUT_ON_JOIN: the card, once, in the server the bot just joined — in its system channel
    (where Discord posts its welcome messages), in French if the server's language is French.
    Nowhere to post (no such channel, no permission): nothing, and one log line."""
    channel = guild.system_channel
    card = current_card(client)
    if channel is None or card is None:
        log.info("no card posted on joining guild %s: it has no system channel", guild.id)
        return
    language: Language = "fr" if str(guild.preferred_locale).startswith("fr") else "en"
    try:
        await channel.send(embed=card_embed(card, language), allowed_mentions=NO_MENTIONS)
    except discord.HTTPException as exc:
        log.warning("could not post the card in guild %s (%s %s)", guild.id, exc.status, exc.text)


async def _private(interaction: Interaction, line: str) -> None:
    await interaction.response.send_message(
        clip_message(line), ephemeral=True, allowed_mentions=NO_MENTIONS
    )
