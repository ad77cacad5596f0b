"""The console chat: questions line by line on stdin, answers on stdout.

Interactive on a terminal (banner, prompt, /help); silent plumbing when piped, so
`echo "question" | make run` prints exactly one answer and exits. It goes through the same
service and intake as the chat bots (one local user: no rate limit).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, TextIO

from bot.answer import FactCheckRef, Language
from bot.answering.acts import card_text
from bot.answering.index_lifecycle import ReindexFailed
from bot.answering.status import IndexInfo
from bot.messages import text
from bot.serving.intake import Intake, Kind, Refusal, Request

if TYPE_CHECKING:
    from bot.serving.service import FactBotService

# The console tells nobody's interface language: its own lines are in English.
UI: Language = "en"
SESSION = "session"  # the console is one conversation, until /new

Serving = AbstractAsyncContextManager[tuple["FactBotService", Intake]]


def _format_note(note: FactCheckRef) -> str:
    return f"- [{note.label}] « {note.claim} »\n  {note.summary}"


def _format_sources(info: IndexInfo) -> str:
    return text(
        "console.sources",
        UI,
        documents=", ".join(f"{d.id} ({d.language})" for d in info.documents),
        notes=info.note_count,
        version=info.version,
        chunks=info.chunk_count,
        built_at=info.built_at,
        model=info.model,
    )


async def run_console(
    open_serving: Callable[[], Serving],
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    """Run the console chat until end of input. Returns the exit status.

    `open_serving()` loads the service and its intake (slow: the model and the index)."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    interactive = stdin.isatty() and stdout.isatty()
    if interactive:
        print(text("console.loading", UI), file=sys.stderr, flush=True)
    async with open_serving() as (service, intake):
        if interactive:
            print(text("console.ready", UI, version=service.engine.version), flush=True)
        while True:
            if interactive:
                print("\n> ", end="", flush=True)
            line = await asyncio.to_thread(stdin.readline)
            if not line:
                return 0
            line = line.strip()
            if not line:
                continue
            if line.partition(" ")[0] in ("/quit", "/exit"):
                return 0
            print(await _reply(service, intake, line), file=stdout, flush=True)


async def _reply(service: FactBotService, intake: Intake, line: str) -> str:
    command, _, rest = line.partition(" ")
    if command == "/help":
        return text("console.help", UI)
    if command == "/reindex":
        return await _reindex(service)
    if command == "/new":
        intake.forget("console", SESSION)
        return text("console.new", UI)
    if command == "/about":
        return card_text(service.engine.card(), UI)
    kind: Kind = "ask"
    if command in ("/sources", "/factcheck"):
        kind, line = ("sources" if command == "/sources" else "factcheck"), rest
    admitted = intake.admit(Request("console", "local", line, kind, conversation=SESSION))
    if isinstance(admitted, Refusal):
        return admitted.message
    if kind == "sources":
        return _format_sources(intake.sources(admitted))
    if kind == "factcheck":
        found = await intake.factchecks(admitted)
        return "\n".join(map(_format_note, found.notes)) or text("console.no_notes", found.language)
    answer = await intake.ask(admitted)
    if answer.act == "help":  # the console's own commands, not the chat platforms'
        chat = text("reply.help_commands", answer.language)
        return answer.text.replace(chat, text("reply.help_console", answer.language))
    return answer.text


async def _reindex(service: FactBotService) -> str:
    try:
        report = await service.reindex(actor="console")
    except ReindexFailed as exc:
        return "\n".join([text("console.reindex_failed", UI), *(f"  {p}" for p in exc.problems)])
    return text(
        "console.reindexed",
        UI,
        version=report.version,
        chunks=report.chunk_count,
        changes="; ".join(report.changes.lines(UI)) or text("reindex.no_change", UI),
    )
