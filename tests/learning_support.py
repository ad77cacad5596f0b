"""What the learning-loop tests share: a `LearningLoop` over a real database, and reads of what
it stored (votes, question rows), straight from the tables."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot.learning.loop import LearningLoop
from bot.learning.report import question_encoder
from bot.serving.intake import Admission, Intake
from bot.serving.service import FactBotService
from bot.settings import Settings
from bot.storage import Database, Store
from bot.storage.hashing import UserHasher
from bot.storage.schema import answer_votes, question_log

KEY = b"a-test-key-that-is-long-enough-0123456789"


async def started_learning(settings: Settings, **store_options: Any) -> LearningLoop:
    """A started loop over `settings.database_url`, retrying quickly after an outage."""
    store_options.setdefault("interval", 0.02)
    store_options.setdefault("retry_max", 0.5)
    store = Store(
        Database(settings.database_url),
        UserHasher(KEY),
        log_questions=settings.log_questions,
        retention_days=settings.log_retention_days,
        **store_options,
    )
    learning = LearningLoop(store, question_encoder(settings))
    assert await learning.start(wait=30)
    return learning


def chat_intake(settings: Settings, service: FactBotService, learning: LearningLoop) -> Intake:
    """The chat bots' intake, its questions logged by `learning` (as `factbot run` wires it)."""
    intake = Intake(service, Admission.for_chat(settings))
    learning.observe(intake)
    return intake


@contextlib.asynccontextmanager
async def logged(
    settings: Settings, service: FactBotService
) -> AsyncIterator[tuple[Intake, LearningLoop]]:
    """The chat intake and its started learning loop, as `factbot run` wires them; on exit the
    store writes what it buffered and closes (stop the bot first: nest the bot inside)."""
    learning = await started_learning(settings)
    try:
        yield chat_intake(settings, service, learning), learning
    finally:
        await learning.aclose(timeout=30)


def votes(store: Store) -> list[tuple[str, int, str | None]]:
    """Every vote: (answer id, +1/-1, reason), in answer id then voter order."""
    store.database.ensure_ready()
    with store.database.reading() as conn:
        rows = conn.execute(
            select(answer_votes.c.answer_id, answer_votes.c.vote, answer_votes.c.reason).order_by(
                answer_votes.c.answer_id, answer_votes.c.user_hash
            )
        ).all()
    return [(r.answer_id, int(r.vote), r.reason) for r in rows]


def questions(store: Store) -> list[dict[str, Any]]:
    """Every logged question, oldest first."""
    store.database.ensure_ready()
    with store.database.reading() as conn:
        rows = conn.execute(select(question_log).order_by(question_log.c.id)).mappings().all()
    return [dict(r) for r in rows]


def log_old_answer(store: Store, answer_id: str, platform: str, days_ago: int = 400) -> None:
    """An answer logged long ago (past any retention): its buttons must say it expired."""
    store.log_question(
        platform=platform,
        user_id="someone",
        question="An old question",
        outcome="answered",
        answer_id=answer_id,
        asked_at=datetime.now(UTC) - timedelta(days=days_ago),
    )
    assert store.flush(timeout=30)
