"""`/about` and `/help` on Slack, the article card posted when the bot is added to a channel
(ABOUT_ON_JOIN), and the button under a reply to feedback in words (it opens the 👎 form).

Slack tells an app nobody's interface language: `/about` and `/help` answer in English, or in
French with `fr` as their text (`/about fr`). `/about` posts the card in the channel, like
`/sources`; `/help` answers privately, the moderators' commands only to moderators.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.answer import ArticleCard, Language
from bot.answering.acts import article_card
from bot.chat.slack.acts import FEEDBACK_ACTION, help_message, pressed_reason, render_card
from bot.chat.slack.render import SlackMessage, reason_modal, render_notice, slack_to_plain
from bot.learning.loop import LearningLoop
from bot.messages import text as message
from bot.serving.intake import Admitted, Intake, Request
from bot.serving.service import FactBotService
from bot.settings import Settings

log = logging.getLogger("factbot.slack")


class AboutHost(Protocol):
    """What these commands need of the app they are registered on (`SlackBot` is one)."""

    settings: Settings
    service: FactBotService
    intake: Intake
    learning: LearningLoop | None
    client: AsyncWebClient
    bot_user_id: str

    async def is_moderator(self, user: str) -> bool: ...

    async def respond_ephemeral(self, respond: AsyncRespond, message: SlackMessage) -> None: ...

    async def _admit(
        self,
        request: Request,
        *,
        respond: AsyncRespond | None = None,
        thread_ts: str | None = None,
    ) -> Admitted | None: ...

    async def _post_public(
        self,
        channel: str,
        message: SlackMessage,
        *,
        thread_ts: str | None = None,
        respond: AsyncRespond | None = None,
    ) -> str | None: ...

    async def on_error(
        self, error: Exception, body: dict[str, Any], respond: AsyncRespond | None
    ) -> None: ...


def command_language(command: dict[str, Any]) -> Language:
    """`fr` (or `français`) as the command's text: French; else English."""
    typed = slack_to_plain(str(command.get("text") or "")).strip().lower()
    return "fr" if typed.startswith("fr") else "en"


def help_lines(card: ArticleCard | None, language: Language, moderator: bool) -> str:
    """The help, in the same words as the help reply (the catalogue's), plus /privacy and, for
    a moderator, the moderators' commands."""
    commands = message("reply.help_commands", language)
    if card is None:
        intro = f"{message('about.unavailable', language)}\n{commands}"
    else:
        intro = message(
            "reply.help",
            language,
            title=card.title,
            outlet=card.outlet,
            published=card.published,
            commands=commands,
        )
    lines = [intro, message("help.privacy", language)]
    if moderator:
        lines.append(message("help.moderators", language))
    return "\n".join(lines)


class SlackAbout:
    """`/about`, `/help`, the card on joining a channel and the feedback-form button."""

    def __init__(self, bot: AboutHost) -> None:
        self.bot = bot

    def register(self, app: AsyncApp) -> None:
        app.action(FEEDBACK_ACTION)(self._on_feedback_button)
        app.event("member_joined_channel")(self._on_joined)

    def card(self) -> ArticleCard | None:
        try:
            return article_card(self.bot.service.engine.index)
        except AttributeError:  # no engine yet
            return None

    async def about(self, command: dict[str, Any], respond: AsyncRespond) -> None:
        """`/about [fr]`: the article card, in the channel (rate-limited like /sources)."""
        language = command_language(command)
        request = Request(
            "slack",
            command["user_id"],
            "",
            "sources",  # no text: admission only checks the rate limit
            guild=command.get("team_id"),
            channel=command["channel_id"],
            locale=language,
        )
        if await self.bot._admit(request, respond=respond) is None:
            return
        card = self.card()
        if card is None:
            notice = render_notice(message("about.unavailable", language))
            await self.bot.respond_ephemeral(respond, notice)
            return
        await self.bot._post_public(
            command["channel_id"], render_card(card, language), respond=respond
        )

    async def help(self, command: dict[str, Any], respond: AsyncRespond) -> None:
        """`/help [fr]`: privately, what the bot does and its commands."""
        language = command_language(command)
        moderator = await self.bot.is_moderator(str(command["user_id"]))
        intro = help_lines(self.card(), language, moderator)
        await self.bot.respond_ephemeral(respond, help_message(intro, []))

    async def _on_joined(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        """ABOUT_ON_JOIN: the card, once, in a channel the bot was just added to."""
        if not self.bot.settings.about_on_join or event.get("user") != self.bot.bot_user_id:
            return
        channel = str(event.get("channel") or "")
        card = self.card()
        if not channel or card is None:
            return
        self.bot.intake.track_current_task()
        try:
            await self.bot._post_public(channel, render_card(card, "en"))
        except Exception as exc:
            await self.bot.on_error(exc, body, None)

    async def _on_feedback_button(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        """The button under a reply to feedback in words: the 👎 form, pre-filled."""
        await ack()
        self.bot.intake.track_current_task()
        try:
            answer_id, written, language = pressed_reason(str(action.get("value") or ""))
            trigger = body.get("trigger_id")
            if not answer_id or not trigger:
                return
            channel = (body.get("channel") or {}).get("id")
            thread_ts = (body.get("message") or {}).get("thread_ts")
            view = reason_modal(answer_id, language, channel, thread_ts, initial=written)
            await self.bot.client.views_open(trigger_id=trigger, view=view)
        except Exception as exc:
            await self.bot.on_error(exc, body, respond)
