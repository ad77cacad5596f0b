"""The message-kind exemplars' vectors as a stored artifact (issue 24): the real model, the real
index and the real files under `INDEX_DIR/derived/`."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from bot.answering.chattext import clean_chat
from bot.answering.engine import Engine, text_to_embed
from bot.answering.kind_evaluation import load_first_contact
from bot.answering.kind_vectors import (
    DERIVED,
    PREFIX,
    StoredExemplars,
    exemplar_key,
)
from bot.answering.message_kinds import (
    MessageKinds,
    classify,
    embed_exemplars,
    exemplar_matrix,
    exemplar_rows,
)
from bot.settings import Settings
from index.embeddings import Embedder, Vectors, load_embedder
from tests.conftest import ROOT

MODEL = "bundled:all-MiniLM-L6-v2#openvino-int8"
FIRST_CONTACT = ROOT / "tests" / "data" / "first_contact.jsonl"


def _stored(settings: Settings) -> list[Path]:
    return sorted((settings.index_dir / DERIVED).glob(f"{PREFIX}*.npy"))


def _cosines(a: Vectors, b: Vectors) -> Vectors:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return np.asarray((a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)))


@pytest.fixture
def encoded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[tuple[str, ...], int]]:
    """Every `Embedder.encode` call from here on: its texts and batch size (the real encode
    runs; only the call is recorded)."""
    calls: list[tuple[tuple[str, ...], int]] = []
    real = Embedder.encode

    def counting(self: Embedder, texts: Sequence[str], batch_size: int = 32) -> Vectors:
        calls.append((tuple(texts), batch_size))
        return real(self, texts, batch_size)

    monkeypatch.setattr(Embedder, "encode", counting)
    return calls


@pytest.fixture
def fresh_process() -> Iterator[Callable[[], None]]:
    """Forget the loaded embedders (and with them their query caches), as a new process would."""
    yield load_embedder.cache_clear
    load_embedder.cache_clear()


def test_the_stored_matrix_equals_a_fresh_one_batch_computation(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    shutil.rmtree(settings.index_dir / DERIVED, ignore_errors=True)
    Engine.open(settings)  # embeds in batches of EMBED_BATCH_SIZE and stores the matrix
    assert len(_stored(settings)) == 1
    engine = Engine.open(settings)  # loads it
    stored = engine.kinds.exemplars
    # The exemplars embedded the way they were before they were stored: one batch of them all.
    fresh = exemplar_matrix(
        lambda texts: engine.embedder.encode(texts, batch_size=len(texts)),
        lambda text, language: text_to_embed(text, language, settings.french_gloss),
    )
    assert stored.exemplars == fresh.exemplars
    assert stored.kinds == fresh.kinds
    assert all(
        np.array_equal(a, b) for a, b in zip(stored.rows_by_kind, fresh.rows_by_kind, strict=True)
    )
    assert stored.matrix.dtype == np.float32
    assert stored.matrix.shape == fresh.matrix.shape
    assert _cosines(stored.matrix, fresh.matrix).min() >= 0.9999

    # The same kinds on the dev first-contact lines, from the vectors the engine computes.
    rows = [r for r in load_first_contact(FIRST_CONTACT) if r.split == "dev"]
    messages = [r.message for r in rows]
    vectors = engine.embedder.encode_queries([engine.prepare(m).embedded for m in messages])
    got = [classify(m, v, stored) for m, v in zip(messages, vectors, strict=True)]
    expected = [classify(m, v, fresh) for m, v in zip(messages, vectors, strict=True)]
    assert [(k.kind, k.parts) for k in got] == [(k.kind, k.parts) for k in expected]


def test_factbot_index_stores_the_matrix_and_a_new_start_does_not_embed_it(
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    encoded: list[tuple[tuple[str, ...], int]],
    fresh_process: Callable[[], None],
) -> None:
    settings = make_settings()
    shutil.rmtree(settings.index_dir / DERIVED, ignore_errors=True)
    env_file = str(tmp_path / "none.env")
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--env-file", env_file, "index", "--if-needed"],
        cwd=ROOT,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp_path),
            "HF_HUB_OFFLINE": "1",
            "CORPUS_DIR": str(settings.corpus_dir),
            "INDEX_DIR": str(settings.index_dir),
            "MODEL_CACHE_DIR": str(settings.model_cache_dir),
            "DATABASE_URL": settings.database_url,
            "LOG_LEVEL": "WARNING",
        },
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert len(_stored(settings)) == 1

    fresh_process()
    engine = Engine.open(settings)
    assert len(engine.kinds.exemplars.exemplars) == len(exemplar_rows())
    assert encoded == []  # nothing embedded: the index is current, the exemplars stored


def test_a_missing_matrix_is_embedded_once_in_batches_then_loaded(
    make_settings: Callable[..., Settings],
    encoded: list[tuple[tuple[str, ...], int]],
    fresh_process: Callable[[], None],
) -> None:
    settings = make_settings(EMBED_BATCH_SIZE="16")
    shutil.rmtree(settings.index_dir / DERIVED, ignore_errors=True)
    fresh_process()
    Engine.open(settings)
    rows = len(exemplar_rows())
    assert [(len(texts), size) for texts, size in encoded] == [(rows, 16)]
    assert len(_stored(settings)) == 1

    encoded.clear()
    fresh_process()
    engine = Engine.open(settings)
    engine.kinds.exemplars  # noqa: B018
    assert encoded == []


@pytest.mark.parametrize("damage", ["flipped", "truncated", "not numpy", "wrong shape"])
def test_a_damaged_file_is_embedded_again_with_one_log_line(
    make_settings: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
    damage: str,
) -> None:
    settings = make_settings()
    # A copy: the loaded matrix maps the file, which this test rewrites in place (the store
    # never does; it writes a new file and renames it).
    good = np.array(Engine.open(settings).kinds.exemplars.matrix)
    (path,) = _stored(settings)
    data = path.read_bytes()
    if damage == "flipped":  # one byte of one vector: only the checksum tells
        path.write_bytes(data[:-7] + bytes([data[-7] ^ 0x01]) + data[-6:])
    elif damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "not numpy":
        path.write_bytes(b"not a numpy file\n" * 10)
    else:
        np.save(path, np.ones((3, 384), dtype=np.float32))
    with caplog.at_level(logging.INFO):
        engine = Engine.open(settings)
    lines = [r for r in caplog.records if "exemplar" in r.getMessage()]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert lines[0].levelno == logging.WARNING
    assert path.name in lines[0].getMessage()
    assert lines[0].exc_info is None
    assert _cosines(engine.kinds.exemplars.matrix, good).min() >= 0.9999
    (again,) = _stored(settings)  # the damaged file replaced by a good one
    loaded, problem = StoredExemplars(again.parent, again.name[len(PREFIX) :][:64], 384).load(
        len(good)
    )
    assert problem is None and loaded is not None


def test_the_key_changes_with_the_model_the_gloss_and_the_embedded_text() -> None:
    key = exemplar_key(MODEL, 384, True, text_to_embed)
    assert exemplar_key(MODEL, 384, True, text_to_embed) == key  # deterministic
    others = {
        exemplar_key(MODEL, 384, False, text_to_embed),
        exemplar_key("bundled:all-MiniLM-L6-v2", 384, True, text_to_embed),
        exemplar_key(f"{MODEL}-bf16", 384, True, text_to_embed),
        exemplar_key(MODEL, 768, True, text_to_embed),
        exemplar_key(MODEL, 384, True, lambda question, language, gloss=True: question),
    }
    assert key not in others and len(others) == 5


def test_a_different_gloss_setting_stores_its_own_matrix_and_drops_the_old(
    make_settings: Callable[..., Settings],
) -> None:
    on = make_settings()
    Engine.open(on)
    (first,) = _stored(on)
    off = make_settings(FRENCH_GLOSS="off")
    engine = Engine.open(off)
    (second,) = _stored(off)
    assert second != first and not first.exists()
    # A glossed row and the same exemplar read as typed are now the same text.
    matrix = engine.kinds.exemplars.matrix
    rows = exemplar_rows()
    french = [i for i, r in enumerate(rows) if r.exemplar.language == "fr" and r.as_question]
    typed = [i for i, r in enumerate(rows) if not r.as_question]
    assert _cosines(matrix[french], matrix[typed]).min() >= 0.9999


def test_saving_keeps_one_file_per_folder_and_reads_back_what_it_wrote(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    matrix = rng.standard_normal((5, 8)).astype(np.float32)
    old = StoredExemplars(tmp_path, "a" * 64, 8)
    old.save(matrix)
    new = StoredExemplars(tmp_path, "b" * 64, 8)
    written = new.save(matrix * 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [written.name]
    loaded, problem = new.load(5)
    assert problem is None and loaded is not None
    assert np.array_equal(loaded, matrix * 2)
    assert old.load(5) == (None, None)  # another key's file is gone: computed again
    computed = old.get(5, lambda: matrix)
    assert np.array_equal(computed, matrix)
    assert sorted(p.name.startswith(f"{PREFIX}{'a' * 64}-") for p in tmp_path.iterdir()) == [True]


def test_a_store_keeps_the_shipped_exemplars_only_and_rows_are_read_as_told() -> None:
    rows = exemplar_rows()
    with pytest.raises(ValueError, match="shipped exemplars"):
        MessageKinds(
            lambda texts: np.zeros((len(texts), 2), dtype=np.float32),
            lambda text, language: text,
            exemplars=[rows[0].exemplar],
            store=StoredExemplars(Path("unused"), "c" * 64, 2),
        )
    seen: list[str] = []

    def encode(texts: Sequence[str]) -> Vectors:
        seen.extend(texts)
        return np.ones((len(texts), 2), dtype=np.float32)

    french = next(r for r in rows if r.exemplar.language == "fr" and r.as_question)
    typed = next(r for r in rows if not r.as_question)
    embed_exemplars(encode, lambda text, language: f"glossed {text}", [french, typed])
    assert seen == [
        f"glossed {clean_chat(french.exemplar.text) or french.exemplar.text}",
        clean_chat(typed.exemplar.text) or typed.exemplar.text,
    ]
