"""Website widget sessions: issued by the server, held by the browser with their secret.

A session token is ``<session id>.<secret>``: the id (``w_`` + 32 random hex characters) keys
the conversation (``socketio:w_…``) and is what agents, the CRM and logs may see; the secret
is an HMAC of the id with ``var/secrets/widget_session_key`` that only the browser holding
the token knows (nothing stores it: the server recomputes it). A client that names a session
without its secret gets a new session, so knowing someone's session id (from a log, the CRM,
a shoulder) no longer lets anyone join their conversation or read its history.

The CRM bridge checks tokens of the history route the same way
(``crm_bridge/core/widget_sessions.py``; ``tests/bot/test_widget_sessions.py`` checks that
both agree). Pure Python: the services env tests it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

SESSION_ID = re.compile(r"^w_[0-9a-f]{32}$")
MAX_TOKEN = 200
_CONTEXT = b"csa-widget-session:"


def _secret(key: str, session_id: str) -> str:
    digest = hmac.new(key.encode(), _CONTEXT + session_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue(key: str) -> tuple[str, str]:
    """A new session: ``(session id, token)``."""
    session_id = f"w_{secrets.token_hex(16)}"
    return session_id, f"{session_id}.{_secret(key, session_id)}"


def verify(keys: list[str], token: object) -> str | None:
    """The session id of a valid ``token`` (signed with any of ``keys``), else ``None``."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN:
        return None
    session_id, _, given = token.partition(".")
    if not SESSION_ID.match(session_id) or not given:
        return None
    for key in keys:
        if key and hmac.compare_digest(given.encode(), _secret(key, session_id).encode()):
            return session_id
    return None


def keys_from(value: str) -> list[str]:
    """The keys of a comma-separated setting (the first one signs new sessions)."""
    return [key.strip() for key in value.split(",") if key.strip()]
