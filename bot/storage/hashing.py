"""Keyed hashes of user ids: the store never sees a raw Discord or Slack user id.

HMAC-SHA256 with a secret key, so a hash cannot be reversed by hashing every possible id (user
ids are small, guessable numbers). The key is `USER_HASH_KEY`, or one generated once into
`USER_HASH_KEY_FILE` (mode 0600) when that setting is empty.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import secrets
import stat
from pathlib import Path

from bot.storage.errors import StorageError

log = logging.getLogger("factbot.storage")

_KEY_BYTES = 32
_NONCE = 16
_TAG = 16


class UserHasher:
    """`hasher(platform, user_id)` → 64 hex characters, stable for one key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise StorageError("USER_HASH_KEY must be at least 16 characters long")
        self._key = key

    def __call__(self, platform: str, user_id: str | int) -> str:
        # The platform is part of the message: a Discord and a Slack id never share a hash.
        message = f"{platform}:{user_id}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    # A subscriber's DM target must be readable again to reply there, yet no table may hold a
    # platform id in clear: it is sealed with subkeys of the same host key (HMAC-SHA256 in
    # counter mode as the stream, then HMAC-SHA256 over nonce and ciphertext: encrypt-then-MAC,
    # standard library only). Another key, or a changed byte, opens nothing.

    def _subkey(self, purpose: bytes) -> bytes:
        return hmac.new(self._key, b"factbot-seal:" + purpose, hashlib.sha256).digest()

    def _stream(self, nonce: bytes, length: int) -> bytes:
        key = self._subkey(b"stream")
        blocks = (length + 31) // 32
        return b"".join(
            hmac.new(key, nonce + i.to_bytes(4, "big"), hashlib.sha256).digest()
            for i in range(blocks)
        )[:length]

    def seal(self, plain: str) -> str:
        """`plain` encrypted and authenticated with the host key (URL-safe text)."""
        data = plain.encode()
        nonce = secrets.token_bytes(_NONCE)
        body = bytes(a ^ b for a, b in zip(data, self._stream(nonce, len(data)), strict=True))
        tag = hmac.new(self._subkey(b"mac"), nonce + body, hashlib.sha256).digest()[:_TAG]
        return base64.urlsafe_b64encode(nonce + body + tag).decode()

    def unseal(self, sealed: str) -> str | None:
        """What `seal` sealed, or None (another key, or a damaged value)."""
        try:
            raw = base64.urlsafe_b64decode(sealed.encode())
        except (binascii.Error, ValueError):
            return None
        if len(raw) < _NONCE + _TAG:
            return None
        nonce, body, tag = raw[:_NONCE], raw[_NONCE:-_TAG], raw[-_TAG:]
        mac = hmac.new(self._subkey(b"mac"), nonce + body, hashlib.sha256).digest()[:_TAG]
        if not hmac.compare_digest(mac, tag):
            return None
        plain = bytes(a ^ b for a, b in zip(body, self._stream(nonce, len(body)), strict=True))
        return plain.decode(errors="replace")


def load_key(configured: str, key_file: Path) -> bytes:
    """The configured key, else the one in `key_file`, created (0600) when missing."""
    if configured:
        return configured.encode()
    try:
        return _read_or_create(key_file)
    except OSError as exc:
        raise StorageError(
            f"cannot read or create the user hash key {key_file} ({exc.strerror or exc}): "
            "set USER_HASH_KEY, or make the folder writable"
        ) from exc


def _read_or_create(path: Path) -> bytes:
    if not path.exists():
        # var/ on a fresh clone: owner-only, like the key (an existing folder is left as is).
        path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
        # Written to a private temporary file, then hard-linked into place: the link fails if
        # another process won the race, and nobody ever reads a half-written key.
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(_KEY_BYTES) + "\n")
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, path)
                log.info("storage: generated the user hash key %s (mode 0600)", path)
            except FileExistsError:
                pass
        finally:
            tmp.unlink(missing_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("storage: %s is readable by others (mode %o): chmod 600 it", path, mode)
    key = path.read_text(encoding="utf-8").strip()
    if len(key) < 32:
        raise StorageError(f"the user hash key file {path} is empty or truncated: delete it")
    return key.encode()
