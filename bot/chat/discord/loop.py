"""Closing the loop on Discord: 🔔, "Ask a moderator", the moderators' request, and delivery.

- 🔔 "Tell me when it's answered" and "Ask a moderator" sit under a refused answer and on the
  private reply to a 👎 (`buttons`); "Ask a moderator" only where the server has a moderators'
  channel (MODERATOR_CHANNEL_ID). A press subscribes the member (`flows.subscribe`) or hands the
  question to the moderators (`flows.hand_off`): the request, with the thread's earlier
  questions, goes to that server's moderators' channel with **Write a note** (the note form
  prefilled with the question) and **Mark resolved** (moderators only, checked on every press).
- Every custom_id says what it is for (the answer id, the hand-off's public id), and the client
  handles them in `on_interaction`: nothing is kept in memory, a press after a restart works.
- `DiscordDelivery` is Discord's `Deliver` for the notifier (`bot/learning/notify.py`): it
  posts a correction or a later answer in the thread, or in the member's DM.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import discord

from bot.answer import Language
from bot.chat import flows
from bot.chat.discord import checks, render
from bot.chat.discord import notes as discord_notes
from bot.chat.discord.checks import CommandClient, ui_language
from bot.community import community_of
from bot.learning.notify import Correction, Notice
from bot.messages import text
from bot.notes.records import Moderator, NoteForm, NoteSaved
from bot.storage.loop import Place

if TYPE_CHECKING:
    from bot.learning.notify import Notifier

    Interaction = discord.Interaction[CommandClient]

log = logging.getLogger("factbot.discord")

NO_MENTIONS = discord.AllowedMentions.none()
# Discord wants the first response within 3 s: the form's look-up must be done by then.
FORM_WITHIN = 2.0


# ---------------------------------------------------------------------- delivery


class DiscordDelivery:
    """Posts the notifier's notices through the running client (`Deliver`)."""

    def __init__(self, client: discord.Client) -> None:
        self.client = client

    async def deliver(self, target: Place, message: Notice) -> bool:
        if isinstance(message, Correction):
            return await self.post(target, render.correction_text(message))
        content, embed = render.answered_later(message)
        return await self.post(target, content, embed)

    async def post(self, target: Place, content: str, embed: discord.Embed | None = None) -> bool:
        """`content` (and `embed`) in the target's thread, channel or DM; False when it is gone,
        closed, or not reachable (logged without ids)."""
        where = target.dm if target.is_dm else (target.thread_id or target.channel_id)
        kind = "DM" if target.is_dm else "thread"
        if not where or not where.isdigit():
            log.warning("notify: a %s notice has no Discord channel to go to", kind)
            return False
        channel = self.client.get_partial_messageable(int(where))
        try:
            await channel.send(
                content, embed=embed or discord.utils.MISSING, allowed_mentions=NO_MENTIONS
            )
        except (discord.NotFound, discord.Forbidden) as exc:
            log.warning(
                "notify: the %s is gone or closed to the bot (%s); not sent", kind, exc.status
            )
            return False
        except discord.HTTPException as exc:
            log.warning("notify: Discord refused a %s notice (%s); not sent", kind, exc.status)
            return False
        return True


# ---------------------------------------------------------------------- buttons


def _moderator_channel(client: CommandClient, guild_id: int | None) -> str | None:
    if guild_id is None or client.learning is None:
        return None
    return client.settings.moderator_channel(str(guild_id))


def buttons(
    client: CommandClient, answer_id: str, guild_id: int | None, language: Language
) -> list[discord.ui.Button[discord.ui.View]]:
    """🔔 (and "Ask a moderator" where the server has a moderators' channel) for an answer;
    none when questions are not logged (nothing to subscribe to)."""
    if client.learning is None or not client.learning.feedback:
        return []
    ask = _moderator_channel(client, guild_id) is not None
    return render.loop_buttons(answer_id, language, ask)


def followup_view(interaction: Interaction, answer_id: str) -> discord.ui.View | None:
    """The buttons on the private reply to a 👎 (None: none to show)."""
    found = buttons(interaction.client, answer_id, interaction.guild_id, ui_language(interaction))
    if not found:
        return None
    view = discord.ui.View(timeout=None)
    for button in found:
        view.add_item(button)
    view.stop()  # nothing kept in memory: `on_interaction` handles the presses
    return view


# ---------------------------------------------------------------------- presses


async def on_interaction(interaction: Interaction) -> None:
    """The client's `on_interaction`: the loop's buttons and the hand-off's note form."""
    data: dict[str, Any] = dict(interaction.data or {})
    custom_id = str(data.get("custom_id", ""))
    work: Callable[[], Awaitable[None]] | None = None
    if interaction.type is discord.InteractionType.component:
        if m := render.SUBSCRIBE_ID.fullmatch(custom_id):
            work = partial(subscribe_pressed, interaction, m["answer"])
        elif m := render.HANDOFF_ID.fullmatch(custom_id):
            work = partial(handoff_pressed, interaction, m["answer"])
        elif m := render.WRITE_NOTE_ID.fullmatch(custom_id):
            work = partial(write_note_pressed, interaction, m["handoff"])
        elif m := render.RESOLVE_ID.fullmatch(custom_id):
            work = partial(resolve_pressed, interaction, m["handoff"])
    elif interaction.type is discord.InteractionType.modal_submit and (
        m := render.HANDOFF_FORM_ID.fullmatch(custom_id)
    ):
        work = partial(note_submitted, interaction, m["handoff"], data)
    if work is None or interaction.client.already_seen("interaction", interaction.id):
        return
    await _guarded(interaction, work())


def origin(interaction: Interaction) -> flows.Origin:
    """Where the member pressed: the thread (or channel) of a server, or their DM."""
    user = str(interaction.user.id)
    channel = interaction.channel
    if interaction.guild_id is None:
        return flows.Origin("discord", user, None, dm=str(interaction.channel_id))
    guild = str(interaction.guild_id)
    if isinstance(channel, discord.Thread):
        return flows.Origin("discord", user, guild, str(channel.parent_id), str(channel.id))
    return flows.Origin("discord", user, guild, str(interaction.channel_id), None)


async def subscribe_pressed(interaction: Interaction, answer_id: str) -> None:
    """🔔: subscribe the member; say so privately."""
    await interaction.response.defer(ephemeral=True, thinking=True)  # a database round trip
    client = interaction.client
    say = await flows.subscribe(
        client.learning,
        origin(interaction),
        answer_id,
        client.settings.subscription_days,
        ui_language(interaction),
        _actor(interaction),
    )
    await _followup(interaction, say.line)


async def handoff_pressed(interaction: Interaction, answer_id: str) -> None:
    """ "Ask a moderator": the request in the server's moderators' channel; the member is told
    privately, and later in their thread."""
    language = ui_language(interaction)
    client = interaction.client
    channel_id = _moderator_channel(client, interaction.guild_id)
    await interaction.response.defer(ephemeral=True, thinking=True)
    if channel_id is None or not channel_id.isdigit():  # unset since the button was sent
        await _followup(interaction, text("loop.unavailable", language))
        return
    handed = await flows.hand_off(
        client.learning,
        origin(interaction),
        answer_id,
        client.settings.subscription_days,
        language,
        _actor(interaction),
    )
    if isinstance(handed, flows.Say):
        await _followup(interaction, handed.line)
        return
    moderators: Language = "fr" if str(interaction.guild_locale).startswith("fr") else "en"
    place = handed.handoff.place
    where = place.thread_id or place.channel_id
    content = render.request_text(
        flows.request_lines(handed, moderators), f"<#{where}>" if where else None
    )
    try:
        await client.get_partial_messageable(int(channel_id)).send(
            content,
            view=render.request_buttons(handed.handoff.public_id, moderators),
            allowed_mentions=NO_MENTIONS,
        )
    except discord.HTTPException as exc:
        log.warning("hand-off: the moderators' channel refused the request (%s)", exc.status)
        await _followup(interaction, text("loop.unavailable", language))
        return
    await _followup(interaction, text("loop.handoff_sent", language))


async def write_note_pressed(interaction: Interaction, public_id: str) -> None:
    """Write a note: the note form, prefilled with the member's question (moderators only)."""
    if await _refused(interaction):
        return
    language = ui_language(interaction)
    community = community_of("discord", interaction.guild_id)
    try:
        handoff = await asyncio.wait_for(
            flows.handoff_question(interaction.client.learning, public_id, community), FORM_WITHIN
        )
    except TimeoutError:
        handoff = None
    if handoff is None:
        await _reply(interaction, text("loop.unavailable", language))
        return
    modal = discord_notes.note_modal(None, NoteForm(claim=handoff.question), language)
    modal.custom_id = f"factbot:loop:form:{public_id}"
    await interaction.response.send_modal(modal)


async def note_submitted(interaction: Interaction, public_id: str, data: dict[str, Any]) -> None:
    """The note form opened from a request was sent: saved like `/note add`; once saved, the
    request is resolved and the asker is told by the notifier if the note answers them."""
    if await _refused(interaction):
        return
    language = ui_language(interaction)
    form = discord_notes.submitted_form(data.get("components"))
    await interaction.response.defer(ephemeral=True, thinking=True)  # a rebuild takes seconds
    client = interaction.client
    user, guild = interaction.user, interaction.guild_id
    by = Moderator("discord", str(user.id), user.display_name, str(guild) if guild else None)
    actor = _actor(interaction)
    reply = await flows.save_note(client.service.notes, form, by, None, language, actor)
    lines = list(reply.lines)
    if isinstance(reply.outcome, NoteSaved):
        community = community_of("discord", guild)
        await flows.handoff_noted(client.learning, public_id, community, actor)
        told = await flows.told_line(notifier(client), reply.outcome, language)
        if told:
            lines.append(told)
    fix = discord_notes.FixView(None, form, language) if reply.keeps_form else None
    await _say(interaction, lines, fix)


async def resolve_pressed(interaction: Interaction, public_id: str) -> None:
    """Mark resolved (moderators only, checked now): the asker is told in their thread, the
    request loses its buttons and says who resolved it."""
    if await _refused(interaction):
        return
    language = ui_language(interaction)
    client = interaction.client
    await interaction.response.defer()  # an update of the request, once resolved
    resolved = await flows.resolve(
        client.learning,
        public_id,
        community_of("discord", interaction.guild_id),
        True,
        "discord",
        language,
        _actor(interaction),
    )
    if isinstance(resolved, flows.Say):
        await _followup(interaction, resolved.line)
        return
    await DiscordDelivery(client).post(resolved.place, render.clip_message(resolved.line))
    by = text("loop.resolved_by", language, name=interaction.user.display_name)
    before = interaction.message.content if interaction.message is not None else ""
    await interaction.edit_original_response(
        content=render.clip_message(f"{before}\n{by}"), view=None
    )


# ---------------------------------------------------------------------- helpers


def notifier(client: CommandClient) -> Notifier | None:
    """The running notifier (the note form's reach, the save report's "told"), or None."""
    deliveries = client.deliveries
    return deliveries.notifier if deliveries is not None else None


def _actor(interaction: Interaction) -> flows.Actor:
    """The member, as the log names them: display name, never the user id."""
    return flows.Actor(interaction.user.display_name, log)


async def _refused(interaction: Interaction) -> bool:
    """True after refusing privately a non-moderator (re-checked on every press)."""
    refusal = checks.moderator_refusal(interaction, "note")
    if refusal is None:
        return False
    log.info("a moderators' request button refused to %s", interaction.user.display_name)
    await _reply(interaction, refusal)
    return True


async def _reply(interaction: Interaction, line: str) -> None:
    await interaction.response.send_message(
        render.clip_message(line), ephemeral=True, allowed_mentions=NO_MENTIONS
    )


async def _followup(interaction: Interaction, line: str) -> None:
    await interaction.followup.send(
        render.clip_message(line), ephemeral=True, allowed_mentions=NO_MENTIONS
    )


async def _say(
    interaction: Interaction, lines: Sequence[str], view: discord.ui.View | None = None
) -> None:
    messages = discord_notes.pack_lines(lines, ui_language(interaction))
    for i, content in enumerate(messages):
        last = view if view is not None and i == len(messages) - 1 else discord.utils.MISSING
        await interaction.followup.send(
            content, ephemeral=True, allowed_mentions=NO_MENTIONS, view=last
        )


async def _guarded(interaction: Interaction, work: Awaitable[None]) -> None:
    """Run a press as one task `close` waits for; a failure is logged and told privately."""
    interaction.client.intake.track_current_task()
    try:
        await work
    except Exception:
        log.exception("a loop button from %s failed", interaction.user.display_name)
        line = text("error.sorry", ui_language(interaction))
        try:
            if interaction.response.is_done():
                await _followup(interaction, line)
            else:
                await _reply(interaction, line)
        except Exception as exc:  # the token expired, or shutting down
            log.warning("could not tell %s about an error: %r", interaction.user.display_name, exc)
