"""The shop's signed user on the website widget: checked on each message, never stored.

The shop's server signs its logged-in user for the widget::

    user_hash = hex(HMAC-SHA256(site identity secret, f"{user_id}:{user_expires}"))

with ``user_expires`` in Unix seconds, and the page passes ``user_id``, ``user_expires`` and
``user_hash`` as the widget's ``customData``. The widget channel checks them here on every
message: a claim that is incomplete, badly signed, expired, or that expires further ahead than
:data:`DEFAULT_MAX_TTL` allows is refused with a reason the shop's developer can act on (the
customer goes on anonymously). Either way the hash is dropped before Rasa sees the message
(:mod:`channels.keys`), so no store or backup holds it.

Several secrets may be valid at once (comma-separated; the shop signs with any of them), so a
secret can be rotated without refusing the pages already open.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

DEFAULT_MAX_TTL = 86_400
"""Claims may expire at most this many seconds ahead (a day): a claim signed to expire in a
year would be a password that never changes."""
CLOCK_SKEW = 60
"""Seconds a claim stays good past its expiry, for clocks a little apart."""
MAX_USER_ID = 255


@dataclass(frozen=True)
class SiteClaim:
    """The outcome of checking one message's claim."""

    user_id: str | None = None
    """The shop's user, when the claim holds."""
    reason: str | None = None
    """Why it was refused: incomplete, bad_signature, expired or expiry_too_far."""
    detail: str = ""
    """What the shop's developer should do (English, safe to show: no secret, no hash)."""


def sign(secret: str, user_id: str, expires: int) -> str:
    """The hash a shop's server computes (as in the docs' Python example)."""
    message = f"{user_id}:{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _when(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _expiry(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 12:
        return int(value)
    return None


def check(
    secrets: list[str],
    data: dict[str, Any] | None,
    *,
    max_ttl: int = DEFAULT_MAX_TTL,
    now: float | None = None,
) -> SiteClaim:
    """Check the signed user in a message's ``customData`` (no claim: an empty result)."""
    data = data or {}
    user_id, expires_at, user_hash = (data.get(k) for k in ("user_id", "user_expires", "user_hash"))
    if user_id is None and user_hash is None and expires_at is None:
        return SiteClaim()
    expires = _expiry(expires_at)
    if (
        not isinstance(user_id, str)
        or not user_id
        or len(user_id) > MAX_USER_ID
        or not isinstance(user_hash, str)
        or expires is None
    ):
        return SiteClaim(
            reason="incomplete",
            detail="customData needs user_id (a string of at most 255 characters), "
            "user_expires (Unix seconds) and user_hash together",
        )
    current = int(time.time() if now is None else now)
    good = any(
        secret
        and hmac.compare_digest(user_hash.lower().encode(), sign(secret, user_id, expires).encode())
        for secret in secrets
    )
    if not good:
        return SiteClaim(
            reason="bad_signature",
            detail="user_hash is not hex(HMAC-SHA256(site identity secret, "
            '"<user_id>:<user_expires>")); check the secret and the signed text',
        )
    if expires + CLOCK_SKEW < current:
        return SiteClaim(
            reason="expired",
            detail=f"the signed user expired at {_when(expires)} (server time {_when(current)}); "
            "sign a fresh claim when rendering the page and renew it with CSAWidget.setUser "
            "before it expires",
        )
    if expires - current > max_ttl:
        return SiteClaim(
            reason="expiry_too_far",
            detail=f"user_expires is {expires - current} s ahead; claims may expire at most "
            f"{max_ttl} s after they are checked: sign shorter-lived claims",
        )
    return SiteClaim(user_id=user_id)
