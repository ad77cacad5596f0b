"""End to end: the real slack_bolt AsyncApp and Socket Mode client against the fake Slack.

Tests that need real answers use the `service` fixture (real model and index); tests about the
transport itself (validation, cooldown, errors, start-up) use a small stub service.
Every wait is event-based (`FakeSlack.wait_for`); every test checks that every envelope was acked.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlencode

import aiohttp
import pytest

from bot.answer import Answer, FactCheckRef, Link, SourceRef
from bot.answering.conversation import Turn
from bot.answering.engine import Engine
from bot.answering.status import DocumentInfo, IndexInfo, ReindexReport
from bot.chat import AdapterStartError
from bot.chat.slack.app import MISSING_TOKENS, serve
from bot.logs import user_tag
from bot.serving.questions import clean_question
from bot.serving.service import FactBotService
from bot.settings import Settings
from tests.change_support import note_edits
from tests.chat_support import running_slack, slack_env
from tests.fakes.slack_server import BOT_USER_ID, Call, FakeSlack

pytestmark = pytest.mark.timeout(60)

LAUNCH_QUESTION = "When did Chang'e 6 launch?"
OFF_TOPIC = "What is the recipe for lasagna?"
UNESCAPED_BROADCAST = re.compile(r"<!|@(channel|here|everyone)\b")


# ---------------------------------------------------------------------------- helpers


class StubService:
    """Stands in for FactBotService where the answer's content does not matter."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.asked: list[str] = []

    async def ask(self, question: str, history: Sequence[str | Turn] = ()) -> Answer:
        self.asked.append(question)
        if self.error is not None:
            raise self.error
        text = clean_question(question, 500)
        quote = SourceRef("a:p1", "article", "article-fr", 1, "« Une phrase. »", 1.0)
        note = FactCheckRef(
            "fc-1", "claim", "outdated", "Outdated", "summary", (Link("t", "https://t.test/"),)
        )
        return Answer(text, "en", False, "From the article: « Une phrase. »", (quote,), (note,))

    async def factchecks(
        self, topic: str | None = None, language: Any = None
    ) -> list[FactCheckRef]:
        return []

    def info(self) -> IndexInfo:
        return IndexInfo(
            (DocumentInfo("article-fr", "Article", "fr", None),), 1, "v1", "m", "now", 1
        )

    async def reindex(self, actor: str, by: object = None) -> ReindexReport:
        return ReindexReport(note_edits(), 0.1)


def stub_settings(fake: FakeSlack, **extra: str) -> Settings:
    env = {"USER_COOLDOWN_SECONDS": "0", "INDEX_WATCH_SECONDS": "0", **slack_env(fake), **extra}
    return Settings.from_mapping(env)


def texts(calls: list[Call]) -> str:
    return "\n".join(s for c in calls for s in c.strings())


def block_texts(call: Call) -> list[str]:
    out = []
    for block in call.args.get("blocks", []):
        if isinstance(block.get("text"), dict):
            out.append(block["text"]["text"])
        out.extend(e["text"] for e in block.get("elements", []))
    return out


def count_asks(service: FactBotService, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every question the adapter passes to the real service."""
    asked: list[str] = []
    real = service.ask

    async def ask(question: str, history: Sequence[str | Turn] = ()) -> Answer:
        asked.append(question)
        return await real(question, history)

    monkeypatch.setattr(service, "ask", ask)
    return asked


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    server = FakeSlack(
        users={
            "UALICE": {"name": "alice"},
            "UADMIN": {"name": "admin", "is_admin": True},
            "UOWNER": {"name": "owner", "is_owner": True},
        },
        closed_channels=frozenset({"CPRIVATE"}),
    )
    await server.start()
    yield server
    await server.close()


# ---------------------------------------------------------------------------- /ask


async def test_ask_is_answered_in_channel_with_quotes_and_verdicts(
    fake: FakeSlack, service: FactBotService, make_settings: Callable[..., Settings]
) -> None:
    async with running_slack(make_settings(**slack_env(fake)), service, fake):
        env = await fake.command("/ask", LAUNCH_QUESTION)
        assert await fake.wait_acked(env) is None  # a bare ack: the answer is a real message
        post = await fake.wait_for(lambda: fake.calls_to("chat.postMessage"))
    (call,) = post
    assert call.ok and call.token == fake.bot_token
    assert call.args["channel"] == "CGENERAL" and "thread_ts" not in call.args
    blocks = block_texts(call)
    assert blocks[0].startswith(f"<@UALICE> asked: _{LAUNCH_QUESTION}_")
    quotes = [t for t in blocks if t.startswith("> « ")]
    assert quotes and all(re.search(r"» _§\d+_", q) for q in quotes)
    assert any("\n> _“" in q for q in quotes), "an English answer shows the aligned translation"
    outdated = next(t for t in blocks if t.startswith(":hourglass: *Fact-check — Outdated"))
    assert "2023" in outdated and "May 2024" in outdated
    assert re.search(r"<https://[^|>]+\|[^>]+>", outdated)
    assert call.args["text"]  # notification fallback
    assert fake.responses_to(env) == []  # nothing ephemeral


async def test_ask_off_topic_is_refused_publicly(
    fake: FakeSlack, service: FactBotService, make_settings: Callable[..., Settings]
) -> None:
    async with running_slack(make_settings(**slack_env(fake)), service, fake):
        await fake.command("/ask", OFF_TOPIC)
        (call,) = await fake.wait_for(lambda: fake.calls_to("chat.postMessage"))
    blocks = block_texts(call)
    assert any(t.startswith(":grey_question: *Not covered by the article.*") for t in blocks)
    assert not any(t.startswith("> «") for t in blocks)


async def test_answer_goes_through_response_url_where_the_bot_cannot_post(fake: FakeSlack) -> None:
    async with running_slack(stub_settings(fake), StubService(), fake):
        env = await fake.command("/ask", LAUNCH_QUESTION, channel="CPRIVATE")
        (reply,) = await fake.wait_for(lambda: fake.responses_to(env))
    (failed,) = fake.calls_to("chat.postMessage")
    assert failed.error == "channel_not_found"
    assert reply.args["response_type"] == "in_channel"
    assert any("Fact-check — Outdated" in t for t in block_texts(reply))


async def test_factcheck_and_sources(
    fake: FakeSlack, service: FactBotService, make_settings: Callable[..., Settings]
) -> None:
    notes = len(await service.factchecks(None, "en"))
    async with running_slack(make_settings(**slack_env(fake)), service, fake):
        await fake.command("/factcheck")
        await fake.wait_for(lambda: len(fake.calls_to("chat.postMessage")) == 1)
        await fake.command("/factcheck", "solar power station")
        await fake.wait_for(lambda: len(fake.calls_to("chat.postMessage")) == 2)
        await fake.command("/sources")
        await fake.wait_for(lambda: len(fake.calls_to("chat.postMessage")) == 3)
    everything, topic, sources = fake.calls_to("chat.postMessage")
    assert block_texts(everything)[0] == f"Fact-check notes ({notes})"
    assert len([t for t in block_texts(everything) if "*Fact-check — " in t]) == notes
    topical = block_texts(topic)
    assert topical[1] == "Notes about “solar power station”"
    assert ":x: *Fact-check — Inaccurate" in topical[2]  # the space solar station note leads
    info = service.info()
    assert block_texts(sources)[0] == "Sources"
    assert f"*Fact-check notes:* {info.note_count}" in block_texts(sources)
    assert f"Index version: {info.version}" in texts([sources])


# ---------------------------------------------------------------------------- /reindex


async def reindex_replies(fake: FakeSlack, env: str, count: int) -> list[Call]:
    """The first `count` replies to the command `env`, once they have arrived."""

    def replies() -> list[Call]:
        found = fake.responses_to(env)
        return found[:count] if len(found) >= count else []

    # A guard against a hang, not a timing: a rebuild on a loaded 2-core machine can be slow.
    return await fake.wait_for(replies, timeout=120)


@pytest.mark.parametrize(
    ("user", "extra", "looks_up"),
    [
        ("UMOD", {"SLACK_MODERATOR_IDS": "UOTHER,UMOD"}, False),
        ("UADMIN", {}, True),
        ("UOWNER", {}, True),
    ],
)
async def test_reindex_by_a_moderator_reports_the_rebuild(
    fake: FakeSlack,
    service: FactBotService,
    make_settings: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
    user: str,
    extra: dict[str, str],
    looks_up: bool,
) -> None:
    caplog.set_level(logging.INFO)
    before = service.info().version
    async with running_slack(make_settings(**slack_env(fake, **extra)), service, fake):
        env = await fake.command("/reindex", user=user, user_name="mod")
        started, report = await reindex_replies(fake, env, 2)
    assert started.args["response_type"] == "ephemeral"
    assert "Rebuilding the index" in started.args["text"]
    assert report.args["response_type"] == "ephemeral"
    text = block_texts(report)[0]
    after = service.info()
    assert after.version != before
    assert f"{after.chunk_count} chunks (version `{before}` → `{after.version}`)" in text
    assert re.search(r"\*Changes:\*\n• \S", text)
    assert bool(fake.calls_to("users.info", user=user)) is looks_up
    assert fake.calls_to("chat.postMessage") == []  # moderator replies are never public
    logged = [r.getMessage() for r in caplog.records if "reindex" in r.getMessage()]
    tag = user_tag("slack", user)
    assert any(f"mod ({tag})" in line and "done" in line for line in logged)
    assert not any(user in r.getMessage() for r in caplog.records if r.name.startswith("factbot"))


async def test_reindex_is_refused_to_other_users(
    fake: FakeSlack,
    service: FactBotService,
    make_settings: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = service.info().version
    async with running_slack(
        make_settings(**slack_env(fake, SLACK_MODERATOR_IDS="UMOD")), service, fake
    ):
        env = await fake.command("/reindex", user="UALICE")
        (reply,) = await reindex_replies(fake, env, 1)
        # users.info fails for an unknown user: refused as well, never an error.
        env2 = await fake.command("/reindex", user="UNKNOWN")
        (reply2,) = await reindex_replies(fake, env2, 1)
    for r in (reply, reply2):
        assert r.args["response_type"] == "ephemeral"
        assert ":no_entry: Only moderators can rebuild the index" in block_texts(r)[0]
    assert [len(fake.responses_to(e)) for e in (env, env2)] == [1, 1]  # no "Rebuilding…"
    assert service.info().version == before
    assert fake.calls_to("users.info", user="UALICE")[0].ok
    assert any(
        f"refused for alice ({user_tag('slack', 'UALICE')})" in r.getMessage()
        for r in caplog.records
    )


async def test_failed_reindex_reports_problems_and_keeps_answering(
    fake: FakeSlack,
    service: FactBotService,
    make_settings: Callable[..., Settings],
    corpus_copy: Path,
) -> None:
    note = corpus_copy / "factchecks" / "13-launch-date.md"
    note.write_text(note.read_text().replace("verdict: outdated", "verdict: bogus-verdict"))
    before = service.info().version
    settings = make_settings(**slack_env(fake, SLACK_MODERATOR_IDS="UMOD"))
    async with running_slack(settings, service, fake):
        env = await fake.command("/reindex", user="UMOD")
        _, failure = await reindex_replies(fake, env, 2)
        await fake.command("/ask", LAUNCH_QUESTION)
        (answer,) = await fake.wait_for(lambda: fake.calls_to("chat.postMessage"))
    assert failure.args["response_type"] == "ephemeral"
    report = "\n".join(block_texts(failure))
    assert f"Rebuild failed: the previous index (`{before}`) keeps serving." in report
    assert re.search(r"• .*13-launch-date.*bogus-verdict", report)
    assert service.info().version == before
    # The old index, with the note as it was, still answers.
    assert any(t.startswith(":hourglass: *Fact-check — Outdated") for t in block_texts(answer))


async def test_questions_during_reindex_are_all_answered_and_reindexes_coalesce(
    fake: FakeSlack,
    service: FactBotService,
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="factbot.service")
    # The build is held until the second /reindex has joined it and every question is
    # answered: an unchanged corpus rebuilds in a fraction of a second, so without the gate the
    # second request could arrive after the first build, whatever the machine's load.
    gate = threading.Event()
    rebuilt = Engine.rebuilt

    def held(engine: Engine) -> Engine:
        gate.wait(60)
        return rebuilt(engine)

    monkeypatch.setattr(Engine, "rebuilt", held)
    settings = make_settings(**slack_env(fake, SLACK_MODERATOR_IDS="UMOD,UMOD2"))
    askers = [f"UASK{i}" for i in range(6)]
    async with running_slack(settings, service, fake):
        first = await fake.command("/reindex", user="UMOD")
        await reindex_replies(fake, first, 1)  # "Rebuilding…": the build is under way
        second = await fake.command("/reindex", user="UMOD2")
        for _ in range(600):  # the log line, not a fake's event: polled, at most 30 s
            if any("joins the build already running" in r.getMessage() for r in caplog.records):
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the second /reindex never joined the running build")
        for user in askers:
            await fake.command("/ask", LAUNCH_QUESTION, user=user)
        await fake.wait_for(lambda: len(fake.calls_to("chat.postMessage")) == len(askers))
        gate.set()
        reports = [(await reindex_replies(fake, e, 2))[1] for e in (first, second)]
    posted = [block_texts(c)[0] for c in fake.calls_to("chat.postMessage")]
    assert sorted(p.split(">")[0] for p in posted) == sorted(f"<@{u}" for u in askers)
    assert all(
        any(t.startswith("> « ") for t in block_texts(c)) for c in fake.calls_to("chat.postMessage")
    )
    version = service.info().version
    texts_ = [block_texts(r)[0] for r in reports]
    assert all(f"→ `{version}`)" in t for t in texts_)  # one build served both requests
    assert sum("joined a rebuild that was already running" in t for t in texts_) == 1


# ---------------------------------------------------------------------------- mentions and threads


def mention(
    text: str, ts: str, *, user: str = "UALICE", thread_ts: str | None = None
) -> dict[str, Any]:
    event = {"type": "app_mention", "user": user, "text": text, "ts": ts, "channel": "CGENERAL"}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def message(text: str, ts: str, *, thread_ts: str | None, **extra: Any) -> dict[str, Any]:
    event = {
        "type": "message",
        "user": "UALICE",
        "text": text,
        "ts": ts,
        "channel": "CGENERAL",
        "channel_type": "channel",
        **extra,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


async def test_mention_is_answered_in_a_thread_and_follow_ups_need_no_mention(
    fake: FakeSlack,
    service: FactBotService,
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = count_asks(service, monkeypatch)
    root = fake.next_ts()

    def posts() -> list[Call]:
        return fake.calls_to("chat.postMessage")

    async with running_slack(make_settings(**slack_env(fake)), service, fake):
        # A mention arrives twice in Slack's model: app_mention and message.channels.
        text = f"<@{BOT_USER_ID}> {LAUNCH_QUESTION}"
        await fake.event(mention(text, root))
        await fake.event(message(text, root, thread_ts=None))
        (first,) = await fake.wait_for(posts)
        assert first.args["thread_ts"] == root
        # Not for the bot: a bot's post, an edit, its own post, a thread it does not own.
        await fake.event(message("ignore (bot)", fake.next_ts(), thread_ts=root, bot_id="BX"))
        edit = message("ignore (edit)", fake.next_ts(), thread_ts=root, subtype="message_changed")
        await fake.event(edit)
        await fake.event(message("ignore (own)", fake.next_ts(), thread_ts=root, user=BOT_USER_ID))
        await fake.event(message("ignore (elsewhere)", fake.next_ts(), thread_ts="1.000001"))
        # A follow-up in the bot's thread, without a mention.
        await fake.event(message("Et le DORN français ?", fake.next_ts(), thread_ts=root))
        await fake.wait_for(lambda: len(posts()) == 2)
        # A mention inside the bot's thread: answered once, not twice.
        again, ts = f"<@{BOT_USER_ID}> {OFF_TOPIC}", fake.next_ts()
        await fake.event(mention(again, ts, thread_ts=root))
        await fake.event(message(again, ts, thread_ts=root))
        await fake.wait_for(lambda: len(posts()) == 3)
        # A mention inside someone else's thread answers in that thread.
        await fake.event(mention(f"<@{BOT_USER_ID}> Who signed?", fake.next_ts(), thread_ts="9.9"))
        await fake.wait_for(lambda: len(posts()) == 4)
    _, follow_up, in_own_thread, in_other_thread = posts()
    assert follow_up.args["thread_ts"] == in_own_thread.args["thread_ts"] == root
    assert any("Not covered by the article" in t for t in block_texts(in_own_thread))
    assert in_other_thread.args["thread_ts"] == "9.9"
    # Each question reached the core exactly once; none of the ignored messages did.
    assert asked == [LAUNCH_QUESTION, "Et le DORN français ?", OFF_TOPIC, "Who signed?"]


async def test_a_thread_follow_up_is_read_with_the_earlier_questions(
    fake: FakeSlack, make_settings: Callable[..., Settings], service: FactBotService
) -> None:
    def posts() -> list[Call]:
        return fake.calls_to("chat.postMessage")

    async with running_slack(make_settings(**slack_env(fake)), service, fake):
        # Alone, an elliptical follow-up names nothing the article covers: refused.
        await fake.event(mention(f"<@{BOT_USER_ID}> et elle ramene quoi ?", fake.next_ts()))
        await fake.wait_for(lambda: len(posts()) == 1)
        root = fake.next_ts()
        await fake.event(mention(f"<@{BOT_USER_ID}> quand part chang'e 6 ?", root))
        await fake.wait_for(lambda: len(posts()) == 2)
        await fake.event(message("et elle ramene quoi ?", fake.next_ts(), thread_ts=root))
        await fake.wait_for(lambda: len(posts()) == 3)
        # After an /ask, a follow-up in the thread of its answer reads the /ask question.
        await fake.command("/ask", "c quoi svom")
        await fake.wait_for(lambda: len(posts()) == 4)
        svom_root = posts()[3].response["ts"]
        await fake.event(message("launched when tho?", fake.next_ts(), thread_ts=svom_root))
        await fake.wait_for(lambda: len(posts()) == 5)
    alone, _, followup, _, launched = posts()
    assert any("Pas couvert par l'article" in t for t in block_texts(alone))
    assert followup.args["thread_ts"] == root
    assert not any("Pas couvert" in t for t in block_texts(followup))
    assert "chantillons" in " ".join(block_texts(followup))  # what Chang'e 6 brought back
    assert launched.args["thread_ts"] == svom_root
    assert "2024" in " ".join(block_texts(launched))  # SVOM launched on 22 June 2024


async def test_follow_up_in_a_thread_rooted_by_an_ask_answer(fake: FakeSlack) -> None:
    stub = StubService()
    async with running_slack(stub_settings(fake), stub, fake):
        await fake.command("/ask", "first question")
        (root,) = await fake.wait_for(lambda: fake.calls_to("chat.postMessage"))
        root_ts = root.response["ts"]
        await fake.event(message("second question", fake.next_ts(), thread_ts=root_ts))
        await fake.wait_for(lambda: len(fake.calls_to("chat.postMessage")) == 2)
    assert root.ok and "thread_ts" not in root.args
    assert fake.calls_to("chat.postMessage")[1].args["thread_ts"] == root_ts
    assert stub.asked == ["first question", "second question"]


async def test_direct_messages_and_redelivered_events(fake: FakeSlack) -> None:
    stub = StubService()

    def dm(text: str) -> dict[str, Any]:
        event = message(text, fake.next_ts(), thread_ts=None, channel_type="im")
        return event | {"channel": "DALICE"}

    async with running_slack(stub_settings(fake), stub, fake):
        question = dm("a question in a DM")
        await fake.event(question, event_id="EvSAME")
        await fake.event(question, event_id="EvSAME")  # Slack redelivers after a reconnect
        (post,) = await fake.wait_for(lambda: fake.calls_to("chat.postMessage"))
        # No app_mention comes for a DM, so a DM naming the bot is a question too.
        await fake.event(dm(f"<@{BOT_USER_ID}> and this one?"))
        await fake.wait_for(lambda: len(fake.calls_to("chat.postMessage")) == 2)
    assert post.args["channel"] == "DALICE" and "thread_ts" not in post.args
    assert stub.asked == ["a question in a DM", "and this one?"]


# ---------------------------------------------------------------------------- safety


async def test_user_text_can_never_ping_the_channel(fake: FakeSlack) -> None:
    hostile = (
        "<!channel> <!here> <!everyone> <!subteam^S123|@mods> <!subteam^S456> "
        "@here launch? &lt;!here&gt; &lt;!channel|x&gt;"
    )
    async with running_slack(stub_settings(fake), StubService(), fake):
        await fake.command("/ask", hostile)
        await fake.event(mention(f"<@{BOT_USER_ID}> {hostile}", fake.next_ts()))
        await fake.command("/factcheck", hostile)
        await fake.command(
            "/ask", hostile + " " + "x" * 600
        )  # rejected: the error echoes nothing raw
        await fake.wait_for(lambda: len(fake.calls_to("chat.postMessage")) == 3)
        await fake.wait_for(lambda: len(fake.calls_to("response_url")) == 1)
    outgoing = fake.outgoing()
    assert len(outgoing) == 4
    for call in outgoing:
        for text in call.strings():
            assert not UNESCAPED_BROADCAST.search(text), text
    shown = texts(outgoing)
    assert "@\u2060channel @\u2060here @\u2060everyone @mods @group" in shown  # echoed, defused
    assert "&lt;!here&gt;" in shown  # what the user typed literally is shown literally


# ---------------------------------------------------------------------------- hygiene and limits


async def test_cooldown_is_per_user_and_polite(fake: FakeSlack) -> None:
    stub = StubService()
    settings = stub_settings(fake, USER_COOLDOWN_SECONDS="600", USER_COOLDOWN_BURST="1")
    async with running_slack(settings, stub, fake):
        await fake.command("/ask", "first")
        await fake.wait_for(lambda: fake.calls_to("chat.postMessage"))
        env = await fake.command("/ask", "second")
        (slow_down,) = await fake.wait_for(lambda: fake.responses_to(env))
        # Told a moment ago: the next refusal in the same period is not told again.
        await fake.event(mention(f"<@{BOT_USER_ID}> third", fake.next_ts()))
        await fake.command("/ask", "from bob", user="UBOB")
        await fake.wait_for(lambda: len(fake.calls_to("chat.postMessage")) == 2)
    assert slow_down.args["response_type"] == "ephemeral"
    assert re.search(r"please wait \d+ s", slow_down.args["text"])
    assert fake.calls_to("chat.postEphemeral") == []
    assert stub.asked == ["first", "from bob"]


async def test_empty_and_huge_questions_are_rejected_privately(fake: FakeSlack) -> None:
    stub = StubService()
    async with running_slack(stub_settings(fake), stub, fake):
        empty = await fake.command("/ask", "   ")
        huge = await fake.command("/ask", "why " * 2000)
        (e,) = await fake.wait_for(lambda: fake.responses_to(empty))
        (h,) = await fake.wait_for(lambda: fake.responses_to(huge))
        root = fake.next_ts()
        await fake.event(mention(f"<@{BOT_USER_ID}>", root))
        (m,) = await fake.wait_for(lambda: fake.calls_to("chat.postEphemeral"))
    assert e.args["response_type"] == h.args["response_type"] == "ephemeral"
    assert "Please type a question" in e.args["text"]
    assert "the limit is 500" in h.args["text"]
    assert m.args["thread_ts"] == root and "Please type a question" in m.args["text"]
    assert stub.asked == [] and fake.calls_to("chat.postMessage") == []


async def test_one_error_handler_tells_the_user_without_a_traceback(
    fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    stub = StubService(error=RuntimeError("kaboom: internal detail"))
    async with running_slack(stub_settings(fake), stub, fake):
        env = await fake.command("/ask", LAUNCH_QUESTION)
        (reply,) = await fake.wait_for(lambda: fake.responses_to(env))
        await fake.event(mention(f"<@{BOT_USER_ID}> {LAUNCH_QUESTION}", fake.next_ts()))
        (ephemeral,) = await fake.wait_for(lambda: fake.calls_to("chat.postEphemeral"))
    for call in (reply, ephemeral):
        shown = texts([call])
        assert "Sorry — something went wrong" in shown  # the same wording as on Discord
        assert "kaboom" not in shown and "Traceback" not in shown
    assert reply.args["response_type"] == "ephemeral"
    failures = [r for r in caplog.records if r.name == "factbot.slack" and r.exc_info]
    assert len(failures) == 2
    assert all("kaboom" in str(r.exc_info[1]) for r in failures if r.exc_info)


# ---------------------------------------------------------------------------- start-up


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"SLACK_BOT_TOKEN": "xoxb-only"},
        {"SLACK_APP_TOKEN": "xapp-only", "SLACK_SIGNING_SECRET": "secret"},
    ],
)
async def test_missing_tokens_fail_with_one_clear_line(env: dict[str, str]) -> None:
    with pytest.raises(AdapterStartError) as info:
        await serve(Settings.from_mapping(env), cast(FactBotService, StubService()))
    assert str(info.value) == MISSING_TOKENS


async def test_rejected_bot_token_fails_fast_without_logging_it(
    fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bad = "xoxb-rejected-0123456789-secretvalue"
    settings = Settings.from_mapping(slack_env(fake) | {"SLACK_BOT_TOKEN": bad})
    with pytest.raises(AdapterStartError) as info:
        await asyncio.wait_for(serve(settings, cast(FactBotService, StubService())), 15)
    assert str(info.value) == "Slack rejected SLACK_BOT_TOKEN (invalid_auth)"
    (call,) = fake.calls
    assert call.method == "auth.test" and call.token == bad  # it was really sent, and refused
    assert caplog.records, "debug logging was captured"
    assert bad not in caplog.text and bad not in str(info.value)
    assert fake.ws_connections == 0


async def test_rejected_app_token_fails_fast_without_logging_it(
    fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bad = "xapp-rejected-0123456789-secretvalue"
    settings = Settings.from_mapping(slack_env(fake) | {"SLACK_APP_TOKEN": bad})
    with pytest.raises(AdapterStartError) as info:
        await asyncio.wait_for(serve(settings, cast(FactBotService, StubService())), 15)
    assert str(info.value) == "Slack rejected SLACK_APP_TOKEN (invalid_auth)"
    assert [c.method for c in fake.calls] == ["auth.test", "apps.connections.open"]
    assert fake.calls[1].token == bad
    assert bad not in caplog.text
    assert fake.ws_connections == 0


async def test_unreachable_api_fails_with_one_line() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings.from_mapping(
        {
            "SLACK_BOT_TOKEN": "xoxb-x",
            "SLACK_APP_TOKEN": "xapp-x",
            "SLACK_API_BASE": f"http://127.0.0.1:{port}/api",
        }
    )
    with pytest.raises(
        AdapterStartError, match=r"cannot reach the Slack Web API at http://127\.0\.0\.1:\d+/api/"
    ):
        await asyncio.wait_for(serve(settings, cast(FactBotService, StubService())), 30)


async def test_socket_mode_connects_and_reconnects_through_the_api_base(fake: FakeSlack) -> None:
    stub = StubService()
    async with running_slack(stub_settings(fake), stub, fake):
        assert [c.method for c in fake.calls] == ["auth.test", "apps.connections.open"]
        assert fake.calls[1].token == fake.app_token
        await fake.request_reconnect()
        await fake.wait_connected(connections=2)
        await fake.command("/ask", "still there?")
        await fake.wait_for(lambda: fake.calls_to("chat.postMessage"))
    opened = fake.calls_to("apps.connections.open")
    assert len(opened) == 2 and all(c.ok and c.token == fake.app_token for c in opened)
    assert stub.asked == ["still there?"]


# ---------------------------------------------------------------------------- HTTP mode


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def signed(secret: str, body: str) -> dict[str, str]:
    timestamp = str(int(time.time()))
    base = f"v0:{timestamp}:{body}".encode()
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


async def test_http_mode_verifies_signatures_and_answers(
    fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="factbot.slack")
    port = free_port()
    secret = "signing-secret-for-tests"
    settings = Settings.from_mapping(
        {
            "SLACK_BOT_TOKEN": fake.bot_token,
            "SLACK_SIGNING_SECRET": secret,
            "SLACK_API_BASE": fake.api_base,
            "SLACK_PORT": str(port),
            "SLACK_HOST": "127.0.0.1",  # loopback only: the test's server is reachable from here
            "USER_COOLDOWN_SECONDS": "0",
        }
    )
    listening = LogSignal("slack: HTTP mode, listening")
    logging.getLogger("factbot.slack").addHandler(listening)
    stub = StubService()
    task = asyncio.create_task(serve(settings, cast(FactBotService, stub)))
    url = f"http://127.0.0.1:{port}/slack/events"
    body = urlencode(
        {
            "command": "/ask",
            "text": "over http?",
            "user_id": "UALICE",
            "user_name": "alice",
            "channel_id": "CGENERAL",
            "team_id": "T0FAKE",
            "trigger_id": "t",
            "response_url": f"http://127.0.0.1:{fake.port}/respond/77",
        }
    )
    try:
        await asyncio.wait_for(listening.seen.wait(), 15)
        async with aiohttp.ClientSession() as session:
            async with session.post(url, data=body, headers=signed("wrong", body)) as r:
                assert r.status == 401
            async with session.post(url, data=body, headers=signed(secret, body)) as r:
                assert r.status == 200
        (post,) = await fake.wait_for(lambda: fake.calls_to("chat.postMessage"))
    finally:
        logging.getLogger("factbot.slack").removeHandler(listening)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert stub.asked == ["over http?"]  # the forged request was never dispatched
    assert post.args["channel"] == "CGENERAL"
    assert any("Fact-check — Outdated" in t for t in block_texts(post))


class LogSignal(logging.Handler):
    """Sets `seen` when a log message starting with `prefix` is emitted (an event, not a poll)."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix
        self.seen = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith(self.prefix):
            self.seen.set()
