"""Brute-force protection of agent log-ins, on SQLite and PostgreSQL, across two instances."""

from __future__ import annotations

import uuid
from contextlib import ExitStack
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from crm_bridge.core.config import Settings
from crm_bridge.main import create_app
from crm_bridge.models import AuditLog, LoginFailure, utcnow
from tests.utils.factories import PASSWORD, make_agent

LOGIN = "/api/v1/login/access-token"


@pytest.fixture(scope="module")
def instances(api_database_url, tmp_path_factory, sentiment_scorer):
    """Two bridge apps on one database (two instances behind a load balancer)."""
    var = tmp_path_factory.mktemp("var")
    settings = Settings(
        VAR_DIR=var,
        DATABASE_URL=api_database_url,
        EVENTS_SOURCE="none",
        LOGIN_MAX_FAILURES=3,
        LOGIN_MAX_FAILURES_PER_CLIENT=8,
    )
    with ExitStack() as stack:
        yield [
            stack.enter_context(TestClient(create_app(settings), client=(address, 50000)))
            for address in ("10.0.0.1", "10.0.0.1")
        ]


def _agent(client: TestClient) -> str:
    with client.app.state.session_factory() as session:
        login = make_agent(session, login=f"agent-{uuid.uuid4().hex[:8]}").login
        session.commit()
    return login


def _login(client: TestClient, login: str, password: str, address: str | None = None) -> int:
    if address is not None:
        client = TestClient(client.app, client=(address, 50000))
    return client.post(LOGIN, data={"username": login, "password": password}).status_code


def test_wrong_passwords_lock_the_login_on_every_instance(instances):
    first, second = instances
    login, other = _agent(first), _agent(first)
    assert [_login(first, login, "guess") for _ in range(3)] == [401, 401, 401]
    locked = second.post(LOGIN, data={"username": login, "password": PASSWORD})
    assert locked.status_code == 429  # even with the right password, on the other instance
    assert 1 <= int(locked.headers["Retry-After"]) <= 15 * 60
    assert "try again in 15 minutes" in locked.json()["detail"]
    assert _login(second, other, PASSWORD, address="10.0.0.2") == 200  # others unaffected
    with first.app.state.session_factory() as session:
        failed = session.scalars(select(AuditLog).where(AuditLog.action == "login_failed")).all()
        assert any(row.detail.get("login") == login for row in failed)
        assert all("guess" not in str(row.detail) for row in failed)  # no password stored


def test_the_lock_ends_after_the_window_and_success_clears_failures(instances):
    first, _ = instances
    login = _agent(first)
    address = f"10.1.{uuid.uuid4().int % 250}.1"
    for _ in range(3):
        _login(first, login, "guess", address)
    assert _login(first, login, PASSWORD, address) == 429
    with first.app.state.session_factory() as session:
        session.execute(
            update(LoginFailure)
            .where(LoginFailure.login == login)
            .values(at=utcnow() - timedelta(minutes=16))
        )
        session.commit()
    assert _login(first, login, PASSWORD, address) == 200
    _login(first, login, "guess", address)
    assert _login(first, login, PASSWORD, address) == 200  # one failure, then success: cleared
    with first.app.state.session_factory() as session:
        assert not session.scalars(select(LoginFailure).where(LoginFailure.login == login)).all()


def test_one_address_guessing_many_logins_is_refused(instances):
    first, second = instances
    address = f"10.2.{uuid.uuid4().int % 250}.7"
    answers = [_login(first, f"nobody-{n}-{uuid.uuid4().hex[:4]}", "x", address) for n in range(8)]
    assert set(answers) == {401}
    login = _agent(first)
    assert _login(second, login, PASSWORD, address) == 429
    assert _login(second, login, PASSWORD, "10.3.0.9") == 200
