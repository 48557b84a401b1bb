"""Log-in slow-down per login and client address, on SQLite and PostgreSQL, across two instances.

Guessing a login's password from one address slows that login down *from that address* only:
nobody can lock an agent out, and the agent logs in from their own address meanwhile.
"""

from __future__ import annotations

import uuid
from contextlib import ExitStack
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from crm_bridge.core.config import Settings
from crm_bridge.main import create_app
from crm_bridge.models import AuditLog, LoginFailure
from crm_bridge.services.login_limits import delay_after
from tests.utils.factories import PASSWORD, make_agent

LOGIN = "/api/v1/login/access-token"


@pytest.fixture(scope="module")
def instances(api_database_url, tmp_path_factory):
    """Two bridge apps on one database (two instances behind a load balancer)."""
    var = tmp_path_factory.mktemp("var")
    settings = Settings(
        VAR_DIR=var,
        DATABASE_URL=api_database_url,
        EVENTS_SOURCE="none",
        LOGIN_FREE_FAILURES=3,
        LOGIN_DELAY_SECONDS=5,
        LOGIN_MAX_DELAY_MINUTES=15,
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


def _address() -> str:
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"


def _attempt(client: TestClient, login: str, password: str, address: str):
    client = TestClient(client.app, client=(address, 50000))
    return client.post(LOGIN, data={"username": login, "password": password})


def _login(client: TestClient, login: str, password: str, address: str) -> int:
    return _attempt(client, login, password, address).status_code


def _age_failures(client: TestClient, login: str, by: timedelta) -> None:
    """Move a login's recorded failures back in time (as if ``by`` had passed)."""
    with client.app.state.session_factory() as session:
        for row in session.scalars(select(LoginFailure).where(LoginFailure.login == login)):
            row.at -= by
        session.commit()


def test_an_attacker_slows_the_login_down_only_from_their_own_address(instances):
    first, second = instances
    login = _agent(first)
    attacker, agent_home = _address(), _address()
    assert [_login(first, login, "guess", attacker) for _ in range(3)] == [401, 401, 401]
    slowed = _attempt(second, login, PASSWORD, attacker)  # even the right password waits
    assert slowed.status_code == 429, slowed.text
    assert 1 <= int(slowed.headers["Retry-After"]) <= 5
    assert "try again in" in slowed.json()["detail"]
    # The agent, from their own address, on either instance: no delay at all.
    assert _login(second, login, PASSWORD, agent_home) == 200
    assert _login(first, login, PASSWORD, agent_home) == 200
    # Their success does not wipe the attacker's record: the attacker still waits.
    assert _login(first, login, "guess", attacker) == 429
    with first.app.state.session_factory() as session:
        failed = session.scalars(select(AuditLog).where(AuditLog.action == "login_failed")).all()
        assert any(row.detail.get("login") == login for row in failed)
        assert all("guess" not in str(row.detail) for row in failed)  # no password stored


def test_the_delay_doubles_with_each_failure_up_to_the_cap(instances):
    first, _ = instances
    login, address = _agent(first), _address()
    for _ in range(3):
        _login(first, login, "guess", address)
    waits = []
    for _ in range(3):
        response = _attempt(first, login, "guess", address)
        assert response.status_code == 429
        waits.append(int(response.headers["Retry-After"]))
        _age_failures(first, login, timedelta(seconds=waits[-1] + 1))  # the wait is over
        assert _login(first, login, "guess", address) == 401  # one more failure
    assert waits[0] <= 5 and 9 <= waits[1] <= 10 and 19 <= waits[2] <= 20, waits
    settings = first.app.state.settings
    assert delay_after(2, settings) == timedelta(0)
    assert delay_after(3, settings) == timedelta(seconds=5)
    assert delay_after(6, settings) == timedelta(seconds=40)
    assert delay_after(1000, settings) == timedelta(minutes=15)  # the cap


def test_success_forgets_the_failures_of_that_address_and_old_ones_do_not_count(instances):
    first, _ = instances
    login, address = _agent(first), _address()
    for _ in range(3):
        _login(first, login, "guess", address)
    assert _login(first, login, PASSWORD, address) == 429
    _age_failures(first, login, timedelta(hours=25))  # beyond LOGIN_FAILURE_MEMORY_HOURS
    assert _login(first, login, PASSWORD, address) == 200
    _login(first, login, "guess", address)
    assert _login(first, login, PASSWORD, address) == 200  # one failure, then success: cleared
    with first.app.state.session_factory() as session:
        assert not session.scalars(select(LoginFailure).where(LoginFailure.login == login)).all()


def test_one_address_guessing_many_logins_is_refused(instances):
    first, second = instances
    address = _address()
    answers = [_login(first, f"nobody-{n}-{uuid.uuid4().hex[:4]}", "x", address) for n in range(8)]
    assert set(answers) == {401}
    login = _agent(first)
    refused = _attempt(second, login, PASSWORD, address)
    assert refused.status_code == 429
    assert 14 * 60 <= int(refused.headers["Retry-After"]) <= 15 * 60
    assert _login(second, login, PASSWORD, _address()) == 200
