"""The fast path by default: openvino-int8 unless told otherwise, exported before the first
question with a progress line, never silently."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.settings import DEFAULT_MODEL, Settings
from index import openvino_backend
from index.embeddings import resolve_model
from index.openvino_backend import ExportError, load_openvino_model

ROOT = Path(__file__).resolve().parents[1]


def test_openvino_int8_is_the_default_and_torch_a_setting() -> None:
    assert Settings().embedding_backend == "openvino-int8"
    assert Settings.from_mapping({}).embedding_backend == "openvino-int8"
    assert Settings.from_mapping({"EMBEDDING_BACKEND": "torch"}).embedding_backend == "torch"
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    assert "\nEMBEDDING_BACKEND=openvino-int8\n" in example


def test_a_missing_export_says_so_before_exporting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The first start's ~10 s export is announced on one line (the export itself is stubbed
    here: tests/test_openvino_backend.py runs real ones)."""

    def export(*_: object) -> None:
        raise ExportError("stub: no export in this unit test")

    monkeypatch.setattr(openvino_backend, "_export_into", export)
    caplog.set_level(logging.INFO, logger="factbot")
    with pytest.raises(ExportError):
        load_openvino_model(DEFAULT_MODEL, resolve_model(DEFAULT_MODEL), tmp_path / "models")
    lines = [r for r in caplog.records if r.name.startswith("factbot")]
    assert len(lines) == 1 and lines[0].levelno == logging.INFO
    assert lines[0].getMessage().startswith("exporting the model to OpenVINO (once, ~10 s)…")
    assert "is missing" in lines[0].getMessage()


def test_make_run_exports_and_indexes_before_the_bot_starts() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\nrun: setup\n", 1)[1].split("\n\n", 1)[0].split("\n")
    assert [line.strip() for line in recipe] == [
        "@$(BIN)/factbot index --if-needed",
        "@$(BIN)/factbot run",
    ]
