"""`python -m benchmarks --only notes [--quick]`: from a moderator's submit to the note served.

- one host (SQLite): `NoteDesk.save` from the submitted form to the new index swapped in (it
  validates, stores the revision, rebuilds, and finds a sample question); split into the rebuild
  and the rest;
- across hosts (PostgreSQL, a throwaway local server): a second bot process with its own
  INDEX_DIR watches the database (INDEX_WATCH_SECONDS) and rebuilds; measured from the submit on
  the first process to the second one serving the new revision.

Writes notes.json and notes.md to benchmarks/results/ (9 saves each; `--quick`: 2, into
results/quick/).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS, ROOT, VENV_PYTHON, log, machine_info

CLAIM = (
    "L'annonce a été faite à l'occasion de la visite du président de la République populaire "
    "de Chine, Xi Jinping"
)
WATCH_SECONDS = 2.0

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


def _env(root: Path, name: str, database_url: str) -> dict[str, str]:
    return {
        "CORPUS_DIR": str(root / "corpus"),
        "INDEX_DIR": str(root / name / "index"),
        "DATABASE_URL": database_url,
        "USER_HASH_KEY_FILE": str(root / "user-hash.key"),
        "MODEL_CACHE_DIR": str(ROOT / "var" / "models"),
        "INDEX_WATCH_SECONDS": str(WATCH_SECONDS),
        "LOG_LEVEL": "WARNING",
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


def measure(rounds: int) -> dict[str, Any]:
    from tests.pg_cluster import PgCluster

    result: dict[str, Any] = {"machine": machine_info(), "watch_seconds": WATCH_SECONDS}
    with tempfile.TemporaryDirectory(prefix="factbot-bench-notes-") as tmp:
        root = Path(tmp)
        shutil.copytree(ROOT / "corpus", root / "corpus")
        env = _env(root, "one", f"sqlite:///{root / 'factbot.db'}")
        log(f"notes: one host (SQLite), {rounds} saves")
        result["one_host"] = asyncio.run(_saves(env, rounds, None))
        log("notes: two hosts (PostgreSQL), starting a local server")
        cluster = PgCluster.create()
        other: subprocess.Popen[str] | None = None
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
        finally:
            if other is not None:
                other.terminate()
                other.wait(10)
            cluster.destroy()
    return result


def render(result: dict[str, Any]) -> str:
    m = result["machine"]
    one, two = result["one_host"], result["two_hosts"]
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
