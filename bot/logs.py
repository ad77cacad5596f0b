"""Logging set-up: one format for every entry point, with secrets redacted from every record."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import sys
from collections.abc import Iterable

_REDACTED = "[redacted]"

# Log lines name a chat user by a keyed hash, never by the platform's id: the key lives only in
# this process, so one user's lines can be followed within a run, and no log links to anyone.
_USER_TAG_KEY = secrets.token_bytes(32)


def user_tag(platform: str, user_id: object) -> str:
    """How log lines name a chat user: `user#` and 8 hex digits of a keyed hash of the id."""
    digest = hmac.new(_USER_TAG_KEY, f"{platform}:{user_id}".encode(), hashlib.sha256)
    return f"user#{digest.hexdigest()[:8]}"


class RedactSecrets(logging.Filter):
    """Replace every configured secret (tokens, signing secret) in a record by '[redacted]'."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = tuple(s for s in secrets if len(s) >= 6)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        clean = message
        for secret in self._secrets:
            clean = clean.replace(secret, _REDACTED)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        exc_text = record.exc_text
        if exc_text:
            for secret in self._secrets:
                exc_text = exc_text.replace(secret, _REDACTED)
            record.exc_text = exc_text
        if clean != message:
            record.msg, record.args = clean, ()
        return True


_NOISY = ("sentence_transformers", "transformers", "httpx", "bm25s", "faiss", "urllib3", "filelock")


# Warnings that say nothing to a factbot operator: voice support (unused), bolt noticing the
# bot token in the environment besides the client factbot configured, and sentence-transformers'
# deprecation of an attribute the OpenVINO export's tracing reads.
_HARMLESS = ("voice will NOT be supported", "will be unused", "_target_device` has been deprecated")


class QuietLibraries(logging.Filter):
    """Drop libraries' chatter below WARNING (some reset their own logger levels)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith(("discord", "slack_bolt", "sentence_transformers")) and any(
            text in str(record.msg) for text in _HARMLESS
        ):
            return False
        return record.levelno >= logging.WARNING or not record.name.startswith(_NOISY)


def setup_logging(level: str, secrets: Iterable[str] = ()) -> None:
    """Configure the root logger on stderr, redacting `secrets`; quiet noisy libraries."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(QuietLibraries())
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
