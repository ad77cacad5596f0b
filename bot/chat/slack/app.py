"""The Slack transport: a slack_bolt `AsyncApp` over `FactBotService`.

Why AsyncApp (not the sync App with lazy listeners): the service is asyncio-based, so awaiting
`service.ask` from async listeners needs no thread hopping, and Slack can share one event loop
(one process, one loaded model) with Discord. Lazy listeners exist for FaaS, where the process may
stop right after the HTTP response; here the process lives on, so every listener calls `ack()`
first (within Slack's 3 s) and then does the work in the task bolt already runs it in.

Modes: Socket Mode (SLACK_BOT_TOKEN + SLACK_APP_TOKEN, no public URL) by default; HTTP mode (bolt's
aiohttp server on SLACK_PORT, path /slack/events) when SLACK_SIGNING_SECRET is set instead.

Replies:
- Answers to slash commands are posted with chat.postMessage, in the channel: everyone sees them,
  and the message's ts roots a thread in which follow-up questions are answered without a new
  mention (response_url returns no ts). If the bot cannot post there (a private channel or DM it
  is not a member of), the answer goes through the command's response_url as `in_channel`.
- Mentions are answered in a thread; plain messages in a thread the bot answered in are follow-ups.
- Errors, refusals of permission, the cooldown and moderator reports are ephemeral: the
  command's response_url (works in any channel) or chat.postEphemeral for events.

Feedback (with a `LearningLoop`): every answer ends with 👍/👎 buttons (`block_actions`); a 👎
opens an optional reason modal (`views.open`, then `view_submission`); votes are acknowledged
ephemerally. `/unanswered [days]` shows moderators the report; the threads the bot answered in
are remembered in the store, so follow-ups need no mention after a restart.

Cleaning, the per-user rate limit and the language are the intake's (`bot/serving/intake.py`): each
handler admits its request, then renders. Each slash command's handler is one method, registered
by the `@_command` beside it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_server import AsyncSlackAppServer
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    async_default_handlers,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.answer import Answer, Language
from bot.chat import AdapterStartError, flows
from bot.chat.redelivery import Redelivery
from bot.chat.slack.about import SlackAbout
from bot.chat.slack.acts import ACK_REACTION, render_reply
from bot.chat.slack.loop import SlackLoop
from bot.chat.slack.notes import SlackNotes
from bot.chat.slack.privacy import SlackPrivacy
from bot.chat.slack.render import (
    REASON_CALLBACK,
    VOTE_ACTION,
    SlackMessage,
    feedback_language,
    reason_modal,
    render_factchecks,
    render_notice,
    render_reindex_failure,
    render_reindex_report,
    render_report,
    render_sources,
    slack_to_plain,
    submitted_reason,
)
from bot.chat.threads import OwnThreads
from bot.community import Community
from bot.learning.loop import MAX_REPORT_DAYS, LearningLoop, parse_days
from bot.logs import channel_tag, user_tag
from bot.messages import text as message
from bot.notes.records import Moderator
from bot.serving import moderation
from bot.serving.intake import Admission, Admitted, Intake, Kind, Refusal, Request
from bot.serving.service import FactBotService
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.chat.delivery import Deliveries
    from bot.learning.notify import Notifier
    from bot.ops.metrics import TransportLink

log = logging.getLogger("factbot.slack")

CommandWork = Callable[[dict[str, Any], AsyncRespond], Awaitable[None]]
_Handler = Callable[["SlackBot", dict[str, Any], AsyncRespond], Awaitable[None]]
_COMMANDS: dict[str, _Handler] = {}


def _command(name: str) -> Callable[[_Handler], _Handler]:
    """Register the `SlackBot` method below as the handler of the slash command `name`."""

    def register(handler: _Handler) -> _Handler:
        _COMMANDS[name] = handler
        return handler

    return register


MISSING_TOKENS = (
    "SLACK_BOT_TOKEN and SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode) "
    "must be set"
)
HTTP_PATH = "/slack/events"
# Slack tells an app nobody's interface language: its own lines are in English.
SORRY = message("error.sorry", "en")
NOT_A_MODERATOR = flows.not_moderator("slack", "en", "reindex")
REBUILDING = message("reindex.rebuilding", "en")
NOT_A_MODERATOR_REPORT = flows.not_moderator("slack", "en", "unanswered")
# The look of each line a shared flow returns, by its catalogue key.
EMOJI = {
    "report.disabled": ":information_source:",
    "report.unavailable": ":warning:",
    "moderation.too_soon": ":hourglass:",
}
# A trigger_id is valid for 3 s: past this, a 👎 gets its private reply without the reason modal.
MODAL_WITHIN = 2.0
# Errors meaning "this token is not valid", as opposed to an outage or a rate limit.
REJECTED = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "not_allowed_token_type",
        "invalid_token",
        "no_permission",
    }
)
# chat.postMessage errors after which the command's response_url can still deliver the answer.
NOT_POSTABLE = frozenset({"not_in_channel", "channel_not_found", "is_archived"})
# Message subtypes that are a person writing (others are edits, joins, bot posts...).
HUMAN_SUBTYPES = frozenset({None, "thread_broadcast", "file_share"})


# Conversations that are nobody's community: a DM, a group DM.
PRIVATE_TYPES = frozenset({"im", "mpim"})


def _is_dm(command: dict[str, Any]) -> bool:
    """A slash command typed in a DM or group DM (DM channel ids start with D)."""
    name = str(command.get("channel_name") or "")
    return (
        str(command.get("channel_id") or "").startswith("D")
        or name == "directmessage"
        or name.startswith("mpdm-")
    )


def _api_base(url: str) -> str:
    # slack_sdk joins base and method with urljoin: without the trailing slash the last path
    # segment ("api") would be dropped.
    return url if url.endswith("/") else url + "/"


def _error_code(exc: SlackApiError) -> str:
    response = exc.response
    try:
        return str(response.get("error") or "unknown_error")
    except AttributeError:  # a non-JSON body
        return "unknown_error"


async def serve(
    settings: Settings,
    service: FactBotService,
    intake: Intake | None = None,
    stopping: asyncio.Event | None = None,
    learning: LearningLoop | None = None,
    link: TransportLink | None = None,
    *,
    deliveries: Deliveries | None = None,
) -> None:
    """Run the Slack bot until cancelled or `stopping` is set (then it lets the answers in flight
    finish and disconnects); `intake` defaults to one of its own. With `learning`, answers carry
    👍/👎, /unanswered reports, and the bot's threads outlive a restart; `link` follows the
    connection (bot/ops/metrics.py). With `deliveries` (and its notifier), the notifier's Slack
    notices are posted by this bot (registered once signed in), the note form shows its reach
    and a save its "told" count. Raises `AdapterStartError` (missing/rejected token)."""
    bot = SlackBot(settings, service, intake, learning)
    bot.link = link
    bot.deliveries = deliveries
    bot.notifier = deliveries.notifier if deliveries is not None else None
    await bot.run(stopping)


class SlackBot:
    """The bolt app, its listeners and the little state they share (threads, seen events)."""

    def __init__(
        self,
        settings: Settings,
        service: FactBotService,
        intake: Intake | None = None,
        learning: LearningLoop | None = None,
    ) -> None:
        if not settings.slack_bot_token or not (
            settings.slack_app_token or settings.slack_signing_secret
        ):
            raise AdapterStartError(MISSING_TOKENS)
        self.settings = settings
        self.service = service
        self.socket_mode = bool(settings.slack_app_token)
        self.api_base = _api_base(settings.slack_api_base)
        self.client = AsyncWebClient(
            token=settings.slack_bot_token,
            base_url=self.api_base,
            # slack_sdk retries only connection errors by default; a `ratelimited` answer (HTTP
            # 429) would otherwise lose the answer. Wait its Retry-After, up to twice.
            retry_handlers=[
                *async_default_handlers(),
                AsyncRateLimitErrorRetryHandler(max_retry_count=2),
            ],
        )
        self.app = AsyncApp(
            # Bolt names a logger after the app and pins its level to the root's at the first
            # event: "factbot" would pin the parent of every factbot.* logger.
            name="factbot-slack",
            client=self.client,
            signing_secret=settings.slack_signing_secret,
            # Socket Mode requests are not signed; HTTP ones must be.
            request_verification_enabled=not self.socket_mode,
        )
        self.intake = intake or Intake(service, Admission.for_chat(settings))
        # The question log, votes, report and thread memory; None: none of them (no buttons).
        self.learning = learning
        # The threads the bot answered in ("channel:thread_ts"); event_ids, since Slack
        # redelivers events on reconnects.
        self.threads = OwnThreads("slack", learning)
        self.redelivery = Redelivery(log, "slack: ")
        self.link: TransportLink | None = None  # the connection's state, for /healthz and metrics
        self.bot_user_id = ""
        self.bot_id = ""
        self.bot_team = ""  # auth.test's team_id; unknown: only SLACK_MODERATOR_IDS moderate
        self.notes = SlackNotes(self)  # /note: its modal and buttons (bot/chat/slack/notes.py)
        self.privacy = SlackPrivacy(self)  # /privacy and its erase button (slack_privacy.py)
        self.about = SlackAbout(self)  # /about, /help, the card on joining, feedback in words
        # Closing the loop: 🔔, "Ask a moderator", the notifier's Deliver (bot/chat/slack/loop.py)
        self.loop = SlackLoop(self, self.notes.open_for_question)
        self.notifier: Notifier | None = None  # the note form's reach and "told" count
        self.deliveries: Deliveries | None = None  # where this bot registers its Deliver
        self._register()

    # ------------------------------------------------------------------ lifecycle

    async def run(self, stopping: asyncio.Event | None = None) -> None:
        await self._check_bot_token()
        if self.deliveries is not None:  # the notifier's Slack notices go through this bot
            self.deliveries.register("slack", self.loop.delivery)
        try:
            if self.socket_mode:
                await self._run_socket_mode(stopping or asyncio.Event())
            else:
                await self._run_http(stopping or asyncio.Event())
        finally:
            if self.deliveries is not None:
                self.deliveries.unregister("slack")

    async def _until_stopped(self, stopping: asyncio.Event) -> None:
        """Serve until `stopping` is set (or cancelled), then let the answers in flight finish
        while the connection is still open."""
        await stopping.wait()
        await self.intake.drain(self.settings.shutdown_grace_seconds)

    async def _start_call(
        self, call: Awaitable[AsyncSlackResponse], token_name: str, method: str
    ) -> AsyncSlackResponse:
        """Await a start-up Web API call, turning every failure into one operator line."""
        try:
            return await call
        except SlackApiError as exc:
            code = _error_code(exc)
            if code in REJECTED:
                raise AdapterStartError(f"Slack rejected {token_name} ({code})") from None
            raise AdapterStartError(f"Slack {method} failed ({code})") from None
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise AdapterStartError(
                f"cannot reach the Slack Web API at {self.api_base} ({type(exc).__name__})"
            ) from None

    async def _check_bot_token(self) -> None:
        """auth.test now, so a bad token fails at start, not at the first question."""
        identity = await self._start_call(self.client.auth_test(), "SLACK_BOT_TOKEN", "auth.test")
        self.bot_user_id = str(identity.get("user_id") or "")
        self.bot_id = str(identity.get("bot_id") or "")
        self.bot_team = str(identity.get("team_id") or "")  # whose admins moderate
        log.info(
            "slack: signed in as %s (%s) in team %s",
            identity.get("user"),
            self.bot_user_id,
            identity.get("team"),
        )

    async def _run_socket_mode(self, stopping: asyncio.Event) -> None:
        # The app-level token is sent per call; this client only serves apps.connections.open.
        app_client = AsyncWebClient(base_url=self.api_base)
        opened = await self._start_call(
            app_client.apps_connections_open(app_token=self.settings.slack_app_token),
            "SLACK_APP_TOKEN",
            "apps.connections.open",
        )
        handler = AsyncSocketModeHandler(
            self.app, app_token=self.settings.slack_app_token, web_client=app_client
        )
        # Use the URL just issued: the token is known good, and the SDK's own connect() would
        # otherwise retry a rejected app token forever instead of failing at start.
        handler.client.wss_uri = str(opened["url"])
        self._follow_connections(handler)
        try:
            await handler.connect_async()  # type: ignore[no-untyped-call]
            log.info("slack: connected in Socket Mode")
            await self._until_stopped(stopping)
        finally:
            if self.link is not None:
                self.link.down()
            await handler.close_async()  # type: ignore[no-untyped-call]

    def _follow_connections(self, handler: AsyncSocketModeHandler) -> None:
        """Keep `link` in step with the Socket Mode connection. slack_sdk has no connection
        events, but every (re)connection goes through its client's `connect()`: after a
        `disconnect` envelope, a close frame, or a socket its monitor found dead."""
        link, client = self.link, handler.client
        if link is None:
            return
        connect = client.connect

        async def connect_and_report() -> None:
            link.down()
            await connect()  # type: ignore[no-untyped-call]
            if await client.is_connected():
                link.up()

        # An instance attribute: the client's own reconnection calls `self.connect()` too.
        setattr(client, "connect", connect_and_report)  # noqa: B010

    async def _run_http(self, stopping: asyncio.Event) -> None:
        server = AsyncSlackAppServer(
            port=self.settings.slack_port,
            path=HTTP_PATH,
            app=self.app,
            host=self.settings.slack_host,
        )
        runner = web.AppRunner(server.web_app)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host=self.settings.slack_host, port=self.settings.slack_port)
            try:
                await site.start()
            except OSError as exc:
                raise AdapterStartError(
                    f"cannot listen on port {self.settings.slack_port} for Slack HTTP mode "
                    f"({exc.strerror or exc})"
                ) from None
            log.info(
                "slack: HTTP mode, listening on port %d at %s",
                self.settings.slack_port,
                HTTP_PATH,
            )
            if self.link is not None:  # Slack calls in: listening is being connected
                self.link.up()
            await self._until_stopped(stopping)
        finally:
            if self.link is not None:
                self.link.down()
            await runner.cleanup()

    def _register(self) -> None:
        app = self.app
        for name, handler in _COMMANDS.items():
            app.command(name)(self._acked_first(functools.partial(handler, self)))
        app.event("app_mention")(self._on_mention)
        # Every message event gets a listener (so every envelope is acknowledged); the listener
        # keeps only follow-ups in owned threads and direct messages.
        app.event("message")(self._on_message)
        app.error(self.on_error)
        self._register_feedback()
        self.notes.register(app)
        self.privacy.register(app)
        self.about.register(app)
        self.loop.register(app)

    # ------------------------------------------------------------------ slash commands

    def _acked_first(self, work: CommandWork) -> Callable[..., Awaitable[None]]:
        """A command listener that acks at once, then does `work`, reporting its failures.

        Failures go to the one error handler (`on_error`, also registered as `app.error`) from
        here rather than by raising into bolt: bolt's asyncio runner resets `ack.response` to
        None when a listener raises after ack(), so a failure within its 10 ms ack poll would
        lose the ack (Slack then shows the user a timeout).
        """

        async def listener(
            ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, body: dict[str, Any]
        ) -> None:
            await ack()
            self.intake.track_current_task()
            try:
                await work(command, respond)
            except Exception as exc:
                await self.on_error(exc, body, respond)

        return listener

    @_command("/ask")
    async def _on_ask(self, command: dict[str, Any], respond: AsyncRespond) -> None:
        user, channel = command["user_id"], command["channel_id"]
        admitted = await self._admit(self._command_request(command, "ask"), respond=respond)
        if admitted is None:
            return
        answer = await self.intake.ask(admitted)
        reply = self._reply(answer, user, admitted)
        ts = await self._post_public(channel, reply, respond=respond)
        if ts is not None:
            self._remember_thread(channel, ts)
            answer_id = None if answer.is_conversation else self._answer_id(admitted)
            if answer_id is not None and self.learning is not None:
                # The answer roots its thread: a correction goes there.
                self.learning.store.answer_posted(answer_id, ts)
            # Replies to the answer form its thread: they follow up on this question.
            self.intake.remember("slack", ts, admitted)

    @_command("/factcheck")
    async def _on_factcheck(self, command: dict[str, Any], respond: AsyncRespond) -> None:
        request = self._command_request(command, "factcheck")
        admitted = await self._admit(request, respond=respond)
        if admitted is None:
            return
        found = await self.intake.factchecks(admitted)
        reply = render_factchecks(found.notes, found.topic, found.language)
        await self._post_public(command["channel_id"], reply, respond=respond)

    @_command("/sources")
    async def _on_sources(self, command: dict[str, Any], respond: AsyncRespond) -> None:
        admitted = await self._admit(self._command_request(command, "sources"), respond=respond)
        if admitted is None:
            return
        info = self.intake.sources(admitted)
        await self._post_public(command["channel_id"], render_sources(info), respond=respond)

    @_command("/reindex")
    async def _on_reindex(self, command: dict[str, Any], respond: AsyncRespond) -> None:
        user = command["user_id"]
        who = f"{command.get('user_name') or 'unknown'} ({user_tag('slack', user)})"
        if not await self.is_moderator(user):
            log.warning("slack: /reindex refused for %s: not a moderator", who)
            await self.respond_ephemeral(respond, render_notice(NOT_A_MODERATOR, ":no_entry:"))
            return
        by = Moderator("slack", user, str(command.get("user_name") or "unknown"))

        async def rebuilding() -> None:
            notice = render_notice(REBUILDING, ":hourglass_flowing_sand:")
            await self.respond_ephemeral(respond, notice)

        actor = flows.Actor(who, log, "slack: ")
        done = await flows.reindex(self.service, by, "en", actor, f"slack:{who}", rebuilding)
        if isinstance(done, flows.Say):
            await self.respond_ephemeral(respond, render_notice(done.line, EMOJI[done.key]))
        elif isinstance(done, flows.ReindexFailure):
            failure = render_reindex_failure(done.problems, done.version)
            await self.respond_ephemeral(respond, failure)
        else:
            await self.respond_ephemeral(respond, render_reindex_report(done))

    @_command("/note")
    async def _on_note(self, command: dict[str, Any], respond: AsyncRespond) -> None:
        await self.notes.command(command, respond)

    @_command("/privacy")
    async def _on_privacy(self, command: dict[str, Any], respond: AsyncRespond) -> None:
        await self.privacy.command(command, respond)

    @_command("/about")
    async def _on_about(self, command: dict[str, Any], respond: AsyncRespond) -> None:
        await self.about.about(command, respond)

    @_command("/help")
    async def _on_help(self, command: dict[str, Any], respond: AsyncRespond) -> None:
        await self.about.help(command, respond)

    async def is_moderator(self, user: str) -> bool:
        """The core's rule (`bot/serving/moderation.py`): listed in SLACK_MODERATOR_IDS, or an admin or
        owner of the bot's own workspace per users.info (not cached, so a demotion applies at
        once; moderators' commands are rare)."""
        settings = self.settings
        if moderation.is_slack_moderator(settings, user, "", "", admin=False):
            return True
        try:
            found = await self.client.users_info(user=user)
        except SlackApiError as exc:
            # No user id in the log (ids are only ever stored as keyed hashes).
            log.warning("slack: users.info failed (%s): not a moderator", _error_code(exc))
            return False
        profile = found.get("user") or {}
        admin = any(bool(profile.get(k)) for k in ("is_admin", "is_owner", "is_primary_owner"))
        # A Slack Connect member's team_id is their own workspace's, not the bot's.
        team = str(profile.get("team_id") or "")
        return moderation.is_slack_moderator(settings, user, team, self.bot_team, admin)

    # ------------------------------------------------------------------ events

    async def _on_mention(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        if self._already_seen(body) or self._from_a_bot(event):
            return
        # Reply in the mention's thread, or start one under the mention.
        thread_ts = event.get("thread_ts") or event.get("ts")
        await self._answer_event(event, self._without_bot_mention(event.get("text", "")), thread_ts)

    async def _on_message(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        if (
            event.get("subtype") not in HUMAN_SUBTYPES
            or self._from_a_bot(event)
            or self._already_seen(body)
        ):
            return
        text = event.get("text") or ""
        thread_ts = event.get("thread_ts")
        if event.get("channel_type") != "im":  # in a DM every message is a question
            if self.bot_user_id and f"<@{self.bot_user_id}" in text:
                return  # the app_mention event for the same message answers it
            if not thread_ts or not await self._owns_thread(event.get("channel"), thread_ts):
                return  # not a follow-up in a thread the bot answered in
        await self._answer_event(event, self._without_bot_mention(text), thread_ts)

    async def _answer_event(self, event: dict[str, Any], text: str, thread_ts: str | None) -> None:
        self.intake.track_current_task()
        user, channel = event.get("user"), event.get("channel")
        if not user or not channel:
            return
        request = Request(
            "slack",
            user,
            slack_to_plain(text),
            # A DM is no workspace's to read (bot/community.py).
            guild=None if event.get("channel_type") in PRIVATE_TYPES else event.get("team"),
            channel=channel,
            conversation=thread_ts or (channel if event.get("channel_type") == "im" else None),
        )
        admitted = await self._admit(request, thread_ts=thread_ts)
        if admitted is None:
            return
        answer = await self.intake.ask(admitted)
        # A bare acknowledgement where the bot follows the conversation (a follow-up in its
        # thread, a DM: the `message` events kept by `_on_message`) gets a reaction, not a reply.
        if answer.act == "thanks" and event.get("type") == "message" and event.get("ts"):
            try:
                await self.client.reactions_add(
                    channel=channel, timestamp=str(event["ts"]), name=ACK_REACTION
                )
                return
            except SlackApiError as exc:  # e.g. an app installed before reactions:write
                log.info("slack: cannot react (%s): replying instead", _error_code(exc))
        reply = self._reply(answer, user, admitted)
        await self._post_public(channel, reply, thread_ts=thread_ts)
        if thread_ts is not None:
            self._remember_thread(channel, thread_ts)

    def _from_a_bot(self, event: dict[str, Any]) -> bool:
        return bool(
            event.get("bot_id")
            or event.get("bot_profile")
            or event.get("subtype") == "bot_message"
            or (self.bot_user_id and event.get("user") == self.bot_user_id)
        )

    def _already_seen(self, body: dict[str, Any]) -> bool:
        return not self.redelivery.first_time("event", str(body.get("event_id") or ""))

    def _without_bot_mention(self, text: str) -> str:
        if not self.bot_user_id:
            return text
        return re.sub(rf"<@{re.escape(self.bot_user_id)}(\|[^>]*)?>", " ", text)

    # ------------------------------------------------------------------ shared steps

    @staticmethod
    def _command_request(command: dict[str, Any], kind: Kind) -> Request:
        return Request(
            "slack",
            command["user_id"],
            slack_to_plain(command.get("text", "")),
            kind,
            guild=None if _is_dm(command) else command.get("team_id"),
            channel=command["channel_id"],
        )

    async def _admit(
        self,
        request: Request,
        *,
        respond: AsyncRespond | None = None,
        thread_ts: str | None = None,
    ) -> Admitted | None:
        """The intake's admission, or None after telling the user (ephemeral) why not: through
        the command's `respond`, else in the request's channel (and thread); nothing when they
        were told moments ago (`Refusal.notify`)."""
        decided = self.intake.admit(request)
        if not isinstance(decided, Refusal):
            return decided
        if not decided.notify:
            return None  # told moments ago: a flood gets one notice, not one per message
        emoji = ":pencil2:"
        if decided.reason == "rate_limited":
            log.info(
                "slack: cooldown for %s (%.1fs left)",
                user_tag("slack", request.user),
                decided.wait_seconds,
            )
            emoji = ":hourglass_flowing_sand:"
        notice = render_notice(decided.message, emoji)
        if respond is not None:
            await self.respond_ephemeral(respond, notice)
        elif request.channel is not None:
            await self.post_ephemeral(request.channel, request.user, thread_ts, notice)
        return None

    async def _post_public(
        self,
        channel: str,
        message: SlackMessage,
        *,
        thread_ts: str | None = None,
        respond: AsyncRespond | None = None,
    ) -> str | None:
        """chat.postMessage; returns the message ts (None when delivered via response_url)."""
        try:
            posted = await self.client.chat_postMessage(
                channel=channel,
                thread_ts=thread_ts,
                unfurl_links=False,
                unfurl_media=False,
                **message.payload(),
            )
        except SlackApiError as exc:
            code = _error_code(exc)
            if respond is None or code not in NOT_POSTABLE:
                raise
            log.info(
                "slack: cannot post in %s (%s): answering via response_url",
                channel_tag("slack", channel, channel.startswith("D")),
                code,
            )
            await respond(response_type="in_channel", replace_original=False, **message.payload())
            return None
        return str(posted.get("ts") or "") or None

    async def post_ephemeral(
        self, channel: str, user: str, thread_ts: str | None, message: SlackMessage
    ) -> None:
        await self.client.chat_postEphemeral(
            channel=channel, user=user, thread_ts=thread_ts, **message.payload()
        )

    @staticmethod
    async def respond_ephemeral(respond: AsyncRespond, message: SlackMessage) -> None:
        await respond(response_type="ephemeral", replace_original=False, **message.payload())

    # ------------------------------------------------------------------ learning loop

    def _register_feedback(self) -> None:
        self.app.action(VOTE_ACTION)(self._on_vote)
        self.app.view(REASON_CALLBACK)(self._on_reason)

    def _answer_id(self, admitted: Admitted) -> str | None:
        """The id the 👍/👎 under this answer carry (None: no buttons)."""
        return self.learning.answer_id(admitted) if self.learning is not None else None

    def _reply(self, answer: Answer, asker: str, admitted: Admitted) -> SlackMessage:
        """Any act rendered (bot/chat/slack/acts.py): 👍/👎 under an answer about the article,
        none under a conversation reply; feedback in words is offered the 👎 form instead."""
        feedback = self.learning is not None and self.learning.feedback
        answer_id = None if answer.is_conversation else self._answer_id(admitted)
        shown = render_reply(
            answer,
            asker=asker,
            answer_id=answer_id,
            feedback_on=answer.feedback_on if feedback else None,
        )
        # A refused answer ends with the loop's buttons (🔔, Ask a moderator).
        return self.loop.decorate(shown, answer, answer_id, admitted.request.guild)

    def _remember_thread(self, channel: str, thread_ts: str) -> None:
        self.threads.remember(f"{channel}:{thread_ts}")

    async def _owns_thread(self, channel: str | None, thread_ts: str) -> bool:
        """A thread the bot answered in: in memory, else in the store (before a restart)."""
        return bool(channel) and await self.threads.owns(f"{channel}:{thread_ts}")

    async def _on_vote(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        """👍/👎 pressed: record it; thank privately, or (a 👎 recorded) open the reason modal."""
        await ack()
        self.intake.track_current_task()
        try:
            await self._vote(body, action, respond)
        except Exception as exc:
            await self.on_error(exc, body, respond)

    async def _vote(
        self, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        vote = 1 if str(action.get("action_id", "")).endswith("_up") else -1
        answer_id = str(action.get("value") or "")
        language = feedback_language(action.get("block_id"))
        user = str((body.get("user") or {}).get("id") or "")
        reply = await flows.cast_vote(
            self.learning, "slack", answer_id, user, vote, within=MODAL_WITHIN
        )
        trigger = body.get("trigger_id")
        message_ = body.get("message") or {}
        if trigger and reply.asks_reason(vote):
            channel = (body.get("channel") or {}).get("id")
            thread = message_.get("thread_ts") or message_.get("ts")
            view = reason_modal(
                answer_id, language, channel, message_.get("thread_ts"), answer_ts=thread
            )
            await self.client.views_open(trigger_id=trigger, view=view)
            return
        emoji = ":pray:" if reply.counted else ":hourglass:"
        said = render_notice(reply.line(language), emoji)
        if vote < 0 and reply.counted:  # 🔔 and "Ask a moderator" under the reply to a 👎
            team = (body.get("team") or {}).get("id")
            thread = message_.get("thread_ts") or message_.get("ts")
            said = self.loop.after_thumbs_down(said, answer_id, language, team, thread)
        await self.respond_ephemeral(respond, said)

    async def _on_reason(self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        """The 👎 reason modal was submitted: keep the reason, thank privately where the
        answer is."""
        await ack()
        self.intake.track_current_task()
        try:
            metadata, reason = submitted_reason(view)
            user = str((body.get("user") or {}).get("id") or "")
            language: Language = "fr" if metadata.get("lang") == "fr" else "en"
            answer_id = str(metadata.get("answer") or "")
            reply = await flows.cast_vote(
                self.learning, "slack", answer_id, user, -1, reason or None
            )
            channel = metadata.get("channel")
            if channel and user:
                notice = render_notice(reply.line(language), ":pray:")
                if reply.counted:  # 🔔 and "Ask a moderator" under the reply to a 👎
                    team = (body.get("team") or {}).get("id") or (body.get("user") or {}).get(
                        "team_id"
                    )
                    thread = metadata.get("answer_ts") or metadata.get("thread_ts")
                    notice = self.loop.after_thumbs_down(notice, answer_id, language, team, thread)
                await self.post_ephemeral(channel, user, metadata.get("thread_ts"), notice)
        except Exception as exc:
            await self.on_error(exc, body, None)

    @_command("/unanswered")
    async def _on_unanswered(self, command: dict[str, Any], respond: AsyncRespond) -> None:
        user = command["user_id"]
        who = f"{command.get('user_name') or 'unknown'} ({user_tag('slack', user)})"
        if not await self.is_moderator(user):
            log.warning("slack: /unanswered refused for %s: not a moderator", who)
            notice = render_notice(NOT_A_MODERATOR_REPORT, ":no_entry:")
            await self.respond_ephemeral(respond, notice)
            return
        days = parse_days(slack_to_plain(command.get("text", "")))
        if days is None:
            usage = message("report.bad_days", "en", most=MAX_REPORT_DAYS)
            await self.respond_ephemeral(respond, render_notice(usage, ":pencil2:"))
            return
        # This workspace's questions only (never another's, nor anyone's DMs).
        team = Community("slack", str(command.get("team_id") or ""))
        actor = flows.Actor(who, log, "slack: ")
        found = await flows.unanswered(self.learning, days, team, "en", actor)
        if isinstance(found, flows.Say):
            await self.respond_ephemeral(respond, render_notice(found.line, EMOJI[found.key]))
            return
        await self.respond_ephemeral(respond, render_report(found))

    # ------------------------------------------------------------------ errors

    async def on_error(
        self, error: Exception, body: dict[str, Any], respond: AsyncRespond | None
    ) -> None:
        """The one error handler: log the exception, tell the user briefly (never a traceback)."""
        kind = body.get("command") or (body.get("event") or {}).get("type") or body.get("type")
        log.error("slack: handling %s failed", kind, exc_info=error)
        notice = render_notice(SORRY, ":warning:")
        try:
            if body.get("response_url") and respond is not None:
                await self.respond_ephemeral(respond, notice)
                return
            event = body.get("event") or {}
            channel, user = event.get("channel"), event.get("user")
            if channel and user and not self._from_a_bot(event):
                thread_ts = event.get("thread_ts") or (
                    event.get("ts") if event.get("type") == "app_mention" else None
                )
                await self.post_ephemeral(channel, user, thread_ts, notice)
        except Exception:
            log.warning("slack: could not tell the user about the failure", exc_info=True)
