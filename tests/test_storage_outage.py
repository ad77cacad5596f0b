"""The PostgreSQL server stops while the bot logs questions: nothing reaches the caller, rows
wait in the buffer, and every one of them arrives once the server is back."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest

from bot.storage import Database, Store, VoteOutcome
from bot.storage.hashing import UserHasher
from tests.pg_cluster import PgCluster


@pytest.fixture
def store(postgres_url: str) -> Iterator[Store]:
    store = Store(Database(postgres_url), UserHasher(b"k" * 32), interval=0.02, retry_max=0.5)
    assert store.start(wait=30)
    yield store
    store.close(timeout=2)


def _log(store: Store, start: int, n: int) -> list[str]:
    return [
        store.log_question(
            platform="discord",
            user_id=7,
            question=f"question {i}",
            outcome="answered",
            language="en",
        )
        for i in range(start, start + n)
    ]


def test_logging_goes_on_while_the_database_is_down_and_every_row_arrives(
    store: Store, pg_cluster: PgCluster, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="factbot.storage")
    ids = _log(store, 0, 100)
    store.remember_thread("discord", "t-1")
    assert store.flush(timeout=30)
    assert store.count_questions() == 100

    pg_cluster.stop()
    try:
        ids += _log(store, 100, 300)  # no exception reaches the answering path
        store.remember_thread("discord", "t-2")
        deadline = time.monotonic() + 30
        while store.stats().state != "down" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.stats().state == "down"
        ids += _log(store, 400, 100)
        assert not store.flush(timeout=1.0)
        assert store.stats().buffered == 401  # 400 questions and a thread
        # Look-ups answer without raising: a vote cannot be recorded now, a thread the bot
        # opened is still known from memory.
        assert store.record_vote(ids[0], 7, 1) is VoteOutcome.UNAVAILABLE
        assert store.is_bot_thread("discord", "t-2")
        assert not store.is_bot_thread("discord", "never-opened")
    finally:
        pg_cluster.start()

    assert store.flush(timeout=60)
    assert store.count_questions() == 500
    assert store.stats().dropped == 0
    assert store.record_vote(ids[450], 7, -1) is VoteOutcome.RECORDED
    restarted = Store(Database(store.database.display_url), UserHasher(b"k" * 32))
    try:
        assert restarted.is_bot_thread("discord", "t-2")
    finally:
        restarted.close()

    lines = [r.getMessage() for r in caplog.records if r.name == "factbot.storage"]
    down = [line for line in lines if "unreachable" in line and "keeps answering" in line]
    assert len(down) == 1, lines  # one line per outage, not one per retry
    assert "127.0.0.1" in down[0]
    assert any("reachable again" in line for line in lines)
