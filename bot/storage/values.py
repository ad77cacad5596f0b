"""How values are stored: UTC times, and text without what a database cannot hold.

Shared by the store (bot/storage/store.py) and the loop's tables (bot/storage/loop.py).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite gives naive datetimes back; every stored time is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# What a database cannot or should not hold: lone surrogates (not encodable as UTF-8: the row
# would fail on every try), NUL (PostgreSQL refuses it in text) and the other control characters
# (tab and newline are kept: they are text).
_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def storable_text(text: str) -> str:
    """`text` as it is stored: without lone surrogates, NUL or other control characters. Every
    text the store writes goes through here."""
    return _UNSTORABLE.sub("", text)


def clip(value: str | int | None, limit: int) -> str | None:
    """`value` as storable text of at most `limit` characters (None stays None)."""
    if value is None:
        return None
    text = storable_text(str(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"
