"""SIGTERM in the middle of a burst: a real `factbot run` process, connected to the fake Discord
and the fake Slack at once, answers every question it accepted, tells the others it is
restarting, and exits 0 without a traceback.

Outcomes are asserted, never times: the waits only bound a failure (two processes importing torch
on a busy 2-core machine can take minutes), and SHUTDOWN_GRACE_SECONDS is raised for the same
reason (its 10 s default is a production bound, not what is checked here).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.messages import text as message
from bot.settings import Settings
from tests.conftest import ROOT
from tests.fakes.discord_server import FakeDiscord, Interaction
from tests.fakes.slack_server import FakeSlack

pytestmark = pytest.mark.timeout(900)

START_TIMEOUT = 600.0
STOP_TIMEOUT = 120.0
QUESTIONS = (
    "When will Chang'e 6 collect lunar samples?",
    "Qui est le président du CNES ?",
    "What is SVOM supposed to detect?",
    "Quand le satellite SVOM a-t-il été lancé ?",
    "Which French instrument actually flew on Chang'e 6?",
    "How many kilograms of French experiments were announced?",
    "Thomas Pesquet parle-t-il chinois ?",
    "What is the best carbonara recipe?",
)
BURST = 16  # per platform
RESTARTING = tuple(message("refusal.closing", language) for language in ("en", "fr"))


@contextlib.asynccontextmanager
async def fakes() -> AsyncIterator[tuple[FakeDiscord, FakeSlack]]:
    slack = FakeSlack()
    await slack.start()
    try:
        async with FakeDiscord() as discord:
            yield discord, slack
    finally:
        await slack.close()


async def _bot_process(
    settings: Settings, discord: FakeDiscord, slack: FakeSlack, home: Path
) -> asyncio.subprocess.Process:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "HF_HUB_OFFLINE": "1",
        "CORPUS_DIR": str(settings.corpus_dir),
        "INDEX_DIR": str(settings.index_dir),
        "INDEX_WATCH_SECONDS": "0",
        "USER_COOLDOWN_SECONDS": "0",
        "SHUTDOWN_GRACE_SECONDS": "300",
        "LOG_LEVEL": "INFO",
        "DISCORD_TOKEN": discord.token,
        "DISCORD_API_BASE": discord.api_base,
        "DISCORD_GUILD_IDS": str(discord.guild_id),
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_APP_TOKEN": slack.app_token,
        "SLACK_API_BASE": slack.api_base,
        # The chat bots' question log: in the test's folder, not in the checkout's var/.
        "DATABASE_URL": f"sqlite:///{home / 'factbot.db'}",
        "USER_HASH_KEY_FILE": str(home / "user-hash.key"),
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "--env-file",
        str(home / "none.env"),
        "run",
        cwd=ROOT,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


def _discord_outcome(discord: FakeDiscord, interaction: Interaction) -> str:
    """ "answered" (deferred, then an answer embed), "told" (a private restarting line),
    "unanswered" (deferred and left thinking), or "unseen" (never acknowledged)."""
    calls = discord.calls_for(interaction.token)
    callback = next((c for c in calls if c.path.endswith("/callback")), None)
    if callback is None:
        return "unseen"
    data = callback.body.get("data") or {}
    if data.get("content") in RESTARTING:
        return "told"
    followups = [c.body for c in calls if c is not callback and c.method in ("POST", "PATCH")]
    if any(f.get("embeds") for f in followups):
        return "answered"
    return "unanswered"


def _slack_outcome(slack: FakeSlack, envelope: str, user: str) -> str:
    """ "answered" (a public answer), "told" (an ephemeral restarting line), or "unanswered"."""
    if any(c.args.get("text") in RESTARTING for c in slack.responses_to(envelope)):
        return "told"
    # The public answer names its asker, and each command here has its own asker.
    posts = slack.calls_to("chat.postMessage") + slack.responses_to(envelope)
    if any(f"<@{user}>" in s for c in posts for s in c.strings()):
        return "answered"
    return "unanswered"


async def test_sigterm_finishes_every_accepted_question(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings()
    async with fakes() as (discord, slack):
        proc = await _bot_process(settings, discord, slack, tmp_path)
        try:
            await asyncio.wait_for(discord.wait_ready(timeout=START_TIMEOUT), START_TIMEOUT)
            await slack.wait_for(lambda: slack.ws_connections >= 1, timeout=START_TIMEOUT)
            envelopes = [
                await slack.command("/ask", QUESTIONS[i % len(QUESTIONS)], user=f"U{i:04d}")
                for i in range(BURST)
            ]
            # Slack's questions are being answered (the first one is out) before Discord's come.
            await slack.wait_for(lambda: slack.calls_to("chat.postMessage"), timeout=START_TIMEOUT)
            interactions = [
                await discord.interact(
                    "ask",
                    {"question": QUESTIONS[i % len(QUESTIONS)]},
                    user_id=1400000000000000100 + i,
                )
                for i in range(BURST)
            ]
            # Mid-burst: as soon as the bot has taken the first Discord question.
            await discord.wait_for(lambda r: r.path.endswith("/callback"), timeout=START_TIMEOUT)
            answered_before = sum(_discord_outcome(discord, i) == "answered" for i in interactions)
            proc.send_signal(signal.SIGTERM)
            status = await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.stderr is not None
        stderr = (await proc.stderr.read()).decode("utf-8", "replace")
    assert status == 0, stderr[-3000:]
    assert "Traceback" not in stderr
    assert "SIGTERM: stopping" in stderr and "stopped" in stderr
    discord_outcomes = [_discord_outcome(discord, i) for i in interactions]
    slack_outcomes = [_slack_outcome(slack, e, f"U{i:04d}") for i, e in enumerate(envelopes)]
    print("discord", discord_outcomes, "slack", slack_outcomes, "before", answered_before)
    # Nothing accepted was dropped: every question was answered or its asker told to come back.
    assert "unanswered" not in discord_outcomes + slack_outcomes
    # The signal really came mid-burst: answers were still being written when it arrived.
    assert answered_before < BURST
    assert discord_outcomes.count("answered") > answered_before
    # Every Slack command was acknowledged (Slack shows the user an error otherwise).
    assert not slack.unacked()
