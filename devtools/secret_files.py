"""Secrets the first run generates into ``var/secrets`` (never committed, never logged)."""

from __future__ import annotations

from pathlib import Path

from crm_bridge.core.security import read_or_create_secret

RASA_TOKEN = "rasa_token"
BRIDGE_API_KEY = "bridge_api_key"
SITE_IDENTITY_SECRET = "site_identity_secret"


def ensure_secret(var_dir: Path, name: str) -> str:
    """Return the secret ``name``, creating it (mode 0600) on first use."""
    return read_or_create_secret(var_dir / "secrets" / name)
