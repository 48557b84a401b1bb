"""Property-based fuzzing of the whole API from its OpenAPI schema: no input makes a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from crm_bridge.core.config import Settings
from crm_bridge.main import create_app
from crm_bridge.migrations import upgrade
from crm_bridge.models import AgentRole
from tests.utils.factories import PASSWORD, make_agent


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory, sentiment_scorer, demo_kb):
    var_dir = tmp_path_factory.mktemp("fuzz")
    bridge_settings = Settings(VAR_DIR=var_dir, EVENTS_SOURCE="none")
    upgrade(bridge_settings.database_url)
    app = create_app(bridge_settings)
    app.state.knowledge_base = lambda: demo_kb
    with app.state.session_factory() as session:
        admin = make_agent(session, AgentRole.ADMIN).login
        session.commit()
    return app, bridge_settings.api_key.get_secret_value(), admin


@pytest.mark.parametrize("who", ["service", "admin"])
def test_no_input_makes_a_server_error(fuzz_target, who):
    app, key, admin = fuzz_target
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    if who == "service":
        headers = {"X-API-Key": key}
    else:
        from fastapi.testclient import TestClient

        with TestClient(app) as client:
            token = client.post(
                "/api/v1/login/access-token", data={"username": admin, "password": PASSWORD}
            ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=30,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def check(case):
            response = case.call(headers=headers)
            assert response.status_code < 500, (
                case.method,
                case.formatted_path,
                response.status_code,
                response.text[:300],
            )

        try:
            check()
        except AssertionError as err:
            failures.append(str(err)[:500])
    assert not failures, "\n".join(failures)
