"""Discord's slash commands in French: discord.py's `app_commands.Translator`.

The community is French-speaking: every command, subcommand and option name and description is
synced with a French localisation (`name_localizations` / `description_localizations`, locale
"fr"), so a member whose Discord is in French sees `/demander`, `/vérifications`, `/aide`…
(the interaction still carries the default name, so the handlers are the same). The words are
the catalogue's (`bot/messages.py`, the "discord.command." keys: the English as the code
declares it, and its French); a string without one stays in English.
"""

from __future__ import annotations

from discord import Locale, app_commands

from bot.answer import Language
from bot.messages import CATALOGUE

PREFIX = "discord.command."
FRENCH: dict[str, str] = {
    entry["en"]: entry["fr"] for key, entry in CATALOGUE.items() if key.startswith(PREFIX)
}


def localised(english: str, language: Language) -> str:
    """A command's name or description as a member in `language` sees it."""
    return FRENCH.get(english, english) if language == "fr" else english


class FrenchTranslator(app_commands.Translator):
    """French names and descriptions for every command; other locales get the default."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        if locale is not Locale.french:
            return None
        return FRENCH.get(string.message)
