"""Issue 20, who moderates: only the people the operator named, on Discord and Slack, with a
cooldown on their changes (bot/serving/moderation.py).

Units for the rule, the cooldown (a fake clock) and the settings; end to end, the real discord.py
client against the fake Discord with the commands synced globally (the default), and the real
slack_bolt app against the fake Slack.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bot.chat.discord import client as discord_bot
from bot.chat.discord.notes import form_custom_id
from bot.messages import text
from bot.notes.records import Moderator, NoteForm, NoteSaved
from bot.serving import moderation
from bot.serving.moderation import DiscordMember, ModeratorCooldown, TooSoon
from bot.serving.service import FactBotService
from bot.settings import Settings, SettingsError
from tests.chat_support import running_slack
from tests.fakes.discord_server import MANAGE_GUILD, FakeDiscord
from tests.fakes.slack_server import TEAM_ID, FakeSlack
from tests.test_discord_e2e import running_bot
from tests.test_notes_discord import VALID, as_submitted, modal_of, private_reply, whole_text
from tests.test_slack_app import StubService, block_texts, stub_settings

pytestmark = pytest.mark.timeout(300)

GUILD, OTHER_GUILD, ROLE, LISTED_USER, MEMBER = 11, 12, 21, 31, 41
ALICE = Moderator("discord", "1400000000000000001", "alice")
BOB = Moderator("slack", "U0BOB", "bob")
# Settings as the defaults leave them (commands synced globally), with one kind of list each.
UNLISTED = {"DISCORD_GUILD_IDS": "", "MODERATOR_ROLE_IDS": "", "ASK_CHANNEL_IDS": ""}


def settings(**env: str) -> Settings:
    return Settings.from_mapping(env)


# ---------------------------------------------------------------------- the rule (units)


def member(
    user: int = MEMBER, guild: int | None = GUILD, roles: tuple[int, ...] = (), manage: bool = False
) -> DiscordMember:
    return DiscordMember(user, guild, frozenset(roles), manage)


def test_manage_server_counts_only_in_a_listed_server() -> None:
    listed = settings(MODERATOR_GUILD_IDS=str(GUILD))
    assert moderation.is_discord_moderator(listed, member(manage=True))
    assert not moderation.is_discord_moderator(listed, member(guild=OTHER_GUILD, manage=True))
    assert not moderation.is_discord_moderator(listed, member())  # no permission
    # DISCORD_GUILD_IDS names the operator's servers when MODERATOR_GUILD_IDS is empty ...
    synced = settings(DISCORD_GUILD_IDS=f"{GUILD},{OTHER_GUILD}")
    assert moderation.is_discord_moderator(synced, member(guild=OTHER_GUILD, manage=True))
    # ... and MODERATOR_GUILD_IDS narrows it.
    both = settings(DISCORD_GUILD_IDS=f"{GUILD},{OTHER_GUILD}", MODERATOR_GUILD_IDS=str(GUILD))
    assert not moderation.is_discord_moderator(both, member(guild=OTHER_GUILD, manage=True))
    # Nothing listed: Manage Server anywhere is nobody's key, and moderation is off.
    nothing = settings()
    assert not moderation.discord_moderation_enabled(nothing)
    assert not moderation.is_discord_moderator(nothing, member(manage=True))


def test_roles_and_listed_users() -> None:
    s = settings(MODERATOR_ROLE_IDS=str(ROLE), DISCORD_MODERATOR_USER_IDS=str(LISTED_USER))
    assert moderation.discord_moderation_enabled(s)
    assert moderation.is_discord_moderator(s, member(roles=(ROLE,)))
    assert moderation.is_discord_moderator(s, member(guild=OTHER_GUILD, roles=(99, ROLE)))
    assert not moderation.is_discord_moderator(s, member(roles=(99,), manage=True))
    assert moderation.is_discord_moderator(s, member(user=LISTED_USER))
    # A DM: only a listed user.
    assert moderation.is_discord_moderator(s, member(user=LISTED_USER, guild=None))
    assert not moderation.is_discord_moderator(s, member(guild=None, roles=(ROLE,), manage=True))


def test_slack_admins_of_the_bots_own_workspace_only() -> None:
    s = settings(SLACK_MODERATOR_IDS="ULISTED")
    assert moderation.is_slack_moderator(s, "UADMIN", "T1", "T1", admin=True)
    # A Slack Connect member, admin of their own workspace: not a moderator here.
    assert not moderation.is_slack_moderator(s, "UEXT", "T2", "T1", admin=True)
    assert not moderation.is_slack_moderator(s, "UADMIN", "T1", "", admin=True)  # team unknown
    assert not moderation.is_slack_moderator(s, "UMEMBER", "T1", "T1", admin=False)
    assert moderation.is_slack_moderator(s, "ULISTED", "T2", "T1", admin=False)


# ---------------------------------------------------------------------- the cooldown (units)


def test_moderator_cooldown_with_a_fake_clock() -> None:
    now = [1000.0]
    cooldown = ModeratorCooldown(10.0, 2, clock=lambda: now[0])
    cooldown.charge(ALICE)
    cooldown.charge(ALICE)
    with pytest.raises(TooSoon) as refused:
        cooldown.charge(ALICE)
    assert refused.value.seconds == 10
    assert refused.value.line("en") == text("moderation.too_soon", "en", seconds=10)
    assert "10 s" in refused.value.line("fr")
    cooldown.charge(BOB)  # one bucket per moderator
    now[0] += 4
    with pytest.raises(TooSoon) as still:
        cooldown.charge(ALICE)
    assert still.value.seconds == 6
    now[0] += 6
    cooldown.charge(ALICE)
    off = ModeratorCooldown(0, 1)
    for _ in range(5):
        off.charge(ALICE)  # 0 s: no cooldown


@pytest.fixture
def strict_service(make_settings: Callable[..., Settings]) -> Iterator[FactBotService]:
    """A real service whose moderators may make one change an hour."""
    svc = FactBotService.from_settings(
        make_settings(MODERATOR_COOLDOWN_SECONDS="3600", MODERATOR_COOLDOWN_BURST="1")
    )
    yield svc
    asyncio.run(svc.aclose())


def test_a_second_save_right_after_the_first_is_refused_and_keeps_nothing(
    strict_service: FactBotService,
) -> None:
    desk = strict_service.notes
    assert desk is not None
    form = NoteForm(**{**VALID, "verdict": "mostly-accurate"})
    saved = asyncio.run(desk.save(form, ALICE))
    assert isinstance(saved, NoteSaved)
    edited = NoteForm(**{**VALID, "verdict": "accurate"})
    with pytest.raises(TooSoon):
        asyncio.run(desk.save(edited, ALICE, note_id=saved.note_id))
    with pytest.raises(TooSoon):
        asyncio.run(desk.remove(saved.note_id, ALICE))
    with pytest.raises(TooSoon):
        asyncio.run(strict_service.reindex("alice", by=ALICE))
    history = asyncio.run(desk.history(saved.note_id))
    assert [r.action for r in history.revisions] == ["added"]  # type: ignore[union-attr]
    # A form the validator rejects costs nothing; another moderator has their own bucket.
    elsewhere = NoteForm(**{**VALID, "verdict": "accurate", "claim": "pas dans l'article"})
    rejected = asyncio.run(desk.save(elsewhere, BOB))
    assert not isinstance(rejected, NoteSaved)
    assert isinstance(asyncio.run(desk.remove(saved.note_id, BOB)), NoteSaved)


# ---------------------------------------------------------------------- settings (units)


@pytest.mark.parametrize("name", ["DISCORD_API_BASE", "SLACK_API_BASE"])
def test_api_bases_must_be_https_unless_loopback(name: str) -> None:
    with pytest.raises(SettingsError, match=rf"^{name} must be https://"):
        settings(**{name: "http://proxy.example.org/api/"})
    with pytest.raises(SettingsError, match=rf"^{name} must be https://"):
        settings(**{name: "http://10.0.0.5:8080/api/"})
    with pytest.raises(SettingsError, match=rf"^{name} must be an https:// URL"):
        settings(**{name: "ftp://example.org/"})
    for ok in (
        "https://proxy.example.org/api/",
        "http://127.0.0.1:9000/api/",
        "http://127.8.0.1/api/",
        "http://localhost:9000/api/",
        "http://[::1]:9000/api/",
    ):
        settings(**{name: ok})
    # The explicit opt-in of a closed test network (the multi-host test's veths).
    settings(**{name: "http://10.0.0.5:8080/api/", "API_BASE_ALLOW_HTTP": "on"})


def test_slack_http_mode_binds_loopback_by_default() -> None:
    assert settings().slack_host == "127.0.0.1"
    assert settings(SLACK_HOST="0.0.0.0").slack_host == "0.0.0.0"


def test_leaving_unlisted_servers_needs_a_list() -> None:
    with pytest.raises(SettingsError, match="DISCORD_LEAVE_UNLISTED_GUILDS=on needs"):
        settings(DISCORD_LEAVE_UNLISTED_GUILDS="on")
    assert (
        settings(DISCORD_LEAVE_UNLISTED_GUILDS="on", MODERATOR_GUILD_IDS="1").discord_guild_ids
        == ()
    )


# ---------------------------------------------------------------------- Discord, end to end


async def test_manage_server_in_an_unlisted_server_is_refused_and_named_moderators_are_not(
    make_settings: Callable[..., Settings], service: FactBotService
) -> None:
    engine = service.engine
    fake = FakeDiscord()
    env = UNLISTED | {
        "MODERATOR_GUILD_IDS": str(OTHER_GUILD),  # the operator's server is another one
        "MODERATOR_ROLE_IDS": str(fake.moderator_role_id),
        "DISCORD_MODERATOR_USER_IDS": str(LISTED_USER),
    }
    async with running_bot(make_settings, service, fake, env):
        assert None in fake.commands and fake.guild_id not in fake.commands  # synced globally
        admin: dict[str, Any] = {
            "user_id": 1400000000000000005,
            "user_name": "stranger",
            "permissions": MANAGE_GUILD,
        }
        refusal = discord_bot.not_moderator("en", "note")
        add = await fake.interact("note", subcommand="add", **admin)
        reply = await fake.wait_reply(add)
        assert reply.ephemeral and reply.message["content"] == refusal
        # The form sent anyway (a stale or crafted submit) is refused again.
        submit = await fake.submit_modal(form_custom_id(None), as_submitted(VALID), **admin)
        assert whole_text(await private_reply(fake, submit)) == refusal
        rebuild = await fake.wait_reply(await fake.interact("reindex", **admin))
        assert rebuild.message["content"] == discord_bot.NOT_MODERATOR
        assert service.engine is engine  # nothing rebuilt, nothing saved
        assert service.notes is not None and await service.notes.choices("fc-les", 5) == []

        # A listed role, a listed user: the form opens.
        role = await fake.interact("note", subcommand="add", roles=[fake.moderator_role_id])
        assert (await modal_of(fake, role))["custom_id"] == form_custom_id(None)
        user = await fake.interact("note", subcommand="add", user_id=LISTED_USER)
        assert (await modal_of(fake, user))["custom_id"] == form_custom_id(None)

    # Manage Server in a listed server: a moderator.
    listed = FakeDiscord()
    env = UNLISTED | {"MODERATOR_GUILD_IDS": str(listed.guild_id)}
    async with running_bot(make_settings, service, listed, env):
        add = await listed.interact("note", subcommand="add", permissions=MANAGE_GUILD)
        assert (await modal_of(listed, add))["custom_id"] == form_custom_id(None)
        rebuild = await listed.wait_reply(
            await listed.interact("reindex", permissions=MANAGE_GUILD), timeout=120
        )
        assert rebuild.message["content"].startswith("✅ Index rebuilt in ")


async def test_with_nobody_named_every_moderators_command_says_how_to_enable_it(
    make_settings: Callable[..., Settings],
    service: FactBotService,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    engine = service.engine
    async with running_bot(make_settings, service, None, UNLISTED) as fake:
        owner: dict[str, Any] = {"permissions": MANAGE_GUILD, "roles": [fake.moderator_role_id]}
        for command, sub in (("reindex", None), ("unanswered", None), ("note", "add")):
            reply = await fake.wait_reply(await fake.interact(command, subcommand=sub, **owner))
            assert reply.ephemeral and reply.message["content"] == moderation.disabled_line("en")
        french = await fake.interact(
            "note", {"id": "fc-13-launch-date"}, subcommand="show", locale="fr", **owner
        )
        reply = await fake.wait_reply(french)
        assert reply.message["content"] == moderation.disabled_line("fr")
        submit = await fake.submit_modal(form_custom_id(None), as_submitted(VALID), **owner)
        assert whole_text(await private_reply(fake, submit)) == moderation.disabled_line("en")
    assert service.engine is engine
    started = [r for r in caplog.records if r.getMessage() == moderation.DISABLED_LOG]
    assert len(started) == 1 and started[0].levelno == logging.WARNING


PUBLIC_WARNING = "the Discord application is public"


@pytest.mark.parametrize(
    ("public", "env", "warned"),
    [
        (True, UNLISTED | {"MODERATOR_ROLE_IDS": "5"}, True),
        (False, UNLISTED | {"MODERATOR_ROLE_IDS": "5"}, False),
        (True, {}, False),  # DISCORD_GUILD_IDS names the operator's servers
    ],
)
async def test_a_public_application_without_a_server_list_is_warned_about_at_start(
    make_settings: Callable[..., Settings],
    service: FactBotService,
    caplog: pytest.LogCaptureFixture,
    public: bool,
    env: dict[str, str],
    warned: bool,
) -> None:
    caplog.set_level(logging.INFO)
    fake = FakeDiscord(bot_public=public)
    async with running_bot(make_settings, service, fake, env):
        pass
    assert any(r.path == "/oauth2/applications/@me" for r in fake.requests)
    warnings = [r for r in caplog.records if PUBLIC_WARNING in r.getMessage()]
    assert len(warnings) == (1 if warned else 0)
    assert all(r.levelno == logging.WARNING for r in warnings)


@pytest.mark.parametrize("listed", [False, True])
async def test_unlisted_servers_are_left_when_the_operator_asks(
    make_settings: Callable[..., Settings], service: FactBotService, listed: bool
) -> None:
    fake = FakeDiscord()
    guilds = str(fake.guild_id) if listed else str(OTHER_GUILD)
    env = UNLISTED | {"DISCORD_LEAVE_UNLISTED_GUILDS": "on", "MODERATOR_GUILD_IDS": guilds}
    async with running_bot(make_settings, service, fake, env):
        if not listed:
            await fake.wait_until(lambda: bool(fake.left_guilds))
        else:  # a command round trip: the guild's GUILD_CREATE was handled before it
            await fake.wait_reply(await fake.interact("sources"))
    assert fake.left_guilds == ([] if listed else [fake.guild_id])


async def test_a_moderators_second_save_right_after_the_first_is_refused(
    make_settings: Callable[..., Settings], strict_service: FactBotService
) -> None:
    async with running_bot(make_settings, strict_service) as fake:
        mod: dict[str, Any] = {
            "user_id": 1400000000000000042,
            "user_name": "Camille",
            "roles": [fake.moderator_role_id],
        }
        first = await fake.submit_modal(form_custom_id(None), as_submitted(VALID), **mod)
        report = whole_text(await private_reply(fake, first))
        desk = strict_service.notes
        assert desk is not None
        ((note_id, _),) = await desk.choices("fc-les", 5)
        assert note_id in report
        edited = {**VALID, "verdict": ["accurate"]}
        second = await fake.submit_modal(form_custom_id(note_id), as_submitted(edited), **mod)
        line = whole_text(await private_reply(fake, second))
        assert line == text("moderation.too_soon", "en", seconds=3600)
        history = await desk.history(note_id)
        assert [r.action for r in history.revisions] == ["added"]  # type: ignore[union-attr]
        again = await fake.wait_reply(await fake.interact("reindex", **mod))
        assert again.message["content"].startswith("Too many changes or rebuilds")


# ---------------------------------------------------------------------- Slack, end to end


async def test_a_slack_connect_admin_is_not_a_moderator_the_bots_own_admin_is() -> None:
    fake = FakeSlack(
        users={
            "UEXT": {"name": "ext", "is_admin": True, "team_id": "TPARTNER"},
            "UADMIN": {"name": "admin", "is_admin": True},
        }
    )
    await fake.start()
    try:
        async with running_slack(stub_settings(fake), StubService(), fake):
            refused = await fake.command("/reindex", user="UEXT", user_name="ext")
            (reply,) = await fake.wait_for(lambda: fake.responses_to(refused), timeout=30)
            assert ":no_entry: Only moderators can rebuild the index" in block_texts(reply)[0]
            note = await fake.command("/note", "add", user="UEXT", user_name="ext")
            (reply,) = await fake.wait_for(lambda: fake.responses_to(note), timeout=30)
            assert "Only moderators can" in block_texts(reply)[0]
            allowed = await fake.command("/reindex", user="UADMIN", user_name="admin")
            done = await fake.wait_for(
                lambda: fake.responses_to(allowed)[1:] and fake.responses_to(allowed), timeout=30
            )
            assert "Index rebuilt" in block_texts(done[1])[0]
        assert fake.calls_to("users.info", user="UEXT")[0].response["user"]["team_id"] != TEAM_ID
        assert not fake.views_opened
    finally:
        await fake.close()


async def test_slack_note_edit_with_a_non_ascii_digit_revision_is_one_clear_line() -> None:
    fake = FakeSlack()
    await fake.start()
    try:
        settings_ = stub_settings(fake, SLACK_MODERATOR_IDS="UMOD")
        async with running_slack(settings_, StubService(), fake):
            env = await fake.command("/note", "edit fc-13-launch-date ²", user="UMOD")
            (reply,) = await fake.wait_for(lambda: fake.responses_to(env), timeout=30)
        line = block_texts(reply)[0]
        assert text("note.bad_revision", "en", note_id="fc-13-launch-date") in line
        assert text("error.sorry", "en") not in line
    finally:
        await fake.close()
