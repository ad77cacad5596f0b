"""Safe exports and clean input (issue 20, item 3): ClaimReview JSON-LD that can be embedded in a
page as is, form fields without control, bidi or zero-width characters, `notes export` that
writes only inside its folder, exported files others can read, and rebuild failures that show no
database address nor server path in chat. Through the real validator, database and CLI."""

from __future__ import annotations

import asyncio
import json
import re
import stat
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.answering.index_lifecycle import ReindexFailed
from bot.chat.discord import render as discord_render
from bot.chat.slack import render as slack_render
from bot.cli import commands as cli
from bot.notes.desk import NoteDesk
from bot.notes.records import Moderator, NoteForm, NoteSaved
from bot.serving.service import FactBotService
from bot.settings import Settings
from index.corpus import check_corpus, load_corpus
from index.note_file import render_note

T = TypeVar("T")

# A sentence of the article no note covers (as in tests/test_notebook.py).
CLAIM = (
    "L'annonce a été faite à l'occasion de la visite du président de la République populaire "
    "de Chine, Xi Jinping"
)
SCRIPT = "</script><script>alert(1)</script>"
FR = f"Xi Jinping était en visite d'État en France {SCRIPT} & <b>du 24 au 26 mars 2019</b>."
EN = "Xi Jinping was on a state visit to France from 24 to 26 March 2019."
SOURCES = "Élysée — state visit | https://www.elysee.fr/"
ALICE = Moderator("discord", "1400000000000000001", "alice")
# What the form must not keep: bidi overrides and isolates, zero-width characters, the byte-order
# mark and other control characters.
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def desk_of(service: FactBotService) -> NoteDesk:
    assert service.notes is not None
    return service.notes


def env_file(tmp_path: Path, settings: Settings, **extra: str) -> str:
    env = tmp_path / "cli.env"
    lines = [
        f"CORPUS_DIR={settings.corpus_dir}",
        f"INDEX_DIR={settings.index_dir}",
        f"DATABASE_URL={settings.database_url}",
        f"USER_HASH_KEY_FILE={settings.user_hash_key_file}",
        f"MODEL_CACHE_DIR={settings.model_cache_dir}",
        *(f"{k}={v}" for k, v in extra.items()),
    ]
    env.write_text("\n".join(lines) + "\n")
    return str(env)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ---------------------------------------------------------------------- ClaimReview


def test_claimreview_of_a_note_holding_a_script_end_tag_embeds_safely(
    service: FactBotService, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = run(desk_of(service).save(NoteForm(CLAIM, "accurate", FR, EN, SOURCES), ALICE))
    assert isinstance(saved, NoteSaved), saved
    env = env_file(tmp_path, service.settings, CLAIMREVIEW_URL="https://x.example/{id}.{lang}")

    target = tmp_path / "claimreview.json"
    assert cli.main(["--env-file", env, "export", "claimreview", "--out", str(target)]) == 0
    assert cli.main(["--env-file", env, "export", "claimreview"]) == 0
    stdout = capsys.readouterr().out
    for text in (target.read_text(encoding="utf-8"), stdout):
        # Pasted inside <script type="application/ld+json">, nothing ends the script early.
        assert "</script" not in text.lower()
        assert not set("<>&") & set(text)
        assert "Pékin" in text  # still UTF-8, not \\u escapes everywhere
        # The same data once parsed.
        (review,) = [
            r
            for r in json.loads(text)
            if r["identifier"] == saved.note_id and r["inLanguage"] == "fr"
        ]
        assert review["reviewBody"] == FR
    assert mode(target) == 0o644  # a file to publish, readable by the web server


# ---------------------------------------------------------------------- form fields


def test_form_fields_lose_control_bidi_and_zero_width_characters(
    service: FactBotService,
) -> None:
    form = NoteForm(
        # Zero-width space and a bidi isolate inside the quote, a BOM before it: the quote is
        # still the article's.
        claim="\ufeffL'annonce a été faite\u200b à l'occasion de la visite du président de la "
        "\u2066République\u2069 populaire de Chine, Xi Jinping",
        verdict="accurate\u200d",
        fr="Xi Jinping était en visite\x07 d'État.\n\nDu 24 au 26 mars\u00a02019.",
        en="Xi Jinping was on a state visit\x1b[31m.\r\nFrom 24 to 26 March 2019.",
        # A right-to-left override makes "moc.elysee" read "eesyle.com" in the title.
        sources="\u202emoc.eesyle\u202c Élysée | https://www.elysee.fr/\nhttps://www.afp.com/\u200b",
    )
    saved = run(desk_of(service).save(form, ALICE))
    assert isinstance(saved, NoteSaved), saved
    (row,) = desk_of(service).repository.history(saved.note_id)
    assert row.body is not None
    assert UNSAFE.search(row.body.replace("\n", "")) is None, repr(row.body)
    note = next(
        n
        for n in load_corpus(
            service.settings.corpus_dir, desk_of(service).repository.overlay()
        ).factchecks
        if n.id == saved.note_id
    )
    assert (
        note.sections["fr"] == "Xi Jinping était en visite d'État.\n\nDu 24 au 26 mars\u00a02019."
    )
    assert note.sections["en"] == "Xi Jinping was on a state visit[31m.\nFrom 24 to 26 March 2019."
    assert [(s.title, s.url) for s in note.sources] == [
        ("moc.eesyle Élysée", "https://www.elysee.fr/"),
        ("https://www.afp.com/", "https://www.afp.com/"),
    ]


def test_the_validator_names_a_bidi_character_in_a_file(corpus_copy: Path) -> None:
    note = corpus_copy / "factchecks" / "16-svom.md"
    lines = note.read_text(encoding="utf-8").split("\n")
    title = next(i for i, line in enumerate(lines) if "title:" in line)
    lines[title] = lines[title].replace("title: ", "title: \u202e", 1)
    note.write_text("\n".join(lines), encoding="utf-8")
    problems = check_corpus(corpus_copy)
    (problem,) = problems
    assert problem.path.endswith("16-svom.md") and problem.line == title + 1
    assert "U+202E" in str(problem) and "\n" not in str(problem)


# ---------------------------------------------------------------------- notes export


def test_notes_export_skips_a_malformed_id_and_writes_only_inside_dir(
    service: FactBotService, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    desk = desk_of(service)
    saved = run(desk.save(NoteForm(CLAIM, "accurate", EN, EN, SOURCES), ALICE))
    assert isinstance(saved, NoteSaved)
    # A database row written by something else than the desk (a restore, a tampered dump).
    for bad in ("../outside", str(tmp_path / "absolute"), "a/b"):
        text = render_note(bad, CLAIM, "accurate", "2026-01-01", [], {"fr": EN, "en": EN})
        desk.repository.append(bad, "added", text, None, "discord", "1", "mallory")
    out = tmp_path / "export" / "inner"
    env = env_file(tmp_path, service.settings)
    capsys.readouterr()

    assert cli.main(["--env-file", env, "notes", "export", str(out)]) == 0
    captured = capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == [f"{saved.note_id}.md"]
    assert not (tmp_path / "export" / "outside.md").exists()
    assert not (tmp_path / "absolute.md").exists()
    assert mode(out / f"{saved.note_id}.md") == 0o644
    skipped = [line for line in captured.err.splitlines() if "malformed" in line]
    assert len(skipped) == 3 and "'../outside'" in skipped[0]
    assert "Traceback" not in captured.err + captured.out


# ---------------------------------------------------------------------- rebuild failures


def test_a_rebuild_failure_in_chat_names_no_database_nor_server_path(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    # Port 9 (discard) on loopback: refused at once, no DNS, nothing to wait for.
    url = "postgresql://factbot_db_user:s3cret@127.0.0.1:9/factbot_prod"
    svc = FactBotService.from_settings(make_settings(DATABASE_URL=url))
    try:
        with pytest.raises(ReindexFailed) as failed:
            run(svc.reindex("test"))
    finally:
        run(svc.aclose())
    problems = failed.value.problems
    assert problems and all("notes made in chat cannot be read" in p for p in problems)
    shown = [
        "\n".join(problems),
        discord_render.reindex_failed_text(problems, "v1"),
        slack_render.render_reindex_failure(problems, "v1").text,
    ]
    for line in shown:
        for leak in ("factbot_db_user", "127.0.0.1", "factbot_prod", "postgresql", "s3cret"):
            assert leak not in line
    # The details are for the operator, in the log (the password never).
    assert "127.0.0.1" in caplog.text and "s3cret" not in caplog.text


def test_a_broken_corpus_file_is_named_inside_the_corpus(
    service: FactBotService, corpus_copy: Path
) -> None:
    note = corpus_copy / "factchecks" / "13-launch-date.md"
    note.write_text(note.read_text().replace("verdict: outdated", "verdict: bogus"))
    claim = corpus_copy / "factchecks" / "16-svom.md"
    claim.write_text(claim.read_text().replace("claim: ", "claim: pas dans l'article ", 1))
    with pytest.raises(ReindexFailed) as failed:
        run(service.reindex("test"))
    problems = failed.value.problems
    assert any(p.startswith("factchecks/13-launch-date.md:") for p in problems), problems
    assert any("copy it exactly from article.fr.md" in p for p in problems), problems
    assert all(str(corpus_copy) not in p and str(corpus_copy.parent) not in p for p in problems)
