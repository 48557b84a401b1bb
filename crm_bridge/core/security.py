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


def create_access_token(subject: str, role: str, secret: str, expires: timedelta) -> str:
    """A signed session token for an agent."""
    now = datetime.now(UTC)
    payload = {"sub": subject, "role": role, "iat": now, "exp": now + expires}
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def decode_access_token(token: str, secret: str) -> dict:
    """The token's claims; raises ``jwt.InvalidTokenError`` if forged or expired."""
    return jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp"]})


def keys_match(given: str, expected: str) -> bool:
    """Compare secrets in constant time."""
    return hmac.compare_digest(given.encode(), expected.encode())


def sign_site_user(secret: str | SecretStr, user_id: str) -> str:
    """The signature a host website passes with a logged-in user's id.

    ``HMAC-SHA256(secret, user_id)`` over the UTF-8 bytes of both, as lowercase hex (64
    characters). The site computes it on its server and hands ``user_id`` and this hash to the
    widget; ``POST /api/v1/bot/identify`` checks it.
    """
    key = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    return hmac.new(key.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def verify_site_user(secret: str | SecretStr, user_id: str, user_hash: str) -> bool:
    """Whether ``user_hash`` is the site's signature of ``user_id`` (constant time).

    Hex digits are compared case-insensitively (the canonical form is lowercase).
    """
    return keys_match(user_hash.lower(), sign_site_user(secret, user_id))


def read_or_create_secret(path: Path) -> str:
    """A secret stored in ``path`` (mode 0600, folder 0700), generated on first use."""
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
        if secret := path.read_text().strip():
            return secret
        time.sleep(0.01)
    raise RuntimeError(f"the secret file {path} is empty: delete it to generate a new one")
