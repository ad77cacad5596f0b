"""Closing the loop on Discord, end to end: the real discord.py client against the fake Discord,
the real service (model, index, notes desk) and a real SQLite database, wired as `factbot run`
wires them (`bot.cli.commands._closing_loop`: the notifier observing the service, Discord's
`Deliver` registered by the client).

A refused question's 🔔, then a moderator's `/note add`, gets the answer into the asker's
thread once, also when the bot restarted in between; a note's verdict changed corrects the
thread of an earlier answer once, and a silent edit tells nobody; "Ask a moderator" posts the
request in the moderators' channel, whose "Write a note" tells the asker; "Mark resolved" is
refused to a member. Waits are event-based; timeouts only bound a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.chat.delivery import Deliveries
from bot.chat.discord.notes import FIELD_IDS, form_custom_id
from bot.chat.discord.render import handoff_custom_id, subscribe_custom_id
from bot.cli import commands
from bot.learning.loop import LearningLoop
from bot.learning.notify import Correction, CorrectionItem, Notifier
from bot.messages import text
from bot.notes.records import NoteForm
from bot.serving.service import FactBotService
from bot.settings import Settings, SettingsError
from bot.storage import Database, Store
from bot.storage.hashing import UserHasher
from bot.storage.loop import Place
from tests.chat_support import discord_env, running_discord
from tests.fakes.discord_server import EPHEMERAL, FakeDiscord, Interaction, Recorded
from tests.learning_support import KEY, logged
from tests.note_support import CLAIM, FORM, REFUSED_NOW

pytestmark = pytest.mark.timeout(600)

MODERATOR: dict[str, Any] = {"user_id": 1400000000000000042, "user_name": "Camille"}
ASKER_ID = 1400000000000000001
# The form's fields as the fake Discord submits them (the verdict a select's values).
NOTE: dict[str, str | list[str]] = {
    "claim": FORM.claim,
    "verdict": [FORM.verdict],
    "fr": FORM.fr,
    "en": FORM.en,
    "sources": FORM.sources,
}
MODERATORS = "1200000000000000031"  # the moderators' channel (any id: the fake accepts posts)
NOTED = "Combien de kilos d'expériences la France devait-elle embarquer sur Chang'e 6 ?"


@dataclass
class Bot:
    fake: FakeDiscord
    service: FactBotService
    learning: LearningLoop
    notifier: Notifier
    deliveries: Deliveries


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'var' / 'factbot.db'}"


@contextlib.asynccontextmanager
async def world(
    make_settings: Callable[..., Settings], tmp_path: Path, **env: str
) -> AsyncIterator[tuple[FakeDiscord, Settings, FactBotService]]:
    """The fake Discord, the settings pointing at it, and a service whose notes live in the
    same SQLite database as the question log."""
    async with FakeDiscord() as fake:
        values = {k: v.format(guild=fake.guild_id) for k, v in env.items()}
        settings = make_settings(**discord_env(fake, DATABASE_URL=sqlite_url(tmp_path), **values))
        service = await asyncio.to_thread(FactBotService.from_settings, settings)
        try:
            yield fake, settings, service
        finally:
            await service.aclose()


@contextlib.asynccontextmanager
async def bot(settings: Settings, service: FactBotService, fake: FakeDiscord) -> AsyncIterator[Bot]:
    """One bot process: its learning loop, notifier and client (a restart: a second one)."""
    async with logged(settings, service) as (intake, learning):
        deliveries = commands._closing_loop(settings, service, learning, None)
        assert isinstance(deliveries, Deliveries) and deliveries.notifier is not None
        # A restart on the same fake: wait for this client's own READY, not the first one's.
        ready = len(fake.identifies) + 1
        try:
            async with running_discord(settings, service, fake, intake, learning, deliveries):
                await fake.wait_gateway(identifies=ready)
                assert deliveries.platforms == ("discord",)
                yield Bot(fake, service, learning, deliveries.notifier, deliveries)
        finally:
            # This process stops: its notifier no longer sees changes (a restart's does).
            await deliveries.notifier.aclose()
            service._observers.remove(deliveries.notifier)


def moderator(fake: FakeDiscord) -> dict[str, Any]:
    return {**MODERATOR, "roles": [fake.moderator_role_id]}


def posted(fake: FakeDiscord, channel: str) -> list[Recorded]:
    """The bot's accepted posts in a channel or thread (not interaction replies)."""
    return [
        r
        for r in fake.requests
        if r.method == "POST" and r.path == f"/channels/{channel}/messages" and r.accepted
    ]


def told(fake: FakeDiscord, channel: str, key: str) -> list[dict[str, Any]]:
    """The posts in `channel` that start with the catalogue line `key` (in French: the
    questions are; a notice speaks the asker's language)."""
    head = f"**{text(key, 'fr')}"
    return [
        r.body for r in posted(fake, channel) if str(r.body.get("content", "")).startswith(head)
    ]


async def ask_in_thread(fake: FakeDiscord, question: str) -> tuple[str, dict[str, Any]]:
    """A member mentions the bot: it opens a thread and answers there; (thread id, answer)."""
    message = await fake.post_message(f"<@{fake.bot_id}> {question}", mention_bot=True)
    thread = str(message["id"])  # Discord gives a thread started from a message its id
    (answer,) = await fake.wait_for(
        lambda r: r.method == "POST" and r.path == f"/channels/{thread}/messages" and r.accepted,
        timeout=120,
    )
    assert isinstance(answer.response, dict)
    return thread, answer.response


def buttons(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        str(c["custom_id"]): c
        for row in message.get("components") or []
        for c in row.get("components") or []
    }


def answer_id_of(message: dict[str, Any]) -> str:
    up = next(c for c in buttons(message) if c.startswith("factbot:vote:up:"))
    return up.rsplit(":", 1)[1]


async def private_line(fake: FakeDiscord, interaction: Interaction) -> str:
    reply = await fake.wait_reply(interaction, timeout=240)
    assert reply.ephemeral
    messages = reply.followups or [reply.message]
    assert all(m["flags"] & EPHEMERAL for m in reply.followups)
    return "\n".join(str(m.get("content") or "") for m in messages)


async def add_note(fake: FakeDiscord, values: dict[str, str | list[str]], custom_id: str) -> str:
    """Submit the note form `custom_id` as the moderator; the private save report."""
    submitted = {FIELD_IDS[f]: v for f, v in values.items()}  # type: ignore[index]
    sent = await fake.submit_modal(custom_id, submitted, **moderator(fake))
    return await private_line(fake, sent)


async def test_a_subscriber_is_told_once_when_a_note_answers_even_after_a_restart(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    async with world(make_settings, tmp_path) as (fake, settings, service):
        async with bot(settings, service, fake) as first:
            thread, refused = await ask_in_thread(fake, REFUSED_NOW)
            answer_id = answer_id_of(refused)
            # A refusal carries 🔔; no moderators' channel: no "Ask a moderator".
            assert subscribe_custom_id(answer_id) in buttons(refused)
            assert handoff_custom_id(answer_id) not in buttons(refused)
            bell = await fake.press(refused, subscribe_custom_id(answer_id))
            line = await private_line(fake, bell)
            assert line == text("loop.subscribed", "en", days=settings.subscription_days)
            again = await fake.press(refused, subscribe_custom_id(answer_id))
            assert await private_line(fake, again) == text("loop.already_subscribed", "en")
            (sub,) = first.learning.store.loop.open_subscriptions()
            assert sub.place.thread_id == thread and sub.question == REFUSED_NOW

        # The bot restarted: a new client, learning loop and notifier on the same database.
        async with bot(settings, service, fake) as second:
            form = await fake.interact("note", subcommand="add", **moderator(fake))
            await fake.wait_callback(form)
            report = await add_note(fake, NOTE, form_custom_id(None))
            assert text("loop.told", "en", threads=0, subscribers=1) in report
            await second.notifier.idle()
            (notice,) = told(fake, thread, "loop.answered.title")
            assert text("loop.answered.question", "fr", question=REFUSED_NOW) in str(
                notice["content"]
            )
            assert "Xi Jinping" in str(notice["embeds"][0])
            assert notice["allowed_mentions"] == {"parse": []}
            assert second.learning.store.loop.open_subscriptions() == []

            # Another change to that note: the subscriber is not told again.
            answered = await service.ask(REFUSED_NOW)
            (note_id,) = [f.id for f in answered.factchecks if f.claim == CLAIM]
            edited = {**NOTE, "en": str(NOTE["en"]) + " Again."}
            await add_note(fake, edited, form_custom_id(note_id))
            await second.notifier.idle()
            assert len(told(fake, thread, "loop.answered.title")) == 1


async def test_a_changed_verdict_corrects_the_thread_once_and_silent_tells_nobody(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    async with (
        world(make_settings, tmp_path) as (fake, settings, service),
        bot(settings, service, fake) as b,
    ):
        thread, answer = await ask_in_thread(fake, NOTED)
        assert subscribe_custom_id(answer_id_of(answer)) not in buttons(answer)
        assert b.learning.store.flush(timeout=30)
        desk = service.notes
        assert desk is not None
        before = await service.ask(NOTED)
        note_id = before.factchecks[0].id
        form = await desk.form(note_id)
        assert isinstance(form, NoteForm)

        # /note show says how many threads a change would tell.
        shown = await fake.interact("note", {"id": note_id}, subcommand="show", **moderator(fake))
        would = text("loop.would_tell", "en", threads=1, subscribers=0)
        assert would in await private_line(fake, shown)

        # Silent (a typo fix): saved, nobody told.
        silent = await fake.interact(
            "note", {"id": note_id, "silent": True}, subcommand="edit", **moderator(fake)
        )
        modal = (await fake.wait_callback(silent)).body["data"]
        assert modal["custom_id"] == form_custom_id(note_id, silent=True)
        typo: dict[str, str | list[str]] = {
            "claim": form.claim,
            "verdict": [form.verdict],
            "fr": form.fr,
            "en": form.en + " (typo)",
            "sources": form.sources,
        }
        report = await add_note(fake, typo, modal["custom_id"])
        assert "Told:" not in report
        await b.notifier.idle()
        assert told(fake, thread, "loop.correction.title") == []

        # The verdict changed: one correction in the thread, and the report says so.
        new_verdict = "misleading" if form.verdict != "misleading" else "inaccurate"
        report = await add_note(fake, {**typo, "verdict": [new_verdict]}, form_custom_id(note_id))
        assert text("loop.told", "en", threads=1, subscribers=0) in report
        await b.notifier.idle()
        (correction,) = told(fake, thread, "loop.correction.title")
        assert correction["allowed_mentions"] == {"parse": []}
        assert len(str(correction["content"])) <= 2000


async def test_ask_a_moderator_write_a_note_tells_the_asker_and_resolve_is_for_moderators(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    env = {"MODERATOR_CHANNEL_ID": f"{{guild}}:{MODERATORS}"}
    async with world(make_settings, tmp_path, **env) as (fake, settings, service):
        moderators_channel = MODERATORS
        async with bot(settings, service, fake) as b:
            thread, earlier = await ask_in_thread(fake, "Who built the rocket?")
            await fake.post_message("Is it true?", channel_id=int(thread))
            await fake.wait_for(lambda r: len(posted(fake, thread)) >= 2, timeout=120)
            await fake.post_message(REFUSED_NOW, channel_id=int(thread))
            await fake.wait_for(lambda r: len(posted(fake, thread)) >= 3, timeout=120)
            refused = posted(fake, thread)[2].response
            assert isinstance(refused, dict)
            answer_id = answer_id_of(refused)
            assert handoff_custom_id(answer_id) in buttons(refused)

            asked = await fake.press(refused, handoff_custom_id(answer_id))
            assert await private_line(fake, asked) == text("loop.handoff_sent", "en")
            (request,) = posted(fake, moderators_channel)
            content = str(request.body["content"])
            assert REFUSED_NOW in content and f"<#{thread}>" in content
            assert "Who built the rocket?" in content  # the thread's earlier questions
            message = request.response
            assert isinstance(message, dict)
            ids = list(buttons(message))
            write, resolve = ids

            # A member may not resolve it (checked on the press).
            member = await fake.press(message, resolve, roles=[fake.other_role_id])
            refusal = await private_line(fake, member)
            assert refusal.startswith("Only moderators")
            assert b.learning.store.loop.open_subscriptions() != []

            # Write a note: the form prefilled with the question; saved, the asker told.
            pressed = await fake.press(message, write, **moderator(fake))
            modal = (await fake.wait_callback(pressed)).body["data"]
            assert modal["custom_id"].startswith("factbot:loop:form:")
            claim = next(
                c["component"]
                for c in modal["components"]
                if c["component"]["custom_id"] == FIELD_IDS["claim"]
            )
            assert claim["value"] == REFUSED_NOW
            report = await add_note(fake, NOTE, modal["custom_id"])
            assert text("loop.told", "en", threads=0, subscribers=1) in report
            await b.notifier.idle()
            assert len(told(fake, thread, "loop.answered.title")) == 1
            # Resolved by the note: a later press says so.
            again = await fake.press(message, resolve, **moderator(fake))
            assert await private_line(fake, again) == text("loop.already_resolved", "en")
            del earlier


async def test_mark_resolved_tells_the_asker_and_a_gone_thread_is_not_sent(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    # One bare id: the moderators' channel of the one server this bot serves.
    async with world(make_settings, tmp_path, MODERATOR_CHANNEL_ID=MODERATORS) as (
        fake,
        settings,
        service,
    ):
        moderators_channel = MODERATORS
        async with bot(settings, service, fake) as b:
            thread, refused = await ask_in_thread(fake, REFUSED_NOW)
            answer_id = answer_id_of(refused)
            # 👎 on the refusal: its private reply offers 🔔 and "Ask a moderator" too.
            down = await fake.press(refused, f"factbot:vote:down:{answer_id}")
            modal = (await fake.wait_callback(down)).body["data"]
            reason = await fake.submit_modal(
                modal["custom_id"], {"factbot:reason:text": "no answer"}, channel_id=int(thread)
            )
            await fake.wait_reply(reason, timeout=60)
            (reply,) = [
                r.response["resource"]["message"]
                for r in fake.calls_for(reason.token)
                if r.accepted and r.path.endswith("/callback")
            ]
            assert reply["flags"] & EPHEMERAL
            assert set(buttons(reply)) == {
                subscribe_custom_id(answer_id),
                handoff_custom_id(answer_id),
            }
            asked = await fake.press(reply, handoff_custom_id(answer_id))
            await private_line(fake, asked)
            (request,) = posted(fake, moderators_channel)
            message = request.response
            assert isinstance(message, dict)
            _, resolve = list(buttons(message))
            done = await fake.press(message, resolve, **moderator(fake))
            await fake.wait_for(lambda r: len(told_resolved(fake, thread)) == 1, timeout=60)
            edited = (await fake.wait_callback(done)).body
            assert edited["type"] == 7  # the request updated
            assert "Resolved by Camille." in str(edited["data"]["content"])
            assert edited["data"]["components"] == []
            assert b.learning.store.loop.open_subscriptions() == []

            # A thread deleted since: the notice is not sent (False: marked failed).
            fake.gone_channels.add(int(thread))
            place = Place("discord", str(fake.guild_id), str(fake.channel_id), thread)
            item = CorrectionItem("fc-x", "verdict", CLAIM, "accurate", "misleading", None)
            notice = Correction(place, "en", (item,))
            assert await b.deliveries.deliver(place, notice) is False
            assert await b.deliveries.deliver(replace(place, platform="slack"), notice) is False


def told_resolved(fake: FakeDiscord, thread: str) -> list[Recorded]:
    """The asker's thread told their request was resolved (in their language: French)."""
    line = text("loop.resolved", "fr", question=REFUSED_NOW)
    return [r for r in posted(fake, thread) if r.body.get("content") == line]


def test_each_community_has_its_own_moderators_channel() -> None:
    mapped = Settings.from_mapping({"MODERATOR_CHANNEL_ID": "111:222, T0AB:C0CD"})
    assert mapped.moderator_channel("111") == "222"
    assert mapped.moderator_channel("T0AB") == "C0CD"
    assert mapped.moderator_channel("333") is None  # another server: no "Ask a moderator"
    bare = Settings.from_mapping({"MODERATOR_CHANNEL_ID": "222"})
    assert bare.moderator_channel("111") == bare.moderator_channel("333") == "222"
    assert Settings.from_mapping({}).moderator_channel("111") is None
    with pytest.raises(SettingsError, match="MODERATOR_CHANNEL_ID"):
        Settings.from_mapping({"MODERATOR_CHANNEL_ID": "111:#mods"})


def test_the_question_behind_an_answer_and_its_thread_on_real_databases(
    database_url: str,
) -> None:
    """What 🔔 and "Ask a moderator" read (`LoopRepository.asked`, `thread_questions`)."""
    store = Store(Database(database_url), UserHasher(KEY), interval=0.02, retry_max=0.5)
    assert store.start(wait=30)
    try:
        start = datetime.now(UTC) - timedelta(minutes=5)
        ids = [
            store.log_question(
                platform="discord",
                user_id="member",
                question=question,
                outcome="refused",
                guild_id="G1",
                channel_id="C1",
                thread_id="T1",
                language="en",
                asked_at=start + timedelta(seconds=i),
            )
            for i, question in enumerate(["first?", "second?", "third?"])
        ]
        elsewhere = store.log_question(
            platform="discord", user_id="member", question="in a DM?", outcome="refused"
        )
        assert store.flush(timeout=30)
        loop = store.loop
        asked = loop.asked(ids[2])
        assert asked is not None
        assert (asked.question, asked.outcome, asked.thread_id) == ("third?", "refused", "T1")
        assert loop.thread_questions(asked) == ["first?", "second?"]
        assert loop.thread_questions(asked, most=1) == ["second?"]
        in_dm = loop.asked(elsewhere)
        assert in_dm is not None and in_dm.guild_id is None
        assert loop.thread_questions(in_dm) == []
        assert loop.asked("no-such-answer") is None
    finally:
        store.close(timeout=5)
