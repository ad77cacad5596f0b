"""Two real bot processes share one INDEX_DIR: A rebuilds, B hot-swaps without a restart.

Each process runs this module as a script (`python -m tests.test_multiprocess worker ...`): a
`FactBotService` with the watcher on (INDEX_WATCH_SECONDS=0.5), driven by commands on stdin and
reporting JSON events on stdout. Process A pauses its build twice (with the new build half-written
in `tmp-*`, then complete in `builds/` but not yet published) until the test says continue; the
test checks that B keeps answering from the old, complete version through both pauses, then
swaps to the new one once it is published. Waits are on events with generous timeouts; nothing
asserts on time.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
MARKER = "Zorglub-marker-7431"
QUESTIONS = (
    "When will Chang'e 6 collect lunar samples?",
    "Qui est le président du CNES ?",
    "What is SVOM supposed to detect?",
    "Will France go to the Moon for the first time?",
)
READY_TIMEOUT = 600.0  # two processes importing torch at once on a busy 2-core machine
STEP_TIMEOUT = 300.0


def _where(after: int = -1, **fields: str) -> Callable[[dict[str, Any]], bool]:
    """Matches events with these `fields` values, numbered after `after`."""

    def match(event: dict[str, Any]) -> bool:
        return event.get("seq", 0) > after and all(event.get(k) == v for k, v in fields.items())

    return match


# ------------------------------------------------------------------------------ worker side


def _complete(path: Path) -> bool:
    """`path` is a published-style build (under builds/) whose files all match its manifest."""
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        for name, digest in manifest["files"].items():
            if hashlib.sha256((path / name).read_bytes()).hexdigest() != digest:
                return False
    except (OSError, ValueError, KeyError):
        return False
    return path.parent.name == "builds"


async def _worker(pause_build: bool) -> None:
    from bot.serving.service import FactBotService
    from bot.settings import Settings

    lock = threading.Lock()

    def emit(event: str, **data: Any) -> None:
        with lock:
            print(json.dumps({"event": event, **data}), flush=True)

    resume: queue.Queue[threading.Event] = queue.Queue()
    if pause_build:
        import bm25s

        from index.store import IndexStore

        def pause(stage: str) -> None:
            gate = threading.Event()
            resume.put(gate)
            emit("paused", stage=stage)
            gate.wait()

        save, publish = bm25s.BM25.save, IndexStore._publish

        def paused_save(self: Any, *args: Any, **kwargs: Any) -> Any:
            pause("half-written")  # faiss.index and vectors.npy are in tmp-*, the rest is not
            return save(self, *args, **kwargs)

        def paused_publish(self: IndexStore, build: Path) -> None:
            pause("unpublished")  # builds/<new> is complete, `current` still names the old one
            publish(self, build)

        bm25s.BM25.save = paused_save
        IndexStore._publish = paused_publish  # type: ignore[method-assign]

    service = await asyncio.to_thread(FactBotService.from_settings, Settings.load(None))
    check = service.check_for_new_index

    async def watched_check() -> bool:
        swapped = await check()
        engine = service.engine
        emit("checked", swapped=swapped, version=engine.version)
        if swapped:
            emit(
                "swapped",
                version=engine.version,
                complete=_complete(engine.index.path),
                marker=any(MARKER in c.text for c in engine.index.chunks),
            )
        return swapped

    service.check_for_new_index = watched_check  # type: ignore[method-assign]
    service.start_watching()
    emit("ready", version=service.engine.version, pid=os.getpid())
    answering = False

    async def answer_loop() -> None:
        for i in itertools.count():
            if answering:
                answer = await service.ask(f"{QUESTIONS[i % len(QUESTIONS)]} ({i})")
                emit("answer", version=answer.index_version, refused=answer.refused)
            await asyncio.sleep(0.05)

    answers = asyncio.get_running_loop().create_task(answer_loop())
    while True:
        line = (await asyncio.to_thread(sys.stdin.readline)).strip()
        if line in ("", "quit"):
            break
        if line == "answer":
            answering = True
        elif line == "continue":
            resume.get().set()
        elif line == "reindex":

            async def reindex() -> None:
                report = await service.reindex("test")
                emit("reindexed", version=report.version, previous=report.previous_version)

            asyncio.get_running_loop().create_task(reindex())
    answers.cancel()
    await service.aclose()
    emit("bye")


# ------------------------------------------------------------------------------ test side

_arrivals = itertools.count()


@dataclass
class Bot:
    """One worker process and the events it has reported (each stamped with arrival order)."""

    name: str
    proc: subprocess.Popen[str]
    events: list[dict[str, Any]] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def read(self, stream: IO[str]) -> None:
        for line in stream:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            with self.cond:
                event["seq"] = next(_arrivals)
                self.events.append(event)
                self.cond.notify_all()
        with self.cond:
            self.events.append({"event": "eof", "seq": next(_arrivals)})
            self.cond.notify_all()

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def wait(
        self, match: Callable[[dict[str, Any]], bool], timeout: float, count: int = 1
    ) -> list[dict[str, Any]]:
        """The first `count` events satisfying `match` (already seen ones included)."""
        with self.cond:
            found: list[dict[str, Any]] = []

            def ready() -> bool:
                found[:] = [e for e in self.events if match(e)]
                return len(found) >= count or any(e["event"] == "eof" for e in self.events)

            self.cond.wait_for(ready, timeout)
            if len(found) < count:
                tail = self.events[-5:]
                raise AssertionError(f"bot {self.name}: waited for {count} events; last {tail}")
            return found[:count]


def _start(name: str, env: dict[str, str], stderr: IO[str], *flags: str) -> Bot:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.test_multiprocess", "worker", *flags],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    bot = Bot(name, proc)
    assert proc.stdout is not None
    threading.Thread(target=bot.read, args=(proc.stdout,), daemon=True).start()
    return bot


def _stop(bot: Bot) -> None:
    if bot.proc.poll() is None:
        try:
            bot.send("quit")
            bot.proc.wait(timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            bot.proc.kill()
            bot.proc.wait()


@pytest.mark.timeout(1800)
def test_second_process_hot_swaps_a_rebuild_and_never_serves_a_partial_index(
    make_settings: Callable[..., Any], tmp_path: Path
) -> None:
    settings = make_settings()
    env = {
        **os.environ,
        "CORPUS_DIR": str(settings.corpus_dir),
        "INDEX_DIR": str(settings.index_dir),
        "INDEX_WATCH_SECONDS": "0.5",
        "USER_COOLDOWN_SECONDS": "0",
        "LOG_LEVEL": "WARNING",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONPATH": str(ROOT),
    }
    index_dir = Path(settings.index_dir)
    with (tmp_path / "a.log").open("w") as log_a, (tmp_path / "b.log").open("w") as log_b:
        a = _start("A", env, log_a, "--pause-build")
        b = _start("B", env, log_b)
        try:
            v0 = a.wait(lambda e: e["event"] == "ready", READY_TIMEOUT)[0]["version"]
            assert b.wait(lambda e: e["event"] == "ready", READY_TIMEOUT)[0]["version"] == v0
            b.send("answer")
            b.wait(lambda e: e["event"] == "answer", STEP_TIMEOUT)

            # The corpus changes: a sentence is added to the English section of a note.
            note = Path(settings.corpus_dir) / "factchecks" / "16-svom.md"
            note.write_text(
                note.read_text(encoding="utf-8").rstrip("\n") + f" {MARKER} was added later.\n",
                encoding="utf-8",
            )
            a.send("reindex")

            for stage in ("half-written", "unpublished"):
                pause = a.wait(_where(stage=stage), STEP_TIMEOUT)[0]
                if stage == "half-written":
                    assert list(index_dir.glob("tmp-*")), "the build should be in progress"
                else:
                    assert os.readlink(index_dir / "current").endswith(v0)
                # B keeps answering from the old version and checks INDEX_DIR at least twice.
                after = pause["seq"]
                b.wait(_where(event="checked", after=after), STEP_TIMEOUT, 2)
                b.wait(_where(event="answer", after=after), STEP_TIMEOUT, 2)
                assert not [e for e in b.events if e["event"] == "swapped"]
                a.send("continue")

            done = a.wait(lambda e: e["event"] == "reindexed", STEP_TIMEOUT)[0]
            v1 = done["version"]
            assert v1 != v0 and done["previous"] == v0
            swap = b.wait(lambda e: e["event"] == "swapped", STEP_TIMEOUT)[0]
            assert swap["version"] == v1
            assert swap["complete"] and swap["marker"]
            b.wait(lambda e: e["event"] == "answer" and e["version"] == v1, STEP_TIMEOUT)
        finally:
            _stop(a)
            _stop(b)

    answers = [e for e in b.events if e["event"] == "answer"]
    assert {e["version"] for e in answers} == {v0, v1}
    # Versions only move forward: nothing from v0 once v1 has been served.
    first_new = next(i for i, e in enumerate(answers) if e["version"] == v1)
    assert all(e["version"] == v1 for e in answers[first_new:])
    assert [e["version"] for e in b.events if e["event"] == "swapped"] == [v1]
    assert (index_dir / "builds" / v0).is_dir() and (index_dir / "builds" / v1).is_dir()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="a bot process for test_multiprocess")
    parser.add_argument("role", choices=["worker"])
    parser.add_argument("--pause-build", action="store_true", help="pause twice while building")
    args = parser.parse_args(argv)
    import logging

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(_worker(args.pause_build))
    return 0


if __name__ == "__main__":
    sys.exit(main())
