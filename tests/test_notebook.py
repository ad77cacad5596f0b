"""Moderators' notes made in chat, through the core (`NoteDesk`): the real validator, the real
database (SQLite here; PostgreSQL in the multi-host test), real rebuilds with the real model."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import select

from bot.cli import commands as cli
from bot.community import Community
from bot.notes.desk import NoteDesk, new_note_id, parse_sources
from bot.notes.records import (
    Moderator,
    NoteForm,
    NoteHistory,
    NoteRejected,
    NoteSaved,
    NoteShown,
    NotesUnavailable,
    NoteUnknown,
)
from bot.serving.service import FactBotService
from bot.settings import Settings
from bot.storage import Store
from bot.storage.schema import note_revisions
from index.corpus import load_corpus

# A sentence of the article no note covers, and facts no other text of the corpus holds.
CLAIM = (
    "L'annonce a été faite à l'occasion de la visite du président de la République populaire "
    "de Chine, Xi Jinping"
)
FR = "Xi Jinping était en visite d'État en France du 24 au 26 mars 2019, à Paris et à Nice."
EN = "Xi Jinping was on a state visit to France from 24 to 26 March 2019, in Paris and Nice."
SOURCES = "Élysée — state visit | https://www.elysee.fr/\nhttps://www.afp.com/"
T = TypeVar("T")
ALICE = Moderator("discord", "1400000000000000001", "alice")
BOB = Moderator("slack", "U0BOB", "bob")
ALICE_IN_A = Moderator("discord", "1400000000000000001", "alice", "guild-A")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture
def service(make_settings: Callable[..., Settings]) -> Iterator[FactBotService]:
    svc = FactBotService.from_settings(make_settings())
    yield svc
    asyncio.run(svc.aclose())


def desk_of(service: FactBotService) -> NoteDesk:
    assert service.notes is not None
    return service.notes


def good_form(**changes: str) -> NoteForm:
    values = {"claim": CLAIM, "verdict": "accurate", "fr": FR, "en": EN, "sources": SOURCES}
    values.update(changes)
    return NoteForm(**values)


def stored_rows(service: FactBotService) -> list[dict[str, object]]:
    desk = desk_of(service)
    with desk.repository.database.reading() as conn:
        return [dict(r._mapping) for r in conn.execute(select(note_revisions))]


# ---------------------------------------------------------------------- units


def test_sources_lines_are_read_as_people_type_them() -> None:
    assert parse_sources(
        "CNES | https://cnes.fr/x\n\n- https://afp.com/y\nAFP https://afp.com/z"
    ) == [
        ("CNES", "https://cnes.fr/x"),
        ("https://afp.com/y", "https://afp.com/y"),
        ("AFP", "https://afp.com/z"),
    ]
    assert parse_sources("just a title") == [("just a title", "")]


def test_new_ids_are_ascii_and_unique() -> None:
    assert new_note_id("L'été à Pékin", set()) == "fc-l-ete-a-pekin"
    assert new_note_id("L'été à Pékin", {"fc-l-ete-a-pekin"}) == "fc-l-ete-a-pekin-2"


# ---------------------------------------------------------------------- the form is validated


def test_a_claim_not_in_the_article_is_refused_and_nothing_is_saved(
    service: FactBotService,
) -> None:
    desk = desk_of(service)
    before = service.engine.version
    outcome = run(desk.save(good_form(claim="la Lune est en fromage"), ALICE))
    assert isinstance(outcome, NoteRejected)
    assert [p.field for p in outcome.problems] == ["claim"]
    assert "not found verbatim" in outcome.problems[0].message
    # The moderator is told which corpus file, not where the corpus sits on the server.
    assert "copy it exactly from article.fr.md" in outcome.problems[0].message
    assert str(service.settings.corpus_dir) not in outcome.problems[0].message
    assert stored_rows(service) == []
    assert service.engine.version == before


def test_every_problem_comes_back_beside_its_field(service: FactBotService) -> None:
    outcome = run(
        desk_of(service).save(
            good_form(verdict="sort-of", en="", sources="a title without a link"), ALICE
        )
    )
    assert isinstance(outcome, NoteRejected)
    fields = {p.field for p in outcome.problems}
    assert fields == {"verdict", "en", "sources"}
    assert stored_rows(service) == []


def test_a_field_over_its_limit_is_refused(service: FactBotService) -> None:
    outcome = run(desk_of(service).save(good_form(fr="x" * 3001), ALICE))
    assert isinstance(outcome, NoteRejected)
    assert outcome.problems[0].field == "fr"
    assert stored_rows(service) == []


# ---------------------------------------------------------------------- add, edit, remove


def test_add_edit_remove_restore_with_history(service: FactBotService) -> None:
    desk = desk_of(service)
    first = service.engine.version
    question = "xi jinping etait en visite ou ?"
    assert not any("Nice" in f.summary for f in run(service.ask(question)).factchecks)

    added = run(desk.save(good_form(), ALICE))
    assert isinstance(added, NoteSaved), added
    assert added.action == "added" and added.revision == 1
    assert added.index_version == service.engine.version != first
    assert added.changes is not None
    assert [n.note_id for n in added.changes.notes_of("note_added")] == [added.note_id]
    assert added.sample_question is not None
    sample = run(service.ask(added.sample_question))
    assert added.note_id in [f.id for f in sample.factchecks]
    answer = run(service.ask(question))
    assert added.note_id in [f.id for f in answer.factchecks]
    assert "Nice" in answer.text

    # The raw user id is never stored; the display name is, for attribution.
    row = stored_rows(service)[0]
    assert row["author_name"] == "alice" and row["platform"] == "discord"
    assert ALICE.user_id not in json.dumps(row, default=str)

    form = run(desk.form(added.note_id))
    assert form == NoteForm(
        CLAIM,
        "accurate",
        FR,
        EN,
        "Élysée — state visit | https://www.elysee.fr/\nhttps://www.afp.com/",
    )
    edited = run(
        desk.save(
            good_form(verdict="mostly-accurate", en=EN.replace("Nice", "Monaco")),
            BOB,
            added.note_id,
        )
    )
    assert isinstance(edited, NoteSaved) and edited.action == "edited" and edited.revision == 2
    assert "Monaco" in run(service.ask("xi jinping was where in march 2019?")).text

    history = run(desk.history(added.note_id))
    assert isinstance(history, NoteHistory)
    assert [(r.revision, r.action, r.author) for r in history.revisions] == [
        (1, "added", "alice (discord)"),
        (2, "edited", "bob (slack)"),
    ]
    assert history.served == "chat" and history.file_path is None

    removed = run(desk.remove(added.note_id, ALICE))
    assert isinstance(removed, NoteSaved) and removed.action == "removed"
    assert added.note_id not in [f.id for f in run(service.ask(question)).factchecks]
    assert isinstance(run(desk.show(added.note_id)), NoteUnknown)
    assert added.note_id not in [i for i, _ in run(desk.choices())]

    # Reversible: the form reopens the last version, and saving it restores the note.
    restore = run(desk.form(added.note_id))
    assert isinstance(restore, NoteForm) and "Monaco" in restore.en
    older = run(desk.form(added.note_id, revision=1))
    assert isinstance(older, NoteForm) and "Nice" in older.en
    restored = run(desk.save(older, ALICE, added.note_id))
    assert isinstance(restored, NoteSaved) and restored.revision == 4
    assert added.note_id in [f.id for f in run(service.ask(question)).factchecks]


def test_the_sample_question_is_one_the_community_asked_and_the_bot_refused(
    service: FactBotService,
) -> None:
    """The learning loop closed: the report names a refused question the new note answers,
    asked in the saver's own server: never another server's, a Slack workspace's or a DM."""
    asked = "xi etait a paris et nice ?"
    elsewhere = "xi etait en visite a paris et a nice ?"  # nearer still, but not theirs to read
    assert run(service.ask(asked)).refused
    store = Store.from_settings(service.settings)
    store.start(wait=10)
    try:
        now = datetime.now(UTC)
        for minutes_ago, question, outcome, platform, guild in (
            (6, elsewhere, "refused", "discord", "guild-B"),
            (5, elsewhere, "refused", "discord", None),  # a DM
            (4, elsewhere, "refused", "slack", "guild-A"),  # a workspace with the same id
            (3, asked, "refused", "discord", "guild-A"),
            (2, "et la meteo a pekin demain ?", "refused", "discord", "guild-A"),
            (1, "quand part chang'e 6 ?", "answered", "discord", "guild-A"),
            (40 * 24 * 60, "xi etait a lyon ?", "refused", "discord", "guild-A"),  # too old
        ):
            store.log_question(
                platform=platform,
                user_id="u1",
                question=question,
                outcome=outcome,
                guild_id=guild,
                asked_at=now - timedelta(minutes=minutes_ago),
            )
        assert store.flush(timeout=30)
    finally:
        store.close()
    in_a = Community("discord", "guild-A")
    assert desk_of(service).repository.unanswered(30, 10, in_a) == [
        "et la meteo a pekin demain ?",
        asked,
    ]
    added = run(desk_of(service).save(good_form(), ALICE_IN_A))
    assert isinstance(added, NoteSaved)
    assert added.sample_question == asked
    assert not run(service.ask(asked)).refused


def test_unknown_ids_are_named(service: FactBotService) -> None:
    desk = desk_of(service)
    assert run(desk.show("fc-nope")) == NoteUnknown("fc-nope")
    assert run(desk.history("fc-nope")) == NoteUnknown("fc-nope")
    assert run(desk.remove("fc-nope", ALICE)) == NoteUnknown("fc-nope")
    assert run(desk.save(good_form(), ALICE, "fc-nope")) == NoteUnknown("fc-nope")
    assert run(desk.form("fc-nope")) == NoteUnknown("fc-nope")


# ---------------------------------------------------------------------- files and chat


def test_a_file_note_changed_in_chat_then_on_disk(
    service: FactBotService, corpus_copy: Path
) -> None:
    desk = desk_of(service)
    note_id = "fc-13-launch-date"
    shown = run(desk.show(note_id))
    assert isinstance(shown, NoteShown) and shown.served == "file"
    form = run(desk.form(note_id))
    assert isinstance(form, NoteForm) and form.verdict == "outdated"
    changed = run(
        desk.save(
            NoteForm(form.claim, form.verdict, form.fr, form.en + " Zebulon.", form.sources),
            ALICE,
            note_id,
        )
    )
    assert isinstance(changed, NoteSaved)
    shown = run(desk.show(note_id))
    assert isinstance(shown, NoteShown) and shown.served == "chat" and "Zebulon" in shown.en
    assert shown.file_path is not None and shown.updated_by == "alice (discord)"

    # The file is edited upstream after the chat change: the most recent change, the file, wins.
    path = corpus_copy / "factchecks" / "13-launch-date.md"
    path.write_text(
        path.read_text(encoding="utf-8").replace("Long March 5", "Long March 5 (CZ-5)"),
        encoding="utf-8",
    )
    history = run(desk.history(note_id))
    assert isinstance(history, NoteHistory)
    assert history.served == "file" and history.file_newer
    run(service.reindex("test"))
    served = {n.id: n for n in service.engine.index.notes.values()}
    assert "Zebulon" not in json.dumps(served[note_id].summaries)
    shown = run(desk.show(note_id))
    assert isinstance(shown, NoteShown) and shown.served == "file" and "CZ-5" in shown.en


# ---------------------------------------------------------------------- several hosts


def test_another_host_serves_the_note_after_its_own_rebuild(
    service: FactBotService,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    prebuilt_index: Path,
) -> None:
    """Two processes, one database, no shared folder: the second rebuilds its own index when it
    sees the database's newer revision, and both indexes hold the same content."""
    import shutil

    other_index = tmp_path / "other-index"
    shutil.copytree(prebuilt_index, other_index, symlinks=True)
    other = FactBotService.from_settings(make_settings(INDEX_DIR=str(other_index)))
    try:
        assert not run(other.check_for_new_notes())  # nothing new yet
        added = run(desk_of(service).save(good_form(), ALICE))
        assert isinstance(added, NoteSaved)
        assert run(other.check_for_new_notes())
        assert other.engine.notes_revision == service.engine.notes_revision == 1
        assert other.engine.index.path.parent != service.engine.index.path.parent
        assert (
            other.engine.index.manifest["corpus_hash"]
            == service.engine.index.manifest["corpus_hash"]
        )
        answer = run(other.ask("xi jinping etait en visite ou ?"))
        assert added.note_id in [f.id for f in answer.factchecks]
        assert not run(other.check_for_new_notes())  # current: no second rebuild
    finally:
        asyncio.run(other.aclose())


def test_concurrent_saves_are_all_served(service: FactBotService) -> None:
    desk = desk_of(service)
    claim_b = "Les deux pays veulent s'associer pour l'exportation robotique de la Lune"

    async def both() -> tuple[NoteSaved | NoteRejected | NoteUnknown, ...]:
        return await asyncio.gather(
            desk.save(good_form(), ALICE),
            desk.save(good_form(claim=claim_b, verdict="inaccurate"), BOB),
        )

    first, second = run(both())
    assert isinstance(first, NoteSaved) and isinstance(second, NoteSaved)
    served = set(service.engine.index.notes)
    assert {first.note_id, second.note_id} <= {
        n.id for n in service.engine.index.notes.values()
    } or served
    ids = {n.id for n in service.engine.index.notes.values()}
    assert first.note_id in ids and second.note_id in ids
    assert service.engine.notes_revision == 2


# ---------------------------------------------------------------------- the database is down


def test_a_database_that_is_down_is_one_line_and_the_index_keeps_serving(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the database folder should be")
    settings = make_settings(DATABASE_URL=f"sqlite:///{blocker}/factbot.db")
    svc = FactBotService.from_settings(settings)  # serves the published index all the same
    try:
        desk = desk_of(svc)
        version = svc.engine.version
        with pytest.raises(NotesUnavailable) as caught:
            run(desk.save(good_form(), ALICE))
        assert "\n" not in str(caught.value) and "SQLite" in str(caught.value)
        assert not run(svc.check_for_new_notes())
        with pytest.raises(Exception) as failed:
            run(svc.reindex("test"))
        assert "notes made in chat cannot be read" in str(failed.value)
        assert svc.engine.version == version
        assert not run(svc.ask("quand part chang'e 6 ?")).refused
    finally:
        asyncio.run(svc.aclose())


# ---------------------------------------------------------------------- CLI


def _env_file(tmp_path: Path, settings: Settings) -> str:
    env = tmp_path / "cli.env"
    env.write_text(
        f"CORPUS_DIR={settings.corpus_dir}\nINDEX_DIR={settings.index_dir}\n"
        f"DATABASE_URL={settings.database_url}\nUSER_HASH_KEY_FILE={settings.user_hash_key_file}\n"
        f"MODEL_CACHE_DIR={settings.model_cache_dir}\n"
    )
    return str(env)


def test_notes_export_and_corpus_check_see_the_overlay(
    service: FactBotService, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    desk = desk_of(service)
    added = run(desk.save(good_form(), ALICE))
    assert isinstance(added, NoteSaved)
    removed = run(desk.remove("fc-16-svom", BOB))
    assert isinstance(removed, NoteSaved)
    env = _env_file(tmp_path, service.settings)

    out = tmp_path / "export"
    assert cli.main(["--env-file", env, "notes", "export", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"{added.note_id}: revision 1" in printed
    assert "fc-16-svom: removed in chat" in printed and "16-svom.md" in printed
    exported = out / f"{added.note_id}.md"
    # What is exported is a corpus file: with it in place of the database, the corpus is valid.
    corpus = Path(service.settings.corpus_dir)
    (corpus / "factchecks" / exported.name).write_text(
        exported.read_text(encoding="utf-8"), encoding="utf-8"
    )
    assert added.note_id in {n.id for n in load_corpus(corpus).factchecks}

    # The ClaimReview export holds the notes made in chat, not the one removed there.
    reviews_file = tmp_path / "claimreview.json"
    assert cli.main(["--env-file", env, "export", "claimreview", "--out", str(reviews_file)]) == 0
    ids = {review["identifier"] for review in json.loads(reviews_file.read_text(encoding="utf-8"))}
    assert added.note_id in ids and "fc-16-svom" not in ids and "fc-13-launch-date" in ids

    assert cli.main(["--env-file", env, "corpus", "check"]) == 0
    assert "with the notes made in chat" in capsys.readouterr().out
    # A note file broken on disk: the check names it.
    (corpus / "factchecks" / "99-broken.md").write_text("---\nid: fc-99\nverdict: nope\n---\n")
    assert cli.main(["--env-file", env, "corpus", "check"]) == 1
    assert "99-broken.md" in capsys.readouterr().out


def test_notes_cli_with_the_database_down_is_one_line(
    make_settings: Callable[..., Settings], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    env = _env_file(tmp_path, make_settings(DATABASE_URL=f"sqlite:///{blocker}/f.db"))
    assert cli.main(["--env-file", env, "notes", "export", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("factbot: the notes made in chat cannot be read") and "\n" not in err
    assert cli.main(["--env-file", env, "corpus", "check"]) == 1
    assert "cannot be read" in capsys.readouterr().err
