"""The message catalogue: every user-facing string, per language, one wording for every platform.

Adapters (console, Discord, Slack) and the core look strings up here by key with `text()`; none
writes user-facing wording of its own. Keys are grouped by who uses them.
"""

from __future__ import annotations

from bot.answer import Language

CATALOGUE: dict[str, dict[Language, str]] = {
    # ---------------------------------------------------------------- answers and notes (rendering)
    # ---------------------------------------------------------------- chat flow (intake, cooldown,
    # permissions, errors)
}


def text(key: str, language: Language, **values: object) -> str:
    """The catalogue string `key` in `language`, formatted with `values`."""
    template = CATALOGUE[key][language]
    return template.format(**values) if values else template
