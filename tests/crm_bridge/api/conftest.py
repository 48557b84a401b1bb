"""API fixtures: an app on each database kind, and credentials for every role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from crm_bridge.core.config import Settings
from crm_bridge.main import create_app
from crm_bridge.migrations import upgrade
from crm_bridge.models import AgentRole
from tests.utils.databases import database
from tests.utils.factories import PASSWORD, make_agent
from tests.utils.proofs import bot_headers, bot_key


@dataclass
class Api:
    client: TestClient
    settings: Settings
    headers: dict[str, dict[str, str]]

    def as_(self, who: str) -> dict[str, str]:
        return self.headers[who]

    def bot(self, conversation: str, **claims) -> dict[str, str]:
        """The bot's key with Rasa's identity proof for ``conversation`` (``<channel>:<id>``);
        ``claims`` as ``tests.utils.proofs.proof`` takes them (platform_id, site_user, age …)."""
        return bot_headers(self.settings, conversation, **claims)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api_database_url(request, tmp_path_factory) -> Iterator[str]:
    """One migrated database per kind for a whole test module (tests use unique data)."""
    with database(request.param, tmp_path_factory.mktemp("db")) as url:
        upgrade(url)
        yield url


@pytest.fixture(scope="module")
def api(api_database_url, tmp_path_factory, sentiment_scorer) -> Iterator[Api]:
    """The app on one database, after the sentiment models exist (trained once if missing)."""
    settings = Settings(
        VAR_DIR=tmp_path_factory.mktemp("var"), DATABASE_URL=api_database_url, EVENTS_SOURCE="none"
    )
    app = create_app(settings)
    with TestClient(app) as client:
        headers: dict[str, dict[str, str]] = {
            "anonymous": {},
            "bad-key": {"X-API-Key": "not-the-key"},
            "service": {"X-API-Key": settings.api_key.get_secret_value()},
            "bot": bot_key(settings),  # the bot's key without a proof
        }
        with app.state.session_factory() as session:
            logins = {role: make_agent(session, role).login for role in AgentRole}
            session.commit()
        for role, login in logins.items():
            response = client.post(
                "/api/v1/login/access-token", data={"username": login, "password": PASSWORD}
            )
            assert response.status_code == 200, response.text
            headers[role.value] = {"Authorization": f"Bearer {response.json()['access_token']}"}
        yield Api(client=client, settings=settings, headers=headers)


@pytest.fixture
def db(api):
    with api.client.app.state.session_factory() as session:
        yield session
