"""Storage: the question log, feedback votes and thread memory (SQLAlchemy Core + Alembic).

`Store` is the one interface the rest of the bot uses; `build_report` reads it for moderators.
SQLite by default (`DATABASE_URL=sqlite:///var/factbot.db`), PostgreSQL for several hosts.

Importing the package (or its light modules: errors, hashing, values, notes, note_rows) loads no
SQLAlchemy: `Database`, `Store` and the store's records load at their first use here, so that a
start that finds its index current (`factbot ask`) never pays for SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.storage.errors import SchemaTooNew, StorageError, StoreUnavailable

if TYPE_CHECKING:
    from bot.storage.database import Database
    from bot.storage.store import PurgeResult, Store, VoteOutcome, new_answer_id

__all__ = [
    "Database",
    "PurgeResult",
    "SchemaTooNew",
    "StorageError",
    "Store",
    "StoreUnavailable",
    "VoteOutcome",
    "new_answer_id",
]

_FROM_STORE = frozenset({"PurgeResult", "Store", "VoteOutcome", "new_answer_id"})


def __getattr__(name: str) -> Any:
    """The SQLAlchemy-backed names, imported at their first use (PEP 562)."""
    if name == "Database":
        from bot.storage.database import Database

        return Database
    if name in _FROM_STORE:
        from bot.storage import store

        return getattr(store, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
