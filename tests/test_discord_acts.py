"""End to end on Discord, every kind of reply (issue 22): the real discord.py client against the
fake Discord, over the real service (real model, classifier and index).

A greeting in a channel, "is it reliable?" within Discord's limits, /about, /help, an
acknowledgement in the bot's thread answered with a reaction, feedback in words recorded and
offered the 👎 form, two questions in one message, the French command names, and the card posted
on joining a server. Every assertion is on a payload the bot really sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.answering.acts import article_card
from bot.chat.discord import render
from bot.chat.discord.acts import ACK_REACTION
from bot.chat.discord.render import REASON_INPUT_ID, dlen
from bot.messages import scorecard_line
from bot.serving.service import FactBotService
from bot.settings import Settings
from tests.fakes.discord_server import FakeDiscord, Recorded, command_problems
from tests.learning_support import votes
from tests.test_discord_e2e import all_mentions_disabled, embed_of, running_bot
from tests.test_discord_render import embed_total
from tests.test_feedback_discord import answer_id_of, bot_with_learning, sqlite_url

pytestmark = pytest.mark.timeout(180)


def posted_in(channel_id: int) -> Callable[[Recorded], bool]:
    path = f"/channels/{channel_id}/messages"
    return lambda r: r.path == path and r.method == "POST" and r.accepted


def within_discord_limits(message: dict[str, Any]) -> None:
    assert dlen(message.get("content") or "") <= render.MESSAGE_MAX
    embeds = message.get("embeds") or []
    assert len(embeds) <= 10
    assert sum(embed_total(e) for e in embeds) <= render.EMBED_TOTAL_MAX
    for e in embeds:
        assert dlen(e.get("description", "")) <= render.DESCRIPTION_MAX
        assert len(e.get("fields", [])) <= render.FIELDS_MAX
        for f in e.get("fields", []):
            assert dlen(f["value"]) <= render.FIELD_VALUE_MAX


async def test_a_greeting_in_a_channel_gets_a_short_plain_reply(
    make_settings: Callable[..., Settings], service: FactBotService
) -> None:
    expected = await service.ask("hello")
    assert expected.act == "greeting"
    async with running_bot(make_settings, service) as fake:
        asked = await fake.post_message(f"<@{fake.bot_id}> hello", mention_bot=True)
        (reply,) = await fake.wait_for(posted_in(fake.channel_id))
        assert reply.body["content"] == expected.text  # the core's words, as they are
        assert not reply.body.get("embeds")  # no quotes, no notes
        assert not reply.body.get("components")  # no 👍/👎: nothing to vote on
        assert int(reply.body["message_reference"]["message_id"]) == int(asked["id"])
        assert not any(r.path.endswith("/threads") for r in fake.requests)  # no thread for it
        # Through /ask: the same plain message, public, without buttons.
        slash = await fake.wait_reply(await fake.interact("ask", {"question": "hello"}))
        assert not slash.ephemeral and slash.message["content"] == expected.text
        assert not slash.message.get("embeds") and not slash.message.get("components")
        all_mentions_disabled(fake)


async def test_is_it_reliable_lists_the_notes_not_accurate_within_the_limits(
    make_settings: Callable[..., Settings], service: FactBotService
) -> None:
    question = "Is this article reliable?"
    expected = await service.ask(question)
    assert expected.act == "reliability" and expected.factchecks and expected.card is not None
    async with running_bot(make_settings, service) as fake:
        reply = await fake.wait_reply(await fake.interact("ask", {"question": question}))
        within_discord_limits(reply.message)
        embed = embed_of(reply.message)
        text = embed["description"]
        card = expected.card
        assert scorecard_line(card.scorecard, card.notes_total, "en") in text
        # The notes' claims, most serious first, as many as fit (each one line).
        shown = [n for n in expected.factchecks if n.claim[:30] in text]
        assert len(shown) >= 5
        assert shown == list(expected.factchecks[: len(shown)])
        places = [text.index(n.claim[:30]) for n in shown]
        assert places == sorted(places)
        assert "/factcheck" in embed["footer"]["text"]


async def test_about_shows_the_article_card_publicly(
    make_settings: Callable[..., Settings], service: FactBotService
) -> None:
    card = article_card(service.engine.index)
    async with running_bot(make_settings, service) as fake:
        reply = await fake.wait_reply(await fake.interact("about", locale="fr"))
        assert reply.callback_type == 4 and not reply.ephemeral
        embed = embed_of(reply.message)
        assert embed["title"] == f"📰 {card.title}"
        assert embed["url"] == card.url
        assert card.summary["fr"][:80] in embed["description"]
        fields = {f["name"]: f["value"] for f in embed["fields"]}
        assert fields["Publié"] == card.published
        assert scorecard_line(card.scorecard, card.notes_total, "fr") in fields["Vérification"]
        within_discord_limits(reply.message)


async def test_help_names_the_article_and_the_commands_in_the_members_language(
    make_settings: Callable[..., Settings], service: FactBotService
) -> None:
    card = article_card(service.engine.index)
    async with running_bot(make_settings, service) as fake:
        member = await fake.wait_reply(await fake.interact("help"))
        assert member.ephemeral
        text = member.message["content"]
        assert card.title in text
        assert "**/ask** —" in text and "**/about** —" in text and "**/help** —" in text
        assert "/reindex" not in text and "/note" not in text  # not a moderator

        french = await fake.interact("help", locale="fr", roles=[fake.moderator_role_id])
        text = (await fake.wait_reply(french)).message["content"]
        assert "**/demander** —" in text and "**/aide** —" in text
        assert "**/réindexer** —" in text  # a moderator sees the moderators' commands


async def test_command_names_and_descriptions_are_synced_in_french(
    make_settings: Callable[..., Settings], service: FactBotService
) -> None:
    async with running_bot(make_settings, service) as fake:
        synced = {c["name"]: c for c in fake.commands[fake.guild_id]}
    assert {"about", "help"} <= set(synced)
    french = {name: c["name_localizations"]["fr"] for name, c in synced.items()}
    assert french["ask"] == "demander" and french["help"] == "aide"
    assert french["factcheck"] == "vérifications"
    for command in synced.values():  # every description and option too
        assert command["description_localizations"]["fr"] != command["description"]
        for option in command.get("options", []):
            assert option["name_localizations"]["fr"]
            assert option["description_localizations"]["fr"]
    (question,) = synced["ask"]["options"]
    assert question["description_localizations"]["fr"].startswith("Votre question")


async def test_an_acknowledgement_in_the_bots_thread_gets_a_reaction(
    make_settings: Callable[..., Settings], service: FactBotService
) -> None:
    async with running_bot(make_settings, service) as fake:
        await fake.post_message(f"<@{fake.bot_id}> when did chang'e 6 launch?", mention_bot=True)
        (created,) = await fake.wait_for(lambda r: r.path.endswith("/threads"))
        thread_id = int(created.response["id"])
        await fake.wait_for(posted_in(thread_id))
        thanks = await fake.post_message("merci !", channel_id=thread_id)
        await fake.wait_until(lambda: bool(fake.reactions))
        assert fake.reactions == [(thread_id, int(thanks["id"]), ACK_REACTION)]
        # A question after it is answered as usual: the reaction was the only reply to "merci".
        await fake.post_message("and where did it land?", channel_id=thread_id)
        posts = await fake.wait_for(posted_in(thread_id), count=2)
        assert embed_of(posts[1].body)["title"] == "❓ and where did it land?"
        assert len([r for r in fake.requests if posted_in(thread_id)(r)]) == 2


async def test_without_the_reaction_permission_an_acknowledgement_gets_the_short_reply(
    make_settings: Callable[..., Settings], service: FactBotService
) -> None:
    expected = await service.ask("merci !")
    fake = FakeDiscord()
    fake.forbid_reactions = True
    async with running_bot(make_settings, service, fake):
        await fake.post_message(f"<@{fake.bot_id}> when did chang'e 6 launch?", mention_bot=True)
        (created,) = await fake.wait_for(lambda r: r.path.endswith("/threads"))
        thread_id = int(created.response["id"])
        await fake.wait_for(posted_in(thread_id))
        await fake.post_message("merci !", channel_id=thread_id)
        _, thanks = await fake.wait_for(posted_in(thread_id), count=2)
        assert thanks.body["content"] == expected.text and not thanks.body.get("embeds")
        assert not fake.reactions


async def test_two_questions_in_one_message_are_answered_part_by_part(
    make_settings: Callable[..., Settings], service: FactBotService
) -> None:
    question = "When did Chang'e 6 launch? And how many kg of French experiments were planned?"
    expected = await service.ask(question)
    assert expected.act == "multi" and len(expected.parts) == 2
    async with running_bot(make_settings, service) as fake:
        reply = await fake.wait_reply(await fake.interact("ask", {"question": question}))
        within_discord_limits(reply.message)
        first, second = reply.message["embeds"]
        assert first["title"].startswith("1. ") and second["title"].startswith("2. ")
        for embed, part in zip((first, second), expected.parts, strict=True):
            assert part.lead is not None
            assert embed["description"].startswith("**In short:**")
            assert part.lead.text[:40] in embed["description"]


class _Connected(logging.Handler):
    """Set once the client logs that it is connected (READY done: discord.py counts a
    GUILD_CREATE that comes earlier as part of its start, not as a join)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.ready = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("connected to Discord"):
            self.ready.set()


@contextlib.contextmanager
def watching_ready(caplog: pytest.LogCaptureFixture) -> Iterator[asyncio.Event]:
    caplog.set_level(logging.INFO, logger="factbot.discord")
    handler = _Connected()
    logger = logging.getLogger("factbot.discord")
    logger.addHandler(handler)
    try:
        yield handler.ready
    finally:
        logger.removeHandler(handler)


async def test_the_card_is_posted_once_on_joining_a_server_when_enabled(
    make_settings: Callable[..., Settings],
    service: FactBotService,
    caplog: pytest.LogCaptureFixture,
) -> None:
    card = article_card(service.engine.index)
    env = {"ABOUT_ON_JOIN": "on"}
    with watching_ready(caplog) as ready:
        async with running_bot(make_settings, service, env=env) as fake:
            await asyncio.wait_for(ready.wait(), 30)
            fake.system_channel_id = fake.channel_id
            fake.preferred_locale = "fr"
            await fake.join_guild()
            (posted,) = await fake.wait_for(posted_in(fake.channel_id))
            assert embed_of(posted.body)["title"] == f"📰 {card.title}"
            assert "Publié" in {f["name"] for f in embed_of(posted.body)["fields"]}


async def test_no_card_on_joining_by_default(
    make_settings: Callable[..., Settings],
    service: FactBotService,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with watching_ready(caplog) as ready:
        async with running_bot(make_settings, service) as fake:
            await asyncio.wait_for(ready.wait(), 30)
            fake.system_channel_id = fake.channel_id
            await fake.join_guild()
            # A greeting after the join is the first thing posted in the channel.
            await fake.post_message(f"<@{fake.bot_id}> hello", mention_bot=True)
            (first,) = await fake.wait_for(posted_in(fake.channel_id))
            assert not first.body.get("embeds")


async def test_feedback_in_words_is_recorded_and_offered_the_reason_form(
    make_settings: Callable[..., Settings], service: FactBotService, tmp_path: Path
) -> None:
    async with bot_with_learning(make_settings, service, sqlite_url(tmp_path)) as (fake, loop):
        await fake.post_message(f"<@{fake.bot_id}> when did chang'e 6 launch?", mention_bot=True)
        (created,) = await fake.wait_for(lambda r: r.path.endswith("/threads"))
        thread_id = int(created.response["id"])
        (answer,) = await fake.wait_for(posted_in(thread_id), timeout=60)
        answer_id = answer_id_of(answer.body)
        # The answer's row written first: a vote racing the store's writer (the row taken from
        # the buffer, not yet committed) is found neither buffered nor in the table, and counts
        # as expired (bot/storage/store.py `record_vote`) — a storage race, not this feature's.
        assert await asyncio.to_thread(loop.store.flush, 30)

        await fake.post_message("c'est faux, la date est fausse", channel_id=thread_id)
        _, reply = await fake.wait_for(posted_in(thread_id), count=2, timeout=60)
        assert not reply.body.get("embeds")
        (row,) = reply.body["components"]
        (button,) = row["components"]
        assert button["custom_id"] == f"factbot:feedback:{answer_id}"
        await loop.words.drain()  # the 👎 is recorded off the event loop
        assert votes(loop.store) == [(answer_id, -1, "c'est faux, la date est fausse")]

        # The button opens the 👎 form, pre-filled with what was written.
        pressed = await fake.press(reply.response, button["custom_id"])
        callback = await fake.wait_callback(pressed)
        assert callback.body["type"] == 9  # a modal
        modal = callback.body["data"]
        assert modal["custom_id"] == f"factbot:reason:{answer_id}"
        assert REASON_INPUT_ID in str(modal) and "c'est faux, la date est fausse" in str(modal)


def test_the_fake_refuses_what_discord_refuses_in_localisations() -> None:
    good = {
        "name": "ask",
        "description": "Ask",
        "name_localizations": {"fr": "demander"},
        "description_localizations": {"fr": "Demander"},
        "options": [{"type": 3, "name": "question", "description": "Q"}],
    }
    assert command_problems(good) == []
    assert command_problems({**good, "name_localizations": {"fr": "Demander"}})  # upper case
    assert command_problems({**good, "name_localizations": {"fr-FR": "demander"}})  # no locale
    assert command_problems({**good, "description_localizations": {"fr": "x" * 101}})
    assert command_problems({**good, "options": [{"type": 3, "name": "une question"}]})
