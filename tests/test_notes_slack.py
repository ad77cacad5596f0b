"""`/note` on Slack, end to end: the real slack_bolt app in Socket Mode against the fake Slack.

The main test runs a real FactBotService (real model, FAISS, BM25) over a private copy of the
corpus and index and a real SQLite notes database: a moderator opens the form (`views.open`),
submits a claim the article does not contain (the problems come back in the form, nothing is
saved), submits a valid note (saved, the index rebuilt, the private report names the new version,
and `/ask` now shows the note's text), edits it (the form comes prefilled), reads its history,
and removes it through the confirm dialog (`/ask` no longer shows it). A plain member is refused
every subcommand and the Remove button.

The other tests use a stub desk to hold the save open or fail it, for the paths the real desk
only takes on a slow or broken machine: the modal closes and the report follows privately (in a
DM where the bot cannot post), and a database outage comes back in the form.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bot.chat.slack.notes import BLOCK_IDS, NOTIFY_BLOCK, SAVE_ACK_WITHIN
from bot.messages import text as message
from bot.notes.records import (
    FORM_FIELDS,
    FormProblem,
    Moderator,
    NoteForm,
    NoteRejected,
    NoteSaved,
    NotesUnavailable,
    NoteUnknown,
)
from bot.serving.service import FactBotService
from bot.settings import Settings
from index.verdicts import VERDICTS
from tests.change_support import note_edits
from tests.chat_support import running_slack, slack_env
from tests.fakes.slack_server import TEAM_ID, Call, FakeSlack
from tests.test_slack_app import StubService, block_texts

pytestmark = pytest.mark.timeout(900)

MOD, MOD_NAME = "UMOD", "modo"
MEMBER = "UALICE"
CHANNEL = "CGENERAL"

NOT_IN_ARTICLE = "La France a marché sur Mars en 2019"
CLAIM = (
    "L'annonce a été faite à l'occasion de la visite du président de la République populaire "
    "de Chine, Xi Jinping"
)
FR = (
    "Xi Jinping était en visite d'État en France du 24 au 26 mars 2019 ; l'accord spatial a "
    "été signé à Paris le 25 mars 2019, pendant cette visite."
)
EN = (
    "Xi Jinping was on a state visit to France from 24 to 26 March 2019; the space agreement "
    "was signed in Paris on 25 March 2019, during that visit."
)
EN_EDITED = (
    "Xi Jinping's state visit to France ran from 24 to 26 March 2019, with a stop in Nice; "
    "the space agreement was signed at the Élysée on 25 March 2019."
)
SOURCES = "Élysée — visite d'État de Xi Jinping | https://www.elysee.fr/"
QUESTION = "When did Xi Jinping visit France?"
NEW_NOTE_MARK = "from 24 to 26 March 2019"  # only in the new note's first version


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    server = FakeSlack(
        users={MEMBER: {"name": "alice"}, MOD: {"name": MOD_NAME}},
        closed_channels=frozenset({"CPRIVATE"}),
    )
    await server.start()
    yield server
    await server.close()


def inputs(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """block_id -> element of the view's input blocks."""
    return {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}


def typed(form: NoteForm) -> dict[str, dict[str, str]]:
    """What `submit_view` sends for `form`: each field's block -> action -> text or option."""
    return {BLOCK_IDS[f]: {f: getattr(form, f)} for f in FORM_FIELDS}


async def replies(fake: FakeSlack, envelope: str, count: int = 1) -> list[Call]:
    """The first `count` replies to a command's or a button's response_url."""
    found = await fake.wait_for(lambda: len(fake.responses_to(envelope)) >= count, timeout=120)
    assert found
    return fake.responses_to(envelope)[:count]


async def ephemeral(fake: FakeSlack, envelope: str) -> str:
    """The one private reply to `envelope`, as its blocks' text."""
    (reply,) = await replies(fake, envelope)
    assert reply.ok and reply.args["response_type"] == "ephemeral"
    return "\n".join(block_texts(reply))


def private_to(fake: FakeSlack, user: str, containing: str) -> list[Call]:
    """Private posts (ephemeral, or in the user's DM) whose text contains `containing`."""
    return [
        c
        for c in fake.calls
        if c.ok
        and (
            (c.method == "chat.postEphemeral" and c.args.get("user") == user)
            or (c.method == "chat.postMessage" and c.args.get("channel") == user)
        )
        and containing in "\n".join(block_texts(c))
    ]


async def private_report(fake: FakeSlack, user: str, containing: str) -> Call:
    await fake.wait_for(lambda: private_to(fake, user, containing), timeout=300)
    (report,) = private_to(fake, user, containing)
    return report


async def ask(fake: FakeSlack) -> str:
    """A member's /ask of QUESTION: the public answer's text."""
    before = len(fake.calls_to("chat.postMessage", channel=CHANNEL))
    await fake.command("/ask", QUESTION, user=MEMBER)
    await fake.wait_for(
        lambda: len(fake.calls_to("chat.postMessage", channel=CHANNEL)) > before, timeout=120
    )
    return "\n".join(block_texts(fake.calls_to("chat.postMessage", channel=CHANNEL)[before]))


# ---------------------------------------------------------------------------- end to end


async def test_a_moderator_adds_edits_and_removes_a_note_from_slack(
    fake: FakeSlack,
    make_settings: Callable[..., Settings],
    tmp_path: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    url = f"sqlite:///{tmp_path / 'var' / 'factbot.db'}"
    settings = make_settings(**slack_env(fake, SLACK_MODERATOR_IDS=MOD), DATABASE_URL=url)
    service = await asyncio.to_thread(FactBotService.from_settings, settings)
    desk = service.notes
    assert desk is not None
    first_version = service.info().version
    try:
        async with running_slack(settings, service, fake):
            assert NEW_NOTE_MARK not in await ask(fake)

            # /note add: the blank form in a modal.
            await fake.command("/note", "add", user=MOD, user_name=MOD_NAME)
            (blank,) = await fake.wait_for(lambda: fake.views_opened, timeout=60)
            assert blank["title"]["text"] == "New fact-check note"
            assert blank["submit"]["text"] == "Save"
            assert json.loads(blank["private_metadata"]) == {
                "note": None,
                "channel": CHANNEL,
                "lang": "en",
            }
            fields = inputs(blank)
            # The five fields, then notify (the default) or silent.
            assert list(fields) == [*(BLOCK_IDS[f] for f in FORM_FIELDS), NOTIFY_BLOCK]
            notify = fields.pop(NOTIFY_BLOCK)
            assert notify["type"] == "radio_buttons"
            assert [o["value"] for o in notify["options"]] == ["notify", "silent"]
            assert notify["initial_option"]["value"] == "notify"
            assert [fields[BLOCK_IDS[f]]["action_id"] for f in FORM_FIELDS] == list(FORM_FIELDS)
            verdicts = fields[BLOCK_IDS["verdict"]]
            assert verdicts["type"] == "static_select" and "initial_option" not in verdicts
            assert [o["value"] for o in verdicts["options"]] == list(VERDICTS)
            for f in ("claim", "fr", "en", "sources"):
                element = fields[BLOCK_IDS[f]]
                assert element["type"] == "plain_text_input" and element["multiline"]
                assert "initial_value" not in element

            # A claim the article does not contain: problems in the form, nothing saved.
            wrong = NoteForm(NOT_IN_ARTICLE, "inaccurate", FR, EN, SOURCES)
            rejected = await fake.submit_view(blank, typed(wrong), user=MOD, user_name=MOD_NAME)
            errors = await fake.view_errors(rejected)
            if errors is not None:  # the desk validates well within SAVE_ACK_WITHIN
                assert list(errors) == [BLOCK_IDS["claim"]], errors
                shown = errors[BLOCK_IDS["claim"]]
            else:  # a stalled machine: the modal closed and the problems came privately
                shown = "\n".join(block_texts(await private_report(fake, MOD, "Nothing was")))
            assert "claim not found verbatim in the article" in shown
            assert await asyncio.to_thread(desk.repository.revision) == 0
            assert service.info().version == first_version

            # The same form, fixed: saved, rebuilt, reported privately with the new version.
            right = NoteForm(CLAIM, "accurate", FR, EN, SOURCES)
            saved = await fake.submit_view(blank, typed(right), user=MOD, user_name=MOD_NAME)
            assert await fake.view_errors(saved) is None  # the modal closed
            report = await private_report(fake, MOD, "added (revision 1)")
            assert report.args["channel"] == CHANNEL
            text = "\n".join(block_texts(report))
            second_version = service.info().version
            assert second_version != first_version
            assert f"Index rebuilt: {first_version} → {second_version}" in text
            assert "A question it now answers" in text or "No sample question" in text
            (note_id,) = [n for n, claim in await desk.choices("xi jinping") if claim == CLAIM]
            assert f"`{note_id}`" in text

            # A member's /ask now shows the new note's text.
            assert NEW_NOTE_MARK in await ask(fake)

            # /note edit: the same form, filled in.
            await fake.command("/note", f"edit {note_id}", user=MOD, user_name=MOD_NAME)
            await fake.wait_for(lambda: len(fake.views_opened) == 2, timeout=60)
            filled = fake.views_opened[1]
            assert json.loads(filled["private_metadata"])["note"] == note_id
            assert any(f"Edit {note_id}" in t for t in _context_texts(filled))
            fields = inputs(filled)
            assert fields[BLOCK_IDS["claim"]]["initial_value"] == CLAIM
            assert fields[BLOCK_IDS["verdict"]]["initial_option"]["value"] == "accurate"
            assert fields[BLOCK_IDS["fr"]]["initial_value"] == FR
            assert fields[BLOCK_IDS["en"]]["initial_value"] == EN
            assert fields[BLOCK_IDS["sources"]]["initial_value"] == SOURCES

            edited = NoteForm(CLAIM, "mostly-accurate", FR, EN_EDITED, SOURCES)
            change = await fake.submit_view(filled, typed(edited), user=MOD, user_name=MOD_NAME)
            assert await fake.view_errors(change) is None
            report = await private_report(fake, MOD, "changed (revision 2)")
            third_version = service.info().version
            assert f"→ {third_version}" in "\n".join(block_texts(report))
            assert third_version != second_version

            # /note show and /note history: private, two revisions by the moderator.
            env = await fake.command("/note", f"show {note_id}", user=MOD, user_name=MOD_NAME)
            show = await ephemeral(fake, env)
            assert "Mostly accurate" in show and "Élysée on 25 March 2019" in show
            assert f"Served from revision 2, by {MOD_NAME} (slack)" in show
            env = await fake.command("/note", f"history {note_id}", user=MOD, user_name=MOD_NAME)
            history = await ephemeral(fake, env)
            assert f"History of `{note_id}`" in history
            rows = [line for line in history.splitlines() if line.startswith("r")]
            assert len(rows) == 2, history
            assert rows[0].startswith("r1 · ") and f"added by {MOD_NAME} (slack)" in rows[0]
            assert rows[1].startswith("r2 · ") and f"edited by {MOD_NAME} (slack)" in rows[1]

            # /note remove: a prompt; Cancel keeps the note.
            env = await fake.command("/note", f"remove {note_id}", user=MOD, user_name=MOD_NAME)
            (prompt,) = await replies(fake, env)
            assert prompt.args["response_type"] == "ephemeral"
            assert any(f"Remove note `{note_id}`" in t for t in block_texts(prompt))
            cancel = await fake.block_action(
                prompt, "factbot_note_cancel", user=MOD, channel=CHANNEL
            )
            (cancelled,) = await replies(fake, cancel)
            assert cancelled.args["replace_original"] is True
            assert "Nothing was removed." in "\n".join(block_texts(cancelled))

            # A member pressing Remove is refused (the rights are checked on the press too).
            env = await fake.command("/note", f"remove {note_id}", user=MOD, user_name=MOD_NAME)
            (prompt,) = await replies(fake, env)
            press = await fake.block_action(
                prompt, "factbot_note_remove", user=MEMBER, channel=CHANNEL, confirm=True
            )
            assert (await ephemeral(fake, press)).count("Only moderators") == 1
            assert not isinstance(await desk.show(note_id), NoteUnknown)

            # The moderator confirms: "saving…" replaces the prompt, then the report.
            press = await fake.block_action(
                prompt,
                "factbot_note_remove",
                user=MOD,
                user_name=MOD_NAME,
                channel=CHANNEL,
                confirm=True,
            )
            saving, done = await replies(fake, press, 2)
            assert saving.args["replace_original"] is True
            assert not any(b["type"] == "actions" for b in saving.args.get("blocks", []))
            removed = "\n".join(block_texts(done))
            assert done.args["response_type"] == "ephemeral"
            assert f"Note `{note_id}` removed (revision 3)" in removed
            assert service.info().version != third_version
            assert isinstance(await desk.show(note_id), NoteUnknown)

            # /ask no longer shows it.
            answer = await ask(fake)
            assert "Élysée on 25 March 2019" not in answer and NEW_NOTE_MARK not in answer

            # A plain member is refused every subcommand, privately; nothing opens.
            for words in (
                "add",
                f"edit {note_id}",
                f"remove {note_id}",
                f"show {note_id}",
                f"history {note_id}",
                "",
                "frobnicate",
            ):
                env = await fake.command("/note", words, user=MEMBER)
                line = await ephemeral(fake, env)
                assert "Only moderators can" in line, (words, line)
            assert len(fake.views_opened) == 2
    finally:
        await service.aclose()

    assert all(c.ok for c in fake.calls), [c for c in fake.calls if not c.ok]
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("factbot.slack")]
    assert any("/note" in line and MOD_NAME in line for line in logged)
    assert not [line for line in logged if MOD in line or MEMBER in line]


def _context_texts(view: dict[str, Any]) -> list[str]:
    return [e["text"] for b in view["blocks"] if b["type"] == "context" for e in b["elements"]]


# ---------------------------------------------------------------------------- a stub desk


class StubDesk:
    """A desk whose save can be held open, rejected or failed, to reach every adapter path."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.outcome: NoteSaved | NoteRejected | NoteUnknown | Exception = SAVED
        self.saved: list[tuple[NoteForm, Moderator, str | None]] = []

    async def form(
        self, note_id: str | None = None, revision: int | None = None
    ) -> NoteForm | NoteUnknown:
        if note_id == "fc-down":
            raise NotesUnavailable("database is locked")
        return NoteForm() if note_id is None else NoteUnknown(note_id)

    async def show(self, note_id: str) -> NoteUnknown:
        return NoteUnknown(note_id)

    async def save(
        self,
        form: NoteForm,
        by: Moderator,
        note_id: str | None = None,
        language: str = "en",
        notify: bool = True,
    ) -> NoteSaved | NoteRejected | NoteUnknown:
        await self.release.wait()
        self.saved.append((form, by, note_id))
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


SAVED = NoteSaved(
    note_id="fc-stub",
    action="added",
    revision=7,
    claim=CLAIM,
    verdict="accurate",
    index_version="v-new",
    previous_version="v-old",
    changes=note_edits("fc-stub"),
    sample_question=QUESTION,
)


class ServiceWithDesk(StubService):
    def __init__(self, desk: StubDesk) -> None:
        super().__init__()
        self.notes = desk


def stub_settings(fake: FakeSlack) -> Settings:
    env = {"USER_COOLDOWN_SECONDS": "0", "INDEX_WATCH_SECONDS": "0", "SLACK_MODERATOR_IDS": MOD}
    return Settings.from_mapping({**env, **slack_env(fake)})


async def open_form(fake: FakeSlack, channel: str = CHANNEL) -> dict[str, Any]:
    count = len(fake.views_opened)
    await fake.command("/note", "add", user=MOD, user_name=MOD_NAME, channel=channel)
    await fake.wait_for(lambda: len(fake.views_opened) > count, timeout=60)
    return fake.views_opened[-1]


FILLED = NoteForm(CLAIM, "accurate", FR, EN, SOURCES)


async def test_a_slow_save_closes_the_modal_and_reports_in_a_dm_where_the_bot_cannot_post(
    fake: FakeSlack,
) -> None:
    desk = StubDesk()
    async with running_slack(stub_settings(fake), ServiceWithDesk(desk), fake):
        view = await open_form(fake, channel="CPRIVATE")
        submission = await fake.submit_view(view, typed(FILLED), user=MOD, user_name=MOD_NAME)
        # The save is held open: only the ack window can close the modal.
        assert await fake.view_errors(submission) is None
        saving = await private_report(fake, MOD, "Saving and rebuilding the index")
        assert saving.method == "chat.postMessage"  # CPRIVATE refused the ephemeral: a DM
        assert private_to(fake, MOD, "added (revision 7)") == []
        desk.release.set()
        report = await private_report(fake, MOD, "added (revision 7)")
        assert report.method == "chat.postMessage" and report.args["channel"] == MOD
        assert "Index rebuilt: v-old → v-new" in "\n".join(block_texts(report))
    ((form, by, note_id),) = desk.saved
    assert form == FILLED and note_id is None
    # The workspace comes along: the save's sample question is drawn from its questions only.
    assert by == Moderator("slack", MOD, MOD_NAME, TEAM_ID)
    assert SAVE_ACK_WITHIN < 3


async def test_problems_and_outages_come_back_in_the_form(fake: FakeSlack) -> None:
    desk = StubDesk()
    desk.release.set()
    desk.outcome = NoteRejected(
        (
            FormProblem("claim", "not found in the article"),
            FormProblem(None, "a note with this claim exists: fc-13-launch-date"),
            FormProblem("sources", "no http(s) URL"),
        )
    )
    async with running_slack(stub_settings(fake), ServiceWithDesk(desk), fake):
        view = await open_form(fake)
        errors = await fake.view_errors(
            await fake.submit_view(view, typed(FILLED), user=MOD, user_name=MOD_NAME)
        )
        assert errors == {
            BLOCK_IDS["claim"]: "not found in the article\n"
            "a note with this claim exists: fc-13-launch-date",
            BLOCK_IDS["sources"]: "no http(s) URL",
        }

        desk.outcome = NotesUnavailable("database is locked")
        errors = await fake.view_errors(
            await fake.submit_view(view, typed(FILLED), user=MOD, user_name=MOD_NAME)
        )
        assert errors is not None and list(errors) == [BLOCK_IDS["claim"]]
        assert errors[BLOCK_IDS["claim"]].startswith("Can't read or save notes right now")

        # A member who somehow submits the form is refused in it, and nothing is saved.
        saved_before = len(desk.saved)
        errors = await fake.view_errors(await fake.submit_view(view, typed(FILLED), user=MEMBER))
        assert errors is not None and "Only moderators" in errors[BLOCK_IDS["claim"]]
        assert len(desk.saved) == saved_before

        # Unknown ids, an outage, and anything else than a subcommand: one private line each.
        env = await fake.command("/note", "show fc-nope", user=MOD)
        assert "No note `fc-nope`" in await ephemeral(fake, env)
        env = await fake.command("/note", "edit fc-down", user=MOD)
        assert "Can't read or save notes right now" in await ephemeral(fake, env)
        for words in ("", "frobnicate", "edit", "remove a b"):
            env = await fake.command("/note", words, user=MOD)
            assert (await ephemeral(fake, env)).startswith(":pencil2: Usage: /note add | edit")
        # A revision that is not a number says what one looks like (issue 20: "²" is one).
        for revision in ("two", "²"):
            env = await fake.command("/note", f"edit fc-1 {revision}", user=MOD)
            line = message("note.bad_revision", "en", note_id="fc-1")
            assert await ephemeral(fake, env) == f":pencil2: {line}"
    assert all(c.ok for c in fake.calls), [c for c in fake.calls if not c.ok]
