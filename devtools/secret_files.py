"""Secrets the first run generates into ``var/secrets`` (never committed, never logged)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

RASA_TOKEN = "rasa_token"
BRIDGE_API_KEY = "bridge_api_key"


def ensure_secret(var_dir: Path, name: str) -> str:
    """Return the secret ``name``, creating it (mode 0600) on first use."""
    folder = var_dir / "secrets"
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    path = folder / name
    if not path.exists():
        # O_EXCL: two launchers starting together must not overwrite each other's secret.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(32))
    return path.read_text().strip()
