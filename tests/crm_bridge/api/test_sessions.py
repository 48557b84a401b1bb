"""Agent sessions that can be ended: refresh with rotation, logout, deactivation, passwords.

Each attack of issue 19 item 5 is replayed against the API on SQLite and PostgreSQL: an access
token used after logout, deactivation, a password change or reset; an expired or sessionless
token; a refresh token replayed after it was rotated. Console WebSockets are in
``test_console_socket.py``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from crm_bridge.api.routes.login import REFRESH_COOKIE
from crm_bridge.core.config import Settings
from crm_bridge.core.security import create_access_token, token_hash
from crm_bridge.main import create_app
from crm_bridge.models import AgentRole, AgentSession, AuditLog
from tests.utils.factories import PASSWORD, make_agent

LOGIN = "/api/v1/login/access-token"
REFRESH = "/api/v1/login/refresh"
LOGOUT = "/api/v1/login/logout"
ME = "/api/v1/agents/me"
XHR = {"X-Requested-With": "csa-console"}


@pytest.fixture(scope="module")
def app_client(api_database_url, tmp_path_factory) -> Iterator[TestClient]:
    """The bridge on one database (both kinds), default session settings."""
    settings = Settings(
        VAR_DIR=tmp_path_factory.mktemp("var"),
        DATABASE_URL=api_database_url,
        EVENTS_SOURCE="none",
    )
    with TestClient(create_app(settings)) as client:
        yield client


class Browser:
    """One browser: its own cookie jar, the access token in memory (as the console keeps it)."""

    def __init__(self, app, login: str, password: str = PASSWORD, https: bool = False) -> None:
        base = "https://testserver" if https else "http://testserver"
        self.http = TestClient(app, base_url=base)
        self.login_response = self.http.post(LOGIN, data={"username": login, "password": password})
        assert self.login_response.status_code == 200, self.login_response.text
        self.token = self.login_response.json()["access_token"]

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def cookie(self) -> str | None:
        return self.http.cookies.get(REFRESH_COOKIE)

    def me(self, token: str | None = None) -> int:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return self.http.get(ME, headers=headers).status_code

    def refresh(self, cookie: str | None = None, headers: dict | None = None):
        """Refresh with the jar's cookie, or with ``cookie`` (a replay) in a fresh jar."""
        client = self.http
        if cookie is not None:
            client = TestClient(self.http.app)
            client.cookies.set(REFRESH_COOKIE, cookie, path="/api/v1/login")
        response = client.post(REFRESH, headers=XHR if headers is None else headers)
        if response.status_code == 200 and cookie is None:
            self.token = response.json()["access_token"]
        return response


def _agent(client: TestClient, role: AgentRole = AgentRole.AGENT) -> tuple[int, str]:
    with client.app.state.session_factory() as session:
        agent = make_agent(session, role, login=f"{role.value}-{uuid.uuid4().hex[:8]}")
        session.commit()
        return agent.id, agent.login


def _session_row(client: TestClient, token: str) -> AgentSession:
    sid = jwt.decode(token, options={"verify_signature": False})["sid"]
    with client.app.state.session_factory() as session:
        row = session.get(AgentSession, sid)
        session.expunge(row)
        return row


def _change_row(client: TestClient, token: str, **values) -> None:
    sid = jwt.decode(token, options={"verify_signature": False})["sid"]
    with client.app.state.session_factory() as session:
        row = session.get(AgentSession, sid)
        for name, value in values.items():
            setattr(row, name, value)
        session.commit()


def _audited(client: TestClient, action: str, agent_id: int) -> list[AuditLog]:
    with client.app.state.session_factory() as session:
        query = select(AuditLog).where(
            AuditLog.action == action, AuditLog.entity_id == str(agent_id)
        )
        return list(session.scalars(query))


# -- log-in and refresh ---------------------------------------------------------------------------


def test_log_in_answers_a_short_token_and_sets_a_scoped_httponly_cookie(app_client):
    _, login = _agent(app_client)
    browser = Browser(app_client.app, login)
    body = browser.login_response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer" and body["expires_in"] == 15 * 60
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 15 * 60 and len(claims["sid"]) == 32
    cookie = browser.login_response.headers["set-cookie"]
    assert cookie.startswith(f"{REFRESH_COOKIE}=")
    for attribute in ("HttpOnly", "Path=/api/v1/login", "SameSite=strict"):
        assert attribute in cookie, cookie
    assert 43000 < int(re.search(r"Max-Age=(\d+)", cookie).group(1)) <= 12 * 3600
    assert "Secure" not in cookie  # plain http (development): a Secure cookie would be lost
    secure = Browser(app_client.app, login, https=True).login_response.headers["set-cookie"]
    assert "Secure" in secure
    # Only a hash of the refresh token is stored.
    row = _session_row(app_client, browser.token)
    assert row.refresh_token_hash == token_hash(browser.cookie)
    assert browser.cookie not in {row.refresh_token_hash, row.previous_token_hash}
    assert row.client and row.user_agent and row.expires_at > row.created_at


def test_refresh_rotates_the_cookie_and_needs_the_custom_header(app_client):
    _, login = _agent(app_client)
    browser = Browser(app_client.app, login)
    first_token, first_cookie = browser.token, browser.cookie
    refused = browser.refresh(headers={})
    assert refused.status_code == 403 and "X-Requested-With" in refused.json()["detail"]
    response = browser.refresh()
    assert response.status_code == 200, response.text
    assert browser.token != first_token and browser.cookie != first_cookie
    assert f"{REFRESH_COOKIE}=" in response.headers["set-cookie"]
    assert browser.me() == 200
    assert browser.me(first_token) == 200  # same session: still live until it ends
    assert TestClient(app_client.app).post(REFRESH, headers=XHR).status_code == 401  # no cookie


def test_a_replayed_refresh_token_ends_the_whole_session(app_client):
    agent_id, login = _agent(app_client)
    victim = Browser(app_client.app, login)
    stolen = victim.cookie
    assert victim.refresh().status_code == 200  # the owner rotates it
    _change_row(app_client, victim.token, rotated_at=datetime.now(UTC) - timedelta(seconds=11))
    replay = victim.refresh(cookie=stolen)  # the thief tries the old one: too late
    assert replay.status_code == 401
    assert "reused" in replay.json()["detail"]
    assert 'csa_console_refresh=""' in replay.headers["set-cookie"]
    # The session is over for everyone: the owner's access token and refresh token too.
    assert victim.me() == 401
    assert victim.refresh().status_code == 401
    assert _session_row(app_client, victim.token).revoked_reason == "refresh_reuse"
    assert _audited(app_client, "refresh_reuse", agent_id)


def test_a_token_two_rotations_old_is_a_replay_at_once(app_client):
    _, login = _agent(app_client)
    browser = Browser(app_client.app, login)
    oldest = browser.cookie
    assert browser.refresh().status_code == 200
    assert browser.refresh().status_code == 200
    assert browser.refresh(cookie=oldest).status_code == 401
    assert browser.me() == 401


def test_a_lost_answer_may_be_retried_within_the_grace_period(app_client):
    _, login = _agent(app_client)
    browser = Browser(app_client.app, login)
    sent = browser.cookie
    assert browser.refresh(cookie=sent).status_code == 200  # rotated; the answer got lost
    retry = browser.refresh()  # the browser still has the old cookie, seconds later
    assert retry.status_code == 200, retry.text
    assert browser.refresh().status_code == 200  # the cookie of the retry goes on working
    assert browser.me() == 200


def test_a_forged_or_unknown_refresh_cookie_is_refused(app_client):
    _, login = _agent(app_client)
    browser = Browser(app_client.app, login)
    for cookie in ("nonsense", f"{'0' * 32}.xyz", browser.cookie[:33] + "forged"):
        assert browser.refresh(cookie=cookie).status_code == 401, cookie


# -- access tokens --------------------------------------------------------------------------------


def test_expired_sessionless_and_foreign_access_tokens_are_refused(app_client):
    agent_id, login = _agent(app_client)
    browser = Browser(app_client.app, login)
    settings = app_client.app.state.settings
    secret = settings.jwt_secret.get_secret_value()
    sid = _session_row(app_client, browser.token).id
    expired = create_access_token(str(agent_id), "agent", secret, timedelta(seconds=-1), sid)
    assert browser.me(expired) == 401
    now = datetime.now(UTC)
    claims = {"sub": str(agent_id), "role": "agent", "iat": now, "exp": now + timedelta(hours=8)}
    sessionless = jwt.encode(claims, secret, algorithm="HS256")  # an 8-hour token of old
    assert browser.me(sessionless) == 401
    unknown = create_access_token(str(agent_id), "agent", secret, timedelta(minutes=5), "f" * 32)
    assert browser.me(unknown) == 401
    foreign = create_access_token(str(agent_id), "agent", "x" * 40, timedelta(minutes=5), sid)
    assert browser.me(foreign) == 401
    other_id, _ = _agent(app_client)  # another agent's id with this session: no
    mixed = create_access_token(str(other_id), "agent", secret, timedelta(minutes=5), sid)
    assert browser.me(mixed) == 401
    assert browser.me() == 200


def test_sessions_end_after_their_lifetime_and_when_idle(app_client):
    _, login = _agent(app_client)
    old = Browser(app_client.app, login)
    _change_row(app_client, old.token, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert old.me() == 401 and old.refresh().status_code == 401
    idle = Browser(app_client.app, login)
    _change_row(app_client, idle.token, last_used_at=datetime.now(UTC) - timedelta(minutes=61))
    response = idle.http.get(ME, headers=idle.auth)
    assert response.status_code == 401 and "session ended" in response.json()["detail"]
    assert idle.refresh().status_code == 401


# -- logout ---------------------------------------------------------------------------------------


def test_logout_ends_this_session_only(app_client):
    agent_id, login = _agent(app_client)
    laptop, phone = Browser(app_client.app, login), Browser(app_client.app, login)
    laptop_cookie = laptop.cookie
    response = laptop.http.post(LOGOUT, headers=laptop.auth)
    assert response.status_code == 204
    assert 'csa_console_refresh=""' in response.headers["set-cookie"]
    assert laptop.me() == 401  # the token is dead at once, not in 15 minutes
    assert laptop.refresh(cookie=laptop_cookie).status_code == 401
    assert phone.me() == 200 and phone.refresh().status_code == 200
    assert _session_row(app_client, laptop.token).revoked_reason == "logout"
    assert _audited(app_client, "logout", agent_id)
    assert laptop.http.post(LOGOUT, headers=laptop.auth).status_code == 204  # idempotent


def test_logout_by_cookie_needs_the_custom_header(app_client):
    _, login = _agent(app_client)
    browser = Browser(app_client.app, login)
    assert browser.http.post(LOGOUT).status_code == 403  # a cross-site form cannot
    assert browser.me() == 200
    assert browser.http.post(LOGOUT, headers=XHR).status_code == 204
    assert browser.me() == 401


# -- account management ---------------------------------------------------------------------------


def test_deactivation_ends_every_session_and_reactivation_allows_log_in_again(app_client):
    agent_id, login = _agent(app_client)
    _, admin_login = _agent(app_client, AgentRole.ADMIN)
    admin = Browser(app_client.app, admin_login)
    one, two = Browser(app_client.app, login), Browser(app_client.app, login)
    response = admin.http.post(f"/api/v1/agents/{agent_id}/deactivate", headers=admin.auth)
    assert response.status_code == 200, response.text
    assert response.json()["active"] is False
    assert one.me() == 401 and two.me() == 401
    assert one.refresh().status_code == 401
    refused = TestClient(app_client.app).post(LOGIN, data={"username": login, "password": PASSWORD})
    assert refused.status_code == 401
    listed = admin.http.get("/api/v1/agents", headers=admin.auth).json()["data"]
    assert [a["active"] for a in listed if a["id"] == agent_id] == [False]
    response = admin.http.post(f"/api/v1/agents/{agent_id}/reactivate", headers=admin.auth)
    assert response.status_code == 200 and response.json()["active"] is True
    assert one.me() == 401  # the old sessions stay ended
    assert Browser(app_client.app, login).me() == 200
    assert _audited(app_client, "deactivate", agent_id)
    assert _audited(app_client, "reactivate", agent_id)


def test_an_admin_cannot_deactivate_themselves(app_client):
    admin_id, admin_login = _agent(app_client, AgentRole.ADMIN)
    admin = Browser(app_client.app, admin_login)
    response = admin.http.post(f"/api/v1/agents/{admin_id}/deactivate", headers=admin.auth)
    assert response.status_code == 409
    assert "your own account" in response.json()["detail"]
    assert admin.me() == 200


def test_account_routes_are_for_admins_only(app_client):
    target_id, _ = _agent(app_client)
    for role in (AgentRole.AGENT, AgentRole.SUPERVISOR):
        browser = Browser(app_client.app, _agent(app_client, role)[1])
        for path, body in (
            ("deactivate", None),
            ("reactivate", None),
            ("password", {}),
            ("logout", None),
        ):
            response = browser.http.post(
                f"/api/v1/agents/{target_id}/{path}", json=body, headers=browser.auth
            )
            assert response.status_code == 403, (role, path, response.text)
    service = {"X-API-Key": app_client.app.state.settings.api_key.get_secret_value()}
    response = app_client.post(f"/api/v1/agents/{target_id}/deactivate", headers=service)
    assert response.status_code == 403


def test_changing_ones_password_ends_every_session(app_client):
    agent_id, login = _agent(app_client)
    one, two = Browser(app_client.app, login), Browser(app_client.app, login)
    path = "/api/v1/agents/me/password"

    def change(current: str, new: str):
        body = {"current_password": current, "new_password": new}
        return one.http.put(path, json=body, headers=one.auth)

    for new, message in (
        ("short", "at least 10 characters"),
        (login.upper(), "must not be the login"),
        (PASSWORD, "must differ from the current one"),
        (" " * 12, "only spaces"),
    ):
        response = change(PASSWORD, new)
        assert response.status_code == 422, (new, response.text)
        assert message in response.json()["detail"]
    wrong = change("not my password", "a brand new passphrase")
    assert wrong.status_code == 400 and "current password" in wrong.json()["detail"]
    assert one.me() == 200  # nothing changed yet
    response = change(PASSWORD, "a brand new passphrase")
    assert response.status_code == 204, response.text
    assert 'csa_console_refresh=""' in response.headers["set-cookie"]
    assert one.me() == 401 and two.me() == 401
    assert two.refresh().status_code == 401
    old = TestClient(app_client.app).post(LOGIN, data={"username": login, "password": PASSWORD})
    assert old.status_code == 401
    fresh = Browser(app_client.app, login, "a brand new passphrase")
    assert fresh.http.get(ME, headers=fresh.auth).json()["password_changed_at"]
    assert _audited(app_client, "password_change", agent_id)
    assert _session_row(app_client, two.token).revoked_reason == "password_changed"


def test_an_admin_resets_a_password_set_or_generated(app_client):
    agent_id, login = _agent(app_client)
    _, admin_login = _agent(app_client, AgentRole.ADMIN)
    admin = Browser(app_client.app, admin_login)
    path = f"/api/v1/agents/{agent_id}/password"
    victim = Browser(app_client.app, login)
    short = admin.http.post(path, json={"new_password": "short"}, headers=admin.auth)
    assert short.status_code == 422 and "at least 10" in short.json()["detail"]
    assert victim.me() == 200
    response = admin.http.post(
        path, json={"new_password": "chosen by the admin"}, headers=admin.auth
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "agent_id": agent_id,
        "generated_password": None,
        "sessions_ended": 1,
    }
    assert victim.me() == 401
    assert Browser(app_client.app, login, "chosen by the admin").me() == 200
    generated = admin.http.post(path, json={}, headers=admin.auth).json()
    password = generated["generated_password"]
    assert len(password) >= 18 and generated["sessions_ended"] == 1
    assert Browser(app_client.app, login, password).me() == 200
    audits = _audited(app_client, "password_reset", agent_id)
    assert [a.detail["generated"] for a in audits] == [False, True]
    assert all(password not in str(a.detail) for a in audits)  # never the password
    missing = admin.http.post("/api/v1/agents/999999/password", json={}, headers=admin.auth)
    assert missing.status_code == 404


def test_an_admin_logs_an_agent_out_everywhere(app_client):
    agent_id, login = _agent(app_client)
    _, admin_login = _agent(app_client, AgentRole.ADMIN)
    admin = Browser(app_client.app, admin_login)
    one, two = Browser(app_client.app, login), Browser(app_client.app, login)
    response = admin.http.post(f"/api/v1/agents/{agent_id}/logout", headers=admin.auth)
    assert response.json() == {"agent_id": agent_id, "sessions_ended": 2}
    assert one.me() == 401 and two.me() == 401
    assert Browser(app_client.app, login).me() == 200  # the password still works


def test_a_new_agent_password_follows_the_rules(app_client):
    _, admin_login = _agent(app_client, AgentRole.ADMIN)
    admin = Browser(app_client.app, admin_login)
    body = {"name": "Same", "login": "same.as.password", "password": "Same.As.Password"}
    response = admin.http.post("/api/v1/agents", json=body, headers=admin.auth)
    assert response.status_code == 422 and "must not be the login" in response.json()["detail"]


def test_the_idle_limit_must_outlast_access_tokens():
    with pytest.raises(ValueError, match="SESSION_IDLE_MINUTES must be longer"):
        Settings(ACCESS_TOKEN_MINUTES=60, SESSION_IDLE_MINUTES=30)
