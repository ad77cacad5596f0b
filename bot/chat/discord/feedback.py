"""Discord's side of the learning loop: 👍/👎 under every answer, and the 👎's reason form.

The buttons are `VoteButton`s, a `DynamicItem` whose custom_id carries the answer id: the
client registers the class once (`add_dynamic_items`), so a press on an answer sent before a
restart is understood like any other, and no per-message view is kept in memory. The reason
form (`discord_render.reason_modal`) is handled from its custom_id in `on_interaction` for the
same reason. Votes go through `LearningLoop` (a database round trip, in a thread); the reply is
always private.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable
from typing import Any

import discord

from bot.chat import flows
from bot.chat.discord import loop as discord_loop
from bot.chat.discord import render
from bot.chat.discord.checks import CommandClient, ui_language
from bot.logs import user_tag
from bot.messages import text

log = logging.getLogger("factbot.discord")

NO_MENTIONS = discord.AllowedMentions.none()
VOTES = {"up": 1, "down": -1}
# Discord wants the first response within 3 s of the interaction; past this, defer first.
REPLY_WITHIN = 2.0


class VoteButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=render.VOTE_ID
):
    """A 👍 or 👎 button under one answer, understood from its custom_id alone."""

    def __init__(self, answer_id: str, vote: str) -> None:
        super().__init__(render.vote_button(answer_id, vote))
        self.answer_id = answer_id
        self.vote = vote

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> VoteButton:
        return cls(match["answer"], match["vote"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await _guarded(interaction, vote_pressed(interaction, self.answer_id, VOTES[self.vote]))


def feedback_view(answer_id: str) -> discord.ui.View:
    """👍 and 👎 for one answer. Fully dynamic and without timeout: discord.py keeps nothing
    per message for it."""
    view = discord.ui.View(timeout=None)
    view.add_item(VoteButton(answer_id, "up"))
    view.add_item(VoteButton(answer_id, "down"))
    return view


async def vote_pressed(
    interaction: discord.Interaction[CommandClient], answer_id: str, vote: int
) -> None:
    """Record the vote; thank privately, or (a 👎 recorded) open the optional reason form."""
    language = ui_language(interaction)
    reply = await _vote(interaction, answer_id, vote, None)
    if not reply.in_time:
        return
    if reply.asks_reason(vote):
        await interaction.response.send_modal(render.reason_modal(answer_id, language))
        return
    # A 👎's reply offers 🔔 and "Ask a moderator" (bot/chat/discord/loop.py).
    view = discord_loop.followup_view(interaction, answer_id) if vote < 0 else None
    await _reply(interaction, reply.line(language), view)


async def reason_submitted(interaction: discord.Interaction[CommandClient], answer_id: str) -> None:
    """The reason form was sent: keep the reason with the 👎 (an empty one changes nothing)."""
    reason = render.submitted_reason(interaction.data)
    reply = await _vote(interaction, answer_id, -1, reason or None)
    if reply.in_time:
        view = discord_loop.followup_view(interaction, answer_id)
        await _reply(interaction, reply.line(ui_language(interaction)), view)


async def on_interaction(interaction: discord.Interaction[CommandClient]) -> None:
    """The client's `on_interaction`: reason forms, known by their custom_id."""
    if interaction.type is not discord.InteractionType.modal_submit:
        return
    data: dict[str, Any] = dict(interaction.data or {})
    custom_id = str(data.get("custom_id", ""))
    match = render.REASON_ID.fullmatch(custom_id)
    if match is not None:
        await _guarded(interaction, reason_submitted(interaction, match["answer"]))


# ---------------------------------------------------------------------- helpers


async def _vote(
    interaction: discord.Interaction[CommandClient], answer_id: str, vote: int, reason: str | None
) -> flows.VoteReply:
    """The vote's reply. When the database is slow to answer, the interaction is deferred in
    time and the line sent as a private followup (the reply is then not `in_time`)."""

    async def defer() -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)

    user = str(interaction.user.id)
    learning = interaction.client.learning
    reply = await flows.cast_vote(
        learning, "discord", answer_id, user, vote, reason, within=REPLY_WITHIN, late=defer
    )
    if not reply.in_time:
        line = reply.line(ui_language(interaction))
        await interaction.followup.send(line, ephemeral=True, allowed_mentions=NO_MENTIONS)
    return reply


async def _reply(
    interaction: discord.Interaction[CommandClient],
    line: str,
    view: discord.ui.View | None = None,
) -> None:
    await interaction.response.send_message(
        render.clip_message(line),
        ephemeral=True,
        allowed_mentions=NO_MENTIONS,
        view=view or discord.utils.MISSING,
    )


async def _guarded(interaction: discord.Interaction[CommandClient], work: Awaitable[None]) -> None:
    """Run a component or form handler as one task `close` waits for; a failure is logged and
    told privately (never a traceback in chat)."""
    interaction.client.intake.track_current_task()
    try:
        await work
    except Exception:
        log.exception("feedback from %s failed", user_tag("discord", interaction.user.id))
        line = text("error.sorry", ui_language(interaction))
        try:
            if interaction.response.is_done():
                await interaction.followup.send(line, ephemeral=True, allowed_mentions=NO_MENTIONS)
            else:
                await _reply(interaction, line)
        except Exception as exc:  # the token expired, or shutting down
            log.warning(
                "could not tell %s about an error: %r",
                user_tag("discord", interaction.user.id),
                exc,
            )
