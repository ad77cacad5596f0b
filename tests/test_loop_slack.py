"""Closing the loop on Slack, end to end: the real slack_bolt app in Socket Mode against the fake
Slack, a real FactBotService (model, FAISS, BM25) over a private corpus and index, a real SQLite
database for the notes, the question log and the loop, and the real `Notifier` delivering through
the bot (`Deliveries`, registered by the app when it signs in).

- A refused answer carries 🔔; a member presses it; a moderator adds the answering note with
  `/note add`; the member's thread gets the answer once, and the moderator's report says whom it
  told. An answer showing that note gets one correction in its thread when the verdict changes
  (the edit form says how many threads it would tell); a silent save tells nobody.
- "Ask a moderator" posts the question in the workspace's moderators' channel; a member's
  "Mark resolved" is refused; "Write a note" opens the note modal showing the question; the
  note saved, the asker is told in their thread; "Mark resolved" tells them it was dealt with.
- The Slack `Deliver` on its own: a DM opened with conversations.open, a closed channel False.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.answer import Answer, Language
from bot.chat.delivery import Deliveries
from bot.chat.slack.loop import (
    HANDOFF_ACTION,
    RESOLVE_ACTION,
    SUBSCRIBE_ACTION,
    WRITE_NOTE_ACTION,
    SlackDelivery,
)
from bot.chat.slack.notes import BLOCK_IDS, NOTIFY_ACTION, NOTIFY_BLOCK
from bot.learning.loop import LearningLoop
from bot.learning.notify import Correction, CorrectionItem, Notifier
from bot.messages import text as message
from bot.notes.records import FORM_FIELDS, NoteForm
from bot.serving.intake import Intake
from bot.serving.service import FactBotService
from bot.settings import Settings
from bot.storage.loop import Place
from tests.chat_support import running_slack, slack_env
from tests.fakes.slack_server import TEAM_ID, Call, FakeSlack
from tests.learning_support import logged
from tests.note_support import CLAIM, FORM, REFUSED_NOW

pytestmark = pytest.mark.timeout(900)

MOD, MOD_NAME = "UMOD", "modo"
MEMBER = "UALICE"
CHANNEL = "CGENERAL"
MODS_CHANNEL = "CMODS"
SHOWS_NOTE = "When did Xi Jinping visit France?"  # answered with the note, once it exists
ASKED_IN: Language = "fr"  # the language REFUSED_NOW is detected in: its replies' language
ANSWERED_LATER = message("loop.answered.title", ASKED_IN)
CORRECTION = message("loop.correction.title", "en")


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    server = FakeSlack(users={MEMBER: {"name": "alice"}, MOD: {"name": MOD_NAME}})
    await server.start()
    yield server
    await server.close()


def texts(call: Call) -> str:
    """Every text of a message's blocks (sections, contexts, buttons), one per line."""
    out: list[str] = []
    for block in call.args.get("blocks", []):
        if isinstance(block.get("text"), dict):
            out.append(block["text"]["text"])
        for element in block.get("elements", []):
            text = element.get("text")
            out.append(text["text"] if isinstance(text, dict) else str(text))
    return "\n".join(out)


def buttons(call: Call) -> list[str]:
    return [
        e["action_id"]
        for b in call.args.get("blocks", [])
        if b["type"] == "actions"
        for e in b["elements"]
    ]


def typed(form: NoteForm, notify: str | None = None) -> dict[str, dict[str, str]]:
    """What `submit_view` sends for `form` (and the notify radio, when chosen)."""
    values: dict[str, dict[str, str]] = {
        BLOCK_IDS[f]: {str(f): getattr(form, f)} for f in FORM_FIELDS
    }
    if notify is not None:
        values[NOTIFY_BLOCK] = {NOTIFY_ACTION: notify}
    return values


def posts(fake: FakeSlack, containing: str, **match: Any) -> list[Call]:
    return [
        c for c in fake.calls_to("chat.postMessage", **match) if c.ok and containing in texts(c)
    ]


def mods_posts(fake: FakeSlack) -> list[Call]:
    return fake.calls_to("chat.postMessage", channel=MODS_CHANNEL)


def private_to(fake: FakeSlack, user: str, containing: str) -> list[Call]:
    return [
        c for c in fake.calls_to("chat.postEphemeral", user=user) if c.ok and containing in texts(c)
    ]


async def ask(fake: FakeSlack, question: str) -> Call:
    """A member's /ask in CHANNEL: the public answer (its ts roots its thread)."""
    before = len(fake.calls_to("chat.postMessage", channel=CHANNEL))
    await fake.command("/ask", question, user=MEMBER)
    await fake.wait_for(
        lambda: len(fake.calls_to("chat.postMessage", channel=CHANNEL)) > before, timeout=120
    )
    return fake.calls_to("chat.postMessage", channel=CHANNEL)[before]


async def reply_to(fake: FakeSlack, envelope: str) -> str:
    """The one private reply to a button press (its response_url)."""
    await fake.wait_for(lambda: fake.responses_to(envelope), timeout=60)
    (reply,) = fake.responses_to(envelope)
    return texts(reply)


@contextlib.asynccontextmanager
async def closing_the_loop(
    settings: Settings, fake: FakeSlack
) -> AsyncIterator[tuple[FactBotService, LearningLoop, Notifier]]:
    """The bot as `factbot run` wires it: the service, the question log, and the notifier
    delivering through the Slack app."""
    service = await asyncio.to_thread(FactBotService.from_settings, settings)
    desk = service.notes
    assert desk is not None

    async def asked_again(question: str, language: Language) -> Answer:
        return await service.ask(question)

    deliveries = Deliveries()
    try:
        async with logged(settings, service) as (intake, learning):
            notifier = Notifier(learning.store, desk.repository, asked_again, deliveries, settings)
            deliveries.notifier = notifier
            service.add_observer(notifier)
            async with _bot(settings, service, fake, intake, learning, deliveries):
                yield service, learning, notifier
                await notifier.idle()
            await notifier.aclose()
    finally:
        await service.aclose()


@contextlib.asynccontextmanager
async def _bot(
    settings: Settings,
    service: FactBotService,
    fake: FakeSlack,
    intake: Intake,
    learning: LearningLoop,
    deliveries: Deliveries,
) -> AsyncIterator[None]:
    async with running_slack(settings, service, fake, intake, learning, deliveries=deliveries):
        await fake.wait_for(lambda: "slack" in deliveries.platforms, timeout=30)
        yield


async def add_note(fake: FakeSlack, notify: str | None = None) -> dict[str, Any]:
    """A moderator's /note add of FORM; the modal it was typed in."""
    opened = len(fake.views_opened)
    await fake.command("/note", "add", user=MOD, user_name=MOD_NAME)
    await fake.wait_for(lambda: len(fake.views_opened) > opened, timeout=60)
    view = fake.views_opened[-1]
    await fake.submit_view(view, typed(FORM, notify), user=MOD, user_name=MOD_NAME)
    return view


def settings_for(
    make_settings: Callable[..., Settings], fake: FakeSlack, tmp: Any, **env: str
) -> Settings:
    url = f"sqlite:///{tmp / 'var' / 'factbot.db'}"
    return make_settings(
        **slack_env(fake, SLACK_MODERATOR_IDS=MOD, NOTIFY_CHANNEL_SECONDS="0", **env),
        DATABASE_URL=url,
    )


# ---------------------------------------------------------------------------- 🔔 and corrections


async def test_a_subscriber_is_told_once_and_a_changed_verdict_corrects_the_answers_thread(
    fake: FakeSlack,
    make_settings: Callable[..., Settings],
    tmp_path: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    settings = settings_for(make_settings, fake, tmp_path)  # no moderators' channel
    async with closing_the_loop(settings, fake) as (service, _, notifier):
        desk = service.notes
        assert desk is not None

        # A refused answer carries 🔔 (and no "Ask a moderator": no moderators' channel).
        refused = await ask(fake, REFUSED_NOW)
        assert SUBSCRIBE_ACTION in buttons(refused)
        assert HANDOFF_ACTION not in buttons(refused)
        thread = str(refused.response["ts"])

        press = await fake.block_action(refused, SUBSCRIBE_ACTION, user=MEMBER)
        subscribed = message("loop.subscribed", ASKED_IN, days=settings.subscription_days)
        assert subscribed in await reply_to(fake, press)
        press = await fake.block_action(refused, SUBSCRIBE_ACTION, user=MEMBER)
        assert message("loop.already_subscribed", ASKED_IN) in await reply_to(fake, press)

        # The moderator adds the note that answers it: the member's thread gets the answer.
        await add_note(fake)
        await fake.wait_for(lambda: posts(fake, ANSWERED_LATER), timeout=300)
        (told,) = posts(fake, ANSWERED_LATER)
        assert told.args["channel"] == CHANNEL and told.args["thread_ts"] == thread
        assert "Paris et à Nice" in texts(told)
        await fake.wait_for(lambda: private_to(fake, MOD, "Told:"), timeout=120)
        (report,) = private_to(fake, MOD, "Told:")
        assert "Told: 0 thread(s) and 1 subscriber(s)." in texts(report)

        # An answer that shows the note, in its own thread.
        shown = await ask(fake, SHOWS_NOTE)
        assert "Paris and Nice" in texts(shown)
        shown_thread = str(shown.response["ts"])
        (note_id,) = [n for n, claim in await desk.choices("xi jinping") if claim == CLAIM]

        # A 👎 on it: the reason form, then the private thanks with 🔔 (for the answer's thread).
        await fake.block_action(shown, "factbot_vote_down", user=MEMBER)
        await fake.wait_for(lambda: len(fake.views_opened) == 2, timeout=60)
        await fake.submit_view(fake.views_opened[1], {"reason": {"reason": "vague"}}, user=MEMBER)
        await fake.wait_for(lambda: private_to(fake, MEMBER, "Thanks"), timeout=60)
        (thanks,) = private_to(fake, MEMBER, "Thanks")
        assert SUBSCRIBE_ACTION in buttons(thanks)
        press = await fake.block_action(thanks, SUBSCRIBE_ACTION, user=MEMBER, channel=CHANNEL)
        subscribed = message("loop.subscribed", "en", days=settings.subscription_days)
        assert subscribed in await reply_to(fake, press)

        # The edit form says whom a change would tell; a silent save tells nobody.
        await fake.command("/note", f"edit {note_id}", user=MOD, user_name=MOD_NAME)
        await fake.wait_for(lambda: len(fake.views_opened) == 3, timeout=60)
        edit = fake.views_opened[2]
        assert "Would tell: 1 thread(s) and 0 subscriber(s)." in json.dumps(edit["blocks"])
        typo = NoteForm(FORM.claim, FORM.verdict, FORM.fr, FORM.en + " (sic)", FORM.sources)
        await fake.submit_view(edit, typed(typo, "silent"), user=MOD, user_name=MOD_NAME)
        await fake.wait_for(lambda: private_to(fake, MOD, "changed (revision 2)"), timeout=300)
        await notifier.idle()
        assert posts(fake, CORRECTION) == []

        # The verdict changed, notify (the default): one correction in the answer's thread.
        changed = NoteForm(FORM.claim, "misleading", FORM.fr, FORM.en, FORM.sources)
        await fake.submit_view(edit, typed(changed), user=MOD, user_name=MOD_NAME)
        await fake.wait_for(lambda: posts(fake, CORRECTION), timeout=300)
        await notifier.idle()
        (correction,) = posts(fake, CORRECTION)
        assert correction.args["thread_ts"] == shown_thread
        assert "Accurate → Misleading" in texts(correction)
        await fake.wait_for(lambda: private_to(fake, MOD, "Told: 1 thread(s)"), timeout=120)
        # The 👎's subscriber gets the answer the changed note gives, in the answer's thread.
        (later,) = posts(fake, message("loop.answered.title", "en"))
        assert later.args["thread_ts"] == shown_thread and "Misleading" in texts(later)

    # Told once: the subscriber's answer and the correction, never again.
    assert len(posts(fake, ANSWERED_LATER)) == 1 and len(posts(fake, CORRECTION)) == 1
    assert all(c.ok for c in fake.calls), [c for c in fake.calls if not c.ok]
    logged_lines = [r.getMessage() for r in caplog.records if r.name.startswith("factbot")]
    assert not [line for line in logged_lines if MOD in line or MEMBER in line]


# ---------------------------------------------------------------------------- Ask a moderator


async def test_ask_a_moderator_write_a_note_and_mark_resolved(
    fake: FakeSlack, make_settings: Callable[..., Settings], tmp_path: Any
) -> None:
    settings = settings_for(
        make_settings, fake, tmp_path, SLACK_MODERATOR_CHANNEL_ID=f"{TEAM_ID}:{MODS_CHANNEL}"
    )
    async with closing_the_loop(settings, fake):
        # The member asks twice (two answers) and hands both to the moderators.
        requests: list[Call] = []
        threads: list[str] = []
        for _ in range(2):
            refused = await ask(fake, REFUSED_NOW)
            assert buttons(refused)[-2:] == [SUBSCRIBE_ACTION, HANDOFF_ACTION]
            threads.append(str(refused.response["ts"]))
            # "Ask a moderator": the question in the moderators' channel, the member reassured.
            press = await fake.block_action(refused, HANDOFF_ACTION, user=MEMBER)
            assert message("loop.handoff_sent", ASKED_IN) in await reply_to(fake, press)
            await fake.wait_for(lambda: len(mods_posts(fake)) > len(requests))
            requests.append(mods_posts(fake)[-1])
        first, second = requests
        assert REFUSED_NOW in texts(first)
        assert buttons(first) == [WRITE_NOTE_ACTION, RESOLVE_ACTION]

        # A member cannot resolve a request, nor open the note form from it.
        press = await fake.block_action(first, RESOLVE_ACTION, user=MEMBER)
        assert "Only moderators" in await reply_to(fake, press)
        press = await fake.block_action(first, WRITE_NOTE_ACTION, user=MEMBER)
        assert "Only moderators" in await reply_to(fake, press)
        assert fake.views_opened == []

        # "Mark resolved": the asker told in that thread, the request says who resolved it.
        press = await fake.block_action(second, RESOLVE_ACTION, user=MOD, user_name=MOD_NAME)
        await fake.wait_for(lambda: fake.responses_to(press), timeout=60)
        (resolved,) = fake.responses_to(press)
        assert resolved.args["replace_original"] is True
        assert f"Resolved by {MOD_NAME}" in texts(resolved)
        dealt_line = message("loop.resolved", ASKED_IN, question=REFUSED_NOW)
        (dealt,) = posts(fake, dealt_line, channel=CHANNEL)
        assert dealt.args["thread_ts"] == threads[1]
        # Pressed again (another moderator, a second host): already resolved, told once.
        press = await fake.block_action(second, RESOLVE_ACTION, user=MOD, user_name=MOD_NAME)
        assert "already resolved" in await reply_to(fake, press)
        assert len(posts(fake, dealt_line)) == 1

        # "Write a note": the note modal prefilled with the question; saved, the asker is told
        # in the first thread, and the request is resolved by the note.
        await fake.block_action(first, WRITE_NOTE_ACTION, user=MOD, user_name=MOD_NAME)
        await fake.wait_for(lambda: fake.views_opened, timeout=60)
        (form,) = fake.views_opened
        assert REFUSED_NOW in json.dumps(form["blocks"], ensure_ascii=False)
        await fake.submit_view(form, typed(FORM), user=MOD, user_name=MOD_NAME)
        await fake.wait_for(lambda: posts(fake, ANSWERED_LATER), timeout=300)
        (told,) = posts(fake, ANSWERED_LATER)
        assert told.args["channel"] == CHANNEL and told.args["thread_ts"] == threads[0]
        await fake.wait_for(lambda: private_to(fake, MOD, "Told:"), timeout=120)
        press = await fake.block_action(first, RESOLVE_ACTION, user=MOD, user_name=MOD_NAME)
        assert "already resolved" in await reply_to(fake, press)

    assert all(c.ok for c in fake.calls), [c for c in fake.calls if not c.ok]


def test_each_workspace_has_its_own_moderators_channel(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(SLACK_MODERATOR_CHANNEL_ID="T1:C1,T2:C2")
    assert settings.slack_moderator_channel("T1") == "C1"
    assert settings.slack_moderator_channel("T2") == "C2"
    assert settings.slack_moderator_channel("T3") is None
    assert make_settings().slack_moderator_channel("T1") is None
    assert make_settings(SLACK_MODERATOR_CHANNEL_ID="C9").slack_moderator_channel("T3") == "C9"


# ---------------------------------------------------------------------------- the Deliver


async def test_the_slack_deliver_posts_in_a_thread_or_a_dm_and_says_when_it_cannot(
    fake: FakeSlack,
) -> None:
    fake.closed_channels = frozenset({"CGONE"})
    client = AsyncWebClient(token=fake.bot_token, base_url=fake.api_base)
    delivery = SlackDelivery(client)
    item = CorrectionItem("fc-1", "verdict", "<!channel> a & b", "accurate", "misleading", "x")

    def correction(place: Place) -> Correction:
        return Correction(place, "en", (item,))

    in_thread = Place("slack", TEAM_ID, CHANNEL, "1700000000.000001")
    assert await delivery.deliver(in_thread, correction(in_thread))
    (posted,) = fake.calls_to("chat.postMessage", channel=CHANNEL)
    assert posted.args["thread_ts"] == "1700000000.000001"
    shown = texts(posted)
    assert "&lt;!channel&gt; a &amp; b" in shown and "<!channel>" not in shown

    dm = Place("slack", None, dm=MEMBER, user_hash="h")
    fake.users[MEMBER] = {"name": "alice"}
    assert await delivery.deliver(dm, correction(dm))
    assert fake.calls_to("conversations.open", users=MEMBER)
    assert fake.calls_to("chat.postMessage", channel="D" + MEMBER)

    gone = Place("slack", TEAM_ID, "CGONE", "1700000000.000002")
    assert not await delivery.deliver(gone, correction(gone))
