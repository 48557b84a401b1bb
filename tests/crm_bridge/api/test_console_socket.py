"""The console WebSocket: authenticated by its first frame, closed when its session ends.

A token in the URL is refused (URLs end up in access logs), and so is a socket that does not
authenticate in time. Logout, deactivation, a password change or reset close the agent's open
sockets at once (1008); a session ended behind the hub's back (another process, Redis away)
closes at the socket's next periodic check. Across two instances: ``test_instances.py``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from fastapi.testclient import TestClient

from crm_bridge.api.routes.console import POLICY_VIOLATION
from crm_bridge.core.config import Settings
from crm_bridge.main import create_app
from crm_bridge.models import AgentRole
from crm_bridge.services import agent_sessions
from tests.crm_bridge.instances import closed_within, console_socket
from tests.utils.factories import PASSWORD, make_agent

WS = "/api/v1/console/ws"


def _app(database_url: str, var, **overrides) -> TestClient:
    settings = Settings(
        VAR_DIR=var,
        DATABASE_URL=database_url,
        EVENTS_SOURCE="none",
        WS_AUTH_TIMEOUT_SECONDS=1.0,
        **overrides,
    )
    return TestClient(create_app(settings))


@pytest.fixture(scope="module")
def app_client(api_database_url, tmp_path_factory) -> Iterator[TestClient]:
    """Session checks far apart: whatever closes a socket in these tests is the hub."""
    var = tmp_path_factory.mktemp("var")
    with _app(api_database_url, var, WS_SESSION_CHECK_SECONDS=300) as client:
        yield client


def _agent(client: TestClient, role: AgentRole = AgentRole.AGENT) -> tuple[int, str]:
    with client.app.state.session_factory() as session:
        agent = make_agent(session, role, login=f"{role.value}-{uuid.uuid4().hex[:8]}")
        session.commit()
        return agent.id, agent.login


def _token(client: TestClient, login: str, password: str = PASSWORD) -> str:
    """A log-in in its own cookie jar (a browser of its own)."""
    response = TestClient(client.app).post(
        "/api/v1/login/access-token", data={"username": login, "password": password}
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def _alive(socket) -> bool:
    """Whether the socket still answers a ping (whatever else arrives first)."""
    socket.send_json({"type": "ping"})
    while (message := socket.receive_json())["type"] != "pong":
        assert message["type"] in ("queue", "agent", "handoff", "message"), message
    return True


def test_a_token_in_the_url_is_refused_even_a_valid_one(app_client):
    _, login = _agent(app_client)
    token = _token(app_client, login)
    with app_client.websocket_connect(f"{WS}?token={token}") as socket:
        code, reason = closed_within(socket)
    assert code == POLICY_VIOLATION and "not the URL" in reason
    with app_client.websocket_connect(f"{WS}?token={token}") as socket:
        socket.send_json({"type": "auth", "token": token})  # not even with the frame as well
        assert closed_within(socket)[0] == POLICY_VIOLATION


def test_the_first_frame_authenticates_the_console(app_client):
    _, login = _agent(app_client)
    with console_socket(app_client, _token(app_client, login)) as socket:
        assert socket.receive_json()["type"] == "queue"
        assert _alive(socket)


@pytest.mark.parametrize(
    "frame",
    [
        None,  # nothing at all: closed after WS_AUTH_TIMEOUT_SECONDS
        {"type": "ping"},
        {"type": "auth"},
        {"type": "auth", "token": 42},
        {"type": "auth", "token": "not-a-jwt"},
        "not json",
    ],
)
def test_a_console_without_a_good_auth_frame_isclosed_within(app_client, frame):
    started = time.monotonic()
    with app_client.websocket_connect(WS) as socket:
        if isinstance(frame, dict):
            socket.send_json(frame)
        elif frame is not None:
            socket.send_text(frame)
        code, reason = closed_within(socket)
    assert code == POLICY_VIOLATION, reason
    if frame is None:
        assert reason == "no auth frame in time"
        assert 0.9 <= time.monotonic() - started < 4


def test_logout_closes_that_sessions_consoles_at_once_and_no_others(app_client):
    _, login = _agent(app_client)
    laptop, phone = _token(app_client, login), _token(app_client, login)
    with ExitStack() as stack:
        on_laptop = stack.enter_context(console_socket(app_client, laptop))
        on_phone = stack.enter_context(console_socket(app_client, phone))
        assert _alive(on_laptop) and _alive(on_phone)
        started = time.monotonic()
        headers = {"Authorization": f"Bearer {laptop}"}
        assert app_client.post("/api/v1/login/logout", headers=headers).status_code == 204
        assert closed_within(on_laptop) == (POLICY_VIOLATION, "logged out")
        assert time.monotonic() - started < 3  # the hub, not the 300 s check
        assert _alive(on_phone)
    with console_socket(app_client, laptop) as socket:  # and it cannot come back
        assert closed_within(socket) == (POLICY_VIOLATION, "log in again")


@pytest.mark.parametrize("action", ["deactivate", "password", "logout", "own-password"])
def test_account_changes_close_every_console_of_the_agent(app_client, action):
    agent_id, login = _agent(app_client)
    _, admin_login = _agent(app_client, AgentRole.ADMIN)
    admin = {"Authorization": f"Bearer {_token(app_client, admin_login)}"}
    first, second = _token(app_client, login), _token(app_client, login)
    bystander = _token(app_client, _agent(app_client)[1])
    with ExitStack() as stack:
        sockets = [stack.enter_context(console_socket(app_client, t)) for t in (first, second)]
        other = stack.enter_context(console_socket(app_client, bystander))
        admin_socket = stack.enter_context(console_socket(app_client, admin["Authorization"][7:]))
        for socket in (*sockets, other, admin_socket):
            assert _alive(socket)
        if action == "own-password":
            body = {"current_password": PASSWORD, "new_password": "my new passphrase"}
            response = app_client.put(
                "/api/v1/agents/me/password",
                json=body,
                headers={"Authorization": f"Bearer {first}"},
            )
        else:
            body = {} if action == "password" else None
            response = app_client.post(
                f"/api/v1/agents/{agent_id}/{action}", json=body, headers=admin
            )
        assert response.status_code in (200, 204), response.text
        for socket in sockets:
            assert closed_within(socket)[0] == POLICY_VIOLATION
        assert _alive(other) and _alive(admin_socket)


def test_a_session_ended_elsewhere_closes_at_the_next_check(api_database_url, tmp_path):
    """The backstop: ended in the database only (the CLI without Redis, a missed relay)."""
    with _app(api_database_url, tmp_path, WS_SESSION_CHECK_SECONDS=0.3) as client:
        agent_id, login = _agent(client)
        token = _token(client, login)
        with console_socket(client, token) as socket:
            assert _alive(socket)
            time.sleep(0.5)
            assert _alive(socket)  # checked at least once, still live
            with client.app.state.session_factory() as session:
                assert agent_sessions.revoke_all(session, agent_id, "logout_all") == 1
                session.commit()
            assert closed_within(socket, timeout=3) == (POLICY_VIOLATION, "session ended")
