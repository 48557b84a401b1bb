"""Secrets the first run generates into ``var/secrets`` (never committed, never logged).

Each file holds one secret per line: the first is current, any others are still accepted
while a rotation is under way (``crm-bridge keys rotate NAME`` / ``keys retire NAME``).
"""

from __future__ import annotations

from pathlib import Path

from crm_bridge.core.security import read_or_create_secrets

RASA_TOKEN = "rasa_token"
"""Rasa's HTTP API (the bridge: agent replies, pause, resume)."""
BRIDGE_API_KEY = "bridge_api_key"
"""The bridge's full key (administration, integrations)."""
BRIDGE_BOT_KEY = "bridge_bot_key"
"""The bridge's key for the action server: the bot's routes only."""
ACTIONS_TOKEN = "actions_token"
"""Rasa → action server."""
IDENTITY_PROOF_KEY = "identity_proof_key"
"""Rasa signs each message's identity proof with it; the bridge checks them."""
WIDGET_SESSION_KEY = "widget_session_key"
"""Rasa's widget channel signs the sessions it issues; the bridge checks history requests."""
SITE_IDENTITY_SECRET = "site_identity_secret"
"""The shop signs its signed-in users with it (the demo shop: the bridge)."""
ALL = (
    RASA_TOKEN,
    BRIDGE_API_KEY,
    BRIDGE_BOT_KEY,
    ACTIONS_TOKEN,
    IDENTITY_PROOF_KEY,
    WIDGET_SESSION_KEY,
    SITE_IDENTITY_SECRET,
)


def ensure_secret(var_dir: Path, name: str) -> str:
    """Return the current secret ``name``, creating it (mode 0600) on first use."""
    return ensure_secrets(var_dir, name)[0]


def ensure_secrets(var_dir: Path, name: str) -> list[str]:
    """Every valid secret ``name`` (current first), creating the file on first use."""
    return read_or_create_secrets(var_dir / "secrets" / name)
