"""The store's errors: each message is one line an operator can act on."""

from __future__ import annotations


class StorageError(RuntimeError):
    """The store cannot be used; `str()` is one line for the operator."""


class StoreUnavailable(StorageError):
    """The database cannot be reached or written now (down, locked, unwritable path)."""


class SchemaTooNew(StorageError):
    """The database was migrated by a newer factbot than this one: writing could corrupt it."""
