"""Closing the loop on Slack: the 🔔 and "Ask a moderator" buttons, the moderators' request with
its **Write a note** and **Mark resolved** buttons, and the `Deliver` that posts the notifier's
corrections and late answers (bot/learning/notify.py).

The policy (who may subscribe, what a hand-off records, who is told) is the shared flows'
(bot/chat/flows.py); this module translates Block Kit presses in and renders the results out.

- A refused answer, and the reply to a 👎, end with an `actions` block (`loop_block`): 🔔 ("tell
  me when it's answered"), and "Ask a moderator" when the workspace has a moderators' channel
  (SLACK_MODERATOR_CHANNEL_ID). Each button's value is the answer id and its language; the
  question is read back from the question log.
- `SlackDelivery.deliver` posts a notice with chat.postMessage in the answer's thread
  (`thread_ts`), or in the member's DM (the DM channel kept sealed; a user id is opened with
  conversations.open first). True when posted; a Slack error is logged (its code, never an id)
  and is False.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError

from bot.answer import Answer, Language
from bot.chat import flows
from bot.chat.slack.render import (
    FALLBACK_LIMIT,
    Block,
    SlackMessage,
    cap_blocks,
    clip,
    context,
    escape,
    quote_lines,
    render_answer,
    render_notice,
    section,
    sections,
)
from bot.community import Community
from bot.learning.notify import AnsweredLater, Correction, Notice
from bot.logs import user_tag
from bot.messages import text as message
from bot.settings import Settings
from bot.storage.loop import Place

if TYPE_CHECKING:
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.learning.loop import LearningLoop
    from bot.serving.intake import Intake

# Opens the /note modal on a trigger, in a channel, for a hand-off (its question, its id).
OpenNoteForm = Callable[[str, str | None, str, str], Awaitable[None]]

log = logging.getLogger("factbot.slack")

LOOP_BLOCK = "factbot_loop"
SUBSCRIBE_ACTION = "factbot_loop_subscribe"
HANDOFF_ACTION = "factbot_loop_handoff"
WRITE_NOTE_ACTION = "factbot_loop_write_note"
RESOLVE_ACTION = "factbot_loop_resolve"
BUTTON_TEXT_LIMIT = 75
# How many of a thread's earlier questions a moderators' request shows.
EARLIER_QUESTIONS = 5


def _language(value: object) -> Language:
    return "fr" if value == "fr" else "en"


def _button(action_id: str, label: str, value: dict[str, Any], style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": clip(label, BUTTON_TEXT_LIMIT), "emoji": True},
        "value": json.dumps(value),
    }
    if style:
        button["style"] = style
    return button


def pressed(action: dict[str, Any]) -> dict[str, Any]:
    """What a loop button carries (its JSON value; {} when malformed)."""
    try:
        value = json.loads(action.get("value") or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def pressed_language(action: dict[str, Any]) -> Language:
    return _language(pressed(action).get("l"))


def loop_block(
    answer_id: str, language: Language, handoff: bool, thread: str | None = None
) -> Block:
    """🔔 "tell me when it's answered" and, with a moderators' channel, "Ask a moderator".
    `thread`: the thread the answer is in, when the buttons are not on the answer itself (the
    private reply to a 👎)."""
    value: dict[str, Any] = {"a": answer_id, "l": language}
    if thread:
        value["t"] = thread
    elements = [_button(SUBSCRIBE_ACTION, message("loop.subscribe_button", language), value)]
    if handoff:
        label = message("loop.handoff_button", language)
        elements.append(_button(HANDOFF_ACTION, label, value))
    return {"type": "actions", "block_id": f"{LOOP_BLOCK}:{answer_id}"[:255], "elements": elements}


def with_loop(
    shown: SlackMessage,
    answer_id: str,
    language: Language,
    handoff: bool,
    thread: str | None = None,
) -> SlackMessage:
    """`shown` with the loop's buttons at its end (within the 50-block limit)."""
    blocks = cap_blocks(shown.blocks, language, limit=49)
    return SlackMessage(shown.text, [*blocks, loop_block(answer_id, language, handoff, thread)])


# ---------------------------------------------------------------------- notices


def render_correction(correction: Correction) -> SlackMessage:
    """One correction message: what changed for each note of the burst, and what is true."""
    lines = [escape(line) for line in correction.lines()]
    lines[0] = f":memo: *{lines[0]}*"
    fallback = clip(" ".join(lines), FALLBACK_LIMIT)
    return SlackMessage(fallback, cap_blocks(sections(lines), correction.language))


def render_answered(later: AnsweredLater) -> SlackMessage:
    """A subscribed question's answer: a moderator added a note, the question, then the answer."""
    title, asked = later.lines()
    head = [section(f":bell: *{escape(title)}*"), context(escape(asked))]
    shown = render_answer(later.answer)
    blocks = cap_blocks([*head, *shown.blocks], later.language)
    return SlackMessage(clip(f"{escape(title)} {shown.text}", FALLBACK_LIMIT), blocks)


def render_notice_message(notice: Notice) -> SlackMessage:
    if isinstance(notice, Correction):
        return render_correction(notice)
    return render_answered(notice)


class SlackDelivery:
    """The notifier's `Deliver` on Slack: into the answer's thread, or the member's DM."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def deliver(self, target: Place, message: Notice) -> bool:
        kind = type(message).__name__
        shown = render_notice_message(message)
        try:
            channel = await self._channel(target)
            if channel is None:
                log.warning("slack: a %s has no channel to go to; not sent", kind)
                return False
            await self.client.chat_postMessage(
                channel=channel,
                thread_ts=None if target.is_dm else target.thread_id,
                unfurl_links=False,
                unfurl_media=False,
                **shown.payload(),
            )
        except SlackApiError as exc:
            code = str(exc.response.get("error") or "unknown_error")
            log.warning("slack: a %s was not delivered (%s)", kind, code)
            return False
        log.info("slack: a %s was posted %s", kind, "by DM" if target.is_dm else "in a thread")
        return True

    async def _channel(self, target: Place) -> str | None:
        if not target.is_dm:
            return target.channel_id
        if not target.dm:
            return None
        if target.dm.startswith("D"):  # the DM channel itself
            return target.dm
        opened = await self.client.conversations_open(users=target.dm)
        return str((opened.get("channel") or {}).get("id") or "") or None


# ---------------------------------------------------------------------- the moderators' request


def handoff_message(handed: flows.HandedOff, language: Language) -> SlackMessage:
    """A member's question in the moderators' channel (the wording of `flows.request_lines`),
    with the thread's earlier questions and the **Write a note** and **Mark resolved** buttons."""
    handoff = handed.handoff
    title = message("loop.request.title", language)
    blocks: list[Block] = [
        section(f":raising_hand: *{escape(title)}*"),
        section(quote_lines(escape(handoff.question))),
    ]
    if handed.context:
        earlier = "\n".join(f"• _{escape(q)}_" for q in handed.context[-EARLIER_QUESTIONS:])
        blocks.append(context(escape(message("loop.request.context", language)), earlier))
    value = {"h": handoff.public_id, "l": language}
    buttons = [
        _button(WRITE_NOTE_ACTION, message("loop.write_note", language), value, "primary"),
        _button(RESOLVE_ACTION, message("loop.mark_resolved", language), value),
    ]
    block_id = f"factbot_handoff:{handoff.public_id}"
    blocks.append({"type": "actions", "block_id": block_id, "elements": buttons})
    return SlackMessage(clip(f"{title} {escape(handoff.question)}", FALLBACK_LIMIT), blocks)


def _origin(body: dict[str, Any], action: dict[str, Any]) -> flows.Origin:
    """Where a loop button was pressed: the workspace (None in a DM), the channel, and the
    thread the answer is in (the button's, else the message's: an answer at the channel's top
    level roots its own thread)."""
    user = str((body.get("user") or {}).get("id") or "")
    channel = str((body.get("channel") or {}).get("id") or "") or None
    container = body.get("container") or {}
    posted = body.get("message") or {}
    thread = (
        pressed(action).get("t")
        or posted.get("thread_ts")
        or posted.get("ts")
        or container.get("message_ts")
    )
    team = str((body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id") or "")
    if channel is None or channel.startswith("D"):  # a DM is no workspace's
        return flows.Origin("slack", user, None, None, None, channel)
    return flows.Origin("slack", user, team or None, channel, str(thread) if thread else None)


class LoopHost(Protocol):
    """What the loop's buttons need of the app (`SlackBot` is one): the Web API client, the
    learning loop, the settings, the moderator rule, the note form, private replies, and the
    one error handler. A protocol, so this module never imports the app."""

    client: AsyncWebClient
    learning: LearningLoop | None
    settings: Settings
    intake: Intake

    async def is_moderator(self, user: str) -> bool: ...

    async def respond_ephemeral(self, respond: AsyncRespond, message: SlackMessage) -> None: ...

    async def on_error(
        self, error: Exception, body: dict[str, Any], respond: AsyncRespond | None
    ) -> None: ...


def moderator_channel(settings: Settings, team: str | None) -> str | None:
    """The moderators' channel of workspace `team` (None: no "Ask a moderator" there)."""
    if not team:
        return None
    return settings.slack_moderator_channel(team)


class SlackLoop:
    """The loop's buttons on one `SlackBot` (its `LoopHost`), and its `Deliver`."""

    def __init__(self, bot: LoopHost, open_note_form: OpenNoteForm) -> None:
        self.bot = bot
        self.delivery = SlackDelivery(bot.client)
        self._open_note_form = open_note_form

    def register(self, app: AsyncApp) -> None:
        app.action(SUBSCRIBE_ACTION)(self._on_subscribe)
        app.action(HANDOFF_ACTION)(self._on_handoff)
        app.action(WRITE_NOTE_ACTION)(self._on_write_note)
        app.action(RESOLVE_ACTION)(self._on_resolve)

    def offers_handoff(self, team: str | None) -> bool:
        """ "Ask a moderator" is shown where the workspace has a moderators' channel."""
        return moderator_channel(self.bot.settings, team) is not None

    def decorate(
        self, shown: SlackMessage, answer: Answer, answer_id: str | None, team: str | None
    ) -> SlackMessage:
        """A refused answer ends with the loop's buttons (with a learning loop only)."""
        if not answer_id or not answer.refused or self.bot.learning is None:
            return shown
        return with_loop(shown, answer_id, answer.language, self.offers_handoff(team))

    def after_thumbs_down(
        self,
        line: SlackMessage,
        answer_id: str,
        language: Language,
        team: str | None,
        thread: str | None,
    ) -> SlackMessage:
        """The private reply to a 👎, with the loop's buttons (`thread`: the answer's)."""
        if not answer_id or self.bot.learning is None:
            return line
        return with_loop(line, answer_id, language, self.offers_handoff(team), thread)

    def _actor(self, body: dict[str, Any]) -> flows.Actor:
        user = body.get("user") or {}
        name = str(user.get("username") or user.get("name") or "unknown")
        return flows.Actor(
            f"{name} ({user_tag('slack', str(user.get('id') or ''))})", log, "slack: "
        )

    async def _say(self, respond: AsyncRespond, said: flows.Say, emoji: str) -> None:
        await self.bot.respond_ephemeral(respond, render_notice(said.line, emoji))

    # ------------------------------------------------------------------ 🔔

    async def _on_subscribe(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        """🔔 pressed: subscribe the member to the question, confirm privately."""
        await ack()
        self.bot.intake.track_current_task()
        try:
            value, language = pressed(action), pressed_language(action)
            said = await flows.subscribe(
                self.bot.learning,
                _origin(body, action),
                str(value.get("a") or ""),
                self.bot.settings.subscription_days,
                language,
                self._actor(body),
            )
            await self._say(respond, said, ":bell:")
        except Exception as exc:
            await self.bot.on_error(exc, body, respond)

    # ------------------------------------------------------------------ Ask a moderator

    async def _on_handoff(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        """ "Ask a moderator": the question goes to the workspace's moderators' channel."""
        await ack()
        self.bot.intake.track_current_task()
        try:
            origin = _origin(body, action)
            language = pressed_language(action)
            channel = moderator_channel(self.bot.settings, origin.guild)
            if channel is None:  # the setting changed since the button was shown
                said = flows.Say("loop.unavailable", message("loop.unavailable", language))
                await self._say(respond, said, ":warning:")
                return
            handed = await flows.hand_off(
                self.bot.learning,
                origin,
                str(pressed(action).get("a") or ""),
                self.bot.settings.subscription_days,
                language,
                self._actor(body),
            )
            if isinstance(handed, flows.Say):
                await self._say(respond, handed, ":warning:")
                return
            request = handoff_message(handed, "en")  # Slack shows moderators English lines
            await self.bot.client.chat_postMessage(
                channel=channel, unfurl_links=False, unfurl_media=False, **request.payload()
            )
            sent = flows.Say("loop.handoff_sent", message("loop.handoff_sent", language))
            await self._say(respond, sent, ":raising_hand:")
        except Exception as exc:
            await self.bot.on_error(exc, body, respond)

    async def _on_write_note(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        """**Write a note** (moderators only, re-checked): the /note modal, with the question."""
        await ack()
        self.bot.intake.track_current_task()
        try:
            user = str((body.get("user") or {}).get("id") or "")
            if not await self.bot.is_moderator(user):
                said = flows.Say("loop.not_moderator", flows.not_moderator("slack", "en", "note"))
                await self._say(respond, said, ":no_entry:")
                return
            public_id = str(pressed(action).get("h") or "")
            handoff = await flows.handoff_question(self.bot.learning, public_id, _community(body))
            if handoff is None:
                said = flows.Say("loop.already_resolved", message("loop.already_resolved", "en"))
                await self._say(respond, said, ":grey_question:")
                return
            channel = str((body.get("channel") or {}).get("id") or "") or None
            trigger = str(body.get("trigger_id") or "")
            await self._open_note_form(trigger, channel, handoff.question, handoff.public_id)
        except Exception as exc:
            await self.bot.on_error(exc, body, respond)

    async def _on_resolve(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        """**Mark resolved** (moderators only, re-checked): tell the asker in their thread, and
        the request gives way to who resolved it."""
        await ack()
        self.bot.intake.track_current_task()
        try:
            user = body.get("user") or {}
            moderator = await self.bot.is_moderator(str(user.get("id") or ""))
            actor = self._actor(body)
            done = await flows.resolve(
                self.bot.learning,
                str(pressed(action).get("h") or ""),
                _community(body),
                moderator,
                "slack",
                "en",
                actor,
            )
            if isinstance(done, flows.Say):
                emoji = ":no_entry:" if done.key == "loop.not_moderator" else ":information_source:"
                await self._say(respond, done, emoji)
                return
            place = done.place
            told = render_notice(done.line, ":white_check_mark:")
            try:
                await self.bot.client.chat_postMessage(
                    channel=place.channel_id or "",
                    thread_ts=place.thread_id,
                    unfurl_links=False,
                    unfurl_media=False,
                    **told.payload(),
                )
            except SlackApiError as exc:
                code = str(exc.response.get("error") or "unknown_error")
                actor.warning("the asker of a resolved hand-off was not told (%s)", code)
            name = str(user.get("username") or user.get("name") or "?")
            resolved = render_notice(
                message("loop.resolved_by", "en", name=name), ":white_check_mark:"
            )
            await respond(replace_original=True, **resolved.payload())
        except Exception as exc:
            await self.bot.on_error(exc, body, respond)


def _community(body: dict[str, Any]) -> Community | None:
    team = str((body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id") or "")
    return Community("slack", team) if team else None
