"""The console chat in process, over the real service and intake (what `factbot chat` runs)."""

from __future__ import annotations

import contextlib
import io
from collections.abc import AsyncIterator

from bot.chat.console import run_console
from bot.serving.intake import Admission, Intake
from bot.serving.service import FactBotService


async def test_console_commands_and_questions_go_through_the_service(
    service: FactBotService,
) -> None:
    @contextlib.asynccontextmanager
    async def serving() -> AsyncIterator[tuple[FactBotService, Intake]]:
        yield service, Intake(service, Admission.local(service.settings))

    before = service.info().version
    lines = [
        "/help",
        "/sources",
        "/factcheck Chang'e 6 launch date",
        "Qui est Thomas Pesquet ?",
        "x" * 600,
        "/reindex",
        "/quit",
        "never read",
    ]
    out = io.StringIO()
    status = await run_console(serving, io.StringIO("\n".join(lines) + "\n"), out)
    assert status == 0
    shown = out.getvalue()
    assert "/factcheck [topic]" in shown  # the help
    assert "article-fr (fr)" in shown and f"index: {before}" in shown
    assert "- [Outdated: Chang'e 6 launched in May 2024] « " in shown
    assert "Pesquet" in shown and "§7" in shown
    assert "600 characters long; the limit is 500" in shown
    assert "Reindexed: " in shown and "no content change" in shown
    assert "never read" not in shown
