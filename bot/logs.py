"""Logging set-up: one format for every entry point, with secrets redacted from every record and
platform ids hidden from the libraries' records."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import sys
from collections.abc import Iterable
from typing import TextIO

_REDACTED = "[redacted]"

# Log lines name a chat user by a keyed hash, never by the platform's id: the key lives only in
# this process, so one user's lines can be followed within a run, and no log links to anyone.
_USER_TAG_KEY = secrets.token_bytes(32)


def user_tag(platform: str, user_id: object) -> str:
    """How log lines name a chat user: `user#` and 8 hex digits of a keyed hash of the id."""
    digest = hmac.new(_USER_TAG_KEY, f"{platform}:{user_id}".encode(), hashlib.sha256)
    return f"user#{digest.hexdigest()[:8]}"


def channel_tag(platform: str, channel_id: object, direct: bool) -> str:
    """How log lines name a channel: its id, but a direct message by `dm#` and a keyed hash (a
    DM channel stands for the one user in it)."""
    if not direct:
        return str(channel_id)
    digest = hmac.new(_USER_TAG_KEY, f"{platform}:dm:{channel_id}".encode(), hashlib.sha256)
    return f"dm#{digest.hexdigest()[:8]}"


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


# Platform ids as they appear in libraries' log lines: Discord snowflakes (17 to 20 digits) and
# Slack user, workspace-user and DM channel ids (U…, W…, D…: upper-case letters and digits).
_PLATFORM_ID = re.compile(r"(?<![\w.])(?:\d{17,20}|[UWD](?=[A-Z0-9]*\d)[A-Z0-9]{8,})(?![\w.])")


class HidePlatformIds(logging.Filter):
    """Libraries log what they receive (discord.py every gateway event at DEBUG, slack_bolt
    payloads it does not handle), user and DM channel ids included: in their records every
    such id becomes `id#` and a keyed hash (the same within a run, so lines still correlate).
    factbot's own lines name users by `user_tag` and are left alone."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "factbot" or record.name.startswith("factbot."):
            return True
        message = record.getMessage()
        clean = _PLATFORM_ID.sub(_hashed_id, message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _PLATFORM_ID.sub(_hashed_id, record.exc_text)
        return True


def _hashed_id(match: re.Match[str]) -> str:
    digest = hmac.new(_USER_TAG_KEY, f"id:{match.group()}".encode(), hashlib.sha256)
    return f"id#{digest.hexdigest()[:8]}"


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


def log_handler(stream: TextIO, secrets: Iterable[str] = ()) -> logging.Handler:
    """The handler of factbot's log: one format, libraries quieted, secrets redacted."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(QuietLibraries())
    handler.addFilter(HidePlatformIds())
    handler.addFilter(RedactSecrets(secrets))
    return handler


def setup_logging(level: str, secrets: Iterable[str] = ()) -> None:
    """Configure the root logger on stderr, redacting `secrets`; quiet noisy libraries."""
    handler = log_handler(sys.stderr, secrets)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
