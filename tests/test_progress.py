"""Progress of long work (issue 24): a build and the model export report their steps to the
command line's callback and log one line per step; a terminal gets a bar, a pipe step lines
only, stdout nothing of either; a reindex inside the running bot draws no bar."""

from __future__ import annotations

import asyncio
import fcntl
import io
import itertools
import json
import logging
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from bot.answering.index_lifecycle import build_from_corpus, embedder_for
from bot.cli import commands
from bot.serving.service import FactBotService
from bot.settings import DEFAULT_MODEL, Settings
from index.embeddings import resolve_model
from index.openvino_backend import export
from index.progress import Progress, reporting
from index.store import IndexStore, background_questions
from tests.conftest import MODEL_CACHE, ROOT, base_env

Report = tuple[str, int, int]


def _recorder(reports: list[Report]) -> Progress:
    def record(label: str, done: int, total: int) -> None:
        reports.append((label, done, total))

    return record


def _tasks(reports: list[Report]) -> list[list[Report]]:
    """The reports cut into tasks: each starts with done == 0."""
    tasks: list[list[Report]] = []
    for report in reports:
        if report[1] == 0 or not tasks:
            tasks.append([])
        tasks[-1].append(report)
    return tasks


def _assert_well_formed(task: list[Report]) -> None:
    """Starts at 0, never goes back, ends at the total, one total throughout."""
    dones = [done for _, done, _ in task]
    totals = {total for _, _, total in task}
    assert dones[0] == 0 and dones == sorted(dones), dones
    assert len(totals) == 1 and dones[-1] == totals.pop() > 0, task


def _changed_note(corpus: Path) -> None:
    note = corpus / "factchecks" / "16-svom.md"
    note.write_text(
        note.read_text(encoding="utf-8").replace("## English\n\n", "## English\n\nZebulon. "),
        encoding="utf-8",
    )


def test_a_build_reports_each_batch_up_to_the_total_and_logs_two_lines(
    tmp_path: Path, corpus_copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings.from_mapping(base_env(corpus_copy, tmp_path / "index"))
    embedder = embedder_for(settings)
    reports: list[Report] = []
    caplog.set_level(logging.INFO, logger="factbot")
    with reporting(_recorder(reports)):
        index = build_from_corpus(settings, IndexStore(settings.index_dir), embedder)

    (task,) = _tasks(reports)
    _assert_well_formed(task)
    texts = {c.embed_text for c in index.chunks} | {s.text for s in index.note_sentences}
    total = len(texts | set(background_questions()))
    assert task[-1][2] == total
    steps = [b - a for (_, a, _), (_, b, _) in itertools.pairwise(task)]
    assert max(steps) <= settings.embed_batch_size and len(steps) > 1
    # The log says each step once, not each batch.
    lines = [r.getMessage() for r in caplog.records if r.name == "factbot.index"]
    assert [line.split(" with ")[0].split(" in ")[0] for line in lines[:2]] == [
        f"encoding {total} texts",
        f"encoded {total} texts",
    ]
    assert len(lines) == 3 and "built" in lines[2], lines

    # Batches cut by the build give every vector the one a call per group gives (the same
    # batches: equal on the machines measured; a tolerance of float32 rounding, not of meaning).
    chunk_texts = [c.embed_text for c in index.chunks]
    batch = settings.embed_batch_size
    np.testing.assert_allclose(
        index.vectors, embedder.encode(chunk_texts, batch_size=batch), rtol=0, atol=1e-6
    )
    np.testing.assert_allclose(
        index.background, embedder.encode(background_questions(), batch), rtol=0, atol=1e-6
    )

    # A rebuild that re-encodes nothing reports nothing.
    reports.clear()
    with reporting(_recorder(reports)):
        build_from_corpus(settings, IndexStore(settings.index_dir), embedder, previous=index)
    assert reports == []


def test_a_build_outside_the_reporting_context_reports_to_no_one(
    make_settings: Callable[..., Settings], corpus_copy: Path
) -> None:
    """The command line installs its callback for its own thread: a build in another thread
    (the bot's watch, a reindex) or after the block reports nothing."""
    settings = make_settings()
    embedder = embedder_for(settings)
    store = IndexStore(settings.index_dir)
    previous = store.load()
    _changed_note(corpus_copy)  # each build below re-encodes that note's texts

    def build() -> None:
        build_from_corpus(settings, store, embedder, previous=previous)

    reports: list[Report] = []
    with reporting(_recorder(reports)):
        worker = threading.Thread(target=build)
        worker.start()
        worker.join()
    build()
    assert reports == []
    with reporting(_recorder(reports)):
        build()
    assert reports, "a build inside the block must report (else this test proves nothing)"


class _Terminal(io.StringIO):
    """A stderr that says it is a terminal, and keeps what was drawn on it."""

    def isatty(self) -> bool:
        return True


def test_a_reindex_from_chat_draws_no_bar_where_the_start_did(
    make_settings: Callable[..., Settings],
    corpus_copy: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = make_settings()
    (settings.index_dir / "current").unlink()  # the first start has to build: a bar
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)

    async def serve() -> None:
        engine = await asyncio.to_thread(commands._engine, settings)  # as `_serving` does
        service = FactBotService(settings, engine)
        try:
            drawn = terminal.getvalue()
            assert "\rencoding: " in drawn, "the start's build must draw (else this proves nothing)"
            terminal.truncate(0)
            terminal.seek(0)
            _changed_note(corpus_copy)
            await service.reindex("a moderator")
            assert "\r" not in terminal.getvalue()
        finally:
            await service.aclose()

    asyncio.run(serve())


def _shown(line: str) -> str:
    """What a terminal shows of one line: a carriage return goes back to its first column, and
    what follows overwrites what was there."""
    shown = ""
    for part in line.split("\r"):
        shown = part + shown[len(part) :]
    return shown.rstrip()


def _factbot(
    args: list[str], tmp_path: Path, index: Path, stderr: int | None = subprocess.PIPE
) -> subprocess.Popen[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "HF_HUB_OFFLINE": "1",
        **base_env(ROOT / "corpus", index),
        "MODEL_CACHE_DIR": str(MODEL_CACHE),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "--env-file", str(tmp_path / "none.env"), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )


def test_index_on_a_pipe_prints_step_lines_and_no_bar(tmp_path: Path) -> None:
    proc = _factbot(["index"], tmp_path, tmp_path / "index")
    stdout, stderr = proc.communicate(timeout=240)
    assert proc.returncode == 0, stderr
    assert "\r" not in stderr and "\r" not in stdout
    assert " INFO factbot.index: encoding " in stderr and " INFO factbot.index: encoded " in stderr
    assert len(stdout.splitlines()) == 1 and stdout.startswith("index ")


def test_ask_json_that_has_to_build_prints_only_its_answer_on_stdout(tmp_path: Path) -> None:
    proc = _factbot(["ask", "--json", "When did SVOM launch?"], tmp_path, tmp_path / "index")
    stdout, stderr = proc.communicate(timeout=240)
    assert proc.returncode == 0, stderr
    (line,) = stdout.splitlines()
    assert json.loads(line)["question"] == "When did SVOM launch?"
    assert " INFO factbot.index: encoding " in stderr  # it did build, and said so on stderr


def test_index_on_a_terminal_draws_a_bar_under_the_step_lines(tmp_path: Path) -> None:
    main, child = pty.openpty()
    # A terminal of 100 columns (a new pseudo-terminal has none: tqdm would draw nothing).
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = _factbot(["index"], tmp_path, tmp_path / "index", stderr=child)
    os.close(child)
    drawn = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        drawn += chunk
    os.close(main)
    assert proc.stdout is not None
    stdout = proc.stdout.read()
    assert proc.wait(timeout=240) == 0
    terminal = drawn.decode()
    assert "\rencoding: " in terminal and "%|" in terminal  # a bar was drawn
    screen = [_shown(line) for line in terminal.split("\n")]
    # On screen: the log lines, each from its first column, and no trace of a bar.
    assert any(" INFO factbot.index: encoded " in line for line in screen)
    assert all(line.startswith("20") for line in screen if line), screen
    assert not any("%|" in line for line in screen), screen
    assert "\r" not in stdout and len(stdout.splitlines()) == 1


def test_the_export_reports_and_logs_each_step(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    reports: list[Report] = []
    caplog.set_level(logging.INFO, logger="factbot.embeddings")
    with reporting(_recorder(reports)):
        export(resolve_model(DEFAULT_MODEL), tmp_path / "export")
    (task,) = _tasks(reports)
    _assert_well_formed(task)
    assert [done for _, done, _ in task] == list(range(len(task)))  # one report per step
    labels = [label for label, _, _ in task]
    assert labels == [
        "exporting the model: loading the model",
        "exporting the model: converting",
        "exporting the model: compressing weights",
        "exporting the model: saving",
        "exporting the model: saved",
    ]
    lines = [r.getMessage() for r in caplog.records if r.name == "factbot.embeddings"]
    assert lines[:-1] == [f"exporting: {label.split(': ')[1]}" for label in labels[:-1]]
    assert lines[-1].startswith("exporting: saved in ")
