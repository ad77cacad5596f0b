"""Privacy as promised (issue 20, item 6): no platform user id nor DM channel id in any log line
or table, checked over a whole session of each platform, not one command.

A full Discord session (the real discord.py client against tests/fakes/discord_server.py) and a
full Slack one (the real slack_bolt app against tests/fakes/slack_server.py), each with the
question log on a real SQLite database: a question asked with the command, a mention answered in
a thread and a follow-up there, a question in a DM, 👍 then 👎 with a reason, /factcheck,
/sources, /unanswered and /reindex by a moderator, and both refused to a member. Every line the
log handler of `factbot run` writes (`bot.logs.log_handler`, at DEBUG, every logger: discord.py's
and slack_bolt's included) and every row of every table afterwards is searched for the ids the
fakes used. The ids are distinctive (18-digit snowflakes, long Slack ids) so that a hit is one.

The moderator is named the way that stays valid whoever counts as one: on Discord, a
`MODERATOR_ROLE_IDS` role the member holds; on Slack, an admin of the bot's own workspace.
"""

from __future__ import annotations

import contextlib
import io
import logging
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import MetaData, create_engine, select

from bot.chat.discord.render import REASON_INPUT_ID, vote_custom_id
from bot.cli import commands as cli
from bot.logs import log_handler
from bot.serving.service import FactBotService
from bot.settings import Settings
from tests.chat_support import discord_env, running_discord, running_slack, slack_env
from tests.fakes.discord_server import FakeDiscord, Recorded
from tests.fakes.slack_server import BOT_USER_ID, Call, FakeSlack
from tests.learning_support import logged
from tests.test_slack_app import block_texts, mention, message

pytestmark = pytest.mark.timeout(300)

LAUNCH_EN = "When will Chang'e 6 collect lunar samples?"
FOLLOW_UP = "And what did the French instrument do?"
OFF_TOPIC = "What is the best carbonara recipe?"

# Discord: 18-digit snowflakes no other id of the fake comes near (its own count from 13…).
D_ASKER = 183456789012345671
D_MENTIONER = 183456789012345672
D_DM_USER = 183456789012345673
D_DM_CHANNEL = 187654321098765431
D_MODERATOR = 183456789012345674
D_MEMBER = 183456789012345675
DISCORD_IDS = (D_ASKER, D_MENTIONER, D_DM_USER, D_DM_CHANNEL, D_MODERATOR, D_MEMBER)

# Slack: user ids as Slack makes them (U + upper-case letters and digits), and a DM channel (D…).
S_ASKER = "U0ABCDEF01ASK"
S_MENTIONER = "U0ABCDEF02MEN"
S_DM_USER = "U0ABCDEF03DMU"
S_DM_CHANNEL = "D0ABCDEF04DMC"
S_MODERATOR = "U0ABCDEF05MOD"
S_MEMBER = "U0ABCDEF06MEM"
SLACK_IDS = (S_ASKER, S_MENTIONER, S_DM_USER, S_DM_CHANNEL, S_MODERATOR, S_MEMBER)


@contextlib.contextmanager
def every_log_line() -> Iterator[io.StringIO]:
    """What factbot's log handler writes, with every logger at DEBUG (libraries too)."""
    stream = io.StringIO()
    handler = log_handler(stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def every_row(database_url: str) -> str:
    """Every row of every table of the SQLite database, as text."""
    engine = create_engine(database_url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        lines: list[str] = []
        with engine.connect() as conn:
            for table in metadata.sorted_tables:
                lines.extend(f"{table.name}: {tuple(row)}" for row in conn.execute(select(table)))
        return "\n".join(lines)
    finally:
        engine.dispose()


def found(ids: tuple[int | str, ...], text: str) -> list[str]:
    return [str(i) for i in ids if str(i) in text]


# ---------------------------------------------------------------------- Discord


async def discord_session(fake: FakeDiscord) -> None:
    """The commands and messages of a day on a server, each waited for."""

    async def answered(interaction: Any) -> dict[str, Any]:
        (sent,) = await fake.wait_for(
            lambda r: (
                r.path.startswith("/webhooks/")
                and interaction.token in r.path
                and r.method == "POST"
                and r.accepted
            ),
            timeout=60,
        )
        return cast(dict[str, Any], sent.response)

    async def as_moderator(command: str) -> str:
        """`command` by the member holding the MODERATOR_ROLE_IDS role: its reply's text."""
        interaction = await fake.interact(
            command, user_id=D_MODERATOR, user_name="mod", roles=[fake.moderator_role_id]
        )
        return (await fake.wait_reply(interaction, timeout=120)).text()

    # /ask, then 👍 and 👎 with a reason.
    answer = await answered(
        await fake.interact("ask", {"question": LAUNCH_EN}, user_id=D_ASKER, user_name="asker")
    )
    (row,) = answer["components"]
    answer_id = str(row["components"][0]["custom_id"]).rsplit(":", 1)[1]
    up = await fake.press(answer, vote_custom_id(answer_id, "up"), user_id=D_ASKER)
    await fake.wait_reply(up, timeout=60)
    down = await fake.press(answer, vote_custom_id(answer_id, "down"), user_id=D_ASKER)
    modal = (await fake.wait_callback(down)).body["data"]
    reason = await fake.submit_modal(
        modal["custom_id"], {REASON_INPUT_ID: "The date is old"}, user_id=D_ASKER
    )
    await fake.wait_reply(reason, timeout=60)
    # An off-topic question, refused: what /unanswered reports.
    await answered(
        await fake.interact("ask", {"question": OFF_TOPIC}, user_id=D_ASKER, user_name="asker")
    )

    # A mention: a thread, the answer in it, and a follow-up there without a mention.
    await fake.post_message(
        f"<@{fake.bot_id}> {LAUNCH_EN}",
        mention_bot=True,
        author_id=D_MENTIONER,
        author_name="mentioner",
    )
    (created,) = await fake.wait_for(lambda r: r.path.endswith("/threads"), timeout=60)
    in_thread = f"/channels/{created.response['id']}/messages"

    def thread_answers(r: Recorded) -> bool:
        return r.path == in_thread and r.method == "POST" and bool((r.body or {}).get("embeds"))

    await fake.wait_for(thread_answers, timeout=60)
    await fake.post_message(
        FOLLOW_UP,
        channel_id=int(created.response["id"]),
        author_id=D_MENTIONER,
        author_name="mentioner",
    )
    await fake.wait_for(thread_answers, count=2, timeout=60)

    # A question in a DM with the bot.
    await answered(
        await fake.interact(
            "ask",
            {"question": LAUNCH_EN},
            user_id=D_DM_USER,
            user_name="dm-user",
            dm_channel_id=D_DM_CHANNEL,
        )
    )

    # /factcheck and /sources.
    await fake.wait_reply(await fake.interact("factcheck", user_id=D_ASKER), timeout=60)
    await fake.wait_reply(await fake.interact("sources", user_id=D_ASKER), timeout=60)

    # The moderator's /unanswered and /reindex; both refused to a member.
    assert OFF_TOPIC in await as_moderator("unanswered")
    assert "Index rebuilt" in await as_moderator("reindex")
    for command in ("unanswered", "reindex"):
        refused = await fake.interact(command, user_id=D_MEMBER, user_name="member")
        assert "moderator" in (await fake.wait_reply(refused, timeout=60)).text()


async def test_a_whole_discord_session_logs_and_stores_no_user_nor_dm_channel_id(
    make_settings: Callable[..., Settings], service: FactBotService, tmp_path: Path
) -> None:
    database_url = f"sqlite:///{tmp_path / 'var' / 'factbot.db'}"
    with every_log_line() as log:
        async with FakeDiscord() as fake:
            settings = make_settings(**discord_env(fake, DATABASE_URL=database_url))
            async with (
                logged(settings, service) as (intake, learning),
                running_discord(settings, service, fake, intake, learning),
            ):
                await discord_session(fake)
    lines = log.getvalue()
    assert "factbot.discord" in lines and "discord.http" in lines  # both really logged
    assert "/reindex" in lines and "/unanswered" in lines and "/ask by" in lines
    assert found(DISCORD_IDS, lines) == [], "a user or DM channel id in the log"
    tables = every_row(database_url)
    assert "The date is old" in tables and OFF_TOPIC in tables  # the session was stored
    # Depends on part B (DM channel ids hashed in question_log): until then, D_DM_CHANNEL is
    # found here.
    assert found(DISCORD_IDS, tables) == [], "a user or DM channel id in a table"


# ---------------------------------------------------------------------- Slack


async def slack_session(fake: FakeSlack) -> None:
    """The same day in a workspace, each step waited for."""

    def posts() -> list[Call]:
        return fake.calls_to("chat.postMessage")

    async def replied(envelope: str, count: int = 1) -> list[Call]:
        def replies() -> list[Call]:
            calls = fake.responses_to(envelope)
            return calls[:count] if len(calls) >= count else []

        return await fake.wait_for(replies, timeout=120)

    # /ask, then 👍 and 👎 with a reason.
    await fake.command("/ask", LAUNCH_EN, user=S_ASKER, user_name="asker")
    (answer,) = await fake.wait_for(posts, timeout=60)
    await replied(await fake.block_action(answer, "factbot_vote_up", user=S_ASKER))
    await fake.block_action(answer, "factbot_vote_down", user=S_ASKER)
    (opened,) = await fake.wait_for(lambda: fake.views_opened, timeout=60)
    await fake.submit_view(opened, {"reason": {"reason": "The date is old"}}, user=S_ASKER)
    await fake.wait_for(lambda: fake.calls_to("chat.postEphemeral", user=S_ASKER), timeout=60)
    # An off-topic question, refused: what /unanswered reports.
    await fake.command("/ask", OFF_TOPIC, user=S_ASKER, user_name="asker")
    await fake.wait_for(lambda: len(posts()) == 2, timeout=60)

    # A mention answered in a thread, and a follow-up there without a mention.
    root = fake.next_ts()
    await fake.event(mention(f"<@{BOT_USER_ID}> {LAUNCH_EN}", root, user=S_MENTIONER))
    await fake.wait_for(lambda: len(posts()) == 3, timeout=60)
    await fake.event(message(FOLLOW_UP, fake.next_ts(), thread_ts=root, user=S_MENTIONER))
    await fake.wait_for(lambda: len(posts()) == 4, timeout=60)

    # A question in a DM with the app.
    dm = message(LAUNCH_EN, fake.next_ts(), thread_ts=None, user=S_DM_USER, channel_type="im")
    await fake.event(dm | {"channel": S_DM_CHANNEL})
    await fake.wait_for(lambda: fake.calls_to("chat.postMessage", channel=S_DM_CHANNEL), timeout=60)

    # /factcheck and /sources.
    for command in ("/factcheck", "/sources"):
        before = len(posts())
        await fake.command(command, "", user=S_ASKER, user_name="asker")
        await fake.wait_for(lambda: len(posts()) > before, timeout=60)  # noqa: B023 (awaited here)

    # The moderator's /unanswered and /reindex; both refused to a member.
    (report,) = await replied(await fake.command("/unanswered", "7", user=S_MODERATOR))
    assert OFF_TOPIC in "\n".join(block_texts(report))
    _, rebuilt = await replied(await fake.command("/reindex", "", user=S_MODERATOR), 2)
    assert "Index rebuilt" in rebuilt.args["text"]
    for command in ("/unanswered", "/reindex"):
        (refused,) = await replied(await fake.command(command, "", user=S_MEMBER))
        assert "moderator" in refused.args["text"]


async def test_a_whole_slack_session_logs_and_stores_no_user_nor_dm_channel_id(
    make_settings: Callable[..., Settings], service: FactBotService, tmp_path: Path
) -> None:
    database_url = f"sqlite:///{tmp_path / 'var' / 'factbot.db'}"
    fake = FakeSlack(
        users={
            # An admin of the bot's own workspace: a moderator under every rule.
            S_MODERATOR: {"name": "mod", "is_admin": True},
            **{user: {"name": "member"} for user in (S_ASKER, S_MENTIONER, S_DM_USER, S_MEMBER)},
        }
    )
    with every_log_line() as log:
        await fake.start()
        try:
            settings = make_settings(**slack_env(fake), DATABASE_URL=database_url)
            async with (
                logged(settings, service) as (intake, learning),
                running_slack(settings, service, fake, intake, learning),
            ):
                await slack_session(fake)
        finally:
            await fake.close()
    lines = log.getvalue()
    assert "factbot.slack" in lines and "slack_bolt" in lines  # both really logged
    assert "/reindex" in lines and "/unanswered" in lines
    assert found(SLACK_IDS, lines) == [], "a user or DM channel id in the log"
    tables = every_row(database_url)
    assert "The date is old" in tables and OFF_TOPIC in tables  # the session was stored
    # Depends on part B (DM channel ids hashed in question_log): until then, S_DM_CHANNEL is
    # found here.
    assert found(SLACK_IDS, tables) == [], "a user or DM channel id in a table"


# ---------------------------------------------------------------------- the CLI's last net


def crash(_args: object) -> int:
    raise RuntimeError("kaboom")


def test_an_unexpected_crash_logs_its_traceback_and_prints_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(cli, "_dispatch", crash)
    assert cli.main(["index"]) == cli.EXIT_FAIL
    assert capsys.readouterr().err.splitlines() == [
        "factbot: unexpected error: RuntimeError: kaboom"
    ]
    (record,) = [r for r in caplog.records if r.name == "factbot.cli"]
    assert record.exc_info is not None
    assert "Traceback" in caplog.text and "in crash" in caplog.text


def test_on_a_terminal_the_traceback_goes_to_a_private_file(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    monkeypatch.setattr(cli, "_dispatch", crash)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert cli.main(["index"]) == cli.EXIT_FAIL
    (line,) = capsys.readouterr().err.splitlines()  # the terminal: one line, no traceback
    assert line.startswith("factbot: unexpected error: RuntimeError: kaboom (traceback in ")
    (kept,) = tmp_path.glob("factbot-crash-*.log")
    assert str(kept) in line and stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert "Traceback" in kept.read_text() and "in crash" in kept.read_text()
    assert "Traceback" not in caplog.text
