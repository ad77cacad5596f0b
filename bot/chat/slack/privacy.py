"""`/privacy` on Slack: what factbot keeps about the member (ephemeral), with an "Erase my data"
button behind a Block Kit confirm dialog. The policy and the wording are the core's
(bot/learning/privacy.py, bot/messages.py); this module translates the command and the press in and
renders the lines out.

The button erases the data of whoever presses it (the `user` of the `block_actions` payload), so
it can only ever erase the presser's own data; the reply replaces the ephemeral summary with the
one line that confirms.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.answer import Language
from bot.chat.slack.notes import (
    BUTTON_TEXT_LIMIT,
    CONFIRM_BUTTON_LIMIT,
    CONFIRM_TEXT_LIMIT,
    CONFIRM_TITLE_LIMIT,
    LANGUAGE,
    render_lines,
)
from bot.chat.slack.render import SlackMessage, clip, render_notice
from bot.learning.loop import LearningLoop
from bot.learning.privacy import PrivacyUnavailable, erased_line, kept_lines
from bot.logs import user_tag
from bot.messages import text as message
from bot.serving.intake import Intake


class PrivacyHost(Protocol):
    """What `/privacy` needs of the app it is registered on (`SlackBot` is one); a protocol, so
    this module never imports the app."""

    intake: Intake
    learning: LearningLoop | None

    async def respond_ephemeral(self, respond: AsyncRespond, message: SlackMessage) -> None: ...

    async def on_error(
        self, error: Exception, body: dict[str, Any], respond: AsyncRespond | None
    ) -> None: ...


log = logging.getLogger("factbot.slack")

ERASE_ACTION = "factbot_privacy_erase"


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def privacy_message(lines: list[str], language: Language) -> SlackMessage:
    """The summary, then the erase button (a confirm dialog before it erases)."""
    erase = message("privacy.erase_button", language)
    button = {
        "type": "button",
        "action_id": ERASE_ACTION,
        "style": "danger",
        "text": _plain(erase, BUTTON_TEXT_LIMIT),
        "value": language,
        "confirm": {
            "title": _plain(message("privacy.confirm_title", language), CONFIRM_TITLE_LIMIT),
            "text": _plain(message("privacy.confirm_text", language), CONFIRM_TEXT_LIMIT),
            "confirm": _plain(message("privacy.confirm_yes", language), CONFIRM_BUTTON_LIMIT),
            "deny": _plain(message("privacy.confirm_no", language), CONFIRM_BUTTON_LIMIT),
            "style": "danger",
        },
    }
    shown = render_lines(lines, ":lock:")
    actions = {"type": "actions", "block_id": "factbot_privacy", "elements": [button]}
    return SlackMessage(shown.text, [*shown.blocks, actions])


class SlackPrivacy:
    """`/privacy` and its erase button, on one `SlackBot`."""

    def __init__(self, bot: PrivacyHost) -> None:
        self.bot = bot

    def register(self, app: AsyncApp) -> None:
        app.action(ERASE_ACTION)(self._on_erase)

    async def command(self, command: dict[str, Any], respond: AsyncRespond) -> None:
        """`/privacy` (registered in slack_app.py through `@_command`)."""
        learning = self.bot.learning
        user = str(command["user_id"])
        if learning is None:
            notice = render_notice(message("privacy.disabled", LANGUAGE), ":lock:")
            await self.bot.respond_ephemeral(respond, notice)
            return
        try:
            kept = await learning.privacy.kept("slack", user)
        except PrivacyUnavailable as exc:
            log.warning("slack: /privacy for %s: %s", user_tag("slack", user), exc)
            down = render_notice(message("privacy.unavailable", LANGUAGE), ":warning:")
            await self.bot.respond_ephemeral(respond, down)
            return
        shown = privacy_message(kept_lines(kept, LANGUAGE), LANGUAGE)
        await self.bot.respond_ephemeral(respond, shown)

    async def _on_erase(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        """Erase confirmed: the presser's data, then one line in place of the summary."""
        await ack()
        self.bot.intake.track_current_task()
        language: Language = "fr" if action.get("value") == "fr" else "en"
        user = str((body.get("user") or {}).get("id") or "")
        try:
            learning = self.bot.learning
            if learning is None or not user:
                line, emoji = message("privacy.disabled", language), ":lock:"
            else:
                try:
                    erased = await learning.privacy.erase("slack", user)
                    line, emoji = erased_line(erased, language), ":white_check_mark:"
                except PrivacyUnavailable as exc:
                    log.warning("slack: /privacy erase for %s: %s", user_tag("slack", user), exc)
                    line, emoji = message("privacy.unavailable", language), ":warning:"
            await respond(replace_original=True, **render_notice(line, emoji).payload())
        except Exception as exc:
            await self.bot.on_error(exc, body, respond)
