"""Website widget session tokens, as Rasa's widget channel issues them.

A token is ``<session id>.<secret>`` where the secret is an HMAC of the id with the widget
session key (``bot/channels/widget_sessions.py`` issues them and documents the format; the
tests check that both sides agree). The history route serves a session's transcript only to
the holder of its token; the id alone, which agents and logs may see, is not enough.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

SESSION_ID = re.compile(r"^w_[0-9a-f]{32}$")
MAX_TOKEN = 200
HEADER = "X-Widget-Session"
_CONTEXT = b"csa-widget-session:"


def session_of(token: str | None, keys: list[str]) -> str | None:
    """The session id of a valid ``token`` (signed with any of ``keys``), else ``None``."""
    if not token or len(token) > MAX_TOKEN:
        return None
    session_id, _, given = token.partition(".")
    if not SESSION_ID.match(session_id) or not given:
        return None
    for key in keys:
        digest = hmac.new(key.encode(), _CONTEXT + session_id.encode(), hashlib.sha256).digest()
        expected = base64.urlsafe_b64encode(digest).rstrip(b"=")
        if key and hmac.compare_digest(given.encode(), expected):
            return session_id
    return None
