"""The store on real databases: every test runs on a fresh SQLite file and on a fresh database of
a real PostgreSQL server (tests/pg_cluster.py), except where a test is about one of them."""

from __future__ import annotations

import hashlib
import hmac
import logging
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text

from bot.ops.metrics import Metrics
from bot.settings import Settings
from bot.storage import Database, SchemaTooNew, Store, StoreUnavailable, VoteOutcome
from bot.storage.database import head_revision
from bot.storage.hashing import UserHasher, load_key
from bot.storage.schema import SCHEMA_HEAD, VERSION_TABLE, answer_votes, metadata, question_log
from bot.storage.writer import BatchWriter
from tests.conftest import ROOT

KEY = b"a-test-key-that-is-long-enough-0123456789"
USER = "123456789012345678"  # a Discord snowflake


def storage_lines(caplog: pytest.LogCaptureFixture, level: int = logging.WARNING) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == "factbot.storage" and r.levelno >= level
    ]


def wait_until(predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.fixture
def open_store() -> Iterator[Callable[..., Store]]:
    """`open_store(url, **options)`: a started store, closed after the test."""
    stores: list[Store] = []

    def make(url: str, start: bool = True, **options: Any) -> Store:
        options.setdefault("interval", 0.02)
        options.setdefault("retry_max", 0.5)
        store = Store(Database(url), UserHasher(KEY), **options)
        stores.append(store)
        if start:
            store.start(wait=30)
        return store

    yield make
    for store in stores:
        store.close(timeout=2)


def log_some(store: Store, n: int, **fields: Any) -> list[str]:
    outcomes = ("answered", "refused", "rejected")
    ids = []
    for i in range(n):
        values: dict[str, Any] = {
            "platform": "discord",
            "user_id": USER,
            "question": f"question {i}",
            "outcome": outcomes[i % 3],
            "guild_id": 42,
            "channel_id": 43,
            "language": "fr" if i % 2 else "en",
            "note_ids": ["svom-launch", "dorn"],
            "index_version": "v1",
            "latency_ms": 12.5,
        }
        values.update(fields)
        ids.append(store.log_question(**values))
    return ids


# ---------------------------------------------------------------- schema


def test_migrates_an_empty_database_and_again(database_url: str) -> None:
    db = Database(database_url)
    db.ensure_ready()
    assert db.schema_revision() == head_revision()
    tables = set(inspect(db.engine).get_table_names())
    assert {"question_log", "answer_votes", "bot_threads", VERSION_TABLE} <= tables
    db.dispose()
    again = Database(database_url)
    again.ensure_ready()  # already at head: nothing to do, no error
    assert again.schema_revision() == head_revision()
    with again.reading() as conn:
        versions = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    assert [v[0] for v in versions] == [head_revision()]
    again.dispose()


def test_a_database_at_head_is_used_without_the_migration_tooling(tmp_path: Path) -> None:
    """The usual start (`factbot ask`, the console) reads the notes without importing alembic;
    the shortcut's revision is the migrations' head."""
    assert head_revision() == SCHEMA_HEAD
    url = f"sqlite:///{tmp_path / 'factbot.db'}"
    Database(url).ensure_ready()
    script = (
        "import sys; from bot.storage import Database; "
        f"db = Database({url!r}); db.ensure_ready(); print('alembic' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == "False"


def test_migrations_build_what_the_code_queries(database_url: str) -> None:
    """schema.py (what queries use) and the migrations (what creates tables) agree."""
    db = Database(database_url)
    db.ensure_ready()
    with db.reading() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        differences = compare_metadata(context, metadata)
    db.dispose()
    assert differences == []


def test_processes_starting_together_migrate_once(database_url: str) -> None:
    databases = [Database(database_url) for _ in range(3)]
    errors: list[BaseException] = []

    def migrate(db: Database) -> None:
        try:
            db.ensure_ready()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(db,)) for db in databases]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert all(db.schema_revision() == head_revision() for db in databases)
    for db in databases:
        db.dispose()


def test_a_schema_newer_than_the_code_is_one_clear_line(
    database_url: str, open_store: Callable[..., Store], caplog: pytest.LogCaptureFixture
) -> None:
    db = Database(database_url)
    db.ensure_ready()
    with db.writing() as conn, conn.begin():
        conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    db.dispose()

    with pytest.raises(SchemaTooNew) as raised:
        Database(database_url).ensure_ready()
    message = str(raised.value)
    assert "\n" not in message
    assert "9999" in message and "newer" in message and "upgrade factbot" in message

    caplog.set_level(logging.INFO, logger="factbot.storage")
    store = open_store(database_url)
    assert store.stats().state == "disabled"
    assert store.log_question(platform="slack", user_id="U1", question="q", outcome="refused")
    lines = storage_lines(caplog, logging.ERROR)
    assert len(lines) == 1 and "9999" in lines[0]
    assert store.record_vote("whatever", "U1", 1) is VoteOutcome.UNAVAILABLE


# ---------------------------------------------------------------- the question log


def test_questions_are_logged_in_the_background_and_counted(
    database_url: str, open_store: Callable[..., Store]
) -> None:
    store = open_store(database_url, batch_size=64)
    ids = log_some(store, 250)
    assert len(set(ids)) == 250
    assert store.flush(timeout=30)
    assert store.count_questions() == 250
    assert store.stats().written == 250
    with store.database.reading() as conn:
        row = conn.execute(select(question_log).where(question_log.c.answer_id == ids[4])).one()
        outcomes = dict(
            conn.execute(
                select(question_log.c.outcome, text("count(*)")).group_by(question_log.c.outcome)
            ).all()
        )
    assert row.platform == "discord" and row.guild_id == "42" and row.channel_id == "43"
    assert row.question == "question 4" and row.language == "en" and row.outcome == "refused"
    assert row.note_ids == ["svom-launch", "dorn"]
    assert row.index_version == "v1" and row.latency_ms == pytest.approx(12.5)
    assert row.lead is None
    assert outcomes == {"answered": 84, "refused": 83, "rejected": 83}


def test_rejected_reason_and_long_texts_are_kept_within_bounds(
    database_url: str, open_store: Callable[..., Store]
) -> None:
    store = open_store(database_url)
    answer_id = store.log_question(
        platform="slack",
        user_id="U0123",
        question="x" * 10_000,
        outcome="rejected",
        reason="too long " * 100,
        guild_id="T0" * 100,
    )
    assert store.flush(timeout=30)
    with store.database.reading() as conn:
        row = conn.execute(select(question_log).where(question_log.c.answer_id == answer_id)).one()
    assert 0 < len(row.question) <= 2000 and len(row.reason) <= 200 and len(row.guild_id) <= 64


def test_an_unknown_outcome_is_a_programming_error(open_store: Callable[..., Store]) -> None:
    store = open_store("sqlite://", start=False)
    with pytest.raises(ValueError):
        store.log_question(platform="discord", user_id=1, question="q", outcome="maybe")


def test_log_questions_off_writes_nothing(
    database_url: str, open_store: Callable[..., Store]
) -> None:
    store = open_store(database_url, log_questions=False)
    answer_id = store.log_question(
        platform="discord", user_id=USER, question="q", outcome="answered"
    )
    assert answer_id  # the adapters still get an id, it just leads nowhere
    assert store.flush(timeout=30)
    assert store.count_questions() == 0
    assert store.record_vote(answer_id, USER, 1) is VoteOutcome.EXPIRED


# ---------------------------------------------------------------- user ids


def test_user_ids_are_stored_only_as_keyed_hashes(
    tmp_path: Path, open_store: Callable[..., Store]
) -> None:
    path = tmp_path / "var" / "factbot.db"
    store = open_store(f"sqlite:///{path}")
    answer_id = log_some(store, 1)[0]
    store.log_question(platform="slack", user_id=USER, question="q", outcome="refused")
    assert store.record_vote(answer_id, USER, -1, "nope") is VoteOutcome.RECORDED
    assert store.flush(timeout=30)
    with store.database.reading() as conn:
        hashes = [r[0] for r in conn.execute(select(question_log.c.user_hash)).all()]
        voter = conn.execute(select(answer_votes.c.user_hash)).scalar_one()
    store.close()
    expected = hmac.new(KEY, f"discord:{USER}".encode(), hashlib.sha256).hexdigest()
    assert hashes[0] == expected and voter == expected
    assert hashes[1] != expected  # another platform: another hash for the same id
    # Nowhere in the database file (nor its WAL) is the raw id.
    for file in path.parent.iterdir():
        assert USER.encode() not in file.read_bytes(), file.name


def test_the_hash_key_is_generated_once_with_private_permissions(tmp_path: Path) -> None:
    key_file = tmp_path / "var" / "user-hash.key"
    settings = Settings.from_mapping({"USER_HASH_KEY_FILE": str(key_file)})
    first = load_key(settings.user_hash_key, settings.user_hash_key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load_key(settings.user_hash_key, settings.user_hash_key_file) == first
    assert len(first) >= 32
    configured = Settings.from_mapping(
        {"USER_HASH_KEY": "configured-secret-key-123", "USER_HASH_KEY_FILE": str(key_file)}
    )
    assert load_key(configured.user_hash_key, configured.user_hash_key_file) != first
    assert "configured-secret" not in repr(configured)
    assert "configured-secret-key-123" in configured.secrets()  # redacted from logs


def test_processes_racing_for_the_hash_key_agree(tmp_path: Path) -> None:
    key_file = tmp_path / "var" / "user-hash.key"
    keys: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: keys.append(load_key("", key_file))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keys) == 8 and len(set(keys)) == 1
    assert [p.name for p in key_file.parent.iterdir()] == ["user-hash.key"]


# ---------------------------------------------------------------- retention


def test_purge_removes_old_questions_their_votes_and_threads(
    database_url: str, open_store: Callable[..., Store]
) -> None:
    store = open_store(database_url, retention_days=90)
    now = datetime.now(UTC)
    old = log_some(store, 3, asked_at=now - timedelta(days=91))
    recent = log_some(store, 2, asked_at=now - timedelta(days=89))
    store.remember_thread("discord", "old-thread")
    assert store.flush(timeout=30)
    assert store.record_vote(recent[0], "voter", 1) is VoteOutcome.RECORDED
    with store.database.writing() as conn, conn.begin():
        # A vote cast while the old answer was still young.
        conn.execute(
            answer_votes.insert().values(
                answer_id=old[0], user_hash="h" * 64, vote=-1, voted_at=now - timedelta(days=91)
            )
        )
        conn.execute(
            text("UPDATE bot_threads SET created_at = :t"), {"t": now - timedelta(days=100)}
        )
    result = store.purge()
    assert (result.questions, result.votes, result.threads) == (3, 1, 1)
    assert store.count_questions() == 2
    assert not store.is_bot_thread("discord", "old-thread")
    assert store.record_vote(recent[0], "voter", -1) is VoteOutcome.CHANGED
    assert store.purge() == type(result)(0, 0, 0)


def test_the_writer_purges_on_its_schedule(
    database_url: str, open_store: Callable[..., Store], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="factbot.storage")
    seed = open_store(database_url)
    log_some(seed, 4, asked_at=datetime.now(UTC) - timedelta(days=400))
    assert seed.flush(timeout=30)
    seed.close()
    store = open_store(database_url, purge_every=0.05)  # the first purge runs at start
    assert wait_until(lambda: store.count_questions() == 0)
    assert any("purged 4 question(s)" in line for line in storage_lines(caplog, logging.INFO))


# ---------------------------------------------------------------- feedback


def test_one_vote_per_user_per_answer_changeable(
    database_url: str, open_store: Callable[..., Store]
) -> None:
    store = open_store(database_url)
    answer_id = log_some(store, 1)[0]
    assert store.flush(timeout=30)

    def votes() -> list[tuple[int, str | None]]:
        with store.database.reading() as conn:
            return [
                (r.vote, r.reason)
                for r in conn.execute(
                    select(answer_votes.c.vote, answer_votes.c.reason).order_by(
                        answer_votes.c.user_hash
                    )
                )
            ]

    assert store.record_vote(answer_id, "alice", -1) is VoteOutcome.RECORDED
    assert (
        store.record_vote(answer_id, "alice", -1, "  the date is wrong  ") is VoteOutcome.RECORDED
    )
    assert votes() == [(-1, "the date is wrong")]
    # The same vote again without a reason keeps the reason given.
    assert store.record_vote(answer_id, "alice", -1) is VoteOutcome.RECORDED
    assert votes() == [(-1, "the date is wrong")]
    # A changed vote drops the old reason.
    assert store.record_vote(answer_id, "alice", 1) is VoteOutcome.CHANGED
    assert votes() == [(1, None)]
    assert store.record_vote(answer_id, "bob", -1, "r" * 1000) is VoteOutcome.RECORDED
    rows = votes()
    assert len(rows) == 2 and sorted(v for v, _ in rows) == [-1, 1]
    assert all(reason is None or len(reason) <= 300 for _, reason in rows)
    with pytest.raises(ValueError):
        store.record_vote(answer_id, "bob", 0)


def test_votes_on_unknown_or_expired_answers_say_expired(
    database_url: str, open_store: Callable[..., Store]
) -> None:
    store = open_store(database_url, retention_days=30)
    old = log_some(store, 1, asked_at=datetime.now(UTC) - timedelta(days=31))[0]
    fresh = log_some(store, 1)[0]
    assert store.flush(timeout=30)
    assert store.record_vote(old, USER, 1) is VoteOutcome.EXPIRED
    assert store.record_vote("no-such-answer", USER, 1) is VoteOutcome.EXPIRED
    assert store.record_vote("x" * 200, USER, 1) is VoteOutcome.EXPIRED
    assert store.record_vote("", USER, 1) is VoteOutcome.EXPIRED
    assert store.record_vote(fresh, USER, 1) is VoteOutcome.RECORDED


def test_a_vote_on_an_answer_still_in_the_buffer_is_recorded(
    database_url: str, open_store: Callable[..., Store]
) -> None:
    store = open_store(database_url, interval=3600, batch_size=10_000)  # rows wait in memory
    answer_id = log_some(store, 1)[0]
    assert store.stats().buffered == 1
    assert store.record_vote(answer_id, USER, -1) is VoteOutcome.RECORDED
    assert store.count_questions() == 1


# ---------------------------------------------------------------- thread memory


def test_threads_the_bot_opened_are_remembered_across_a_restart(
    database_url: str, open_store: Callable[..., Store]
) -> None:
    first = open_store(database_url)
    first.remember_thread("discord", 1234567890)
    first.remember_thread("discord", 1234567890)  # twice: still one row
    first.remember_thread("slack", "1700000000.000100")
    assert first.is_bot_thread("discord", "1234567890")  # from memory
    assert first.close() == 0
    second = open_store(database_url)
    assert second.is_bot_thread("discord", 1234567890)
    assert second.is_bot_thread("slack", "1700000000.000100")
    assert not second.is_bot_thread("slack", "1234567890")
    assert not second.is_bot_thread("discord", "999")
    with second.database.reading() as conn:
        assert conn.execute(text("SELECT count(*) FROM bot_threads")).scalar_one() == 2


def test_the_threads_kept_in_memory_are_bounded_and_the_database_keeps_them_all(
    database_url: str, open_store: Callable[..., Store]
) -> None:
    store = open_store(database_url, max_threads=3)
    for thread in range(10):
        store.remember_thread("discord", thread)
    assert store.flush(timeout=30)
    assert len(store._threads) == 3  # the three most recent
    assert store.remembers_thread("discord", 9) and not store.remembers_thread("discord", 0)
    assert store.is_bot_thread("discord", 0)  # forgotten in memory, read from the database
    assert len(store._threads) == 3
    assert not store.is_bot_thread("discord", 10)


# ---------------------------------------------------------------- SQLite specifics


def test_sqlite_uses_wal_so_processes_share_the_file(
    tmp_path: Path, open_store: Callable[..., Store]
) -> None:
    url = f"sqlite:///{tmp_path / 'factbot.db'}"
    a, b = open_store(url), open_store(url)
    log_some(a, 50)
    log_some(b, 50)
    assert a.flush(timeout=30) and b.flush(timeout=30)
    assert a.count_questions() == b.count_questions() == 100
    with a.database.reading() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"


def test_an_unusable_sqlite_path_is_one_clear_line_and_the_bot_goes_on(
    tmp_path: Path, open_store: Callable[..., Store], caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the database's folder should be")
    url = f"sqlite:///{blocker / 'factbot.db'}"
    with pytest.raises(StoreUnavailable) as raised:
        Database(url).ensure_ready()
    assert "\n" not in str(raised.value)
    assert str(blocker / "factbot.db") in str(raised.value) and "writable" in str(raised.value)

    caplog.set_level(logging.INFO, logger="factbot.storage")
    store = open_store(url, retry_max=0.05)
    assert store.stats().state == "down"
    log_some(store, 20)  # no exception on the answering path
    time.sleep(0.5)  # several retries
    lines = storage_lines(caplog)
    assert len(lines) == 1, lines
    assert "writable" in lines[0] and "keeps answering" in lines[0]
    assert store.stats().buffered == 20


def test_a_locked_sqlite_database_delays_rows_without_losing_them(
    tmp_path: Path, open_store: Callable[..., Store], caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "factbot.db"
    store = open_store(f"sqlite:///{path}", retry_max=0.2)
    log_some(store, 5)
    assert store.flush(timeout=30)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    try:
        log_some(store, 10)
        assert wait_until(lambda: store.stats().state == "down", timeout=60)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert store.flush(timeout=60)
    assert store.count_questions() == 15
    # The writer logs its recovery just after the write that emptied the buffer.
    assert wait_until(lambda: len(storage_lines(caplog)) >= 2, timeout=30)
    lines = storage_lines(caplog)
    assert len(lines) == 2 and "locked" in lines[0] and "reachable again" in lines[1]


def test_a_lone_surrogate_and_control_characters_are_removed_before_storing(
    database_url: str, open_store: Callable[..., Store]
) -> None:
    store = open_store(database_url)
    store.log_question(
        platform="slack",
        user_id="U1",
        question="bad \ud800text\x00 with\x07 bell\nand a line",
        outcome="rejected",
        reason="too\udfff long",
    )
    log_some(store, 2)
    assert store.flush(timeout=30)
    rows = questions_of(store)
    assert [r["question"] for r in rows] == [
        "bad text with bell\nand a line",
        "question 0",
        "question 1",
    ]
    assert rows[0]["reason"] == "too long"


def test_a_row_the_database_will_not_take_is_dropped_counted_and_the_rest_written(
    database_url: str,
    open_store: Callable[..., Store],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Whatever slips past the cleaning (here: a lone surrogate, the cleaning switched off),
    one row the database refuses for a reason that is not an outage never stops the writer."""
    monkeypatch.setattr("bot.storage.store.storable_text", lambda text: text, raising=False)
    store = open_store(database_url, batch_size=500)
    before = log_some(store, 3)
    bad = store.log_question(
        platform="discord", user_id=USER, question="lone \ud800 surrogate", outcome="refused"
    )
    after = log_some(store, 3)
    assert store.flush(timeout=30), "the writer is stuck on the bad row"
    assert [r["answer_id"] for r in questions_of(store)] == before + after
    assert bad not in {r["answer_id"] for r in questions_of(store)}
    stats = store.stats()
    assert stats.rejected == 1 and stats.state == "up" and stats.buffered == 0
    (dropped,) = [line for line in storage_lines(caplog) if "cannot be written" in line]
    assert "1 row(s) dropped so far" in dropped
    metrics = Metrics(process=False)
    metrics.watch_store(store.stats)
    lost = metrics.registry.get_sample_value
    assert lost("factbot_store_rows_dropped_total", {"reason": "unwritable"}) == 1
    assert lost("factbot_store_rows_dropped_total", {"reason": "buffer_full"}) == 0
    # And the writer goes on: later rows, and votes, still arrive.
    (later,) = log_some(store, 1)
    assert store.flush(timeout=30)
    assert store.record_vote(later, "voter", 1) is VoteOutcome.RECORDED


def test_the_purge_runs_while_the_writer_is_stuck(
    database_url: str, open_store: Callable[..., Store]
) -> None:
    """The retention purge has its own timer: a write that never returns cannot hold it."""
    store = open_store(database_url, purge_every=0.05, retention_days=90)
    release = threading.Event()
    stuck = threading.Event()

    def never_returns(ops: list[Any]) -> None:
        stuck.set()
        release.wait(60)

    monkeypatch_write(store, never_returns)
    try:
        log_some(store, 1)
        assert stuck.wait(30)
        old = datetime.now(UTC) - timedelta(days=91)
        with store.database.writing() as conn, conn.begin():
            conn.execute(
                question_log.insert(),
                [
                    {
                        "answer_id": f"old-{i}",
                        "asked_at": old,
                        "platform": "discord",
                        "user_hash": "h" * 64,
                        "question": "old",
                        "outcome": "answered",
                        "note_ids": [],
                    }
                    for i in range(3)
                ],
            )
        assert wait_until(lambda: store.count_questions() == 0)
    finally:
        release.set()


def monkeypatch_write(store: Store, write: Callable[[list[Any]], None]) -> None:
    """Replace the function the store's writer thread writes batches with."""
    store._writer._write = write


def questions_of(store: Store) -> list[dict[str, Any]]:
    with store.database.reading() as conn:
        rows = conn.execute(select(question_log).order_by(question_log.c.id)).mappings().all()
    return [dict(r) for r in rows]


def test_the_sqlite_file_and_its_folder_are_owner_only(
    tmp_path: Path, open_store: Callable[..., Store]
) -> None:
    folder = tmp_path / "var"
    store = open_store(f"sqlite:///{folder / 'factbot.db'}")
    log_some(store, 1)
    assert store.flush(timeout=30)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = sorted(p.name for p in folder.iterdir())
    assert "factbot.db" in files and "factbot.db-wal" in files
    for name in files:
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name

    # The project's var/ made first by someone else (the index build) is made owner-only too;
    # any other folder is left as it is (it may be shared).
    for name, expected in (("var", 0o700), ("shared", 0o755)):
        other = tmp_path / "again" / name
        other.mkdir(parents=True, mode=0o755)
        other.chmod(0o755)
        again = open_store(f"sqlite:///{other / 'factbot.db'}")
        assert again.flush(timeout=30)
        assert stat.S_IMODE(other.stat().st_mode) == expected, name
        assert stat.S_IMODE((other / "factbot.db").stat().st_mode) == 0o600


def test_a_dm_keeps_no_channel_id(database_url: str, open_store: Callable[..., Store]) -> None:
    """A DM channel id identifies one user: a question in a DM is stored without it."""
    store = open_store(database_url)
    store.log_question(
        platform="discord", user_id=USER, question="in a DM", outcome="refused", channel_id=777
    )
    log_some(store, 1)  # in a server: its channel is kept
    assert store.flush(timeout=30)
    dm, server = questions_of(store)
    assert (dm["guild_id"], dm["channel_id"]) == (None, None)
    assert (server["guild_id"], server["channel_id"]) == ("42", "43")


def test_a_full_buffer_drops_the_oldest_rows_and_counts_them(
    tmp_path: Path, open_store: Callable[..., Store], caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    store = open_store(f"sqlite:///{blocker / 'db.sqlite'}", capacity=100, retry_max=0.05)
    ids = log_some(store, 150)
    assert wait_until(lambda: store.stats().buffered == 100 and store.stats().dropped == 50)
    kept = {row["answer_id"] for _, row in store._writer.pending()}
    assert kept == set(ids[50:])  # the newest
    drops = [line for line in storage_lines(caplog) if "dropped the oldest" in line]
    assert len(drops) == 1  # one warning, not one per row (the next one at most a minute later)
    assert store.close(timeout=0.2) == 100


def test_a_database_password_never_reaches_a_log_line() -> None:
    settings = Settings.from_mapping(
        {"DATABASE_URL": "postgresql://bot:hunter2-pass@127.0.0.1:1/factbot"}
    )
    assert "hunter2" not in repr(settings)
    assert settings.secrets() == ("hunter2-pass",)  # the log filter redacts it
    db = Database(settings.database_url)
    assert "hunter2" not in db.display_url and db.url.drivername == "postgresql+psycopg"
    with pytest.raises(StoreUnavailable) as raised:
        db.ensure_ready()  # nothing listens on port 1
    assert "hunter2" not in str(raised.value) and "unreachable" in str(raised.value)
    db.dispose()


def test_a_batch_being_written_is_still_pending() -> None:
    """A row the writer has taken but not committed is pending: a vote on its answer waits for
    it (flush) instead of being told the answer expired."""
    entered, release = threading.Event(), threading.Event()
    written: list[list[str]] = []

    def write(batch: list[str]) -> None:
        entered.set()
        assert release.wait(30)
        written.append(batch)

    writer: BatchWriter[str] = BatchWriter(write, interval=0.01)
    writer.start()
    try:
        writer.put("row-1")
        assert entered.wait(30)  # taken from the buffer, being written
        assert writer.pending() == ["row-1"]
        writer.put("row-2")
        assert writer.pending() == ["row-1", "row-2"]
        release.set()
        assert writer.flush(timeout=30)
        assert writer.pending() == []
        assert [row for batch in written for row in batch] == ["row-1", "row-2"]
    finally:
        release.set()
        writer.close(timeout=5)
