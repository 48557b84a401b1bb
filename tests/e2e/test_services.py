"""Each process of the running system answers its health check; the Rasa API is protected."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow


def test_rasa_status_needs_the_generated_token(stack):
    assert httpx.get(f"{stack.rasa_url}/status", timeout=10).status_code == 401
    response = httpx.get(f"{stack.rasa_url}/status", params={"token": stack.rasa_token}, timeout=10)
    assert response.status_code == 200
    assert response.json()["model_file"].endswith(".tar.gz")


def test_bridge_health(stack):
    response = httpx.get(f"{stack.bridge_url}/health", timeout=10)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["database"] == "ok"
    # The embedded default: a SQLite file in the var dir, migrated at start.
    assert (stack.var_dir / "crm.db").exists()


def test_action_server_health(stack):
    response = httpx.get(f"{stack.actions_url}/health", timeout=10)
    assert response.status_code == 200


def test_secrets_are_private_and_not_logged(stack):
    token_file = stack.var_dir / "secrets" / "rasa_token"
    assert token_file.stat().st_mode & 0o077 == 0
    assert stack.rasa_token not in stack.log.read_text()


def test_no_secret_is_on_a_command_line(stack):
    # Every local user can read every process's command line (ps); Rasa gets its token from
    # the environment through bot/rasa_server.py.
    files = (stack.var_dir / "secrets").iterdir()
    # Tokens, keys and the demo agents' passwords (one "name password" per line).
    secrets = [word for path in files for word in path.read_text().split() if len(word) >= 16]
    assert stack.rasa_token in secrets
    exposed = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().decode(errors="replace")
        except OSError:  # the process ended
            continue
        exposed += [cmdline.parent.name for secret in secrets if secret in text]
    assert not exposed, f"a secret is on the command line of pids {exposed}"
