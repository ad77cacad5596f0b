"""`python -m benchmarks --only notes [--quick]`: from a moderator's submit to the note served.

- one host (SQLite): `NoteDesk.save` from the submitted form to the new index swapped in (it
  validates, stores the revision, rebuilds, and finds a sample question); split into the rebuild
  and the rest;
- across hosts (PostgreSQL, a throwaway local server): a second bot process with its own
  INDEX_DIR watches the database (INDEX_WATCH_SECONDS) and rebuilds; measured from the submit on
  the first process to the second one serving the new revision;
- closing the loop (issue 23): from `NoteDesk.save` to the notification handed to a `Deliver`
  (a recording one): a subscribed refused question answered by the note (`AnsweredLater`), and an
  earlier answer that showed the note told of its new verdict (`Correction`). On one host
  (SQLite, the saving process's own notifier) and across hosts (PostgreSQL: the saving process
  runs no notifier, two following bot processes each run one; exactly one must deliver each).

Writes notes.json and notes.md to benchmarks/results/ (9 saves each; `--quick`: 2, into
results/quick/).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import queue
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS, ROOT, VENV_PYTHON, log, machine_info

CLAIM = (
    "L'annonce a été faite à l'occasion de la visite du président de la République populaire "
    "de Chine, Xi Jinping"
)
WATCH_SECONDS = 2.0
REFUSED = "xi etait a paris et nice ?"  # refused until the note on CLAIM exists
# Issue 23's targets, seconds from the save to the notification.
TARGET_ONE_HOST_S = 2.0
TARGET_OTHER_HOST_MARGIN_S = 2.0
LOOP_ROUNDS = 4  # rounds of the two notifications (the section stays within ~3 minutes)

# The second host: serves with its own index, prints each notes revision it starts serving.
OTHER_HOST = """
import asyncio, json, sys, time
from bot.serving.service import FactBotService
from bot.settings import Settings

async def main() -> None:
    service = await asyncio.to_thread(FactBotService.from_settings, Settings.load(None))
    service.start_watching()
    seen = service.engine.notes_revision
    print(json.dumps({"ready": seen}), flush=True)
    while True:
        await asyncio.sleep(0.02)
        if service.engine.notes_revision != seen:
            seen = service.engine.notes_revision
            print(json.dumps({"revision": seen, "at": time.time()}), flush=True)

asyncio.run(main())
"""

# A following host with the loop's notifier (as `factbot run` wires it): prints each delivery.
NOTIFYING_HOST = """
import asyncio, json, sys, time
from bot.learning.notify import Notifier
from bot.serving.service import FactBotService
from bot.settings import Settings
from bot.storage import Store

class Printing:
    async def deliver(self, target, message) -> bool:
        kind = type(message).__name__
        print(json.dumps({"delivered": kind, "thread": target.thread_id, "at": time.time(),
                          "text": message.render_text()}), flush=True)
        return True

async def main() -> None:
    settings = Settings.load(None)
    service = await asyncio.to_thread(FactBotService.from_settings, settings)
    store = Store.from_settings(settings)
    store.start(wait=30)

    async def ask(question, language):
        return await service.ask(question)

    notifier = Notifier(store, service.notes.repository, ask, Printing(), settings)
    service.add_observer(notifier)
    notifier.start()
    service.start_watching()
    seen = service.engine.notes_revision
    print(json.dumps({"ready": seen}), flush=True)
    while True:
        await asyncio.sleep(0.02)
        if service.engine.notes_revision != seen:
            seen = service.engine.notes_revision
            print(json.dumps({"revision": seen, "at": time.time()}), flush=True)

asyncio.run(main())
"""


def _env(root: Path, name: str, database_url: str) -> dict[str, str]:
    return {
        "CORPUS_DIR": str(root / "corpus"),
        "INDEX_DIR": str(root / name / "index"),
        "DATABASE_URL": database_url,
        "USER_HASH_KEY_FILE": str(root / "user-hash.key"),
        "MODEL_CACHE_DIR": str(ROOT / "var" / "models"),
        "INDEX_WATCH_SECONDS": str(WATCH_SECONDS),
        "LOG_LEVEL": "WARNING",
        # The bench saves (and removes) faster than a moderator's cooldown allows.
        "MODERATOR_COOLDOWN_SECONDS": "0",
    }


def _form(round_: int) -> Any:
    from bot.notes.records import NoteForm

    return NoteForm(
        claim=CLAIM,
        verdict="accurate",
        fr=f"Xi Jinping était en visite d'État en France du 24 au 26 mars 2019 (tour {round_}).",
        en=f"Xi Jinping was on a state visit to France from 24 to 26 March 2019 (round {round_}).",
        sources="Élysée | https://www.elysee.fr/",
    )


async def _saves(
    env: dict[str, str], rounds: int, other: subprocess.Popen[str] | None
) -> dict[str, Any]:
    from bot.notes.records import Moderator, NoteSaved
    from bot.serving.service import FactBotService
    from bot.settings import Settings

    service = await asyncio.to_thread(FactBotService.from_settings, Settings.from_mapping(env))
    assert service.notes is not None
    moderator = Moderator("cli", "bench", "bench")
    note_id: str | None = None
    served: list[float] = []
    rebuilds: list[float] = []
    across: list[float] = []
    try:
        for i in range(rounds):
            if other is not None:
                # Out of step with the other host's polls: otherwise every save would land just
                # after one (the previous round ended on it) and wait a whole interval.
                await asyncio.sleep(random.uniform(0, WATCH_SECONDS))
            started_wall, started = time.time(), time.perf_counter()
            outcome = await service.notes.save(_form(i), moderator, note_id)
            served.append(time.perf_counter() - started)
            assert isinstance(outcome, NoteSaved) and outcome.index_version, outcome
            note_id = outcome.note_id
            rebuilds.append(service.engine.index.manifest["build_seconds"])
            if other is not None:
                assert other.stdout is not None
                while True:
                    line = await asyncio.to_thread(other.stdout.readline)
                    if not line:
                        raise RuntimeError("the second host stopped")
                    event = json.loads(line)
                    if event.get("revision") == outcome.revision:
                        across.append(event["at"] - started_wall)
                        break
    finally:
        await service.aclose()
    result: dict[str, Any] = {
        "rounds": rounds,
        "submit_to_served_s": round(statistics.median(served), 2),
        "rebuild_s": round(statistics.median(rebuilds), 2),
        "all_submit_to_served_s": [round(s, 2) for s in served],
    }
    if across:
        result["submit_to_served_other_host_s"] = round(statistics.median(across), 2)
        result["all_other_host_s"] = [round(s, 2) for s in across]
    return result


class _Recording:
    """A `Deliver` that notes when each notice reached it (the one-host measurement)."""

    def __init__(self) -> None:
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def deliver(self, target: Any, message: Any) -> bool:
        kind, text = type(message).__name__, message.render_text()
        self.events.put_nowait(
            {"delivered": kind, "thread": target.thread_id, "at": time.time(), "text": text}
        )
        return True


class _Followers:
    """The following hosts' output lines, read in threads: revisions served, deliveries."""

    def __init__(self, hosts: list[subprocess.Popen[str]]) -> None:
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        for host in hosts:
            threading.Thread(target=self._read, args=(host,), daemon=True).start()

    def _read(self, host: subprocess.Popen[str]) -> None:
        assert host.stdout is not None
        for line in host.stdout:
            self.events.put(json.loads(line))

    async def next(self, timeout: float = 60.0) -> dict[str, Any]:
        return await asyncio.to_thread(self.events.get, True, timeout)


async def _loop(
    env: dict[str, str], rounds: int, followers: _Followers | None, hosts: int
) -> dict[str, Any]:
    """Save → notification, `rounds` times: a subscribed refused question answered by a new
    note, then that note's verdict changed under an earlier answer that showed it; the note is
    removed silently after each round (the question refused again, nobody told). `followers`
    None: this process's own notifier delivers; else only the following hosts run one."""
    from bot.answer import Answer, Language
    from bot.learning.notify import Notifier
    from bot.messages import text
    from bot.notes.records import Moderator, NoteForm, NoteSaved
    from bot.serving.service import FactBotService
    from bot.settings import Settings
    from bot.storage import Store
    from index.verdicts import verdict

    settings = Settings.from_mapping(env)
    service = await asyncio.to_thread(FactBotService.from_settings, settings)
    assert service.notes is not None
    desk = service.notes
    store = Store.from_settings(settings)
    store.start(wait=30)
    recording = _Recording()
    notifier: Notifier | None = None
    if followers is None:

        async def ask(question: str, language: Language) -> Answer:
            return await service.ask(question)

        notifier = Notifier(store, desk.repository, ask, recording, settings)
        service.add_observer(notifier)
    moderator = Moderator("cli", "bench", "bench")
    changed_line = text(
        "loop.correction.verdict",
        "en",
        claim=CLAIM,
        old=verdict("accurate").label("en"),
        new=verdict("misleading").label("en"),
    )
    timings: dict[str, list[float]] = {"AnsweredLater": [], "Correction": []}
    # Each notice (kind, thread, text) delivered, on every host: each must be delivered once.
    deliveries: Counter[tuple[str, str | None, str]] = Counter()

    def count(got: dict[str, Any]) -> tuple[str, str | None]:
        deliveries[(got["delivered"], got["thread"], got["text"])] += 1
        return got["delivered"], got["thread"]

    async def event() -> dict[str, Any]:
        if followers is None:
            return await asyncio.wait_for(recording.events.get(), 60)
        return await followers.next()

    async def told(
        kind: str, thread: str, started: float, saved: NoteSaved | None, saying: str = ""
    ) -> None:
        """Wait for (kind, thread) delivered and, across hosts, every follower serving
        `saved`; None: only the followers serving it (a silent change: nobody told)."""
        want = saved is not None
        waiting = hosts if followers is not None and saved is not None else 0
        while want or waiting:
            got = await event()
            if "delivered" in got:
                key = count(got)
                if want and key == (kind, thread) and saying in got["text"]:
                    timings[kind].append(got["at"] - started)
                    want = False
            elif saved is not None and got.get("revision") == saved.revision:
                waiting -= 1

    def form(verdict: str) -> NoteForm:
        # Its text is what answers REFUSED (Paris and Nice).
        return NoteForm(
            CLAIM,
            verdict,
            "Xi Jinping était en visite d'État en France du 24 au 26 mars 2019, à Paris et à Nice.",
            "Xi Jinping was on a state visit to France from 24 to 26 March 2019, in Paris and Nice.",
            "Élysée | https://www.elysee.fr/",
        )

    try:
        for i in range(rounds):
            refused = await service.ask(REFUSED)
            assert refused.refused, "the bench question must be refused without the note"
            place = store.loop.place("discord", f"asker{i}", "G1", "C1", f"sub{i}")
            store.loop.subscribe(place, f"asker{i}", REFUSED, refused.language, days=1)
            if followers is not None:
                await asyncio.sleep(random.uniform(0, WATCH_SECONDS))  # out of step with polls
            started = time.time()
            saved = await desk.save(form("accurate"), moderator)
            assert isinstance(saved, NoteSaved), saved
            await told("AnsweredLater", f"sub{i}", started, saved)
            note_id = saved.note_id
            # An earlier answer that showed the note, in its own thread.
            store.log_question(
                platform="discord",
                user_id=f"member{i}",
                question=REFUSED,
                outcome="answered",
                guild_id="G1",
                channel_id="C1",
                thread_id=f"cor{i}",
                language="en",
                note_ids=(note_id,),
                verdicts={note_id: "accurate"},
            )
            assert store.flush(timeout=30)
            if followers is not None:
                await asyncio.sleep(random.uniform(0, WATCH_SECONDS))
            started = time.time()
            changed = await desk.save(form("misleading"), moderator, note_id)
            assert isinstance(changed, NoteSaved), changed
            # The verdict change itself: the notifier that told of the note added may still
            # run when that answer is logged, and tell its thread of the addition first.
            await told("Correction", f"cor{i}", started, changed, changed_line)
            removed = await desk.remove(note_id, moderator, notify=False)
            assert isinstance(removed, NoteSaved), removed
            if followers is not None:
                waiting = hosts
                while waiting:
                    got = await followers.next()
                    if "delivered" in got:
                        count(got)
                    elif got.get("revision") == removed.revision:
                        waiting -= 1
            elif notifier is not None:
                await notifier.idle()
        # A duplicate would come within a poll or two of the last save.
        await asyncio.sleep(2 * WATCH_SECONDS if followers is not None else 0.5)
        source: queue.Queue[dict[str, Any]] | asyncio.Queue[dict[str, Any]] = (
            followers.events if followers is not None else recording.events
        )
        while not source.empty():
            got = source.get_nowait()
            if "delivered" in got:
                count(got)
    finally:
        if notifier is not None:
            await notifier.aclose()
        store.close(timeout=5)
        await service.aclose()
    return {
        "rounds": rounds,
        "save_to_answered_s": round(statistics.median(timings["AnsweredLater"]), 2),
        "save_to_correction_s": round(statistics.median(timings["Correction"]), 2),
        "all_answered_s": [round(s, 2) for s in timings["AnsweredLater"]],
        "all_correction_s": [round(s, 2) for s in timings["Correction"]],
        "notifications": 2 * rounds,
        "deliveries": sum(deliveries.values()),
        "duplicate_deliveries": sum(deliveries.values()) - len(deliveries),
    }


def _targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 23's targets against the medians (the slower of the two kinds)."""
    one, two = result["loop_one_host"], result["loop_two_hosts"]
    rows = []
    for name, part, target in (
        ("save → notification, one host", one, TARGET_ONE_HOST_S),
        (
            "save → notification, another host",
            two,
            WATCH_SECONDS + TARGET_OTHER_HOST_MARGIN_S,
        ),
    ):
        worst = max(part["save_to_answered_s"], part["save_to_correction_s"])
        rows.append(
            {"measurement": name, "median_s": worst, "target_s": target, "met": worst <= target}
        )
    return rows


def _notifying_host(root: Path, name: str, url: str) -> subprocess.Popen[str]:
    if (root / "two" / "index").exists() and not (root / name / "index").exists():
        shutil.copytree(
            root / "two" / "index", root / name / "index", symlinks=True
        )  # a warm start
    host = subprocess.Popen(
        [str(VENV_PYTHON), "-c", NOTIFYING_HOST],
        env={**os.environ, **_env(root, name, url)},
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert host.stdout is not None
    json.loads(host.stdout.readline())  # ready
    return host


def measure(rounds: int) -> dict[str, Any]:
    from tests.pg_cluster import PgCluster

    result: dict[str, Any] = {"machine": machine_info(), "watch_seconds": WATCH_SECONDS}
    with tempfile.TemporaryDirectory(prefix="factbot-bench-notes-") as tmp:
        root = Path(tmp)
        shutil.copytree(ROOT / "corpus", root / "corpus")
        env = _env(root, "one", f"sqlite:///{root / 'factbot.db'}")
        log(f"notes: one host (SQLite), {rounds} saves")
        result["one_host"] = asyncio.run(_saves(env, rounds, None))
        loop_rounds = max(1, min(rounds, LOOP_ROUNDS))
        log(f"notes: save → notification, one host (SQLite), {loop_rounds} rounds")
        loop_env = _env(root, "loop", f"sqlite:///{root / 'loop.db'}")
        shutil.copytree(
            root / "one" / "index", root / "loop" / "index", symlinks=True
        )  # a warm start
        result["loop_one_host"] = asyncio.run(_loop(loop_env, loop_rounds, None, 0))
        log("notes: two hosts (PostgreSQL), starting a local server")
        cluster = PgCluster.create()
        other: subprocess.Popen[str] | None = None
        notifying: list[subprocess.Popen[str]] = []
        try:
            url = cluster.create_database("factbot_notes_bench")
            other = subprocess.Popen(
                [str(VENV_PYTHON), "-c", OTHER_HOST],
                env={**os.environ, **_env(root, "two", url)},
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            assert other.stdout is not None
            json.loads(other.stdout.readline())  # ready: its own index is built
            log(f"notes: two hosts (PostgreSQL), {rounds} saves")
            result["two_hosts"] = asyncio.run(_saves(_env(root, "one-pg", url), rounds, other))
            other.terminate()
            other.wait(10)
            other = None
            log("notes: save → notification, two notifying hosts (PostgreSQL)")
            for name in ("notify-b", "notify-c"):
                notifying.append(_notifying_host(root, name, url))
            followers = _Followers(notifying)
            result["loop_two_hosts"] = asyncio.run(
                _loop(_env(root, "one-pg", url), loop_rounds, followers, len(notifying))
            )
        finally:
            for host in [other, *notifying]:
                if host is not None:
                    host.terminate()
                    host.wait(10)
            cluster.destroy()
    result["loop_targets"] = _targets(result)
    return result


def render(result: dict[str, Any]) -> str:
    m = result["machine"]
    one, two = result["one_host"], result["two_hosts"]
    lo, lt = result["loop_one_host"], result["loop_two_hosts"]
    return "\n".join(
        [
            "# Notes benchmark: from a moderator's submit to the note served",
            "",
            f"{m['cpu_model']}, {m['usable_cores']} usable cores, load at start "
            f"{m['load_average_at_start']}. Medians of {one['rounds']} saves; "
            f"INDEX_WATCH_SECONDS={result['watch_seconds']:g}.",
            "",
            "| | submit → served (s) | of which the rebuild (s) |",
            "|---|---|---|",
            f"| one host, SQLite | {one['submit_to_served_s']} | {one['rebuild_s']} |",
            f"| this host, PostgreSQL | {two['submit_to_served_s']} | {two['rebuild_s']} |",
            f"| the other host, PostgreSQL | {two['submit_to_served_other_host_s']} | "
            "its own rebuild, after its next poll |",
            "",
            "## Closing the loop: from the save to the notification delivered (issue 23)",
            "",
            f"Medians of {lo['rounds']} rounds. Across hosts the saving process runs no "
            "notifier; two following bot processes each run one: "
            f"{lt['deliveries']} notices delivered for the {lt['notifications']} timed, "
            f"{lt['duplicate_deliveries']} of them twice (a notice delivered by both hosts).",
            "",
            "| | subscribed question answered (s) | earlier answer corrected (s) |",
            "|---|---|---|",
            f"| one host, SQLite | {lo['save_to_answered_s']} | {lo['save_to_correction_s']} |",
            f"| another host, PostgreSQL | {lt['save_to_answered_s']} | "
            f"{lt['save_to_correction_s']} |",
            "",
            "| target (issue 23) | median (s) | target (s) | met |",
            "|---|---|---|---|",
            *(
                f"| {t['measurement']} | {t['median_s']} | ≤ {t['target_s']:g} | "
                f"{'yes' if t['met'] else 'no'} |"
                for t in result["loop_targets"]
            ),
            "",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks --only notes")
    parser.add_argument("--quick", action="store_true", help="2 saves instead of 9")
    args = parser.parse_args(argv)
    import logging

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("bm25s").setLevel(logging.WARNING)  # one DEBUG line per build otherwise
    result = measure(2 if args.quick else 9)
    folder = RESULTS / "quick" if args.quick else RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notes.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    md = render(result)
    (folder / "notes.md").write_text(md, encoding="utf-8")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
