"""Each process of the running system answers its health check; the Rasa API is protected."""

from __future__ import annotations

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
