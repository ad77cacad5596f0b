"""Network faults, injected by the loopback fakes, survived by the real discord.py and slack_bolt
clients over the real bot and service.

Each test asserts outcomes: the client came back the way the protocol says (RESUME, or a new
IDENTIFY; a new Socket Mode connection), a question asked across the fault got its answer, and
every question got exactly one. "Exactly one" is checked after a last question has had its
answer: a duplicate of an earlier one would have been sent by then. Timeouts only bound a
failure (generous: the machine may be loaded), nothing waits for a fixed time.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from bot.chat.slack.app import serve as serve_slack
from bot.serving.service import FactBotService
from bot.settings import Settings
from tests.chat_support import running_slack, slack_env
from tests.fakes.discord_server import (
    CALLBACK,
    CHANNEL_MESSAGE,
    FOLLOWUP,
    FakeDiscord,
    Interaction,
    Recorded,
)
from tests.fakes.slack_server import BOT_USER_ID, Call, FakeSlack
from tests.test_discord_e2e import running_bot
from tests.test_slack_app import (
    LogSignal,
    block_texts,
    count_asks,
    free_port,
    mention,
)

pytestmark = pytest.mark.timeout(240)

LAUNCH_EN = "When will Chang'e 6 collect lunar samples?"
LAUNCH_FR = "Quand la mission Chang'e 6 ira-t-elle recueillir des échantillons lunaires ?"
OFF_TOPIC = "What is the best carbonara recipe?"
DORN = "Which French instrument flew on Chang'e 6?"
WAIT = 90.0  # bounds a failure only

# ---------------------------------------------------------------------------- Discord helpers


def title(message: dict[str, Any]) -> str:
    embeds = message.get("embeds") or [{}]
    return str(embeds[0].get("title", ""))


def calls_of(fake: FakeDiscord, interaction: Interaction) -> list[tuple[str, int]]:
    """(callback | followup | other, HTTP status) for every call about `interaction`."""

    def kind(r: Recorded) -> str:
        if r.path.endswith("/callback"):
            return "callback"
        if r.path.startswith("/webhooks/") and r.method == "POST":
            return "followup"
        return f"{r.method} {r.path.rsplit('/', 1)[-1]}"

    return [(kind(r), r.status) for r in fake.calls_for(interaction.token)]


async def ask(fake: FakeDiscord, question: str, user: int) -> Interaction:
    return await fake.interact("ask", {"question": question}, user_id=1400000000000000200 + user)


async def answered_once(fake: FakeDiscord, interaction: Interaction, question: str) -> None:
    """The question's public answer arrived, after one accepted defer, in one followup."""
    reply = await fake.wait_reply(interaction, timeout=WAIT)
    assert title(reply.message) == f"❓ {question}"
    assert calls_of(fake, interaction) == [("callback", 200), ("followup", 200)]


def channel_answers(fake: FakeDiscord, question: str) -> list[Recorded]:
    """Every accepted channel or thread post answering `question`."""
    return [
        r
        for r in fake.requests
        if r.accepted
        and r.method == "POST"
        and r.path.startswith("/channels/")
        and r.path.endswith("/messages")
        and title(r.body or {}) == f"❓ {question}"
    ]


# ---------------------------------------------------------------------------- Discord: gateway

RESUMABLE: dict[str, Callable[[FakeDiscord], Awaitable[int]]] = {
    "dropped socket": lambda fake: fake.drop_gateway(),
    "close 4000": lambda fake: fake.close_gateway(4000),
    "op 7 reconnect": lambda fake: fake.request_reconnect(),
    "op 9 resumable": lambda fake: fake.invalidate_session(resumable=True),
}


@pytest.mark.parametrize("fault", list(RESUMABLE))
async def test_discord_resumes_and_answers_what_was_asked_during_the_fault(
    fault: str,
    make_settings: Callable[..., Settings],
    service: FactBotService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = count_asks(service, monkeypatch)
    async with running_bot(make_settings, service) as fake:
        before = await ask(fake, LAUNCH_EN, 1)
        await answered_once(fake, before, LAUNCH_EN)
        assert len(fake.identifies) == 1 and fake.resumes == []

        assert await RESUMABLE[fault](fake) == 1  # the one connection was hit
        # Asked while the gateway is down (or going down): the session keeps the event and
        # replays it after the client's RESUME.
        during = await ask(fake, LAUNCH_FR, 2)
        await fake.wait_gateway(resumed=1, timeout=WAIT)
        await answered_once(fake, during, LAUNCH_FR)
        after = await ask(fake, OFF_TOPIC, 3)
        await answered_once(fake, after, OFF_TOPIC)

        # It resumed the same session: no second IDENTIFY, no lost or repeated event.
        assert len(fake.identifies) == 1
        assert fake.resumed[0]["session_id"] == fake.resumes[0]["session_id"]
        for interaction in (before, during):
            assert calls_of(fake, interaction) == [("callback", 200), ("followup", 200)]
    assert sorted(asked) == sorted([LAUNCH_EN, LAUNCH_FR, OFF_TOPIC])


@pytest.mark.parametrize("how", ["op 9 not resumable", "resume refused"])
async def test_discord_identifies_again_when_its_session_is_gone(
    how: str,
    make_settings: Callable[..., Settings],
    service: FactBotService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = count_asks(service, monkeypatch)
    async with running_bot(make_settings, service) as fake:
        await answered_once(fake, await ask(fake, LAUNCH_EN, 1), LAUNCH_EN)
        if how == "op 9 not resumable":
            assert await fake.invalidate_session(resumable=False) == 1
        else:  # the socket drops, and the gateway refuses the RESUME that follows (op 9, d=false)
            fake.reject_resumes = 1
            assert await fake.drop_gateway() == 1
        # discord.py waits 5 s before a new IDENTIFY (its identify rate limit).
        await fake.wait_gateway(identifies=2, timeout=WAIT)
        if how == "resume refused":
            assert len(fake.resumes) == 1 and fake.resumed == []
        assert fake.identifies[1]["token"] == fake.token

        after = await ask(fake, LAUNCH_FR, 2)
        await answered_once(fake, after, LAUNCH_FR)
        last = await ask(fake, OFF_TOPIC, 3)
        await answered_once(fake, last, OFF_TOPIC)
    assert asked == [LAUNCH_EN, LAUNCH_FR, OFF_TOPIC]


# ---------------------------------------------------------------------------- Discord: REST 429


@pytest.mark.parametrize(("route", "limited"), [("followup", FOLLOWUP), ("callback", CALLBACK)])
async def test_discord_retries_an_interaction_response_that_got_429(
    route: str,
    limited: tuple[str, str],
    make_settings: Callable[..., Settings],
    service: FactBotService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = count_asks(service, monkeypatch)
    async with running_bot(make_settings, service) as fake:
        fake.rate_limit(*limited, retry_after=0.5)
        interaction = await ask(fake, LAUNCH_EN, 1)
        reply = await fake.wait_reply(interaction, timeout=WAIT)
        assert title(reply.message) == f"❓ {LAUNCH_EN}"
        last = await ask(fake, OFF_TOPIC, 2)
        await answered_once(fake, last, OFF_TOPIC)
        # The 429, then the same call again, accepted; nothing else.
        expected = [("callback", 200), ("followup", 429), ("followup", 200)]
        if route == "callback":
            expected = [("callback", 429), ("callback", 200), ("followup", 200)]
        assert calls_of(fake, interaction) == expected
    assert asked == [LAUNCH_EN, OFF_TOPIC]  # answered once: only the HTTP call was repeated


async def test_discord_retries_a_thread_message_that_got_429(
    make_settings: Callable[..., Settings],
    service: FactBotService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = count_asks(service, monkeypatch)
    async with running_bot(make_settings, service) as fake:
        fake.rate_limit(*CHANNEL_MESSAGE, retry_after=0.5)
        await fake.post_message(f"<@{fake.bot_id}> {LAUNCH_EN}", mention_bot=True)
        await fake.wait_until(lambda: bool(channel_answers(fake, LAUNCH_EN)), WAIT)
        await answered_once(fake, await ask(fake, OFF_TOPIC, 2), OFF_TOPIC)
        limited = [r for r in fake.requests if r.status == 429]
        (answer,) = channel_answers(fake, LAUNCH_EN)
        assert len(limited) == 1 and limited[0].path == answer.path  # the same post, retried
    assert asked == [LAUNCH_EN, OFF_TOPIC]


# ---------------------------------------------------------------------------- Discord: duplicates


async def test_discord_interaction_delivered_twice_is_answered_once(
    make_settings: Callable[..., Settings],
    service: FactBotService,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The gateway may deliver an event twice (a replay across a resume); Discord then refuses
    the second response (400, code 40060). The bot should ignore the copy quietly: one defer,
    one answer, no error logged."""
    asked = count_asks(service, monkeypatch)
    caplog.set_level(logging.WARNING, logger="factbot")
    async with running_bot(make_settings, service) as fake:
        interaction = await ask(fake, LAUNCH_EN, 1)
        await fake.redeliver(interaction)
        reply = await fake.wait_reply(interaction, timeout=WAIT)
        assert title(reply.message) == f"❓ {LAUNCH_EN}"
        await answered_once(fake, await ask(fake, OFF_TOPIC, 2), OFF_TOPIC)
        assert calls_of(fake, interaction) == [("callback", 200), ("followup", 200)]
    assert asked == [LAUNCH_EN, OFF_TOPIC]
    assert [r.getMessage() for r in caplog.records if r.name.startswith("factbot")] == []


async def test_discord_message_delivered_twice_is_answered_once(
    make_settings: Callable[..., Settings],
    service: FactBotService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = count_asks(service, monkeypatch)
    async with running_bot(make_settings, service) as fake:
        message = await fake.post_message(f"<@{fake.bot_id}> {LAUNCH_EN}", mention_bot=True)
        await fake.dispatch("MESSAGE_CREATE", message)  # the same message id, again
        await fake.wait_until(lambda: bool(channel_answers(fake, LAUNCH_EN)), WAIT)
        await answered_once(fake, await ask(fake, OFF_TOPIC, 2), OFF_TOPIC)
        assert len(channel_answers(fake, LAUNCH_EN)) == 1
        assert len([r for r in fake.requests if r.path.endswith("/threads")]) == 1
    assert asked == [LAUNCH_EN, OFF_TOPIC]


# ---------------------------------------------------------------------------- Slack


@pytest.fixture
async def slack() -> Any:
    server = FakeSlack()
    await server.start()
    yield server
    await server.close()


def posts(fake: FakeSlack) -> list[Call]:
    return fake.calls_to("chat.postMessage")


def answers_to(fake: FakeSlack, question: str) -> list[Call]:
    """Accepted public answers to `question` (the first block names the question)."""
    return [c for c in posts(fake) if c.ok and question in block_texts(c)[0]]


async def slack_answer(fake: FakeSlack, question: str, count: int = 1) -> list[Call]:
    await fake.wait_for(lambda: len(answers_to(fake, question)) >= count, WAIT)
    return answers_to(fake, question)


@pytest.mark.parametrize("fault", ["disconnect envelope", "close frame", "dropped socket"])
async def test_slack_reconnects_and_answers_once(
    fault: str,
    slack: FakeSlack,
    service: FactBotService,
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="factbot.slack")
    asked = count_asks(service, monkeypatch)
    async with running_slack(make_settings(**slack_env(slack)), service, slack):
        root = slack.next_ts()
        first = mention(f"<@{BOT_USER_ID}> {LAUNCH_EN}", root)
        envelope = await slack.event(first, event_id="EvFIRST")
        await slack_answer(slack, LAUNCH_EN)

        if fault == "disconnect envelope":
            await slack.request_reconnect()
        elif fault == "close frame":
            await slack.close_socket()
        else:  # slack_sdk notices on its next connection check (every 5 s)
            await slack.drop_socket()
        await slack.wait_connected(connections=2, timeout=WAIT)

        # The first event again on the new connection, as Slack does when an ack went missing
        # with the old one: not answered again.
        await slack.event(
            first,
            event_id="EvFIRST",
            envelope_id=envelope,
            retry_attempt=1,
            retry_reason="timeout",
        )
        await slack.command("/ask", LAUNCH_FR)
        await slack_answer(slack, LAUNCH_FR)
        await slack.event(mention(f"<@{BOT_USER_ID}> {DORN}", slack.next_ts()))
        await slack_answer(slack, DORN)
    assert len(answers_to(slack, LAUNCH_EN)) == 1
    assert len(answers_to(slack, LAUNCH_FR)) == 1
    assert asked == [LAUNCH_EN, LAUNCH_FR, DORN]
    assert len(slack.calls_to("apps.connections.open")) == 2
    assert "ignoring redelivered event EvFIRST" in caplog.text  # the copy did reach the bot


async def test_slack_retries_a_post_that_was_ratelimited(
    slack: FakeSlack,
    service: FactBotService,
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = count_asks(service, monkeypatch)
    async with running_slack(make_settings(**slack_env(slack)), service, slack):
        slack.rate_limit("chat.postMessage", retry_after=1)
        envelope = await slack.command("/ask", LAUNCH_EN)
        # The answer once Retry-After has passed, or a failure notice: whichever comes first.
        await slack.wait_for(
            lambda: answers_to(slack, LAUNCH_EN) or slack.responses_to(envelope), WAIT
        )
        assert slack.responses_to(envelope) == [], "the user got an error instead of the answer"
        await slack.command("/ask", OFF_TOPIC, user="UBOB")
        await slack_answer(slack, OFF_TOPIC)
    assert [c.error for c in posts(slack)] == ["ratelimited", None, None]
    assert posts(slack)[0].args["text"] == posts(slack)[1].args["text"]  # the same post again
    assert asked == [LAUNCH_EN, OFF_TOPIC]


async def test_slack_event_redelivered_in_the_same_envelope_is_answered_once(
    slack: FakeSlack,
    service: FactBotService,
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="factbot.slack")
    asked = count_asks(service, monkeypatch)
    async with running_slack(make_settings(**slack_env(slack)), service, slack):
        event = mention(f"<@{BOT_USER_ID}> {LAUNCH_EN}", slack.next_ts())
        envelope = await slack.event(event, event_id="EvTWICE")
        # Redelivered at once, before the first copy could be answered.
        await slack.event(
            event, event_id="EvTWICE", envelope_id=envelope, retry_attempt=1, retry_reason="timeout"
        )
        await slack_answer(slack, LAUNCH_EN)
        await slack.command("/ask", OFF_TOPIC)
        await slack_answer(slack, OFF_TOPIC)
    assert len(answers_to(slack, LAUNCH_EN)) == 1
    assert asked == [LAUNCH_EN, OFF_TOPIC]
    assert "ignoring redelivered event EvTWICE" in caplog.text  # the copy did reach the bot


def signed_json(secret: str, body: str, **extra: str) -> dict[str, str]:
    timestamp = str(int(time.time()))
    digest = hmac.new(
        secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256
    ).hexdigest()
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/json",
        **extra,
    }


async def test_slack_http_mode_answers_a_retried_delivery_once(
    slack: FakeSlack,
    service: FactBotService,
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="factbot.slack")  # the "listening" line is the signal
    asked = count_asks(service, monkeypatch)
    secret, port = "signing-secret-for-tests", free_port()
    settings = make_settings(
        SLACK_BOT_TOKEN=slack.bot_token,
        SLACK_SIGNING_SECRET=secret,
        SLACK_API_BASE=slack.api_base,
        SLACK_PORT=str(port),
        SLACK_HOST="127.0.0.1",
    )
    listening = LogSignal("slack: HTTP mode, listening")
    logging.getLogger("factbot.slack").addHandler(listening)
    task = asyncio.create_task(serve_slack(settings, service))
    url = f"http://127.0.0.1:{port}/slack/events"

    def delivery(question: str, event_id: str) -> str:
        event = mention(f"<@{BOT_USER_ID}> {question}", slack.next_ts())
        return json.dumps(slack.event_payload(event, event_id=event_id))

    try:
        await asyncio.wait_for(listening.seen.wait(), WAIT)
        body = delivery(LAUNCH_EN, "EvHTTP1")
        async with aiohttp.ClientSession() as session:
            async with session.post(url, data=body, headers=signed_json(secret, body)) as r:
                assert r.status == 200
            # Slack retries a delivery it thinks timed out, with the same body and event_id.
            retry = signed_json(
                secret, body, **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
            )
            async with session.post(url, data=body, headers=retry) as r:
                assert r.status == 200
            await slack_answer(slack, LAUNCH_EN)
            last = delivery(OFF_TOPIC, "EvHTTP2")
            async with session.post(url, data=last, headers=signed_json(secret, last)) as r:
                assert r.status == 200
            await slack_answer(slack, OFF_TOPIC)
    finally:
        logging.getLogger("factbot.slack").removeHandler(listening)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert len(answers_to(slack, LAUNCH_EN)) == 1
    assert asked == [LAUNCH_EN, OFF_TOPIC]
    assert posts(slack)[0].args["thread_ts"]  # answered in the thread
    assert "ignoring redelivered event EvHTTP1" in caplog.text  # the retry did reach the bot
