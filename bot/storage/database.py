"""One database behind a SQLAlchemy engine: URL handling, SQLite pragmas, migrations at start-up.

`Database(url)` never connects by itself; `ensure_ready()` connects, refuses a schema newer than
this code (`SchemaTooNew`) and applies the missing Alembic migrations, once per process. Every
error becomes one line naming the database (password hidden) and what is wrong.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, Table, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    NoSuchModuleError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import ConnectionPoolEntry

from bot.storage.errors import SchemaTooNew, StorageError, StoreUnavailable
from bot.storage.schema import SCHEMA_HEAD, VERSION_TABLE

# Alembic logs every plugin it sets up, "Context impl ..." and every step at INFO; the store
# logs one line instead. Set before alembic's first import so that none of it shows.
logging.getLogger("alembic").setLevel(logging.WARNING)

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger("factbot.storage")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any constant: PostgreSQL advisory lock taken while migrating, so that several processes
# starting together migrate one after the other.
_MIGRATION_LOCK = 0x66616374626F74  # "factbot"
SQLITE_BUSY_TIMEOUT_MS = 5000


def normalise_url(raw: str) -> URL:
    """Parse DATABASE_URL; plain `postgresql://` (or `postgres://`) uses psycopg 3."""
    try:
        url = make_url(raw)
    except ArgumentError as exc:
        raise StorageError(
            "DATABASE_URL is not a database URL (expected sqlite:///path or "
            "postgresql://user:password@host/db)"
        ) from exc
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise StorageError(f"DATABASE_URL: {backend!r} is not supported (sqlite or postgresql)")
    return url


def describe(exc: BaseException) -> str:
    """The first line of a database error, without SQL or SQLAlchemy's help link."""
    inner = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = [line.strip() for line in str(inner).splitlines() if line.strip()]
    return lines[0] if lines else type(inner).__name__


def private_file(path: Path) -> None:
    """Make the SQLite file owner-only before SQLite opens it: the file is created 0600 (SQLite
    gives its -wal and -shm files the file's mode), and a file of ours found open to others is
    made 0600. Its folder, when created here, is 0700; the project's own `var/` (often created
    first by the index build) is made 0700 too when it is ours. Any other existing folder is
    left as it is: it may be shared (/tmp)."""
    folder = path.parent
    if not folder.exists():
        folder.mkdir(parents=True, mode=0o700, exist_ok=True)  # exist_ok: a racing process
    elif folder.name == "var" and folder.is_dir():
        info = folder.stat()
        mode = stat.S_IMODE(info.st_mode)
        if info.st_uid == os.getuid() and mode & 0o077 and not mode & stat.S_ISVTX:
            os.chmod(folder, 0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.close(fd)
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        os.chmod(path, 0o600)


def is_outage(exc: BaseException) -> bool:
    """Does `exc` say the database cannot be reached or written now (down, locked, disk full,
    read-only, connection lost), as opposed to a statement or a row it will never take?"""
    if isinstance(exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeout):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OSError)


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration without an alembic.ini: the packaged migration scripts."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest schema revision this code knows."""
    from alembic.script import ScriptDirectory

    _quiet_alembic()
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return str(head)


class Database:
    """A SQLite file or a PostgreSQL database, migrated to this code's schema on first use."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.display_url = self.url.render_as_string(hide_password=True)
        self.dialect = self.url.get_backend_name()
        self._ready = False
        self._lock = threading.Lock()
        self.engine = self._create_engine()

    def _create_engine(self) -> Engine:
        try:
            if self.dialect == "sqlite":
                return self._sqlite_engine()
            return create_engine(
                self.url,
                pool_pre_ping=True,  # a server restarted since the last use: reconnect quietly
                pool_size=4,
                max_overflow=4,
                connect_args={"connect_timeout": 5},
            )
        except (NoSuchModuleError, ImportError) as exc:
            raise StorageError(f"DATABASE_URL {self.display_url}: driver missing ({exc})") from exc

    def _sqlite_engine(self) -> Engine:
        database = self.url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            # An unwritable folder fails later, in ensure_ready, with one line.
            with contextlib.suppress(OSError):
                private_file(Path(database))
        engine = create_engine(self.url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

        def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
            # SQLAlchemy emits BEGIN itself (below): sqlite3's legacy mode would run DDL
            # outside the migration's transaction.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            try:
                # WAL: readers never block the writer, so several processes on one host share
                # the file; NORMAL is durable across application crashes in WAL mode.
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
                cursor.execute("PRAGMA foreign_keys=ON")
            finally:
                cursor.close()

        def _on_begin(conn: Connection) -> None:
            # A writing transaction takes the write lock at once (BEGIN IMMEDIATE): a read
            # followed by a write could otherwise fail with SQLITE_BUSY under contention
            # instead of waiting busy_timeout.
            immediate = conn.get_execution_options().get("factbot_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        event.listen(engine, "connect", _on_connect)
        event.listen(engine, "begin", _on_begin)
        return engine

    # ------------------------------------------------------------------ connections

    def writing(self) -> Connection:
        """A connection whose transactions write (SQLite: BEGIN IMMEDIATE)."""
        return self.engine.connect().execution_options(factbot_write=True)

    def reading(self) -> Connection:
        return self.engine.connect()

    def insert(self, table: Table) -> Any:
        """The dialect's INSERT, which has `on_conflict_do_nothing/do_update` on both."""
        return (sqlite.insert if self.dialect == "sqlite" else postgresql.insert)(table)

    # ------------------------------------------------------------------ schema

    @property
    def ready(self) -> bool:
        return self._ready

    def ensure_ready(self) -> None:
        """Connect and migrate once; raises `StoreUnavailable` or `SchemaTooNew` (one line)."""
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            # A database already at this code's schema (the usual start) needs no migration
            # tooling: alembic is imported only to migrate.
            if self._at_head():
                self._ready = True
                return
            # Two processes creating the same SQLite schema at once: the loser fails on
            # "table exists" and sees the winner's revision when it tries again.
            for attempt in range(3):
                try:
                    self._migrate()
                    break
                except SchemaTooNew:
                    raise
                except (SQLAlchemyError, OSError) as exc:
                    if attempt == 2 or not self._reachable():
                        raise self.unavailable(exc) from exc
                    time.sleep(0.2 * (attempt + 1))
            self._ready = True

    def _at_head(self) -> bool:
        """Is the schema exactly this code's newest revision? False when it cannot be told."""
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
        except (SQLAlchemyError, OSError):
            return False
        return [r[0] for r in rows] == [SCHEMA_HEAD]

    def _reachable(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except (SQLAlchemyError, OSError):
            return False

    def unavailable(self, exc: BaseException) -> StoreUnavailable:
        reason = describe(exc)
        if self.dialect == "sqlite" and ("locked" in reason or "busy" in reason):
            return StoreUnavailable(
                f"the SQLite database {self.url.database} is locked by another process ({reason})"
            )
        if self.dialect == "sqlite":
            return StoreUnavailable(
                f"cannot use the SQLite database {self.url.database} ({reason}): check that its "
                "folder exists and is writable, or set DATABASE_URL"
            )
        return StoreUnavailable(f"database {self.display_url} is unreachable ({reason})")

    def _migrate(self) -> None:
        from alembic import command
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        head = head_revision()
        with self.writing() as conn, conn.begin():
            if self.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
            current = MigrationContext.configure(
                conn, opts={"version_table": VERSION_TABLE}
            ).get_current_heads()
            known = {
                s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()
            }
            newer = [rev for rev in current if rev not in known]
            if newer:
                raise SchemaTooNew(
                    f"the schema of {self.display_url} is at revision {newer[0]}, newer than this "
                    f"factbot (which knows up to {head}): upgrade factbot, or point DATABASE_URL "
                    "at another database"
                )
            if tuple(current) == (head,):
                return
            command.upgrade(alembic_config(conn), "head")
        log.info(
            "storage: %s migrated from %s to schema %s",
            self.display_url,
            current[0] if current else "empty",
            head,
        )

    def schema_revision(self) -> str | None:
        """The revision the database is at (None: never migrated)."""
        from alembic.runtime.migration import MigrationContext

        with self.reading() as conn:
            heads = MigrationContext.configure(
                conn, opts={"version_table": VERSION_TABLE}
            ).get_current_heads()
        return heads[0] if heads else None

    def dispose(self) -> None:
        self.engine.dispose()


def _quiet_alembic() -> None:
    # Alembic logs "Context impl ..." and every step at INFO; the store logs one line instead.
    logging.getLogger("alembic").setLevel(logging.WARNING)
