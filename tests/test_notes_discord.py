"""`/note` on Discord, end to end: the real discord.py client against the fake Discord, the real
service over a real index and a real SQLite database of notes.

A moderator opens the form, submits a note whose claim is not in the article (refused line by
line, nothing saved, "Fix" reopens the form with what was typed), submits a valid one (saved, the
index rebuilt: an `/ask` shows it), edits it, reads its history, removes it after a confirmation;
a plain member is refused everything. Waits are event-based; timeouts only bound a failure (a
save rebuilds the index, which takes seconds on a busy machine).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.chat.discord import client as discord_bot
from bot.chat.discord.notes import (
    FIELD_IDS,
    MAX_MESSAGES,
    confirm_custom_id,
    form_custom_id,
    note_modal,
    pack_lines,
    submitted_form,
)
from bot.messages import text
from bot.notes import wording as note_text
from bot.notes.desk import NoteDesk
from bot.notes.records import FORM_LIMITS, Moderator, NoteForm, NoteHistory, NoteRejected
from bot.serving.service import FactBotService
from bot.settings import Settings
from index.verdicts import VERDICTS
from tests.chat_support import discord_env, running_discord
from tests.fakes.discord_server import (
    EPHEMERAL,
    MANAGE_GUILD,
    FakeDiscord,
    Interaction,
    InteractionReply,
    message_text,
)
from tests.pg_cluster import PgCluster

pytestmark = pytest.mark.timeout(420)

MODERATOR: dict[str, Any] = {"user_id": 1400000000000000042, "user_name": "Camille"}
MEMBER: dict[str, Any] = {"user_id": 1400000000000000077, "user_name": "bob"}

# A verbatim quote of corpus/article.fr.md that no corpus note covers.
CLAIM = "les phénomènes les plus puissants de l'Univers"
NOT_IN_ARTICLE = "La Lune est faite de fromage"
QUESTION = "Are gamma-ray bursts the most powerful phenomena in the Universe?"
FACT = "ten-billion-year"  # only the new note says it
FIXED_FACT = "GRB 221009A"  # only the edited note says it
VALID: dict[str, Any] = {
    "claim": CLAIM,
    "verdict": ["mostly-accurate"],
    "fr": "Les sursauts gamma sont les explosions les plus énergétiques observées depuis le Big "
    "Bang : les plus brillants libèrent en quelques secondes plus d'énergie que le Soleil en "
    "toute sa vie de dix milliards d'années.",
    "en": "Gamma-ray bursts are the most energetic explosions seen since the Big Bang: the "
    f"brightest release in seconds more energy than the Sun in its whole {FACT} life.",
    "sources": "NASA — Gamma-ray bursts | https://imagine.gsfc.nasa.gov/science/objects/bursts1.html",
}


@contextlib.asynccontextmanager
async def bot_with_notes(
    make_settings: Callable[..., Settings], database_url: str
) -> AsyncIterator[tuple[FakeDiscord, FactBotService, NoteDesk]]:
    """The fake Discord and the real bot over a service whose notes live in `database_url`."""
    async with FakeDiscord() as fake:
        settings = make_settings(**discord_env(fake, DATABASE_URL=database_url))
        service = await asyncio.to_thread(FactBotService.from_settings, settings)
        assert service.notes is not None
        try:
            async with running_discord(settings, service, fake):
                yield fake, service, service.notes
        finally:
            await service.aclose()


def moderator(fake: FakeDiscord) -> dict[str, Any]:
    return {**MODERATOR, "roles": [fake.moderator_role_id]}


def member(fake: FakeDiscord) -> dict[str, Any]:
    return {**MEMBER, "roles": [fake.other_role_id]}


async def note(
    fake: FakeDiscord, subcommand: str, who: dict[str, Any], **options: str | int
) -> Interaction:
    return await fake.interact("note", options or None, subcommand=subcommand, **who)


async def modal_of(fake: FakeDiscord, interaction: Interaction) -> dict[str, Any]:
    """The form the bot opened in answer to `interaction` (callback type 9)."""
    callback = await fake.wait_callback(interaction)
    assert callback.body["type"] == 9, callback.body
    modal: dict[str, Any] = callback.body["data"]
    return modal


def inputs(modal: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The form's inputs by custom_id, each as Discord received it (inside its Label)."""
    labels = modal["components"]
    assert [c["type"] for c in labels] == [18] * 5  # five labelled components, Discord's most
    return {c["component"]["custom_id"]: c["component"] | {"label": c["label"]} for c in labels}


def values_of(modal: dict[str, Any]) -> dict[str, Any]:
    """What the form shows filled in: text values, the verdict chosen by default."""
    shown: dict[str, Any] = {}
    for field, custom_id in FIELD_IDS.items():
        component = inputs(modal)[custom_id]
        if field == "verdict":
            shown[field] = [o["value"] for o in component["options"] if o.get("default")]
        else:
            shown[field] = component.get("value") or ""
    return shown


def as_submitted(values: dict[str, Any]) -> dict[str, str | list[str]]:
    return {FIELD_IDS[field]: value for field, value in values.items()}  # type: ignore[index]


async def private_reply(fake: FakeDiscord, interaction: Interaction) -> InteractionReply:
    reply = await fake.wait_reply(interaction, timeout=240)
    assert reply.ephemeral, reply.message
    for followup in reply.followups:
        assert followup["flags"] & EPHEMERAL
    return reply


def whole_text(reply: InteractionReply) -> str:
    messages = reply.followups or [reply.message]
    return "\n".join(message_text(m) for m in messages)


def sent(fake: FakeDiscord, interaction: Interaction) -> list[dict[str, Any]]:
    """Every message the bot's reply to `interaction` created, as Discord stored it (with its
    id, channel and components: what a button press carries)."""
    messages = []
    for r in fake.calls_for(interaction.token):
        if r.accepted and r.path.endswith("/callback") and r.body.get("type") == 4:
            messages.append(r.response["resource"]["message"])
        elif r.accepted and r.path.startswith("/webhooks/") and r.method == "POST":
            messages.append(r.response)
    return messages


def button(message: dict[str, Any], label: str) -> str:
    """The custom_id of the button labelled `label` on `message`."""
    found = [
        c["custom_id"]
        for row in message.get("components") or []
        for c in row.get("components") or []
        if c.get("label") == label
    ]
    assert len(found) == 1, message.get("components")
    return str(found[0])


async def ask(fake: FakeDiscord, question: str) -> str:
    """/ask by a plain member; the public answer's text."""
    interaction = await fake.interact("ask", {"question": question}, **MEMBER)
    reply = await fake.wait_reply(interaction, timeout=120)
    return message_text(reply.message)


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'var' / 'factbot.db'}"


async def test_a_moderator_adds_fixes_and_removes_a_note(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    async with bot_with_notes(make_settings, sqlite_url(tmp_path)) as (fake, service, desk):
        mod = moderator(fake)
        ids_before = await desk.choices("", 100)
        assert FACT not in await ask(fake, QUESTION)

        # /note add: the empty form, five fields, the verdicts to choose from.
        modal = await modal_of(fake, await note(fake, "add", mod))
        assert modal["custom_id"] == form_custom_id(None)
        assert modal["title"] == note_text.form_title(None, "en")
        fields = inputs(modal)
        assert list(fields) == list(FIELD_IDS.values())
        verdict = fields[FIELD_IDS["verdict"]]
        assert verdict["type"] == 3
        assert [o["value"] for o in verdict["options"]] == list(VERDICTS)
        assert all(not o.get("default") for o in verdict["options"])
        for field, custom_id in FIELD_IDS.items():
            assert fields[custom_id]["label"] == note_text.field_label(field, "en")
            if field != "verdict":
                assert fields[custom_id]["type"] == 4 and not fields[custom_id].get("value")

        # A claim the article does not contain: refused, line by line, privately; nothing saved.
        wrong = {**VALID, "claim": NOT_IN_ARTICLE}
        sent_form = await fake.submit_modal(modal["custom_id"], as_submitted(wrong), **mod)
        refused = await private_reply(fake, sent_form)
        assert refused.callback_type == 5  # deferred: the form's check may take a moment
        expected = await desk.save(
            NoteForm(**{**wrong, "verdict": "mostly-accurate"}),
            Moderator("discord", str(MODERATOR["user_id"]), "Camille"),
        )
        assert isinstance(expected, NoteRejected)
        assert any(p.field == "claim" for p in expected.problems)
        shown = sent(fake, sent_form)[-1]
        assert "\n".join(note_text.rejected_lines(expected, "en")) in whole_text(refused)
        assert await desk.choices("", 100) == ids_before

        # "Fix" reopens the form with everything that was typed.
        pressed = await fake.press(shown, button(shown, text("note.button.fix", "en")), **mod)
        reopened = await modal_of(fake, pressed)
        assert reopened["custom_id"] == form_custom_id(None)
        assert values_of(reopened) == wrong

        # The claim corrected: saved, the index rebuilt, the private report names the version.
        version_before = service.info().version
        submitted = await fake.submit_modal(reopened["custom_id"], as_submitted(VALID), **mod)
        report = whole_text(await private_reply(fake, submitted))
        (added,) = [i for i, _ in await desk.choices("", 100) if i not in dict(ids_before)]
        version = service.info().version
        assert version != version_before and version in report
        assert added in report
        assert FACT in await ask(fake, QUESTION)  # a member's /ask shows the new note

        # /note edit: the form filled in with the note; a change is saved and served.
        modal = await modal_of(fake, await note(fake, "edit", mod, id=added))
        assert modal["custom_id"] == form_custom_id(added)
        assert values_of(modal) == VALID
        fixed = {
            **VALID,
            "en": VALID["en"] + f" The brightest ever recorded, {FIXED_FACT}, was seen in 2022.",
        }
        submitted = await fake.submit_modal(modal["custom_id"], as_submitted(fixed), **mod)
        assert service.info().version in whole_text(await private_reply(fake, submitted))
        assert FIXED_FACT in await ask(fake, QUESTION)

        # /note history: both revisions, by whom.
        history = whole_text(await private_reply(fake, await note(fake, "history", mod, id=added)))
        found = await desk.history(added)
        assert isinstance(found, NoteHistory)
        assert [r.action for r in found.revisions] == ["added", "edited"]
        assert all("Camille" in r.author for r in found.revisions)
        assert history.count("Camille") >= 2
        assert "\n".join(note_text.history_lines(found, "en")) in history

        # /note edit with a revision: the form holds that older version, to restore it.
        modal = await modal_of(fake, await note(fake, "edit", mod, id=added, revision=1))
        assert modal["custom_id"] == form_custom_id(added)
        assert values_of(modal) == VALID

        # /note show: the note as served.
        shown_text = whole_text(await private_reply(fake, await note(fake, "show", mod, id=added)))
        assert FIXED_FACT in shown_text

        # /note remove asks first; Cancel keeps the note.
        asked = await note(fake, "remove", mod, id=added)
        confirm = await private_reply(fake, asked)
        assert confirm.callback_type == 5
        assert confirm.message["content"] == note_text.confirm_remove_line(added, CLAIM, "en")
        (question,) = sent(fake, asked)
        cancel = await fake.press(question, confirm_custom_id("cancel", added), **mod)
        cancelled = await fake.wait_callback(cancel)
        assert cancelled.body["type"] == 7  # the confirmation is replaced
        assert cancelled.body["data"]["content"] == note_text.removal_cancelled_line("en")
        assert cancelled.body["data"]["components"] == []
        assert added in dict(await desk.choices("", 100))

        # Remove removes it: the buttons go, the report follows, /ask no longer shows it.
        asked = await note(fake, "remove", mod, id=added)
        await private_reply(fake, asked)
        (question,) = sent(fake, asked)
        pressed = await fake.press(question, confirm_custom_id("remove", added), **mod)
        removed = await fake.wait_callback(pressed)
        assert removed.body["type"] == 7 and removed.body["data"]["components"] == []
        (followup,) = await fake.wait_for(
            lambda r: r.path.startswith("/webhooks/") and pressed.token in r.path, timeout=240
        )
        assert followup.body["flags"] & EPHEMERAL
        assert service.info().version in message_text(followup.body)
        assert added not in dict(await desk.choices("", 100))
        answer = await ask(fake, QUESTION)
        assert FACT not in answer and FIXED_FACT not in answer


async def test_members_are_refused_every_note_command_and_form(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    async with bot_with_notes(make_settings, sqlite_url(tmp_path)) as (fake, _, desk):
        refusal = discord_bot.not_moderator("en", "note")
        someone = member(fake)
        for subcommand, options in [
            ("add", {}),
            ("edit", {"id": "fc-16-svom"}),
            ("remove", {"id": "fc-16-svom"}),
            ("show", {"id": "fc-16-svom"}),
            ("history", {"id": "fc-16-svom"}),
        ]:
            denied = await private_reply(fake, await note(fake, subcommand, someone, **options))
            assert denied.callback_type == 4, subcommand
            assert denied.message["content"] == refusal, subcommand

        # A form or a button that reaches the bot anyway (Discord hides /note, it does not
        # forbid it) is refused too, and nothing changes.
        before = await desk.choices("", 100)
        sent = await fake.submit_modal(form_custom_id(None), as_submitted(VALID), **someone)
        assert (await private_reply(fake, sent)).message["content"] == refusal
        remove_id = confirm_custom_id("remove", "fc-16-svom")
        row = {"type": 1, "components": [{"type": 2, "style": 4, "custom_id": remove_id}]}
        svom = fake.message_payload(
            fake.channel_id, fake.bot_user(), {"components": [row]}, webhook_id=fake.app_id
        )
        pressed = await fake.press(svom, remove_id, **someone)
        assert (await private_reply(fake, pressed)).message["content"] == refusal
        assert await desk.choices("", 100) == before

        # Autocomplete: ids for a moderator, nothing for a member.
        typed = await fake.autocomplete("note", "id", "fc-1", subcommand="edit", **moderator(fake))
        choices = (await fake.wait_callback(typed)).body
        assert choices["type"] == 8
        offered = [c["value"] for c in choices["data"]["choices"]]
        assert offered and all(v.startswith("fc-1") for v in offered)
        assert "fc-16-svom" in offered
        typed = await fake.autocomplete("note", "id", "fc-1", subcommand="edit", **someone)
        assert (await fake.wait_callback(typed)).body["data"]["choices"] == []

        # Registered as one command with five subcommands, hidden from members by default.
        (command,) = [c for c in fake.commands[fake.guild_id] if c["name"] == "note"]
        assert command["default_member_permissions"] == MANAGE_GUILD
        assert command["contexts"] == [0]  # servers only
        assert [o["name"] for o in command["options"]] == [
            "add",
            "edit",
            "remove",
            "show",
            "history",
        ]
        assert all(o["type"] == 1 for o in command["options"])


async def test_the_database_down_one_line_and_nothing_typed_is_lost(
    make_settings: Callable[..., Settings], postgres_url: str, pg_cluster: PgCluster
) -> None:
    async with bot_with_notes(make_settings, postgres_url) as (fake, service, _):
        mod = moderator(fake)
        modal = await modal_of(fake, await note(fake, "add", mod))
        version = service.info().version
        await asyncio.to_thread(pg_cluster.stop)
        try:
            unavailable = note_text.unavailable_line("en")
            shown = await private_reply(fake, await note(fake, "show", mod, id="fc-16-svom"))
            assert shown.message["content"] == unavailable
            sent_form = await fake.submit_modal(modal["custom_id"], as_submitted(VALID), **mod)
            assert whole_text(await private_reply(fake, sent_form)) == unavailable
            (message,) = sent(fake, sent_form)
            pressed = await fake.press(
                message, button(message, text("note.button.fix", "en")), **mod
            )
            assert values_of(await modal_of(fake, pressed)) == VALID  # typed, kept for a retry
            assert service.info().version == version  # answers go on from the same index
        finally:
            await asyncio.to_thread(pg_cluster.start)


# ---------------------------------------------------------------------- units


def test_long_replies_are_split_on_line_boundaries_and_cut_with_a_count() -> None:
    lines = [f"{i:02d} " + "x" * 900 for i in range(12)]
    messages = pack_lines(lines, "en")
    assert len(messages) == MAX_MESSAGES
    assert all(len(m) <= 2000 for m in messages)
    assert messages[0].split("\n") == lines[:2]  # two 903-character lines per message
    assert messages[-1].split("\n")[:2] == lines[2 * MAX_MESSAGES - 2 : 2 * MAX_MESSAGES]
    assert messages[-1].endswith(f"… and {12 - 2 * MAX_MESSAGES} more")
    assert pack_lines(["short", "lines"], "en") == ["short\nlines"]
    (alone,) = pack_lines(["y" * 5000], "en")
    assert len(alone) <= 2000


def test_the_form_reads_both_layouts_and_opens_a_long_note_whole() -> None:
    in_rows = [
        {"type": 1, "components": [{"type": 4, "custom_id": FIELD_IDS["claim"], "value": "a"}]},
        {
            "type": 1,
            "components": [{"type": 3, "custom_id": FIELD_IDS["verdict"], "values": ["opinion"]}],
        },
        {"type": 18, "component": {"type": 4, "custom_id": "unrelated", "value": "zzz"}},
    ]
    assert submitted_form(in_rows) == NoteForm(claim="a", verdict="opinion")

    long_en = "z" * (FORM_LIMITS["en"] + 10)
    modal = note_modal("fc-x", NoteForm(en=long_en, verdict="nonsense"), "fr").to_dict()
    assert modal["custom_id"] == form_custom_id("fc-x") and modal["title"] == "Modifier fc-x"
    shown = {c["component"]["custom_id"]: c["component"] for c in modal["components"]}
    assert shown[FIELD_IDS["en"]]["value"] == long_en  # the validator will name it, not Discord
    assert shown[FIELD_IDS["en"]]["max_length"] == len(long_en)
    assert not any(o.get("default") for o in shown[FIELD_IDS["verdict"]]["options"])
