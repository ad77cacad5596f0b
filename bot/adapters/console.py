"""The console chat: questions line by line on stdin, answers on stdout.

Interactive on a terminal (banner, prompt, /help); silent plumbing when piped, so
`echo "question" | make run` prints exactly one answer and exits.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TextIO

from bot.answer import FactCheckRef
from bot.settings import Settings

HELP = """Ask about the article in French or English. Commands:
  /factcheck [topic]  the fact-check notes, or those matching a topic
  /sources            what the bot knows: documents, notes, index version
  /reindex            rebuild the index from the corpus
  /quit               leave (or Ctrl-D)"""


def _format_note(note: FactCheckRef) -> str:
    return f"- [{note.label}] « {note.claim} »\n  {note.summary}"


def run_console(
    settings: Settings,
    _engine_factory: Callable[[Settings], Any],
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    """Run the console chat until end of input. Returns the exit status."""
    from bot.index_lifecycle import ReindexFailed
    from bot.questions import QuestionRejected, clean_question

    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    interactive = stdin.isatty() and stdout.isatty()
    if interactive:
        print("factbot: loading the model and the index…", file=sys.stderr, flush=True)
    engine = _engine_factory(settings)
    if interactive:
        print(f"factbot ready (index {engine.version}). Type /help for commands.", flush=True)
    while True:
        if interactive:
            print("\n> ", end="", flush=True)
        line = stdin.readline()
        if not line:
            return 0
        line = line.strip()
        if not line:
            continue
        command, _, rest = line.partition(" ")
        if command in ("/quit", "/exit"):
            return 0
        if command == "/help":
            print(HELP, file=stdout, flush=True)
            continue
        if command == "/sources":
            info = engine.info()
            docs = ", ".join(f"{d.id} ({d.language})" for d in info.documents)
            print(
                f"documents: {docs}\nnotes: {info.note_count}\nindex: {info.version} "
                f"({info.chunk_count} chunks, built {info.built_at})\nmodel: {info.model}",
                file=stdout,
                flush=True,
            )
            continue
        if command == "/factcheck":
            try:
                notes = (
                    engine.search_factchecks(clean_question(rest, settings.max_question_chars))
                    if rest.strip()
                    else engine.all_factchecks("en")
                )
            except QuestionRejected as exc:
                print(str(exc), file=stdout, flush=True)
                continue
            print(
                "\n".join(map(_format_note, notes)) or "No fact-check note matches that topic.",
                file=stdout,
                flush=True,
            )
            continue
        if command == "/reindex":
            try:
                new = engine.rebuilt()
            except ReindexFailed as exc:
                print("Reindex failed; still serving the previous index:", file=stdout)
                print("\n".join(f"  {p}" for p in exc.problems), file=stdout, flush=True)
                continue
            changes = "; ".join(new.changes_since(engine))
            engine = new
            print(
                f"Reindexed: {engine.version}, {engine.chunk_count} chunks ({changes})",
                file=stdout,
                flush=True,
            )
            continue
        try:
            question = clean_question(line, settings.max_question_chars)
        except QuestionRejected as exc:
            print(str(exc), file=stdout, flush=True)
            continue
        answer = engine.answer(question)
        print(answer.text, file=stdout, flush=True)
