"""Property-based fuzzing of the whole API from its OpenAPI schema: no input makes a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from sqlalchemy import delete, select

from crm_bridge.core.config import Settings
from crm_bridge.core.proofs import PROOF_HEADER
from crm_bridge.core.security import hash_password
from crm_bridge.main import create_app
from crm_bridge.migrations import upgrade
from crm_bridge.models import Agent, AgentRole, LoginFailure
from tests.utils.factories import PASSWORD, make_agent, make_customer, make_order
from tests.utils.proofs import bot_headers, proof

BOT_OPERATIONS = frozenset(
    {
        "bot-identify",
        "bot-verification_start",
        "bot-verification_confirm",
        "handoff-open",
        "handoff-left-message",
        "escalations-create",
        "feedback-create",
        "sentiment-score",
        "orders-get",
        "customers-loyalty",
    }
)
"""What the bot's key may call (test_scoped_keys.py holds every other route to 403 for it)."""
FUZZ_FOLLOWER = "o-fuzz-follower"
FUZZ_USER = "fuzz-shop-user"


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory, sentiment_scorer, demo_kb):
    var_dir = tmp_path_factory.mktemp("fuzz")
    bridge_settings = Settings(VAR_DIR=var_dir, EVENTS_SOURCE="none")
    upgrade(bridge_settings.database_url)
    app = create_app(bridge_settings)
    app.state.knowledge_base = lambda: demo_kb
    with app.state.session_factory() as session:
        admin = make_agent(session, AgentRole.ADMIN).login
        # The customer the bot's proofs name, with an order: the bot's reads reach real data.
        customer = make_customer(
            session, identities=[("wechat", FUZZ_FOLLOWER, True), ("site", FUZZ_USER, True)]
        )
        make_order(session, customer, "DS00000001")
        session.commit()
    return app, bridge_settings.api_key.get_secret_value(), admin


def _admin_headers(app, admin: str) -> dict[str, str]:
    """A fresh log-in of the fuzzing admin (password, account and log-in limits restored)."""
    from fastapi.testclient import TestClient

    with app.state.session_factory() as session:
        agent = session.scalars(select(Agent).where(Agent.login == admin)).one()
        agent.password_hash, agent.active = hash_password(PASSWORD), True
        session.execute(delete(LoginFailure))  # fuzzed log-ins and password changes failed
        session.commit()
    with TestClient(app) as client:
        response = client.post(
            "/api/v1/login/access-token", data={"username": admin, "password": PASSWORD}
        )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _fuzz(operation, headers: dict[str, str]):
    """A hypothesis test calling ``operation`` with generated input and ``headers``."""

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

    return check


def _service_headers(app, key: str, who: str) -> dict[str, str]:
    """The full key, or the bot's, each with a fresh genuine proof of a message.

    The proof header is not in the OpenAPI schema (the routes read it from the request), so
    schemathesis would never send one: without it the bot's routes would only ever answer 401
    (bot key) or 400 (full key) and their bodies would go unfuzzed. The bot's proof is a WeChat
    follower's (platform id: verification codes, orders, loyalty reach the database); the full
    key's a signed-in website visitor's. Bot writes for generated ``sender_id``s answer 403
    (not the proof's conversation): the full key fuzzes those bodies.
    """
    settings = app.state.settings
    if who == "bot":
        follower = f"wechat:{FUZZ_FOLLOWER}"
        return bot_headers(settings, follower, platform_id=FUZZ_FOLLOWER)
    visitor = proof(settings, "socketio:w_" + "f" * 32, site_user=FUZZ_USER)
    return {"X-API-Key": key, PROOF_HEADER: visitor}


@pytest.mark.parametrize("who", ["service", "bot", "admin"])
def test_no_input_makes_a_server_error(fuzz_target, who):
    app, key, admin = fuzz_target
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures, fuzzed = [], set()
    for result in schema.get_all_operations():
        operation = result.ok()
        if who == "bot" and operation.definition.raw.get("operationId") not in BOT_OPERATIONS:
            continue  # answered 403 before any input is read: nothing to fuzz
        fuzzed.add(operation.definition.raw.get("operationId"))
        # Some operations end the admin's own session (logout, a password reset of id 1):
        # each operation starts with a working log-in, so the next ones are fuzzed for real.
        headers = _admin_headers(app, admin) if who == "admin" else _service_headers(app, key, who)
        try:
            _fuzz(operation, headers)()
        except AssertionError as err:
            failures.append(str(err)[:500])
    assert not failures, "\n".join(failures)
    assert who != "bot" or fuzzed == BOT_OPERATIONS
