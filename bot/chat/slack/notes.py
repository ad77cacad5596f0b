"""`/note` on Slack: moderators write, fix, remove and read fact-check notes from the workspace.

    /note add | edit <id> [revision] | remove <id> | show <id> | history <id>

One slash command with a subcommand word (Slack has no subcommands); anything else gets the usage
line. Every subcommand, and every submit or button press after it, is for moderators only (the
`/reindex` rule of `bot/serving/moderation.py`: SLACK_MODERATOR_IDS, or an admin/owner of the bot's own
workspace per users.info), checked again at each step, since rights can change while a form is
open.

- add/edit open a modal (`views.open` on the command's trigger_id) with the desk's form: the claim,
  the verdict (a static_select), what is true in French and in English, the sources. The note id,
  the channel and the language travel in `private_metadata`.
- On `view_submission` the form goes to `service.notes.save`. Slack gives 3 s to answer a
  submission, and a valid save also rebuilds the index (seconds), so the save runs in a task that
  the handler waits for up to `SAVE_ACK_WITHIN`: a rejection within that window is answered *in
  the form* (`response_action: "errors"`, each problem under its field's block, problems about
  the note as a whole under the claim), and the moderator fixes it there. Past the window the
  handler acks (the modal closes), says "saving…" privately, and posts the outcome, saved or
  rejected, privately when the save completes. The desk validates before it rebuilds, so a
  rejection is normally in time; a valid note is reported privately either way (after the modal
  closed in time, or after "saving…" when the rebuild ran past the window). Only a stalled
  machine or database sends a rejection the private way. (Why not ack first and
  always report privately: problems shown beside their fields, in the form still filled in, are
  what lets a moderator fix a claim that is one character off.)
- Private replies after a modal go to the channel the command was typed in (chat.postEphemeral),
  or, where the bot cannot post there, to the moderator's DM with the app.
- remove shows an ephemeral prompt with a Remove button (a Block Kit `confirm` dialog before it
  fires) and a Cancel button; the press replaces the prompt, then the report follows.
- show/history: ephemeral replies.

Every line shown is from `bot/notes/wording.py` (the one catalogue); this module only lays it out.
Logs name the moderator by display name, never by raw user id.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError

from bot.answer import Language
from bot.chat import flows
from bot.chat.slack.render import (
    FALLBACK_LIMIT,
    Block,
    SlackMessage,
    cap_blocks,
    clip,
    clip_mrkdwn,
    context,
    escape,
    quote_lines,
    render_notice,
    sections,
    slack_to_plain,
)
from bot.community import Community
from bot.logs import channel_tag
from bot.messages import text as message
from bot.notes import wording as note_text
from bot.notes.records import (
    FORM_FIELDS,
    FORM_LIMITS,
    FormField,
    Moderator,
    NoteForm,
    NoteRejected,
    NoteSaved,
    NotesUnavailable,
    NoteUnknown,
)

if TYPE_CHECKING:
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.learning.loop import LearningLoop
    from bot.learning.notify import Notifier
    from bot.notes.desk import NoteDesk
    from bot.serving.intake import Intake
    from bot.serving.service import FactBotService

log = logging.getLogger("factbot.slack")

T = TypeVar("T")

COMMAND = "/note"
FORM_CALLBACK = "factbot_note_form"  # the note modal's callback_id
REMOVE_ACTION = "factbot_note_remove"
CANCEL_ACTION = "factbot_note_cancel"
# One input block per form field; the block_id is what `response_action: errors` is keyed on.
BLOCK_IDS: dict[FormField, str] = {f: f"note_{f}" for f in FORM_FIELDS}
# Notify (default) or silent (a typo fix): a radio input under the fields.
NOTIFY_BLOCK = "note_notify"
NOTIFY_ACTION = "notify"
# Where a line about the whole form goes (a refusal, the database down): under the claim.
WHOLE_NOTE_BLOCK = BLOCK_IDS["claim"]
# How long a submission waits for the desk's verdict before the modal is closed anyway: Slack
# allows 3 s from its sending the view_submission, bolt 3 s from receiving it; the rest is margin
# for the socket's round trip on a loaded machine.
SAVE_ACK_WITHIN = 2.0
# Slack tells an app nobody's interface language: its own lines are in English.
LANGUAGE: Language = "en"
UNNAMED = "unknown"

# Block Kit limits (https://docs.slack.dev/reference/block-kit/).
MODAL_TITLE_LIMIT = 24
INPUT_LABEL_LIMIT = 2000
PLACEHOLDER_LIMIT = 150
OPTION_TEXT_LIMIT = 75
INPUT_MAX_LENGTH = 3000
BUTTON_TEXT_LIMIT = 75
CONFIRM_TITLE_LIMIT = 100
CONFIRM_TEXT_LIMIT = 300
CONFIRM_BUTTON_LIMIT = 30
ERROR_LIMIT = 2000  # per block in `response_action: errors`; ours are a few lines
FORM_QUESTION_LIMIT = 1000  # a member's question shown above the fields


# ---------------------------------------------------------------------------- Block Kit


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def _language(value: object) -> Language:
    return "fr" if value == "fr" else "en"


def render_lines(lines: Sequence[str], emoji: str) -> SlackMessage:
    """note_text's lines as an ephemeral message: escaped, the first one marked with `emoji`."""
    safe = [escape(line) for line in lines if line.strip()] or [""]
    safe[0] = f"{emoji} {safe[0]}".strip()
    return SlackMessage(clip_mrkdwn(safe[0], FALLBACK_LIMIT), cap_blocks(sections(safe), LANGUAGE))


def note_form_view(
    form: NoteForm,
    note_id: str | None,
    channel: str | None,
    language: Language,
    *,
    question: str | None = None,
    reach: str | None = None,
    handoff: str | None = None,
) -> dict[str, Any]:
    """The modal `/note add` (blank form, `note_id` None) and `/note edit` (filled) open.
    `question`: the member's question it answers ("Write a note" on a moderators' request);
    `reach`: how many threads and subscribers a change would tell (the notifier's dry run);
    `handoff`: the moderators' request it comes from (resolved once the note is saved)."""
    title = note_text.form_title(note_id, language)
    blocks: list[Block] = []
    if len(title) > MODAL_TITLE_LIMIT:  # an id rarely fits the 24-character title: shown here
        blocks.append(context(escape(title)))
    if question:
        asked = quote_lines(escape(clip(question, FORM_QUESTION_LIMIT)))
        blocks.append(context(escape(message("loop.request.title", language)), asked))
    for field in FORM_FIELDS:
        blocks.append(_input_block(field, form, language))
    if reach:
        blocks.append(context(escape(reach)))
    blocks.append(notify_block(language))
    metadata = {"note": note_id, "channel": channel, "lang": language}
    if handoff:
        metadata["handoff"] = handoff
    return {
        "type": "modal",
        "callback_id": FORM_CALLBACK,
        "private_metadata": json.dumps(metadata),
        "title": _plain(title, MODAL_TITLE_LIMIT),
        "submit": _plain(message("note.form.submit", language), MODAL_TITLE_LIMIT),
        "close": _plain(message("note.form.cancel", language), MODAL_TITLE_LIMIT),
        "blocks": blocks,
    }


def _input_block(field: FormField, form: NoteForm, language: Language) -> Block:
    current: str = getattr(form, field)
    placeholder = note_text.field_placeholder(field, language)
    element: dict[str, Any]
    if field == "verdict":
        options = [
            {"text": _plain(label, OPTION_TEXT_LIMIT), "value": name}
            for name, label in note_text.verdict_options(language)
        ]
        element = {"type": "static_select", "action_id": field, "options": options}
        chosen = [o for o in options if o["value"] == current]
        if chosen:
            element["initial_option"] = chosen[0]
    else:
        element = {
            "type": "plain_text_input",
            "action_id": field,
            "multiline": True,
            # The desk's limit, never below what is already there (an older note may be longer).
            "max_length": min(INPUT_MAX_LENGTH, max(FORM_LIMITS[field], len(current))),
        }
        if current:
            element["initial_value"] = current[:INPUT_MAX_LENGTH]
    if placeholder:
        element["placeholder"] = _plain(placeholder, PLACEHOLDER_LIMIT)
    return {
        "type": "input",
        "block_id": BLOCK_IDS[field],
        "label": _plain(note_text.field_label(field, language), INPUT_LABEL_LIMIT),
        "element": element,
    }


def notify_block(language: Language) -> Block:
    """Notify (default) or silent: whether the threads and subscribers are told of the save."""
    options = [
        {"text": _plain(message(key, language), OPTION_TEXT_LIMIT), "value": value}
        for value, key in (("notify", "loop.notify_choice"), ("silent", "loop.silent_choice"))
    ]
    return {
        "type": "input",
        "block_id": NOTIFY_BLOCK,
        "optional": True,
        "label": _plain(message("loop.notify_label", language), INPUT_LABEL_LIMIT),
        "element": {
            "type": "radio_buttons",
            "action_id": NOTIFY_ACTION,
            "options": options,
            "initial_option": options[0],
        },
    }


@dataclass(frozen=True)
class Submitted:
    """A submitted note modal: what was typed and what the modal carried."""

    form: NoteForm
    note_id: str | None
    channel: str | None
    language: Language
    notify: bool = True
    handoff: str | None = None  # the moderators' request the note was written from


def submitted_form(view: dict[str, Any]) -> Submitted:
    """The form typed into a `view_submission`'s view, with its metadata."""
    try:
        metadata = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        metadata = {}
    if not isinstance(metadata, dict):
        metadata = {}
    values = (view.get("state") or {}).get("values") or {}
    typed: dict[str, str] = {}
    for field in FORM_FIELDS:
        state = (values.get(BLOCK_IDS[field]) or {}).get(field) or {}
        if field == "verdict":
            typed[field] = str((state.get("selected_option") or {}).get("value") or "")
        else:
            typed[field] = str(state.get("value") or "")
    chosen = (values.get(NOTIFY_BLOCK) or {}).get(NOTIFY_ACTION) or {}
    silent = (chosen.get("selected_option") or {}).get("value") == "silent"
    return Submitted(
        NoteForm(**typed),
        str(metadata["note"]) if metadata.get("note") else None,
        str(metadata["channel"]) if metadata.get("channel") else None,
        _language(metadata.get("lang")),
        notify=not silent,
        handoff=str(metadata["handoff"]) if metadata.get("handoff") else None,
    )


def form_errors(rejected: NoteRejected, language: Language) -> dict[str, str]:
    """`response_action: errors`'s map: each field's problems under its block, line by line
    (problems about the note as a whole under the claim's)."""
    per_field = note_text.field_errors(rejected, language)
    return {BLOCK_IDS[field]: clip(lines, ERROR_LIMIT) for field, lines in per_field.items()}


def remove_prompt(note_id: str, claim: str, language: Language) -> SlackMessage:
    """`/note remove`'s question: Remove (behind a confirm dialog) or Cancel."""
    question = note_text.confirm_remove_line(note_id, claim, language)
    remove_label = message("note.button.remove", language)
    cancel_label = message("note.button.cancel", language)
    value = json.dumps({"note": note_id, "lang": language})
    remove = {
        "type": "button",
        "action_id": REMOVE_ACTION,
        "style": "danger",
        "text": _plain(remove_label, BUTTON_TEXT_LIMIT),
        "value": value,
        "confirm": {
            "title": _plain(remove_label, CONFIRM_TITLE_LIMIT),
            "text": _plain(question, CONFIRM_TEXT_LIMIT),
            "confirm": _plain(remove_label, CONFIRM_BUTTON_LIMIT),
            "deny": _plain(cancel_label, CONFIRM_BUTTON_LIMIT),
            "style": "danger",
        },
    }
    cancel = {
        "type": "button",
        "action_id": CANCEL_ACTION,
        "text": _plain(cancel_label, BUTTON_TEXT_LIMIT),
        "value": value,
    }
    shown = render_lines([question], ":wastebasket:")
    actions = {"type": "actions", "block_id": "factbot_note_remove", "elements": [remove, cancel]}
    return SlackMessage(shown.text, [*shown.blocks, actions])


def pressed_note(action: dict[str, Any]) -> tuple[str, Language]:
    """The note id and language a Remove/Cancel button carries."""
    try:
        value = json.loads(action.get("value") or "{}")
    except ValueError:
        value = {}
    if not isinstance(value, dict):
        value = {}
    return str(value.get("note") or ""), _language(value.get("lang"))


# The look of each note outcome (`flows.NoteReply.kind`): its first line's emoji.
_EMOJI = {
    "saved": ":white_check_mark:",
    "rejected": ":x:",
    "unknown": ":grey_question:",
    "too_soon": ":hourglass:",
    "unavailable": ":warning:",
}


def note_message(reply: flows.NoteReply) -> SlackMessage:
    """A note save's or removal's private report."""
    emoji = ":warning:" if reply.rebuild_failed else _EMOJI[reply.kind]
    if reply.kind in ("saved", "rejected"):
        return render_lines(reply.lines, emoji)
    return render_notice(reply.lines[0], emoji)


# ---------------------------------------------------------------------------- handlers


def _moderator(user: dict[str, Any] | None) -> Moderator:
    """Who acts, from a payload's `user` object."""
    user = user or {}
    uid = str(user.get("id") or "")
    # Never the raw id as a name: names go into logs (and "unknown" is what /reindex logs too).
    name = str(user.get("username") or user.get("name") or UNNAMED)
    # The workspace the form was submitted from: the sample question comes from its questions.
    return Moderator("slack", uid, name, str(user.get("team_id") or "") or None)


class NotesHost(Protocol):
    """What `/note` needs of the app it is registered on (`SlackBot` is one): its service, intake
    and Web API client, the moderator rule, private replies and the one error handler. A
    protocol, so this module never imports the app that registers it."""

    service: FactBotService
    intake: Intake
    client: AsyncWebClient
    notifier: Notifier | None
    learning: LearningLoop | None

    async def is_moderator(self, user: str) -> bool: ...

    async def post_ephemeral(
        self, channel: str, user: str, thread_ts: str | None, message: SlackMessage
    ) -> None: ...

    async def respond_ephemeral(self, respond: AsyncRespond, message: SlackMessage) -> None: ...

    async def on_error(
        self, error: Exception, body: dict[str, Any], respond: AsyncRespond | None
    ) -> None: ...


class SlackNotes:
    """The `/note` command, its modal and its buttons, on one `SlackBot` (its `NotesHost`)."""

    def __init__(self, bot: NotesHost) -> None:
        self.bot = bot

    def register(self, app: AsyncApp) -> None:
        app.view(FORM_CALLBACK)(self._on_submit)
        app.action(REMOVE_ACTION)(self._on_remove)
        app.action(CANCEL_ACTION)(self._on_cancel)

    def _desk(self) -> NoteDesk:
        desk: NoteDesk | None = getattr(self.bot.service, "notes", None)
        if desk is None:  # a service built over an engine without a notes database
            raise NotesUnavailable("this service has no notes database")
        return desk

    async def _refuse(self, respond: AsyncRespond, who: str, what: str) -> None:
        """Tell a non-moderator no, privately."""
        log.warning("slack: /note %s refused for %s: not a moderator", what, who)
        await self.bot.respond_ephemeral(respond, render_notice(_not_moderator(), ":no_entry:"))

    # ------------------------------------------------------------------ /note

    async def command(self, command: dict[str, Any], respond: AsyncRespond) -> None:
        """`/note <subcommand> …` (registered in slack_app.py through `@_command`)."""
        user = command["user_id"]
        name = str(command.get("user_name") or UNNAMED)
        words = slack_to_plain(command.get("text", "")).split()
        sub = words[0].lower() if words else ""
        args = words[1:]
        if not await self.bot.is_moderator(user):
            await self._refuse(respond, name, clip(sub, 20) or "(none)")
            return
        by = Moderator("slack", user, name)
        language = LANGUAGE
        try:
            if sub == "add" and not args:
                await self._open_form(command, respond, None, None, language)
            elif sub == "edit" and len(args) == 2 and not _revision_number(args[1]):
                # "²" passes str.isdigit() but not int(): say what a revision looks like.
                line = message("note.bad_revision", language, note_id=args[0])
                await self.bot.respond_ephemeral(respond, render_notice(line, ":pencil2:"))
                return
            elif sub == "edit" and len(args) in (1, 2):
                revision = int(args[1]) if len(args) == 2 else None
                await self._open_form(command, respond, args[0], revision, language)
            elif sub == "remove" and len(args) == 1:
                await self._ask_removal(respond, args[0], language)
            elif sub == "show" and len(args) == 1:
                shown = await self._desk().show(args[0])
                await self._show_found(respond, shown, note_text.shown_lines, ":memo:", language)
            elif sub == "history" and len(args) == 1:
                history = await self._desk().history(args[0])
                await self._show_found(
                    respond, history, note_text.history_lines, ":scroll:", language
                )
            else:
                usage = render_notice(message("note.usage", language), ":pencil2:")
                await self.bot.respond_ephemeral(respond, usage)
                return
            log.info("slack: /note %s run by %s", sub, by.name)
        except NotesUnavailable as exc:
            log.warning("slack: /note %s by %s: %s", sub, by.name, exc)
            down = render_notice(note_text.unavailable_line(language), ":warning:")
            await self.bot.respond_ephemeral(respond, down)

    async def _open_form(
        self,
        command: dict[str, Any],
        respond: AsyncRespond,
        note_id: str | None,
        revision: int | None,
        language: Language,
    ) -> None:
        form = await self._desk().form(note_id, revision)
        if isinstance(form, NoteUnknown):
            await self._unknown(respond, form, language)
            return
        reach = None
        if note_id is not None:  # a new note's reach is known once its claim is
            index = self.bot.service.engine.index
            reach = await flows.reach_line(self.bot.notifier, note_id, form.claim, index, language)
        view = note_form_view(form, note_id, command.get("channel_id"), language, reach=reach)
        await self.bot.client.views_open(trigger_id=command["trigger_id"], view=view)

    async def open_for_question(
        self, trigger_id: str, channel: str | None, question: str, handoff: str
    ) -> None:
        """ "Write a note" on a moderators' request: the /note modal prefilled with the member's
        question (as on Discord), which it also shows above the fields."""
        form = NoteForm(claim=question)
        view = note_form_view(form, None, channel, LANGUAGE, question=question, handoff=handoff)
        await self.bot.client.views_open(trigger_id=trigger_id, view=view)

    async def _unknown(self, respond: AsyncRespond, unknown: NoteUnknown, lang: Language) -> None:
        notice = render_notice(note_text.unknown_line(unknown, lang), ":grey_question:")
        await self.bot.respond_ephemeral(respond, notice)

    async def _ask_removal(self, respond: AsyncRespond, note_id: str, language: Language) -> None:
        shown = await self._desk().show(note_id)
        if isinstance(shown, NoteUnknown):
            await self._unknown(respond, shown, language)
            return
        prompt = remove_prompt(shown.note_id, shown.claim, language)
        await self.bot.respond_ephemeral(respond, prompt)

    async def _show_found(
        self,
        respond: AsyncRespond,
        found: T | NoteUnknown,
        lines: Callable[[T, Language], list[str]],
        emoji: str,
        language: Language,
    ) -> None:
        """`/note show` and `/note history`: the note's lines, or that no note has this id."""
        if isinstance(found, NoteUnknown):
            await self._unknown(respond, found, language)
            return
        await self.bot.respond_ephemeral(respond, render_lines(lines(found, language), emoji))

    # ------------------------------------------------------------------ the form submitted

    async def _on_submit(self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        """Save the note: problems back in the form if known in time, else a private report."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SAVE_ACK_WITHIN
        self.bot.intake.track_current_task()
        acked = False
        by = _moderator(body.get("user"))
        actor = _actor(by)
        submitted = submitted_form(view)
        language = submitted.language
        try:
            if not await self.bot.is_moderator(by.user_id):
                log.warning("slack: /note form refused for %s: not a moderator", by.name)
                acked = True
                await ack(response_action="errors", errors={WHOLE_NOTE_BLOCK: _not_moderator()})
                return
            desk: NoteDesk | None = getattr(self.bot.service, "notes", None)
            work = asyncio.ensure_future(
                flows.save_note(
                    desk,
                    submitted.form,
                    by,
                    submitted.note_id,
                    language,
                    actor,
                    notify=submitted.notify,
                )
            )
            try:
                reply = await asyncio.wait_for(
                    asyncio.shield(work), max(0.0, deadline - loop.time())
                )
            except TimeoutError:
                # Past Slack's window: close the modal now, report privately when done.
                acked = True
                await ack()
                log.info("slack: /note form by %s: saving after the modal closed", by.name)
                saving = render_notice(message("note.saving", language), ":hourglass:")
                await self._tell(by.user_id, submitted.channel, saving)
                reply = await work
                await self._tell(by.user_id, submitted.channel, note_message(reply))
                await self._told(submitted, by, reply, language)
                return
            if reply.kind != "saved":
                # In the form, still filled in: the moderator fixes it, or submits again once
                # the cooldown is up or the database is back.
                log.info("slack: /note form by %s answered in the form", by.name)
                errors = (
                    form_errors(reply.outcome, language)
                    if isinstance(reply.outcome, NoteRejected)
                    else {WHOLE_NOTE_BLOCK: "\n".join(reply.lines)}
                )
                acked = True
                await ack(response_action="errors", errors=errors)
                return
            acked = True
            await ack()
            await self._tell(by.user_id, submitted.channel, note_message(reply))
            await self._told(submitted, by, reply, language)
        except Exception as exc:
            log.error("slack: /note form by %s failed", by.name, exc_info=exc)
            sorry = message("error.sorry", language)
            try:
                if not acked:
                    await ack(response_action="errors", errors={WHOLE_NOTE_BLOCK: sorry})
                else:
                    await self._tell(
                        by.user_id, submitted.channel, render_notice(sorry, ":warning:")
                    )
            except Exception:
                log.warning("slack: could not tell the moderator about the failure", exc_info=True)

    async def _told(
        self, submitted: Submitted, by: Moderator, reply: flows.NoteReply, language: Language
    ) -> None:
        """After a save's report: the moderators' request it answers resolved, and how many
        threads and subscribers it told, once they are."""
        if not isinstance(reply.outcome, NoteSaved):
            return
        user, channel = by.user_id, submitted.channel
        if submitted.handoff is not None:
            community = Community("slack", by.community) if by.community else None
            await flows.handoff_noted(self.bot.learning, submitted.handoff, community, _actor(by))
        line = await flows.told_line(self.bot.notifier, reply.outcome, language)
        if line is not None:
            await self._tell(user, channel, render_notice(line, ":bell:"))

    async def _tell(self, user: str, channel: str | None, reply: SlackMessage) -> None:
        """Privately: ephemeral in `channel`, else (no channel, or the bot cannot post there)
        in the moderator's DM with the app."""
        if channel:
            try:
                await self.bot.post_ephemeral(channel, user, None, reply)
                return
            except SlackApiError as exc:
                code = str(exc.response.get("error") or "")
                if code not in _NOT_POSTABLE:
                    raise
                log.info(
                    "slack: cannot post privately in %s (%s): writing a DM",
                    channel_tag("slack", channel, channel.startswith("D")),
                    code,
                )
        await self.bot.client.chat_postMessage(
            channel=user, unfurl_links=False, unfurl_media=False, **reply.payload()
        )

    # ------------------------------------------------------------------ remove / cancel

    async def _on_remove(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        """Remove confirmed: re-check the rights, remove, report privately."""
        await ack()
        self.bot.intake.track_current_task()
        by = _moderator(body.get("user"))
        note_id, language = pressed_note(action)
        try:
            if not await self.bot.is_moderator(by.user_id):
                await self._refuse(respond, by.name, "remove")
                return
            # The prompt gives way to "saving…": its buttons cannot be pressed twice.
            saving = render_notice(message("note.saving", language), ":hourglass:")
            await respond(replace_original=True, **saving.payload())
            desk: NoteDesk | None = getattr(self.bot.service, "notes", None)
            reply = await flows.remove_note(desk, note_id, by, language, _actor(by))
            await self.bot.respond_ephemeral(respond, note_message(reply))
            if isinstance(reply.outcome, NoteSaved):
                told = await flows.told_line(self.bot.notifier, reply.outcome, language)
                if told is not None:
                    await self.bot.respond_ephemeral(respond, render_notice(told, ":bell:"))
        except Exception as exc:
            await self.bot.on_error(exc, body, respond)

    async def _on_cancel(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        _, language = pressed_note(action)
        try:
            cancelled = render_notice(note_text.removal_cancelled_line(language), ":ok_hand:")
            await respond(replace_original=True, **cancelled.payload())
        except Exception as exc:
            await self.bot.on_error(exc, body, respond)


def _revision_number(word: str) -> bool:
    """A revision as typed: ASCII digits only (`int()` refuses "²", which `isdigit()` accepts)."""
    return word.isascii() and word.isdigit()


# chat.postEphemeral errors after which the moderator's DM can still take the report.
_NOT_POSTABLE = frozenset(
    {"not_in_channel", "channel_not_found", "is_archived", "user_not_in_channel"}
)


def _not_moderator() -> str:
    return flows.not_moderator("slack", LANGUAGE, "note")


def _actor(by: Moderator) -> flows.Actor:
    """The moderator, as the log names them: display name, never the user id."""
    return flows.Actor(by.name, log, "slack: ")
