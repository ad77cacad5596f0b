"""The near-miss check's everyday vocabulary as a stored artifact (bot/answering/lexicon.py).

It must hold exactly the sets the focus check used to build in memory at every start, be
recomputed (one log line, no traceback) when missing, damaged or written for other inputs, and
be prepared by `factbot index` so that no start computes it.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import Stemmer
from english_words import get_english_words_set

from bot.answering import lexicon as lexicon_module
from bot.answering.engine import Engine
from bot.answering.lexicon import (
    DERIVED,
    Lexicon,
    common_vocabulary,
    lexicon_key,
    lexicon_name,
    load_lexicon,
)
from bot.cli import commands as cli
from bot.settings import Settings
from index.wordset import WordSet
from tests.conftest import ROOT

SETS = ("common", "common_stems", "english", "general", "general_stems")


def _records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "factbot.index"]


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A derived/ folder holding the lexicon, written once for the module."""
    folder = tmp_path_factory.mktemp("index") / DERIVED
    load_lexicon(folder)
    return folder


def test_the_stored_sets_equal_the_old_in_memory_computation(stored: Path) -> None:
    # The old way, as bot/answering/focus.py built it at every start: the lower-case web2
    # entries, the everyday words, and both stems of every word, stemmed one word at a time.
    english = frozenset(
        w for w in get_english_words_set(["web2"], lower=False, alpha=True) if w.islower()
    )
    common = common_vocabulary()
    general = common | english
    french, english_stemmer = Stemmer.Stemmer("french"), Stemmer.Stemmer("english")

    def stem_set(words: frozenset[str]) -> frozenset[str]:
        return frozenset(
            s
            for w in words
            if w.isalpha()
            for s in (french.stemWord(w), english_stemmer.stemWord(w))
        )

    expected = {
        "common": common,
        "common_stems": stem_set(common),
        "english": english,
        "general": general,
        "general_stems": stem_set(general),
    }
    read = Lexicon.read(stored, lexicon_key())
    for name in SETS:
        words = getattr(read, name)
        assert set(words) == expected[name], name
        assert len(words) == len(expected[name]), name
    # The big sets are looked up in the file, not copied into memory.
    assert all(isinstance(getattr(read, name), WordSet) for name in SETS if "general" in name)
    assert all(w in read.general for w in ("moon", "launch", "de", "quand"))
    assert "artemis" not in read.general and "spacex" not in read.general


@pytest.mark.parametrize("damage", ["truncated", "flipped", "manifest", "missing-file"])
def test_a_damaged_lexicon_is_recomputed_with_one_log_line(
    tmp_path: Path, stored: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / DERIVED
    folder.mkdir()
    name = lexicon_name(lexicon_key())
    subprocess.run(["cp", "-r", str(stored / name), str(folder / name)], check=True)
    target = folder / name / "general_stems.npy"
    data = target.read_bytes()
    if damage == "truncated":
        target.write_bytes(data[: len(data) // 2])
    elif damage == "flipped":  # a word changed in place: same size, valid header
        target.write_bytes(data[:-5] + bytes([data[-5] ^ 0x01]) + data[-4:])
    elif damage == "manifest":
        (folder / name / "manifest.json").write_text("{not json")
    else:
        target.unlink()
    with pytest.raises(lexicon_module.LexiconUnusable):
        Lexicon.read(folder, lexicon_key())

    with caplog.at_level(logging.INFO, logger="factbot.index"):
        recomputed = load_lexicon(folder)
    records = _records(caplog)
    assert len(records) == 1, [r.getMessage() for r in records]
    assert records[0].levelno == logging.WARNING
    assert "recomputing" in records[0].getMessage() and "\n" not in records[0].getMessage()
    assert records[0].exc_info is None
    # Rewritten in place: the next start reads it as it is, with nothing to say.
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="factbot.index"):
        again = Lexicon.read(folder, lexicon_key())
        load_lexicon(folder)
    assert _records(caplog) == []
    for words in (recomputed, again):
        assert set(words.general_stems) == set(Lexicon.read(stored, lexicon_key()).general_stems)


def test_a_stale_key_is_not_used_and_is_deleted(
    tmp_path: Path, stored: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lexicon written for other inputs (here: another glossary) is neither read nor kept."""
    folder = tmp_path / DERIVED
    glossary = tmp_path / "glossary.tsv"
    glossary.write_text("zorglub\tzorglub\n", encoding="utf-8")
    monkeypatch.setattr(lexicon_module, "GLOSSARY_PATH", glossary)
    lexicon_key.cache_clear()
    try:
        stale_key = lexicon_key()
        lexicon_module._computed.clear()
        assert "zorglub" in load_lexicon(folder).common
    finally:
        monkeypatch.undo()
        lexicon_key.cache_clear()
        lexicon_module._computed.clear()
    current = lexicon_key()
    assert stale_key != current
    assert (folder / lexicon_name(stale_key)).is_dir()

    fresh = load_lexicon(folder)
    assert "zorglub" not in fresh.common and "zorglub" not in fresh.general
    assert set(fresh.common) == set(Lexicon.read(stored, current).common)
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == [
        lexicon_name(current)
    ]


def test_a_lexicon_written_for_another_key_under_this_name_is_not_used(
    tmp_path: Path, stored: Path
) -> None:
    folder = tmp_path / DERIVED
    folder.mkdir()
    name = lexicon_name(lexicon_key())
    subprocess.run(["cp", "-r", str(stored / name), str(folder / name)], check=True)
    manifest = folder / name / "manifest.json"
    manifest.write_text(manifest.read_text().replace(lexicon_key(), "0" * 64))
    with pytest.raises(lexicon_module.LexiconUnusable, match="another key"):
        Lexicon.read(folder, lexicon_key())
    load_lexicon(folder)
    assert Lexicon.read(folder, lexicon_key()) is not None


def test_the_key_reads_no_dictionary_and_stems_nothing() -> None:
    code = (
        "import sys\n"
        "from bot.answering.lexicon import lexicon_key\n"
        "key = lexicon_key()\n"
        "print(len(key), 'english_words' in sys.modules, 'Stemmer' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["64", "False", "False"]


def test_an_unwritable_folder_still_gives_the_lexicon_in_one_line(
    tmp_path: Path, stored: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with caplog.at_level(logging.INFO, logger="factbot.index"):
        lexicon = load_lexicon(blocker / DERIVED)
    records = _records(caplog)
    assert len(records) == 1 and records[0].levelno == logging.WARNING
    assert records[0].exc_info is None
    assert set(lexicon.common) == set(Lexicon.read(stored, lexicon_key()).common)


def test_factbot_index_prepares_it_and_the_engine_reads_it(
    make_settings: Callable[..., Settings], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings()
    derived = settings.index_dir / DERIVED
    subprocess.run(["rm", "-rf", str(derived)], check=True)
    env = tmp_path / "cli.env"
    env.write_text(
        f"CORPUS_DIR={settings.corpus_dir}\nINDEX_DIR={settings.index_dir}\n"
        f"DATABASE_URL={settings.database_url}\nUSER_HASH_KEY_FILE={settings.user_hash_key_file}\n"
        f"MODEL_CACHE_DIR={settings.model_cache_dir}\n"
    )
    assert cli.main(["--env-file", str(env), "index", "--if-needed"]) == 0
    Lexicon.read(derived, lexicon_key())  # there, whole, for this key

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="factbot.index"):
        engine = Engine.open(settings)
    assert not [r for r in _records(caplog) if "lexicon" in r.getMessage()]
    assert engine.focus.check("c quoi le programme artemis ?") is not None
    assert engine.focus.check("what is the scientific payload of the probe?") is None
