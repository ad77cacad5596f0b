"""`/note` on Discord: moderators write, fix, restore and remove fact-check notes from chat.

- `/note add` opens the note form (a modal); `/note edit id [revision]` opens it filled in with
  the note, or with an older revision's content to restore it; `/note remove id` asks first
  (Remove / Cancel); `/note show id` and `/note history id` answer privately. Ids autocomplete.
- Moderators only, as `/reindex`: hidden from members (`default_permissions`) and enforced by
  the same check (`checks.is_moderator`), whose refusal the tree's one error handler words.
  A form submit or a button press reaches the bot outside the tree: it is checked again here.
- The form and the Remove / Cancel buttons are stateless: their custom_id says what they are for,
  so one sent before a restart is still understood. Only "Fix", under a rejected form, keeps
  what was typed, in memory (`FixView`, for `FIX_SECONDS`), to reopen the form with it.
- The work is `service.notes` (`bot/notes/desk.py`); every line shown is `bot/notes/wording.py`'s.
  Replies are private; logs name the moderator by display name, never by user id.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

import discord
from discord import app_commands

from bot.answer import Language
from bot.chat import flows
from bot.chat.discord import checks
from bot.chat.discord.checks import CommandClient
from bot.chat.discord.render import MESSAGE_MAX, dlen, truncate
from bot.messages import text
from bot.notes import wording as note_text
from bot.notes.records import (
    FORM_FIELDS,
    FORM_LIMITS,
    FormField,
    Moderator,
    NoteForm,
    NoteSaved,
    NoteShown,
    NotesUnavailable,
    NoteUnknown,
)

if TYPE_CHECKING:
    from bot.learning.notify import Notifier
    from bot.notes.desk import NoteDesk

    Interaction = discord.Interaction[CommandClient]

__all__ = [
    "FIELD_IDS",
    "FORM_ID",
    "FixView",
    "confirm_custom_id",
    "form_custom_id",
    "note",
    "note_modal",
    "on_interaction",
    "pack_lines",
    "submitted_form",
]

log = logging.getLogger("factbot.discord")

T = TypeVar("T")

NO_MENTIONS = discord.AllowedMentions.none()

# Discord wants the first response within 3 s, and a form cannot follow a deferral: what the
# form shows must be read within this, or the moderator is told the notes are unavailable.
FORM_WITHIN: Final = 2.0
FIX_SECONDS: Final = 15 * 60  # how long "Fix" keeps a rejected form's text
MAX_MESSAGES: Final = 4  # private messages per reply (a long history is cut, and says so)

# Discord limits: modal title and label 45, placeholder 100 (150 for a select), option label
# 100, custom_id 100, a text input's value 4000, a select's options 25.
TITLE_MAX, LABEL_MAX, PLACEHOLDER_MAX, OPTION_MAX, INPUT_MAX = 45, 45, 100, 100, 4000

# The form's custom_id says add, or edit which note; "edit:" leaves 82 characters for the id.
# "silent:" (a typo fix: nobody is told of the change) leaves 75 characters for the id.
FORM_ID = re.compile(r"factbot:note:(?P<silent>silent:)?(?:add|edit:(?P<note>.{1,75}))")
CONFIRM_ID = re.compile(r"factbot:note:(?P<choice>remove|silentremove|cancel):(?P<note>.{1,80})")
FIELD_IDS: dict[FormField, str] = {f: f"factbot:note:field:{f}" for f in FORM_FIELDS}


def form_custom_id(note_id: str | None, silent: bool = False) -> str:
    """The form's custom_id: add or edit which note, and whether the save tells nobody."""
    head = "factbot:note:silent:" if silent else "factbot:note:"
    return f"{head}add" if note_id is None else f"{head}edit:{note_id}"


def confirm_custom_id(choice: str, note_id: str) -> str:
    """The custom_id of Remove (`choice` "remove", or "silentremove": nobody told) or Cancel
    ("cancel") for `note_id`."""
    return f"factbot:note:{choice}:{note_id}"


# ---------------------------------------------------------------------- rendering


def note_modal(
    note_id: str | None, form: NoteForm, language: Language, silent: bool = False
) -> discord.ui.Modal:
    """The note form: a new note (`note_id` None) or a change to `note_id`, showing `form`.

    Five labelled components, Discord's most: the claim, the verdict (a select), what is true in
    French and in English, the sources. Stopped before it is sent, so discord.py keeps nothing:
    `on_interaction` reads the submit from its custom_id."""
    modal = discord.ui.Modal(
        title=truncate(note_text.form_title(note_id, language), TITLE_MAX),
        custom_id=form_custom_id(note_id, silent),
        timeout=None,
    )
    for field in FORM_FIELDS:
        value = getattr(form, field)
        component = (
            _verdict_select(value, language)
            if field == "verdict"
            else _input(field, value, language)
        )
        label = truncate(note_text.field_label(field, language), LABEL_MAX)
        modal.add_item(discord.ui.Label(text=label, component=component))
    modal.stop()
    return modal


def _input(field: FormField, value: str, language: Language) -> discord.ui.TextInput[Any]:
    value = value[:INPUT_MAX]
    return discord.ui.TextInput(
        custom_id=FIELD_IDS[field],
        style=discord.TextStyle.paragraph,
        # A note longer than the form's limit (a corpus file) still opens whole: the validator
        # then says which field is too long, instead of Discord refusing the form.
        max_length=max(FORM_LIMITS[field], len(value)),
        default=value or None,
        placeholder=truncate(note_text.field_placeholder(field, language), PLACEHOLDER_MAX),
        required=True,
    )


def _verdict_select(value: str, language: Language) -> discord.ui.Select[Any]:
    options = [
        discord.SelectOption(label=truncate(label, OPTION_MAX), value=name, default=name == value)
        for name, label in note_text.verdict_options(language)
    ]
    return discord.ui.Select(
        custom_id=FIELD_IDS["verdict"],
        options=options[:25],
        min_values=1,
        max_values=1,
        placeholder=truncate(note_text.field_placeholder("verdict", language), PLACEHOLDER_MAX),
        required=True,
    )


def submitted_form(data: object) -> NoteForm:
    """What was typed into `note_modal`, from a modal submit's `data`.

    Walks both layouts Discord sends: a Label (type 18) holding the input, or an action row; a
    text input carries its `value`, a select its chosen `values`."""
    fields = {custom_id: field for field, custom_id in FIELD_IDS.items()}
    found: dict[str, str] = {}

    def walk(node: object) -> None:
        if isinstance(node, list):
            for child in node:
                walk(child)
        elif isinstance(node, dict):
            field = fields.get(str(node.get("custom_id", "")))
            value, values = node.get("value"), node.get("values")
            if field is not None and isinstance(value, str):
                found[field] = value
            elif field is not None and isinstance(values, list) and values:
                found[field] = str(values[0])
            walk(node.get("components"))
            walk(node.get("component"))

    walk(data)
    return NoteForm(**found)


def pack_lines(lines: Sequence[str], language: Language) -> list[str]:
    """`lines` in as few messages of at most 2000 characters as they fit, a line never split
    unless it alone is too long; past `MAX_MESSAGES`, the rest is counted, not shown."""
    messages: list[str] = []
    current = ""
    for i, line in enumerate(lines):
        line = truncate(line, MESSAGE_MAX)
        joined = f"{current}\n{line}" if current else line
        if dlen(joined) <= MESSAGE_MAX:
            current = joined
            continue
        if len(messages) == MAX_MESSAGES - 1:
            more = text("and_more", language, n=len(lines) - i)
            current = truncate(current, MESSAGE_MAX - dlen(more) - 1) + "\n" + more
            break
        messages.append(current)
        current = line
    if current:
        messages.append(current)
    return messages


def remove_buttons(note_id: str, language: Language, silent: bool = False) -> discord.ui.View:
    """Remove and Cancel under the confirmation, understood from their custom_id alone."""
    view = discord.ui.View(timeout=None)
    view.add_item(
        discord.ui.Button(
            style=discord.ButtonStyle.danger,
            label=text("note.button.remove", language),
            custom_id=confirm_custom_id("silentremove" if silent else "remove", note_id),
        )
    )
    view.add_item(
        discord.ui.Button(
            style=discord.ButtonStyle.secondary,
            label=text("note.button.cancel", language),
            custom_id=confirm_custom_id("cancel", note_id),
        )
    )
    view.stop()  # nothing kept in memory: `on_interaction` handles the presses
    return view


class FixView(discord.ui.View):
    """ "Fix" under a rejected form: reopens it with what was submitted, so nothing typed is lost."""

    def __init__(self, note_id: str | None, form: NoteForm, language: Language) -> None:
        super().__init__(timeout=FIX_SECONDS)
        self.note_id, self.form, self.language = note_id, form, language
        self.add_item(_FixButton(label=text("note.button.fix", language)))


class _FixButton(discord.ui.Button[FixView]):
    def __init__(self, label: str) -> None:
        super().__init__(style=discord.ButtonStyle.primary, label=label)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await _guarded(interaction, self._reopen(interaction))

    async def _reopen(self, interaction: Interaction) -> None:
        view = self.view
        if view is None or await _refused(interaction):
            return
        await interaction.response.send_modal(note_modal(view.note_id, view.form, view.language))


# ---------------------------------------------------------------------- the /note group

note = app_commands.Group(
    name="note",
    description="Moderators: write and fix the fact-check notes",
    guild_only=True,
    # What `@app_commands.guild_only()` sets on a command: servers only, no DMs.
    allowed_contexts=app_commands.AppCommandContext(guild=True),
    # Hidden from non-moderators by default (server admins can change that in Integrations),
    # and enforced by the check on every subcommand because that default can be overridden.
    default_permissions=discord.Permissions(manage_guild=True),
)


def moderators_only(interaction: Interaction) -> bool:
    """`/reindex`'s check: raises `checks.NotModerator` (worded by the tree's handler)."""
    return checks.moderators_only(interaction)


SILENT_HELP = "Tell nobody of this change (a typo fix); default: the threads concerned are told"


@note.command(name="add", description="Write a new fact-check note (opens a form)")
@app_commands.describe(silent=SILENT_HELP)
@app_commands.check(moderators_only)
async def add(interaction: Interaction, silent: bool = False) -> None:
    await _open_form(interaction, None, None, silent)


@note.command(name="edit", description="Fix a note (opens the form filled in)")
@app_commands.rename(note_id="id")
@app_commands.describe(
    note_id="The note's id",
    revision="Restore this earlier revision (see /note history)",
    silent=SILENT_HELP,
)
@app_commands.check(moderators_only)
async def edit(
    interaction: Interaction,
    note_id: str,
    revision: app_commands.Range[int, 1, None] | None = None,
    silent: bool = False,
) -> None:
    await _open_form(interaction, note_id, revision, silent)


@note.command(name="remove", description="Remove a note (asks first)")
@app_commands.rename(note_id="id")
@app_commands.describe(note_id="The note's id", silent=SILENT_HELP)
@app_commands.check(moderators_only)
async def remove(interaction: Interaction, note_id: str, silent: bool = False) -> None:
    language = _language(interaction)
    shown = await _desk_call(interaction, lambda desk: desk.show(note_id))
    if shown is None:
        return
    if isinstance(shown, NoteUnknown):
        await _say(interaction, [note_text.unknown_line(shown, language)])
        return
    lines = [note_text.confirm_remove_line(shown.note_id, shown.claim, language)]
    if not silent and (reach := await _reach(interaction, shown.note_id, shown.claim)):
        lines.append(reach)
    await _say(interaction, lines, remove_buttons(shown.note_id, language, silent))


@note.command(name="show", description="A note as readers get it, and where it comes from")
@app_commands.rename(note_id="id")
@app_commands.describe(note_id="The note's id")
@app_commands.check(moderators_only)
async def show(interaction: Interaction, note_id: str) -> None:
    async def shown_lines(shown: NoteShown, language: Language) -> list[str]:
        reach = await _reach(interaction, shown.note_id, shown.claim)
        return [*note_text.shown_lines(shown, language), *([reach] if reach else [])]

    found = await _desk_call(interaction, lambda desk: desk.show(note_id))
    if found is None:
        return
    language = _language(interaction)
    if isinstance(found, NoteUnknown):
        await _say(interaction, [note_text.unknown_line(found, language)])
    else:
        await _say(interaction, await shown_lines(found, language))


@note.command(name="history", description="Every change made to a note, by whom and when")
@app_commands.rename(note_id="id")
@app_commands.describe(note_id="The note's id")
@app_commands.check(moderators_only)
async def history(interaction: Interaction, note_id: str) -> None:
    await _show_found(interaction, lambda desk: desk.history(note_id), note_text.history_lines)


@edit.autocomplete("note_id")
@remove.autocomplete("note_id")
@show.autocomplete("note_id")
@history.autocomplete("note_id")
async def note_ids(interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
    """The ids starting with what is typed, with a short label; none for non-moderators (the
    group's checks do not run for autocomplete)."""
    desk = interaction.client.service.notes
    if desk is None or not _is_moderator(interaction):
        return []
    try:
        found = await asyncio.wait_for(desk.choices(current.strip(), 25), FORM_WITHIN)
    except (NotesUnavailable, TimeoutError) as exc:
        log.warning("/note autocomplete: %s", str(exc) or "the notes database is slow")
        return []
    return [
        app_commands.Choice(name=truncate(f"{note_id} — {label}", OPTION_MAX), value=note_id)
        for note_id, label in found
        if len(note_id) <= OPTION_MAX
    ]


# ---------------------------------------------------------------------- the form and buttons


async def on_interaction(interaction: Interaction) -> None:
    """The client's `on_interaction`: note forms and Remove / Cancel, known by their custom_id."""
    data: dict[str, Any] = dict(interaction.data or {})
    custom_id = str(data.get("custom_id", ""))
    if interaction.type is discord.InteractionType.modal_submit:
        form_id = FORM_ID.fullmatch(custom_id)
        if form_id is not None and not interaction.client.already_seen(
            "interaction", interaction.id
        ):
            silent = form_id["silent"] is not None
            await _guarded(interaction, _submitted(interaction, form_id["note"], data, silent))
    elif interaction.type is discord.InteractionType.component:
        confirm = CONFIRM_ID.fullmatch(custom_id)
        if confirm is not None and not interaction.client.already_seen(
            "interaction", interaction.id
        ):
            await _guarded(interaction, _confirmed(interaction, confirm["choice"], confirm["note"]))


async def _open_form(
    interaction: Interaction, note_id: str | None, revision: int | None, silent: bool = False
) -> None:
    language = _language(interaction)
    desk = interaction.client.service.notes
    if desk is None:
        await _say(interaction, [note_text.unavailable_line(language)])
        return
    try:
        form = await asyncio.wait_for(desk.form(note_id, revision), FORM_WITHIN)
    except (NotesUnavailable, TimeoutError) as exc:
        log.warning("/note form: %s", str(exc) or "the notes database is slow")
        await _say(interaction, [note_text.unavailable_line(language)])
        return
    if isinstance(form, NoteUnknown):
        await _say(interaction, [note_text.unknown_line(form, language)])
        return
    await interaction.response.send_modal(note_modal(note_id, form, language, silent))


async def _submitted(
    interaction: Interaction, note_id: str | None, data: dict[str, Any], silent: bool = False
) -> None:
    """The form was sent: save it, or say privately, line by line, why not (with "Fix")."""
    if await _refused(interaction):
        return
    language = _language(interaction)
    form = submitted_form(data.get("components"))
    await interaction.response.defer(ephemeral=True, thinking=True)  # a rebuild takes seconds
    user = interaction.user
    guild = interaction.guild_id
    by = Moderator("discord", str(user.id), user.display_name, str(guild) if guild else None)
    desk = interaction.client.service.notes
    reply = await flows.save_note(
        desk, form, by, note_id, language, _actor(interaction), notify=not silent
    )
    fix = FixView(note_id, form, language) if reply.keeps_form else None
    await _say(interaction, await _with_told(interaction, reply), fix)


async def _confirmed(interaction: Interaction, choice: str, note_id: str) -> None:
    """Remove or Cancel pressed under a removal's confirmation."""
    if await _refused(interaction):
        return
    language = _language(interaction)
    if choice == "cancel":
        await interaction.response.edit_message(
            content=note_text.removal_cancelled_line(language), view=None
        )
        return
    # The buttons go at once (a second press would find nothing to remove); the report follows.
    await interaction.response.edit_message(view=None)
    user = interaction.user
    by = Moderator("discord", str(user.id), user.display_name)
    desk = interaction.client.service.notes
    notify = choice != "silentremove"
    reply = await flows.remove_note(desk, note_id, by, language, _actor(interaction), notify)
    await _say(interaction, await _with_told(interaction, reply))


# ---------------------------------------------------------------------- helpers


_language = checks.ui_language


def _notifier(interaction: Interaction) -> Notifier | None:
    deliveries = interaction.client.deliveries
    return deliveries.notifier if deliveries is not None else None


async def _reach(interaction: Interaction, note_id: str, claim: str) -> str | None:
    """How many threads and subscribers a change to this note would tell (None: loop off)."""
    index = interaction.client.service.engine.index
    return await flows.reach_line(
        _notifier(interaction), note_id, claim, index, _language(interaction)
    )


async def _with_told(interaction: Interaction, reply: flows.NoteReply) -> list[str]:
    """The save report's lines, and how many were told once the notifications are sent."""
    lines = list(reply.lines)
    if isinstance(reply.outcome, NoteSaved):
        told = await flows.told_line(_notifier(interaction), reply.outcome, _language(interaction))
        if told:
            lines.append(told)
    return lines


def _actor(interaction: Interaction) -> flows.Actor:
    """The moderator, as the log names them: display name, never the user id."""
    return flows.Actor(interaction.user.display_name, log)


def _is_moderator(interaction: Interaction) -> bool:
    return checks.is_moderator(interaction, interaction.client.settings)


async def _refused(interaction: Interaction) -> bool:
    """True after refusing privately (the same line as the commands) a non-moderator, or anyone
    while no moderator is configured."""
    refusal = checks.moderator_refusal(interaction, "note")
    if refusal is None:
        return False
    log.info("note form or button refused to %s: not a moderator", interaction.user.display_name)
    await _say(interaction, [refusal])
    return True


async def _desk_call(
    interaction: Interaction, call: Callable[[NoteDesk], Awaitable[T]]
) -> T | None:
    """`call(desk)`'s outcome, or None after telling the moderator the notes are unavailable.

    Deferred first (privately): reading the notes must not race Discord's 3-second limit."""
    await interaction.response.defer(ephemeral=True, thinking=True)
    desk = interaction.client.service.notes
    language = _language(interaction)
    if desk is None:
        await _say(interaction, [note_text.unavailable_line(language)])
        return None
    try:
        return await call(desk)
    except NotesUnavailable as exc:
        log.warning("/note: %s", exc)
        await _say(interaction, [note_text.unavailable_line(language)])
        return None


async def _show_found(
    interaction: Interaction,
    call: Callable[[NoteDesk], Awaitable[T | NoteUnknown]],
    lines: Callable[[T, Language], list[str]],
) -> None:
    """`/note show` and `/note history`: the note's lines, or that no note has this id."""
    found = await _desk_call(interaction, call)
    if found is None:
        return
    language = _language(interaction)
    if isinstance(found, NoteUnknown):
        await _say(interaction, [note_text.unknown_line(found, language)])
    else:
        await _say(interaction, lines(found, language))


async def _say(
    interaction: Interaction, lines: Sequence[str], view: discord.ui.View | None = None
) -> None:
    """`lines`, privately: the response while none was given, then followups; `view` under the
    last message."""
    messages = pack_lines(lines, _language(interaction))
    for i, content in enumerate(messages):
        buttons = view if view is not None and i == len(messages) - 1 else discord.utils.MISSING
        if not interaction.response.is_done():
            await interaction.response.send_message(
                content, ephemeral=True, allowed_mentions=NO_MENTIONS, view=buttons
            )
        else:
            await interaction.followup.send(
                content, ephemeral=True, allowed_mentions=NO_MENTIONS, view=buttons
            )


async def _guarded(interaction: Interaction, work: Awaitable[None]) -> None:
    """Run a form or button handler as one task `close` waits for; a failure is logged and told
    privately (never a traceback in chat)."""
    interaction.client.intake.track_current_task()
    try:
        await work
    except Exception:
        log.exception("a note form or button from %s failed", interaction.user.display_name)
        try:
            await _say(interaction, [text("error.sorry", _language(interaction))])
        except Exception as exc:  # the token expired, or shutting down
            log.warning("could not tell %s about an error: %r", interaction.user.display_name, exc)
