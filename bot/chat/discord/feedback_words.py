"""Feedback in words on Discord ("c'est faux", "wrong answer"): the core records it like a 👎
with the text as its reason, on the conversation's previous answer; the reply offers the 👎
reason form for that answer, so the member can say more.

The button's custom_id carries the answer id (`acts.FEEDBACK_ID`), so a press works after a
restart; the form is the 👎 button's own (`render.reason_modal`), and its submit goes through
the same handler (bot/chat/discord/feedback.py). It opens pre-filled with what the member wrote
when this process still remembers it (the reason is recorded already; an empty submit keeps it).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord

from bot.answer import Answer
from bot.chat.discord import acts, render
from bot.chat.discord.checks import CommandClient, ui_language
from bot.logs import user_tag
from bot.messages import text
from index.lru import LruCache

if TYPE_CHECKING:
    from bot.learning.loop import LearningLoop

log = logging.getLogger("factbot.discord")

NO_MENTIONS = discord.AllowedMentions.none()
# (answer id, user id) -> what the member wrote: the form's pre-filled text. In memory only.
_WRITTEN: LruCache[tuple[str, str], str] = LruCache(2_000)


def offer(learning: LearningLoop | None, answer: Answer, user: str) -> discord.ui.View:
    """Under a reply to feedback in words: the button that opens the 👎 form; else nothing."""
    target = answer.feedback_on if answer.act == "feedback" else None
    if learning is None or not learning.feedback or not target:
        nothing: discord.ui.View = discord.utils.MISSING
        return nothing
    _WRITTEN.put((target, user), answer.question[: render.REASON_MAX])
    return acts.reason_button(target, answer.language)


async def on_interaction(interaction: discord.Interaction[CommandClient]) -> None:
    """The client's `on_interaction`: the button under a reply to feedback in words."""
    if interaction.type is not discord.InteractionType.component:
        return
    data: dict[str, Any] = dict(interaction.data or {})
    match = acts.FEEDBACK_ID.fullmatch(str(data.get("custom_id", "")))
    if match is None or interaction.client.already_seen("interaction", interaction.id):
        return
    interaction.client.intake.track_current_task()
    language = ui_language(interaction)
    answer_id = match["answer"]
    try:
        written = _WRITTEN.get((answer_id, str(interaction.user.id))) or ""
        await interaction.response.send_modal(
            render.reason_modal(answer_id, language, default=written)
        )
    except Exception:
        log.exception("feedback form for %s failed", user_tag("discord", interaction.user.id))
        if not interaction.response.is_done():
            await interaction.response.send_message(
                text("error.sorry", language), ephemeral=True, allowed_mentions=NO_MENTIONS
            )
