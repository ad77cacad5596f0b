"""Storage: the question log, feedback votes and thread memory (SQLAlchemy Core + Alembic).

`Store` is the one interface the rest of the bot uses; `build_report` reads it for moderators.
SQLite by default (`DATABASE_URL=sqlite:///var/factbot.db`), PostgreSQL for several hosts.
"""

from __future__ import annotations

from bot.storage.database import Database
from bot.storage.errors import SchemaTooNew, StorageError, StoreUnavailable
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
