"""`factbot` command line. Heavy modules (torch, faiss, discord, slack) load only when a command
needs them, so `factbot --help` stays instant.

Exit status: 0 ok, 1 failure (one line on stderr), 2 bad input or configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import re
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.answer import Answer, Language
    from bot.answering.engine import Engine
    from bot.chat.delivery import Deliveries
    from bot.learning.loop import LearningLoop
    from bot.learning.notify import NotifyCounts
    from bot.serving.intake import Admission, Admitted, Intake, Request
    from bot.serving.service import FactBotService
    from bot.settings import Settings
    from index.corpus import Corpus

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
log = logging.getLogger("factbot.cli")


class CliError(Exception):
    """One line for the operator, and the exit status to use."""

    def __init__(self, message: str, status: int = EXIT_FAIL) -> None:
        super().__init__(message)
        self.status = status


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="factbot",
        description="Answers questions about one news article, quoting it and flagging its mistakes.",
    )
    p.add_argument("--env-file", default=".env", help="settings file (default: .env)")
    p.add_argument("--version", action=_VersionAction)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    ask = sub.add_parser("ask", help="answer one question, or one per stdin line with '-'")
    ask.add_argument("question", help="the question, or '-' to read one question a line from stdin")
    ask.add_argument("--json", action="store_true", help="print the JSON contract")
    ask.add_argument(
        "--history",
        action="append",
        default=[],
        metavar="QUESTION",
        help="an earlier question of the conversation (repeat, oldest first)",
    )

    about = sub.add_parser("about", help="the article card: title, outlet, date, link, summary")
    about.add_argument("--json", action="store_true", help="print the card as JSON")
    about.add_argument("--lang", choices=("fr", "en"), default="fr", help="language (default fr)")
    sub.add_parser("chat", help="the console chat (reads questions line by line)")
    sub.add_parser("run", help="start Discord and/or Slack when configured, else the console chat")
    idx = sub.add_parser("index", help="build or rebuild the index; prints chunks, time, model")
    idx.add_argument("--if-needed", action="store_true", help="only when missing or stale")

    ev = sub.add_parser("eval", help="retrieval, refusal and lead quality on evaluation sets")
    ev.add_argument(
        "--questions", action="append", help="a question set (repeatable; default: the dev set)"
    )
    ev.add_argument(
        "--all", action="store_true", help="the dev, held-out, chat and first-contact sets"
    )
    ev.add_argument("--json", action="store_true")
    ev.add_argument("--calibrate", action="store_true", help="search refusal thresholds")
    ev.add_argument("--verbose", action="store_true", help="list every miss")

    corpus = sub.add_parser("corpus", help="corpus tools")
    corpus_sub = corpus.add_subparsers(dest="corpus_command", metavar="ACTION")
    corpus_sub.add_parser(
        "check",
        help="validate the corpus with the notes made in chat (exit 1 with one line per problem)",
    )

    notes = sub.add_parser("notes", help="the notes made or changed from chat")
    notes_sub = notes.add_subparsers(dest="notes_command", metavar="ACTION")
    notes_export = notes_sub.add_parser(
        "export", help="write the database's notes as corpus files into DIR, to commit upstream"
    )
    notes_export.add_argument("dir", help="the folder to write them to")

    dc = sub.add_parser("discord", help="run the Discord bot")
    dc_sub = dc.add_subparsers(dest="discord_command", metavar="ACTION")
    dc_sub.add_parser("invite", help="print the URL that adds the bot to a server")
    sub.add_parser("slack", help="run the Slack app")

    rep = sub.add_parser("report", help="questions refused and answers voted down, grouped")
    rep.add_argument("--days", type=int, default=7, help="the last N days (default: 7)")
    rep.add_argument("--json", action="store_true", help="print JSON")

    forget = sub.add_parser(
        "forget", help="erase one chat member's questions and votes (a data-erasure request)"
    )
    forget.add_argument("user_id", metavar="USER_ID", help="their Discord or Slack user id")
    forget.add_argument("--platform", choices=("discord", "slack"), required=True)

    exp = sub.add_parser("export", help="export the fact-check notes")
    exp_sub = exp.add_subparsers(dest="export_format", metavar="FORMAT")
    claimreview = exp_sub.add_parser(
        "claimreview", help="every note as schema.org ClaimReview JSON-LD (fr and en)"
    )
    claimreview.add_argument(
        "--out",
        metavar="FILE",
        help="write FILE (atomically: a temporary file renamed) instead of stdout",
    )
    return p


class _VersionAction(argparse.Action):
    """`--version`: the version is looked up only when asked for (importlib.metadata scans the
    installed distributions: ~10 ms on every command otherwise)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(
            option_strings, dest, nargs=0, help="show program's version number and exit"
        )

    def __call__(self, parser: argparse.ArgumentParser, *_: Any, **__: Any) -> None:
        print(f"factbot {_version()}")  # on stdout, as argparse's own version action
        parser.exit()


def _version() -> str:
    """The installed package's version (the source tree's when it is not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("factbot")
    except PackageNotFoundError:
        return "0+unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `factbot` console script."""
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except CliError as exc:
        print(f"factbot: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # the last net: never a traceback in a terminal
        where = _log_crash(exc)
        print(f"factbot: unexpected error: {type(exc).__name__}: {exc}{where}", file=sys.stderr)
        return EXIT_FAIL


def _log_crash(exc: Exception) -> str:
    """Keep the traceback of an unexpected crash for whoever has to fix it: in the log, or, when
    the log is an interactive terminal (stderr), in a private file the one line names."""
    if not sys.stderr.isatty():
        log.error("unexpected error", exc_info=exc)
        return ""
    import tempfile
    import traceback

    try:
        fd, name = tempfile.mkstemp(prefix="factbot-crash-", suffix=".log")  # mode 0600
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("".join(traceback.format_exception(exc)))
    except OSError:
        return ""
    return f" (traceback in {name})"


def _settings(args: argparse.Namespace) -> Settings:
    from bot.logs import setup_logging
    from bot.settings import Settings, SettingsError

    try:
        settings = Settings.load(args.env_file)
    except SettingsError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc
    setup_logging(settings.log_level, settings.secrets())
    return settings


def _dispatch(args: argparse.Namespace) -> int:
    command = args.command or "chat"
    if command == "corpus":
        return _corpus_check(args)
    settings = _settings(args)
    if command == "ask":
        return _ask(settings, args.question, args.json, tuple(args.history))
    if command == "chat":
        return _chat(settings)
    if command == "about":
        return _about(settings, args.json, args.lang)
    if command == "index":
        return _index(settings, args.if_needed)
    if command == "eval":
        from bot.answering.evaluation import EVAL_SETS, run_eval

        paths = [*(EVAL_SETS if args.all else ()), *(args.questions or ())] or EVAL_SETS[:1]
        return run_eval(_engine(settings), paths, args.json, args.calibrate, args.verbose)
    if command == "discord" and getattr(args, "discord_command", None) == "invite":
        from bot.chat import AdapterStartError
        from bot.chat.discord.client import invite_url

        try:
            print(invite_url(settings))
        except AdapterStartError as exc:
            raise CliError(str(exc), EXIT_USAGE) from exc
        return EXIT_OK
    if command in ("discord", "slack", "run"):
        return _serve(settings, command)
    if command == "report":
        return _report(settings, args.days, args.json)
    if command == "notes":
        return _notes(settings, args)
    if command == "forget":
        return _forget(settings, args.user_id, args.platform)
    if command == "export":
        return _export(settings, args)
    raise CliError(f"unknown command {command!r}", EXIT_USAGE)


def _corpus_check(args: argparse.Namespace) -> int:
    from bot.notes import export as notes_cli
    from bot.settings import Settings, SettingsError

    if args.corpus_command != "check":
        raise CliError("usage: factbot corpus check", EXIT_USAGE)
    try:
        settings = Settings.load(args.env_file)
    except SettingsError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc
    try:
        problems = notes_cli.check(settings)
    except notes_cli.NotesCliError as exc:
        raise CliError(str(exc)) from exc
    for problem in problems:
        print(problem)
    if problems:
        return EXIT_FAIL
    print(f"corpus OK: {settings.corpus_dir}, with the notes made in chat")
    return EXIT_OK


def _notes(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from bot.notes import export as notes_cli

    if getattr(args, "notes_command", None) != "export":
        raise CliError("usage: factbot notes export DIR", EXIT_USAGE)
    try:
        written = notes_cli.export(settings, Path(args.dir))
    except notes_cli.NotesCliError as exc:
        raise CliError(str(exc)) from exc
    print(f"{written} note file(s) written to {args.dir}")
    return EXIT_OK


def _engine(settings: Settings) -> Engine:
    """The model and the index, with the notes made in chat (DATABASE_URL)."""
    from bot.answering.engine import Engine
    from bot.answering.index_lifecycle import IndexUnavailable
    from bot.cli.progress import terminal_progress
    from bot.storage import StorageError
    from bot.storage.notes import NoteRepository
    from index.embeddings import ModelUnavailable

    try:
        notes = NoteRepository.from_settings(settings)
    except StorageError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc
    try:
        # A first start's export and build show a bar on a terminal; only here, in the calling
        # thread: a reindex from chat later draws nothing into the bot's log.
        with terminal_progress():
            return Engine.open(settings, notes)
    except (IndexUnavailable, ModelUnavailable) as exc:
        raise CliError(str(exc)) from exc


def _error_json(message: str) -> str:
    return json.dumps({"error": message}, ensure_ascii=False)


@contextlib.asynccontextmanager
async def _serving(
    settings: Settings, admission: Admission, watch: bool
) -> AsyncIterator[tuple[FactBotService, Intake]]:
    """The service over the loaded index and model, and the intake in front of it: what every
    way in (console, `ask`, the chat bots) goes through. Closed on exit."""
    from bot.serving.intake import Intake
    from bot.serving.service import FactBotService

    engine = await asyncio.to_thread(_engine, settings)
    service = FactBotService(settings, engine)
    if watch:
        service.start_watching()
    intake = Intake(service, admission)
    intake.start_pruning()
    try:
        yield service, intake
    finally:
        await intake.aclose()
        await service.aclose()


def _learning_loop(settings: Settings) -> LearningLoop:
    """The chat bots' question log, votes, report and thread memory (not yet started); a bad
    DATABASE_URL or user hash key is one line and exit 2, before the model loads.

    Only for the chat bots: the console and `factbot ask` are the operator's own questions, not
    the community's."""
    from bot.learning.loop import LearningLoop
    from bot.storage import StorageError

    try:
        return LearningLoop.from_settings(settings)
    except StorageError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc


@contextlib.asynccontextmanager
async def _learning(learning: LearningLoop, intake: Intake) -> AsyncIterator[LearningLoop]:
    """`learning` started and logging `intake`'s questions. A database that is down costs one
    log line, never the start; exiting (after the bots stopped and the intake drained) writes
    what is buffered and closes."""
    await learning.start()
    learning.observe(intake)
    try:
        yield learning
    finally:
        await learning.aclose()


def _about(settings: Settings, as_json: bool, language: Language) -> int:
    from bot.answering.acts import card_text

    card = _engine(settings).card()
    print(json.dumps(card.to_json(), ensure_ascii=False) if as_json else card_text(card, language))
    return EXIT_OK


def _ask(settings: Settings, question: str, as_json: bool, history: tuple[str, ...] = ()) -> int:
    from bot.serving.intake import Admission, Refusal, Request

    admission = Admission.local(settings)
    if question == "-":
        return asyncio.run(_ask_lines(settings, admission, as_json))
    # Admitted before the model loads: a bad question fails at once.
    admitted = admission.admit(Request("cli", "local", question, history=history))
    if isinstance(admitted, Refusal):
        print(
            _error_json(admitted.message) if as_json else f"factbot: {admitted.message}",
            file=sys.stdout if as_json else sys.stderr,
        )
        return EXIT_USAGE
    return asyncio.run(_ask_one(settings, admission, admitted, as_json))


async def _ask_one(
    settings: Settings, admission: Admission, admitted: Admitted, as_json: bool
) -> int:
    async with _serving(settings, admission, watch=False) as (_, intake):
        answer = await intake.ask(admitted)
    print(json.dumps(answer.to_json(), ensure_ascii=False) if as_json else answer.text)
    return EXIT_OK


async def _ask_lines(settings: Settings, admission: Admission, as_json: bool) -> int:
    """One question a line of stdin (plain text, or a JSON object `{"question": "...",
    "history": ["earlier question", ...]}`): each line gets exactly one result line, in order."""
    from bot.serving.intake import Refusal

    status = EXIT_OK
    async with _serving(settings, admission, watch=False) as (_, intake):
        while line := await asyncio.to_thread(sys.stdin.readline):
            request = _line_request(line)
            outcome = await intake.handle(request) if not isinstance(request, str) else request
            if isinstance(outcome, str | Refusal):
                status = EXIT_USAGE
                why = outcome if isinstance(outcome, str) else outcome.message
                print(_error_json(why) if as_json else f"error: {why}", flush=True)
            elif as_json:
                print(json.dumps(outcome.to_json(), ensure_ascii=False), flush=True)
            else:
                print(" | ".join(outcome.text.splitlines()), flush=True)
    return status


def _line_request(line: str) -> Request | str:
    """The request one line of `factbot ask -` makes, or why the line is unusable."""
    from bot.serving.intake import Request

    if not line.lstrip().startswith("{"):
        return Request("cli", "local", line)
    try:
        row = json.loads(line)
    except ValueError:
        return "not a JSON object: write the question as plain text or as valid JSON"
    question = row.get("question") if isinstance(row, dict) else None
    history = row.get("history", []) if isinstance(row, dict) else None
    if not isinstance(question, str) or not (
        isinstance(history, list) and all(isinstance(h, str) for h in history)
    ):
        return 'expected {"question": "...", "history": ["earlier question", ...]}'
    return Request("cli", "local", question, history=tuple(history))


def _chat(settings: Settings) -> int:
    from bot.chat.console import run_console
    from bot.serving.intake import Admission

    admission = Admission.local(settings)
    return asyncio.run(run_console(lambda: _serving(settings, admission, watch=True)))


def _index(settings: Settings, if_needed: bool) -> int:
    import time

    from bot.answering.engine import text_to_embed
    from bot.answering.index_lifecycle import build_from_corpus, embedder_for, load_or_build
    from bot.answering.kind_vectors import stored_message_kinds
    from bot.answering.lexicon import lexicon_for
    from bot.cli.progress import terminal_progress
    from bot.storage import StorageError
    from bot.storage.notes import NoteRepository
    from index.corpus import CorpusInvalid
    from index.embeddings import ModelUnavailable
    from index.store import IndexStore

    started = time.perf_counter()
    try:
        # A bar for the model export and the encoding when stderr is a terminal.
        with terminal_progress():
            notes = NoteRepository.from_settings(settings)
            embedder = embedder_for(settings)
            store = IndexStore(settings.index_dir)
            if if_needed:
                index = load_or_build(settings, store, embedder, notes)
            else:
                index = build_from_corpus(settings, store, embedder, notes.overlay())
            # Derived data the engine loads at start, so that no start computes it: the
            # near-miss vocabulary and the message kinds' exemplar vectors.
            lexicon_for(settings)
            stored_message_kinds(settings, embedder, text_to_embed).exemplars  # noqa: B018
    except StorageError as exc:
        raise CliError(f"index not rebuilt: the notes made in chat cannot be read: {exc}") from exc
    except CorpusInvalid as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        raise CliError(f"index not rebuilt: the corpus has {len(exc.problems)} problem(s)") from exc
    except ModelUnavailable as exc:
        raise CliError(str(exc)) from exc
    seconds = time.perf_counter() - started
    m = index.manifest
    print(
        f"index {m['version']}: {m['chunk_count']} chunks, {m['note_count']} notes, "
        f"model {m['model']} ({m['dimension']}d, {m['dense_index']}), "
        f"built in {m['build_seconds']:.2f}s ({seconds:.1f}s with model load) -> {index.path}"
    )
    return EXIT_OK


def _report(settings: Settings, days: int, as_json: bool) -> int:
    from bot.learning.report import build_report, question_encoder
    from bot.storage import Database, StorageError
    from index.embeddings import ModelUnavailable

    if days < 1:
        raise CliError("--days must be at least 1", EXIT_USAGE)
    try:
        database = Database(settings.database_url)
        try:
            # The operator on the host reads every community's questions (the report says so).
            report = build_report(database, days, question_encoder(settings), community=None)
        finally:
            database.dispose()
    except StorageError as exc:
        raise CliError(str(exc)) from exc
    except ModelUnavailable as exc:
        raise CliError(str(exc)) from exc
    print(json.dumps(report.to_json(), ensure_ascii=False) if as_json else report.render_text())
    return EXIT_OK


def _forget(settings: Settings, user_id: str, platform: str) -> int:
    """Erase one member's questions and votes, found by the keyed hash of their id made with
    this host's key; one line with what was erased (the id itself is never printed or logged)."""
    from bot.learning.privacy import MemberPrivacy, PrivacyUnavailable
    from bot.logs import user_tag
    from bot.storage import StorageError, Store

    user_id = user_id.strip()
    if not re.fullmatch(r"[A-Za-z0-9]{1,64}", user_id):
        raise CliError(
            f"USER_ID must be a {platform} user id (letters and digits, as the platform shows "
            "it: Discord > Copy User ID, Slack > profile > Copy member ID)",
            EXIT_USAGE,
        )
    try:
        store = Store.from_settings(settings)
    except StorageError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc
    try:
        privacy = MemberPrivacy(store)
        kept = privacy.kept_now(platform, user_id)
        erased = privacy.erase_now(platform, user_id)
    except PrivacyUnavailable as exc:
        raise CliError(f"nothing erased: {exc}") from exc
    finally:
        store.close()
    print(
        f"{platform} {user_tag(platform, user_id)}: erased {erased.questions} question(s) and "
        f"{erased.votes} vote(s), {erased.subscriptions} subscription(s); "
        f"{kept.note_revisions} note revision(s) they made as a moderator kept (published work)"
    )
    return EXIT_OK


def _export_corpus(settings: Settings) -> Corpus:
    """The corpus `factbot export` describes, with the notes made in chat; a broken one is one
    line per problem (stderr: stdout may be carrying the export) and exit 1."""
    from bot.notes import export as notes_cli
    from index.corpus import CorpusInvalid, load_corpus

    try:
        return load_corpus(settings.corpus_dir, notes_cli.read_overlay(settings))
    except notes_cli.NotesCliError as exc:
        raise CliError(f"nothing exported: {exc}") from exc
    except CorpusInvalid as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        raise CliError(f"nothing exported: the corpus has {len(exc.problems)} problem(s)") from exc


def _export(settings: Settings, args: argparse.Namespace) -> int:
    """`factbot export claimreview [--out FILE]`: the JSON-LD on stdout, or FILE written whole
    or not at all (a temporary file beside it, then renamed over it)."""
    from pathlib import Path

    from bot.notes.claimreview import ClaimReviewError, claimreview_document, json_ld
    from bot.notes.files import write_atomically

    if args.export_format != "claimreview":
        raise CliError("usage: factbot export claimreview [--out FILE]", EXIT_USAGE)
    target = None if args.out is None else Path(args.out)
    if target is not None and (not target.name or target.is_dir()):
        raise CliError(f"cannot write {args.out!r}: give a file name, not a folder", EXIT_USAGE)
    try:
        reviews = claimreview_document(_export_corpus(settings), settings)
    except ClaimReviewError as exc:
        raise CliError(f"nothing exported: {exc}") from exc
    text = json_ld(reviews)
    if target is None:
        sys.stdout.write(text)
    else:
        try:
            write_atomically(target, text)
        except OSError as exc:
            raise CliError(f"cannot write {args.out}: {exc.strerror or exc}", EXIT_USAGE) from exc
        print(f"{len(reviews)} ClaimReviews written to {args.out}", file=sys.stderr)
    if not settings.claimreview_url:
        print(
            "factbot: warning: the reviews have no `url`, which Google's fact-check guide "
            "requires: set CLAIMREVIEW_URL to each fact check's page, e.g. "
            "CLAIMREVIEW_URL=https://example.org/factchecks/{id}.{lang}.html (see .env.example)",
            file=sys.stderr,
        )
    return EXIT_OK


def _serve(settings: Settings, which: str) -> int:
    from bot.chat import AdapterStartError

    targets: list[str] = []
    if which in ("discord", "run") and settings.discord_enabled:
        targets.append("discord")
    if which in ("slack", "run") and settings.slack_enabled:
        targets.append("slack")
    if which == "discord" and not targets:
        raise CliError("DISCORD_TOKEN is not set: add it to .env (see .env.example)", EXIT_USAGE)
    if which == "slack" and not targets:
        raise CliError(
            "SLACK_BOT_TOKEN with SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode) "
            "must be set: add them to .env (see .env.example)",
            EXIT_USAGE,
        )
    if not targets:
        return _chat(settings)
    from bot.ops.metrics import MetricsServerError

    try:
        asyncio.run(_serve_async(settings, targets))
    except (AdapterStartError, MetricsServerError) as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc
    return EXIT_OK


async def _serve_async(settings: Settings, targets: list[str]) -> None:
    from bot.ops.monitoring import start_monitoring
    from bot.serving.intake import Admission

    learning = _learning_loop(settings)
    async with (
        _serving(settings, Admission.for_chat(settings), watch=True) as (service, intake),
        _learning(learning, intake),
    ):
        # Metrics and probes (METRICS_PORT) before the transports connect: /readyz says so.
        monitoring = await start_monitoring(settings, service, intake, targets)
        if monitoring.metrics is not None:
            learning.vote_listeners.append(monitoring.metrics.count_vote)
            monitoring.metrics.watch_store(learning.store.stats)
        stopping = asyncio.Event()
        _stop_on_signals(intake, stopping, monitoring.begin_shutdown)
        # Closing the loop: the notices go to each platform's adapter (it registers itself).
        deliveries = _closing_loop(settings, service, learning, monitoring.metrics)
        # One intake for both transports: one rate limit per user of each platform.
        jobs: list[Coroutine[Any, Any, None]] = []
        if "discord" in targets:
            from bot.chat.discord import client as discord_bot

            link = monitoring.link("discord")
            jobs.append(
                discord_bot.serve(
                    settings, service, intake, stopping, learning, link, deliveries=deliveries
                )
            )
        if "slack" in targets:
            from bot.chat.slack import app as slack_app

            link = monitoring.link("slack")
            jobs.append(
                slack_app.serve(
                    settings, service, intake, stopping, learning, link, deliveries=deliveries
                )
            )
        try:
            # A TaskGroup stops the other transport at once when one fails to start.
            async with asyncio.TaskGroup() as group:
                for job in jobs:
                    group.create_task(job)
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None
        finally:
            if deliveries is not None and deliveries.notifier is not None:
                await deliveries.notifier.aclose()
            await monitoring.close()
    if stopping.is_set():
        log.info("stopped")


def _closing_loop(
    settings: Settings,
    service: FactBotService,
    learning: LearningLoop,
    counts: NotifyCounts | None,
) -> Deliveries | None:
    """The notifier (corrections, subscribers' answers) over the question log, observing the
    service and started, with the dispatcher the adapters register on; None when questions are
    not logged (nothing to correct, nobody subscribed)."""
    from bot.chat.delivery import Deliveries
    from bot.learning.notify import Notifier

    if not learning.feedback:
        return None

    async def ask(question: str, language: Language) -> Answer:
        return await service.ask(question)

    deliveries = Deliveries()
    notes = service.notes.repository if service.notes is not None else None
    notifier = Notifier(
        learning.store,
        notes,
        ask,
        deliveries,
        settings,
        counts=counts,
        serves=lambda platform: platform in deliveries.platforms,
    )
    deliveries.notifier = notifier
    service.add_observer(notifier)
    notifier.start()
    return deliveries


def _stop_on_signals(
    intake: Intake, stopping: asyncio.Event, on_stop: Callable[[], None] | None = None
) -> None:
    """SIGTERM (a deploy, systemd, Docker) and SIGINT stop the bots in order: no new questions
    (they get a "restarting" line), /readyz turns 503 (`on_stop`), the answers in flight finish
    (up to SHUTDOWN_GRACE_SECONDS), the transports disconnect and the service closes; the
    process exits 0."""
    import signal

    def stop(sig: signal.Signals) -> None:
        if not stopping.is_set():
            log.info("%s: stopping; finishing the answers in flight", sig.name)
        intake.close()
        if on_stop is not None:
            on_stop()
        stopping.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop, sig)


if __name__ == "__main__":
    sys.exit(main())
