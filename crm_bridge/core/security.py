"""Passwords, agent session tokens, service API keys and signed site identities."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
from pwdlib import PasswordHash
from pydantic import SecretStr

ALGORITHM = "HS256"
_hasher = PasswordHash.recommended()  # argon2id


def hash_password(password: str) -> str:
    """Hash a password for storage."""
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    """Check a password against its stored hash (constant time)."""
    return _hasher.verify(password, password_hash)


def create_access_token(
    subject: str, role: str, secret: str, expires: timedelta, session_id: str
) -> str:
    """A signed, short-lived access token for an agent, naming their log-in session."""
    now = datetime.now(UTC)
    payload = {
        "sub": subject,
        "role": role,
        "sid": session_id,
        "iat": now,
        "exp": now + expires,
        "jti": secrets.token_hex(8),  # two tokens issued in one second still differ
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def decode_access_token(token: str, secret: str) -> dict:
    """The token's claims; raises ``jwt.InvalidTokenError`` if forged, expired or sessionless.

    Tokens without a session id (issued before sessions existed) are refused: nothing could
    revoke them.
    """
    return jwt.decode(
        token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "sid", "exp"]}
    )


def new_refresh_token(session_id: str) -> str:
    """An opaque refresh token for a session: ``<session id>.<256 random bits>``."""
    return f"{session_id}.{secrets.token_urlsafe(32)}"


def session_of_refresh_token(token: str) -> str | None:
    """The session id a refresh token names, or None when it is not shaped like one."""
    session_id, dot, rest = token.partition(".")
    if not dot or not rest or len(session_id) != 32 or len(token) > 200:
        return None
    return session_id


def token_hash(token: str) -> str:
    """SHA-256 (hex) of a high-entropy token: what is stored instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def generate_password() -> str:
    """A random password to hand out once (about 100 bits, easy to type: no 0/O, 1/l/I)."""
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    groups = ["".join(secrets.choice(alphabet) for _ in range(6)) for _ in range(3)]
    return "-".join(groups)


def keys_match(given: str, expected: str) -> bool:
    """Compare secrets in constant time."""
    return hmac.compare_digest(given.encode(), expected.encode())


def sign_site_user(secret: str | SecretStr, user_id: str, expires: int) -> str:
    """The signature a host website passes with a logged-in user's id and its expiry.

    ``HMAC-SHA256(secret, f"{user_id}:{expires}")`` over UTF-8, lowercase hex (64 characters),
    ``expires`` in Unix seconds. The shop computes it on its server when it renders the page;
    Rasa's widget channel checks it on every message (``bot/channels/site_identity.py``, which
    ``tests/bot/test_site_identity.py`` holds to the same result). The bridge signs only the
    demo shop's user with it.
    """
    key = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    message = f"{user_id}:{expires}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def read_or_create_secret(path: Path) -> str:
    """A secret stored in ``path`` (mode 0600, folder 0700), generated on first use.

    A file holding several (one per line, during a rotation) gives its first, current one.
    """
    return read_or_create_secrets(path)[0]


def read_or_create_secrets(path: Path) -> list[str]:
    """Every secret of ``path``, one per line, the current one first (created on first use)."""
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # O_EXCL: two processes starting together must not overwrite each other's secret.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(32))
    # The loser of that race may find the file created but not written yet: wait for it.
    for _ in range(100):
        if lines := [line.strip() for line in path.read_text().splitlines() if line.strip()]:
            return lines
        time.sleep(0.01)
    raise RuntimeError(f"the secret file {path} is empty: delete it to generate a new one")


def rotate_secret(path: Path) -> str:
    """Put a new secret first in ``path``, keeping the old ones valid until they are retired."""
    old = read_or_create_secrets(path)
    new = secrets.token_urlsafe(32)
    _write_secrets(path, [new, *old])
    return new


def retire_secrets(path: Path) -> int:
    """Keep only the current secret of ``path``; how many older ones were dropped."""
    current, *older = read_or_create_secrets(path)
    _write_secrets(path, [current])
    return len(older)


def _write_secrets(path: Path, values: list[str]) -> None:
    # Written beside and renamed over: a reader sees the old file or the new, never half.
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(values) + "\n")
    os.replace(partial, path)


class SecretFile:
    """The secrets of one file, read again whenever the file changes (rotation, no restart)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[float, int] | None = None
        self._values: list[str] = []

    def all(self) -> list[str]:
        """Every valid secret, the current one first (the file is created on first use)."""
        seen = self._stat()
        if seen is None or seen != self._seen or not self._values:
            self._values = read_or_create_secrets(self.path)
            # The state seen *before* reading: a rotation landing in between is read next time.
            self._seen = seen if seen is not None else self._stat()
        return self._values

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        # A rotation replaces the file (new inode), so even a same-size write in the same
        # clock tick is seen.
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)

    @property
    def current(self) -> str:
        """The secret to sign or send with."""
        return self.all()[0]


def any_key_matches(given: str, expected: list[str]) -> bool:
    """Whether ``given`` is one of ``expected`` (each compared in constant time)."""
    return any(keys_match(given, key) for key in expected if key)
