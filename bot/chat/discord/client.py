"""The Discord adapter: slash commands, mentions and threads over `FactBotService`.

Built like discord.py's own examples: a `discord.Client` subclass owning an
`app_commands.CommandTree`, commands synced in `setup_hook`. It renders what the service returns
(`discord_render`) and never retrieves anything itself.

- `/ask question` (public), `/factcheck [topic]`, `/sources`, `/reindex` and `/unanswered [days]`
  (moderators, ephemeral); `/note add|edit|remove|show|history` (moderators, `discord_notes`).
- Every answer carries 👍/👎 buttons that survive a restart (`discord_feedback`) when questions
  are logged (`bot/learning/loop.py`); the threads the bot opened are remembered in the store too.
- `@factbot question` anywhere it can read, or any message in ASK_CHANNEL_IDS: answered in a new
  public thread from that message; later messages in that thread are answered without a mention.
- Safety: no reply can ping anyone (`AllowedMentions.none()` on the client and on every send),
  echoed user text is escaped, one tree error handler. Cleaning, the per-user rate limit and the
  language are the intake's (`bot/serving/intake.py`): each command below admits its request, then renders.

Each slash command is defined in one place, its `@app_commands.command` metadata on its body.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import re
import time
from typing import TYPE_CHECKING, Any, Final

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.chat import AdapterStartError, flows
from bot.chat.discord import feedback as discord_feedback
from bot.chat.discord import loop as discord_loop
from bot.chat.discord import notes as discord_notes
from bot.chat.discord import privacy as discord_privacy
from bot.chat.discord import render
from bot.chat.discord.checks import (
    NOT_MODERATOR,
    CommandClient,
    NotModerator,
    is_moderator,
    moderator_refusal,
    not_moderator,
)
from bot.chat.discord.checks import moderators_only as _moderators_only
from bot.chat.discord.checks import ui_language as _ui_language
from bot.chat.redelivery import Redelivery
from bot.chat.threads import OwnThreads
from bot.community import Community
from bot.learning.loop import DEFAULT_REPORT_DAYS, MAX_REPORT_DAYS
from bot.learning.report import Report
from bot.logs import user_tag
from bot.messages import text
from bot.notes.records import Moderator
from bot.serving import moderation
from bot.serving.intake import Admission, Admitted, Intake, Kind, Refusal, Request
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.answer import Answer
    from bot.chat.delivery import Deliveries
    from bot.learning.loop import LearningLoop
    from bot.ops.metrics import TransportLink
    from bot.serving.service import FactBotService

__all__ = [
    "INVITE_PERMISSIONS",
    "NOT_MODERATOR",
    "FactBotClient",
    "ShardedFactBotClient",
    "application_id_from_token",
    "bot_intents",
    "invite_url",
    "is_moderator",
    "make_client",
    "moderator_refusal",
    "not_moderator",
    "serve",
]

log = logging.getLogger("factbot.discord")

NO_MENTIONS = discord.AllowedMentions.none()

# What the bot needs in a channel; `factbot discord invite` asks for exactly these.
INVITE_PERMISSIONS = discord.Permissions(
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,
    embed_links=True,
    read_message_history=True,
)
INVITE_SCOPES = ("bot", "applications.commands")

THREAD_ARCHIVE_MINUTES: Final = 1440  # a day of inactivity

TOKEN_MISSING = (
    "DISCORD_TOKEN is not set: copy the bot token from the Developer Portal "
    "(your application > Bot > Reset Token) into .env"
)
TOKEN_REJECTED = (
    "Discord rejected DISCORD_TOKEN (401 Unauthorized): reset it in the Developer Portal "
    "(your application > Bot > Reset Token) and update .env"
)
INTENT_REFUSED = (
    "Discord refused the Message Content intent: enable it in the Developer Portal "
    "(your application > Bot > Privileged Gateway Intents > Message Content Intent)"
)


def bot_intents() -> discord.Intents:
    """Guilds (channels, roles, threads), guild messages, and message content: the last one is
    privileged and must be enabled in the Developer Portal for mentions in ASK_CHANNEL_IDS and
    thread follow-ups to carry their text."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.message_content = True
    return intents


def application_id_from_token(token: str) -> int:
    """The bot's id from its token (the first segment is the base64 of the id); 0 if unreadable.

    For applications created since 2020 the bot user id is the application id."""
    first = token.strip().split(".", 1)[0]
    if not first:
        return 0
    try:
        raw = base64.urlsafe_b64decode(first + "=" * (-len(first) % 4))
        return int(raw.decode("ascii"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return 0


def invite_url(settings: Settings) -> str:
    """The OAuth2 URL that adds the bot to a server with the scopes and permissions it needs."""
    app_id = settings.discord_application_id or application_id_from_token(settings.discord_token)
    if not app_id:
        raise AdapterStartError(
            "Set DISCORD_APPLICATION_ID (Developer Portal > General Information > Application ID) "
            "or DISCORD_TOKEN to build the invite link"
        )
    return discord.utils.oauth_url(app_id, permissions=INVITE_PERMISSIONS, scopes=INVITE_SCOPES)


# `interaction.extras` key: True while a public "thinking…" placeholder awaits its first followup.
PUBLIC_PLACEHOLDER = "factbot.public_placeholder"


async def defer_publicly(interaction: discord.Interaction[FactBotClient]) -> None:
    await interaction.response.defer(thinking=True)
    interaction.extras[PUBLIC_PLACEHOLDER] = True


async def send_ephemeral(interaction: discord.Interaction[FactBotClient], line: str) -> None:
    """A private one-liner: the initial response when still possible, else a followup."""
    line = render.clip_message(line)
    if not interaction.response.is_done():
        await interaction.response.send_message(line, ephemeral=True, allowed_mentions=NO_MENTIONS)
        return
    if interaction.extras.get(PUBLIC_PLACEHOLDER):
        # The first followup after a public defer takes the placeholder's place and is public
        # whatever its flags (discord-api-docs #2866, #7091): remove the placeholder first.
        with contextlib.suppress(discord.HTTPException):
            await interaction.delete_original_response()
        interaction.extras[PUBLIC_PLACEHOLDER] = False
    await interaction.followup.send(line, ephemeral=True, allowed_mentions=NO_MENTIONS)


def _id(value: int | None) -> str | None:
    return None if value is None else str(value)


async def _admit(
    interaction: discord.Interaction[FactBotClient], kind: Kind, typed: str = ""
) -> Admitted | None:
    """The intake's admission of this command, or None after telling the user privately why
    not (empty or too long, or their rate limit is running); told moments ago, nothing is sent
    (Discord then shows the user alone that the command did not respond)."""
    request = Request(
        "discord",
        str(interaction.user.id),
        typed,
        kind,
        guild=_id(interaction.guild_id),
        channel=_id(interaction.channel_id),
        # In a thread or a DM, earlier questions there are the context of this one.
        conversation=_id(interaction.channel_id)
        if isinstance(interaction.channel, discord.Thread | discord.DMChannel)
        else None,
        locale=_ui_language(interaction),
    )
    decided = interaction.client.intake.admit(request)
    if isinstance(decided, Refusal):
        if decided.notify:
            await send_ephemeral(interaction, decided.message)
        return None
    return decided


class FactBotTree(app_commands.CommandTree["FactBotClient"]):
    """The command tree with the one error handler of the adapter."""

    async def interaction_check(self, interaction: discord.Interaction[FactBotClient], /) -> bool:
        # Runs first in the task that runs the command: every command is one `close` waits for.
        # A copy of an interaction already handled is dropped here, before any response (Discord
        # would refuse a second one anyway, 400 code 40060).
        if interaction.client.already_seen("interaction", interaction.id):
            return False
        interaction.client.intake.track_current_task()
        return True

    async def on_error(
        self,
        interaction: discord.Interaction[FactBotClient],
        error: app_commands.AppCommandError,
        /,
    ) -> None:
        original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        command = interaction.command
        name = command.qualified_name if command else "?"  # "note add" for a subcommand
        language = _ui_language(interaction)
        if isinstance(error, NotModerator):
            line = str(error)  # worded by the check, in the member's language
        elif isinstance(error, app_commands.NoPrivateMessage):
            line = text("command.guild_only", language)
        elif isinstance(error, app_commands.CheckFailure):
            line = text("command.not_allowed", language)
        elif isinstance(error, app_commands.CommandNotFound):
            log.warning("unknown command /%s: the synced commands are out of date", name)
            line = text("command.out_of_date", language)
        else:
            # The traceback goes to the log, never to the chat.
            log.error(
                "/%s by %s in guild %s failed",
                name,
                user_tag("discord", interaction.user.id),
                interaction.guild_id,
                exc_info=original,
            )
            line = text("error.sorry", language)
        try:
            await send_ephemeral(interaction, line)
        except Exception as exc:  # token expired, or shutting down: the handler must not raise
            log.warning(
                "could not tell %s about an error: %r",
                user_tag("discord", interaction.user.id),
                exc,
            )


# ---------------------------------------------------------------------- slash commands


@app_commands.command(name="ask", description="Ask about the article: quotes and fact-checks")
@app_commands.describe(question="Your question, in French or English")
async def ask(interaction: discord.Interaction[FactBotClient], question: str) -> None:
    # Admit before deferring: once the public "thinking" message exists, a refusal could no
    # longer be private.
    admitted = await _admit(interaction, "ask", question)
    if admitted is None:
        return
    await defer_publicly(interaction)
    answer = await interaction.client.intake.ask(admitted)
    await interaction.followup.send(
        embed=render.answer_embed(answer),
        allowed_mentions=NO_MENTIONS,
        view=interaction.client.feedback_buttons(admitted, answer),
    )
    interaction.extras[PUBLIC_PLACEHOLDER] = False
    log.info(
        "/ask by %s (%s) in guild %s: %s, %d quotes, %d notes (%.0f ms)",
        interaction.user.display_name,
        user_tag("discord", interaction.user.id),
        interaction.guild_id,
        "refused" if answer.refused else "answered",
        len(answer.sources),
        len(answer.factchecks),
        (time.monotonic() - admitted.started) * 1000,
    )


@app_commands.command(name="factcheck", description="The fact-check notes on the article")
@app_commands.describe(topic="Only the notes about this (optional)")
async def factcheck(
    interaction: discord.Interaction[FactBotClient], topic: str | None = None
) -> None:
    # The full list is two public messages: it is rate-limited like a question.
    admitted = await _admit(interaction, "factcheck", topic or "")
    if admitted is None:
        return
    await defer_publicly(interaction)
    found = await interaction.client.intake.factchecks(admitted)
    for embed in render.factcheck_embeds(found.notes, found.topic, found.language):
        await interaction.followup.send(embed=embed, allowed_mentions=NO_MENTIONS)
        interaction.extras[PUBLIC_PLACEHOLDER] = False


@app_commands.command(name="sources", description="What factbot knows: documents and index")
async def sources(interaction: discord.Interaction[FactBotClient]) -> None:
    admitted = await _admit(interaction, "sources")
    if admitted is None:
        return
    info = interaction.client.intake.sources(admitted)
    await interaction.response.send_message(
        embed=render.sources_embed(info), allowed_mentions=NO_MENTIONS
    )


# Hidden from non-moderators by default (server admins can change that in Integrations), and
# enforced by the check because that default can be overridden per server.
@app_commands.command(name="reindex", description="Moderators: rebuild the index")
@app_commands.default_permissions(manage_guild=True)
@app_commands.guild_only()
@app_commands.check(_moderators_only)
async def reindex(interaction: discord.Interaction[FactBotClient]) -> None:
    user = interaction.user
    by = Moderator("discord", str(user.id), user.display_name)

    async def defer() -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)

    done = await flows.reindex(
        interaction.client.service, by, _ui_language(interaction), _actor(interaction), None, defer
    )
    if isinstance(done, flows.Say):
        reply = done.line
    elif isinstance(done, flows.ReindexFailure):
        reply = render.reindex_failed_text(done.problems, done.version)
    else:
        reply = render.reindex_text(done)
    await interaction.followup.send(reply, ephemeral=True, allowed_mentions=NO_MENTIONS)


@app_commands.command(
    name="unanswered", description="Moderators: questions not answered, answers voted down"
)
@app_commands.describe(days=f"The last N days (default {DEFAULT_REPORT_DAYS})")
@app_commands.default_permissions(manage_guild=True)
@app_commands.guild_only()
@app_commands.check(_moderators_only)
async def unanswered(
    interaction: discord.Interaction[FactBotClient],
    days: app_commands.Range[int, 1, MAX_REPORT_DAYS] = DEFAULT_REPORT_DAYS,
) -> None:
    language = _ui_language(interaction)

    async def defer() -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)

    # This server's questions only (guild_only: there is one).
    server = Community("discord", str(interaction.guild_id))
    found = await flows.unanswered(
        interaction.client.learning, days, server, language, _actor(interaction), defer
    )
    if not isinstance(found, Report):
        await send_ephemeral(interaction, found.line)
        return
    await interaction.followup.send(
        embed=render.report_embed(found, language), ephemeral=True, allowed_mentions=NO_MENTIONS
    )


def _actor(interaction: discord.Interaction[FactBotClient]) -> flows.Actor:
    """The member running a moderators' command, as the log names them (never their id)."""
    user = interaction.user
    name = f"{user.display_name} ({user_tag('discord', user.id)}) in guild {interaction.guild_id}"
    return flows.Actor(name, log)


# Command objects hold no per-tree state: every client's tree adds these same ones.
COMMANDS: tuple[app_commands.Command[Any, ..., None] | app_commands.Group, ...] = (
    ask,
    factcheck,
    sources,
    reindex,
    unanswered,
    discord_notes.note,  # /note add|edit|remove|show|history (moderators)
    discord_privacy.privacy,  # /privacy: what is kept about the member, and erase it
)


class FactBotClient(CommandClient):
    """One connection (or, as `ShardedFactBotClient`, several shards) answering questions."""

    def __init__(
        self,
        settings: Settings,
        service: FactBotService,
        intake: Intake | None = None,
        learning: LearningLoop | None = None,
        **options: Any,
    ) -> None:
        if settings.discord_application_id:  # else discord.py reads it at login
            options.setdefault("application_id", settings.discord_application_id)
        super().__init__(intents=bot_intents(), allowed_mentions=NO_MENTIONS, **options)
        self.settings = settings
        self.service = service
        self.intake = intake or Intake(service, Admission.for_chat(settings))
        # The question log, votes, report and thread memory; None: none of them (no buttons).
        self.learning = learning
        self.tree = FactBotTree(self)
        for command in COMMANDS:
            self.tree.add_command(command)
        self.threads = OwnThreads("discord", learning)  # the threads it opened
        self.redelivery = Redelivery(log)  # interaction and message ids, to answer each once
        self.link: TransportLink | None = None  # the gateway's state, for /healthz and metrics

    async def close(self) -> None:
        # A restart (deploy, SIGTERM) should not drop questions already being answered: give
        # them a moment while the HTTP session is still open, then close.
        await self.intake.drain(self.settings.shutdown_grace_seconds)
        await super().close()

    # ------------------------------------------------------------------ start-up

    async def setup_hook(self) -> None:
        # 👍/👎 presses are understood from their custom_id, also on answers sent before a restart.
        self.add_dynamic_items(discord_feedback.VoteButton)
        await self._use_advertised_gateway()
        await self._warn_about_moderation()
        await self._sync_commands()

    async def _warn_about_moderation(self) -> None:
        """Say once at start when no moderator is configured, and when anyone can add the bot to
        their server (a public application) while no server list says which are the operator's."""
        settings = self.settings
        if not moderation.discord_moderation_enabled(settings):
            log.warning(moderation.DISABLED_LOG)
        if settings.discord_guild_ids or settings.moderator_guild_ids:
            return
        try:
            app = await self.application_info()
        except discord.HTTPException as exc:
            log.warning("could not read the application info (%s %s)", exc.status, exc.text)
            return
        if app.bot_public:
            log.warning(
                "the Discord application is public (anyone can add the bot to their server) and "
                "no server list is set: turn 'Public Bot' off in the Developer Portal (your "
                "application > Bot), and list your servers in DISCORD_GUILD_IDS or "
                "MODERATOR_GUILD_IDS (docs/discord.md, 'Who moderates')"
            )

    def _listed(self, guild_id: int) -> bool:
        settings = self.settings
        return guild_id in settings.discord_guild_ids or guild_id in settings.moderator_guild_ids

    async def _leave_if_unlisted(self, guild: discord.Guild) -> None:
        """DISCORD_LEAVE_UNLISTED_GUILDS: leave a server the operator did not list."""
        if not self.settings.discord_leave_unlisted_guilds or self._listed(guild.id):
            return
        log.warning("leaving guild %s: not in DISCORD_GUILD_IDS or MODERATOR_GUILD_IDS", guild.id)
        try:
            await guild.leave()
        except discord.HTTPException as exc:
            log.error("could not leave guild %s (%s %s)", guild.id, exc.status, exc.text)

    async def on_guild_join(self, guild: discord.Guild) -> None:
        await self._leave_if_unlisted(guild)

    async def on_guild_available(self, guild: discord.Guild) -> None:
        # Each server the bot is in at connection time (GUILD_CREATE after READY).
        await self._leave_if_unlisted(guild)

    async def _use_advertised_gateway(self) -> None:
        # discord.py connects to a hard-coded wss://gateway.discord.gg unless asked otherwise;
        # take the URL Discord (or DISCORD_API_BASE's server) advertises instead, as the API docs
        # recommend. The attribute is class-wide: one bot per process.
        try:
            _, url, _ = await self.http.get_bot_gateway()
        except discord.GatewayNotFound:
            log.warning("GET /gateway/bot failed; using %s", DiscordWebSocket.DEFAULT_GATEWAY)
            return
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)

    async def _sync_commands(self) -> None:
        guild_ids = self.settings.discord_guild_ids
        if not guild_ids:
            synced = await self.tree.sync()
            log.info("synced %d commands globally (may take up to an hour to show)", len(synced))
            return
        for guild_id in guild_ids:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            try:
                synced = await self.tree.sync(guild=guild)
            except discord.HTTPException as exc:
                # One server that kicked the bot must not stop the others.
                log.error(
                    "syncing commands to guild %s failed (%s %s): is the bot in that server, "
                    "invited with the applications.commands scope (factbot discord invite)?",
                    guild_id,
                    exc.status,
                    exc.text,
                )
                continue
            log.info("synced %d commands to guild %s", len(synced), guild_id)

    async def on_ready(self) -> None:  # also after a new IDENTIFY (a session that was lost)
        log.info("connected to Discord as %s in %d servers", self.user, len(self.guilds))
        if self.link is not None:
            self.link.up()

    async def on_resumed(self) -> None:
        if self.link is not None:
            self.link.up()

    async def on_disconnect(self) -> None:  # discord.py reconnects by itself
        if self.link is not None:
            self.link.down()

    def already_seen(self, kind: str, event_id: int) -> bool:
        """True (with one log line) for an interaction or message id handled before; else
        remembers it."""
        return not self.redelivery.first_time(kind, event_id)

    # ------------------------------------------------------------------ mentions and threads

    def owns_thread(self, channel: object) -> bool:
        if self.threads.known(str(getattr(channel, "id", ""))):
            return True
        me = self.user
        return isinstance(channel, discord.Thread) and me is not None and channel.owner_id == me.id

    async def _in_own_thread(self, channel: object) -> bool:
        """`owns_thread`, or a thread the store remembers (opened before a restart, and not in
        the cache). Only a thread, or a channel the cache does not know, costs a look-up."""
        if self.owns_thread(channel):
            return True
        if not isinstance(channel, discord.Thread | discord.PartialMessageable):
            return False
        return await self.threads.owns(str(channel.id))

    def feedback_buttons(self, admitted: Admitted, answer: Answer | None = None) -> discord.ui.View:
        """The 👍/👎 view for the answer to `admitted` (a refused `answer`: with 🔔 and "Ask a
        moderator"); `MISSING` (send no components) when questions are not logged."""
        answer_id = self.learning.answer_id(admitted) if self.learning is not None else None
        if not answer_id:
            missing: discord.ui.View = discord.utils.MISSING
            return missing
        view = discord_feedback.feedback_view(answer_id)
        if answer is not None and answer.refused:
            guild = admitted.request.guild
            guild_id = int(guild) if guild and guild.isdigit() else None
            for button in discord_loop.buttons(self, answer_id, guild_id, answer.language):
                view.add_item(button)
        return view

    async def on_interaction(self, interaction: discord.Interaction[FactBotClient]) -> None:
        await discord_feedback.on_interaction(interaction)
        await discord_loop.on_interaction(interaction)
        await discord_notes.on_interaction(interaction)
        await discord_privacy.on_interaction(interaction)

    async def on_message(self, message: discord.Message) -> None:
        me = self.user
        if me is None or message.author.bot or message.author.id == me.id:
            return
        if message.guild is None or message.type not in (
            discord.MessageType.default,
            discord.MessageType.reply,
        ):
            return
        in_own_thread = await self._in_own_thread(message.channel)
        mentioned = any(u.id == me.id for u in message.mentions)
        in_ask_channel = message.channel.id in self.settings.ask_channel_ids
        if not (mentioned or in_own_thread or in_ask_channel):
            return
        if self.already_seen("message", message.id):
            return
        self.intake.track_current_task()
        try:
            await self._answer_message(message, me.id, in_own_thread)
        except Exception:
            log.exception(
                "answering message %s in channel %s failed", message.id, message.channel.id
            )
            if not self.is_closed():
                with contextlib.suppress(Exception):  # best effort: never a traceback in chat
                    await message.reply(
                        text("error.sorry", "en"),
                        mention_author=False,
                        allowed_mentions=NO_MENTIONS,
                    )

    async def _answer_message(self, message: discord.Message, me: int, in_own_thread: bool) -> None:
        request = Request(
            "discord",
            str(message.author.id),
            re.sub(rf"<@!?{me}>", " ", message.content),
            guild=_id(message.guild.id if message.guild else None),
            channel=str(message.channel.id),
            # A thread opened from a message has that message's id.
            conversation=str(message.channel.id if in_own_thread else message.id),
        )
        admitted = self.intake.admit(request)
        if isinstance(admitted, Refusal):
            # Told moments ago: nothing at all, not even a reaction (an API call per message of
            # a flood, and rate-limited per channel by Discord itself).
            if admitted.notify:
                await message.reply(
                    admitted.message, mention_author=False, allowed_mentions=NO_MENTIONS
                )
            return
        thread = None if in_own_thread else await self._open_thread(message, admitted.text)
        where: discord.abc.Messageable = thread or message.channel
        with contextlib.suppress(discord.HTTPException):
            await where.typing()  # one indicator (shown up to 10 s); cosmetic, never fatal
        answer = await self.intake.ask(admitted)
        embed = render.answer_embed(answer)
        buttons = self.feedback_buttons(admitted, answer)
        if thread is not None:
            await thread.send(embed=embed, allowed_mentions=NO_MENTIONS, view=buttons)
        else:  # in our own thread, or where no thread could be opened: reply to the message
            await message.reply(
                embed=embed, mention_author=False, allowed_mentions=NO_MENTIONS, view=buttons
            )
        log.info(
            "message question by %s (%s) in channel %s: %s",
            message.author.display_name,
            user_tag("discord", message.author.id),
            where.id if isinstance(where, discord.abc.Snowflake) else "?",
            "refused" if answer.refused else "answered",
        )

    async def _open_thread(self, message: discord.Message, question: str) -> discord.Thread | None:
        """A public thread from the message, or None where threads are impossible (already in a
        thread, a voice channel's chat, missing permission): the caller then replies."""
        if not isinstance(message.channel, discord.TextChannel):
            return None
        try:
            thread = await message.create_thread(
                name=render.thread_name(question), auto_archive_duration=THREAD_ARCHIVE_MINUTES
            )
        except discord.HTTPException as exc:
            log.info(
                "cannot open a thread in channel %s (%s %s); replying instead",
                message.channel.id,
                exc.status,
                exc.text,
            )
            return None
        self.threads.remember(str(thread.id))
        return thread


class ShardedFactBotClient(FactBotClient, discord.AutoShardedClient):
    """`FactBotClient` over several shards (DISCORD_SHARD_COUNT / DISCORD_SHARD_IDS)."""


def make_client(
    settings: Settings,
    service: FactBotService,
    intake: Intake | None = None,
    learning: LearningLoop | None = None,
    **options: Any,
) -> FactBotClient:
    """A client for these settings: sharded when DISCORD_SHARD_COUNT is set."""
    count, ids = settings.discord_shard_count, settings.discord_shard_ids
    if ids and not count:
        raise AdapterStartError(
            "DISCORD_SHARD_IDS needs DISCORD_SHARD_COUNT (the total shard count)"
        )
    if any(i >= count for i in ids):
        raise AdapterStartError(
            f"DISCORD_SHARD_IDS must be below DISCORD_SHARD_COUNT ({count}), got {list(ids)}"
        )
    if count:
        return ShardedFactBotClient(
            settings,
            service,
            intake,
            learning,
            shard_count=count,
            shard_ids=list(ids) or None,
            **options,
        )
    return FactBotClient(settings, service, intake, learning, **options)


async def serve(
    settings: Settings,
    service: FactBotService,
    intake: Intake | None = None,
    stopping: asyncio.Event | None = None,
    learning: LearningLoop | None = None,
    link: TransportLink | None = None,
    deliveries: Deliveries | None = None,
) -> None:
    """Run the Discord bot until cancelled, closed, or `stopping` is set (then it lets the answers
    in flight finish and disconnects); `intake` defaults to one of its own. With `learning`,
    answers carry 👍/👎, /unanswered reports, and the bot's threads outlive a restart; `link`
    follows the gateway connection (bot/ops/metrics.py); with `deliveries`, the notifier's
    Discord notices go through this client (bot/chat/discord/loop.py).

    Raises `AdapterStartError` (one operator line) for a missing or rejected token, a refused
    privileged intent, or bad shard settings."""
    token = settings.discord_token.strip()
    if not token:
        raise AdapterStartError(TOKEN_MISSING)
    client = make_client(settings, service, intake, learning)
    client.link = link
    client.deliveries = deliveries
    if deliveries is not None:
        deliveries.register("discord", discord_loop.DiscordDelivery(client))
    # discord.py has no per-client hook for the REST base: `Route.BASE` is read by every route
    # (bot requests and interaction webhooks alike) when it is built. Both class attributes are
    # put back on exit so that nothing leaks into whatever runs next in this process.
    saved = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    Route.BASE = settings.discord_api_base.rstrip("/")
    closer = asyncio.create_task(_close_when(stopping, client)) if stopping else None
    try:
        async with client:
            await client.start(token)
    except discord.LoginFailure:
        raise AdapterStartError(TOKEN_REJECTED) from None
    except discord.PrivilegedIntentsRequired:
        raise AdapterStartError(INTENT_REFUSED) from None
    except discord.ConnectionClosed as exc:
        if exc.code == 4004:  # the REST login passed but the gateway refused the token
            raise AdapterStartError(TOKEN_REJECTED) from None
        raise
    except (aiohttp.ClientConnectionError, OSError) as exc:
        # Raised by the login request only: once connected, discord.py reconnects by itself.
        raise AdapterStartError(
            f"cannot reach the Discord API at {Route.BASE} ({type(exc).__name__}); "
            "check the network or DISCORD_API_BASE"
        ) from None
    finally:
        if closer is not None:
            closer.cancel()
        if link is not None:
            link.down()
        if deliveries is not None:
            deliveries.unregister("discord")
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved


async def _close_when(stopping: asyncio.Event, client: FactBotClient) -> None:
    await stopping.wait()
    await client.close()  # drains the answers in flight first
