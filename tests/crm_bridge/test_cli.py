from __future__ import annotations

import io
import sqlite3

import pytest
from sqlalchemy import select

from crm_bridge.cli import main
from crm_bridge.core.config import Settings
from crm_bridge.core.db import make_engine, session_factory
from crm_bridge.core.security import verify_password
from crm_bridge.models import Agent, AgentRole, AgentSession, AuditLog
from crm_bridge.services import agent_sessions
from tests.utils.factories import make_agent


def test_seed_demo_fills_an_empty_crm_once(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CSA_VAR_DIR", str(tmp_path))
    assert main(["seed-demo"]) == 0
    out = capsys.readouterr().out
    assert "Seeded the demo shop: 10 customers" in out
    path = tmp_path / "secrets" / "demo_agents.txt"
    pairs = [line.split() for line in path.read_text().splitlines()]
    assert [login for login, _ in pairs] == ["admin", "supervisor", "agent.wang", "agent.amy"]
    # The output (which ends up in logs) says where the passwords are, never what they are.
    assert str(path) in out and "admin, supervisor, agent.wang, agent.amy" in out
    assert not any(password in out for _, password in pairs)
    assert (tmp_path / "secrets" / "demo_agents.txt").stat().st_mode & 0o077 == 0
    with sqlite3.connect(tmp_path / "crm.db") as db:
        stages = {r[0] for r in db.execute("SELECT lifecycle_stage FROM customers")}
        tiers = {r[0] for r in db.execute("SELECT tier FROM customers")}
        statuses = {r[0] for r in db.execute("SELECT status FROM orders")}
        hashes = [r[0] for r in db.execute("SELECT password_hash FROM agents")]
    assert stages == {"prospect", "new", "active", "at_risk", "churned"}
    assert tiers == {"regular", "silver", "gold", "platinum", "diamond"}
    assert {"pending_payment", "paid", "shipped", "delivered", "cancelled", "refunded"} <= statuses
    assert all(h.startswith("$argon2") for h in hashes)
    with pytest.raises(SystemExit, match="already has data"):
        main(["seed-demo"])


def test_migrate(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CSA_VAR_DIR", str(tmp_path))
    assert main(["migrate"]) == 0
    assert "newest schema" in capsys.readouterr().out


@pytest.fixture
def crm(tmp_path, monkeypatch):
    """An empty migrated CRM in a temporary var dir; its session factory."""
    monkeypatch.setenv("CSA_VAR_DIR", str(tmp_path))
    assert main(["migrate"]) == 0
    settings = Settings()
    engine = make_engine(settings.database_url)
    yield settings, session_factory(engine)
    engine.dispose()


def _agent_with_sessions(crm, role=AgentRole.AGENT, sessions: int = 2, **fields) -> str:
    settings, factory = crm
    with factory() as session:
        agent = make_agent(session, role, **fields)
        for _ in range(sessions):
            agent_sessions.start(session, settings, agent)
        session.commit()
        return agent.login


def _state(crm, login: str) -> tuple[Agent, list[AgentSession]]:
    _, factory = crm
    with factory() as session:
        agent = session.scalars(select(Agent).where(Agent.login == login)).one()
        rows = session.scalars(select(AgentSession).where(AgentSession.agent_id == agent.id)).all()
        session.expunge_all()
        return agent, list(rows)


def _cli_audit(crm, action: str) -> list[AuditLog]:
    _, factory = crm
    with factory() as session:
        query = select(AuditLog).where(AuditLog.action == action, AuditLog.actor == "cli")
        return list(session.scalars(query))


def test_agents_list_shows_status_and_live_sessions(crm, capsys):
    login = _agent_with_sessions(crm, sessions=2, name="王芳")
    assert main(["agents", "list"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if login in line)
    assert "agent" in row and "active" in row and " 2 " in row and "王芳" in row


def test_agents_deactivate_and_reactivate(crm, capsys):
    login = _agent_with_sessions(crm)
    assert main(["agents", "deactivate", login]) == 0
    assert "deactivated; 2 session(s) ended" in capsys.readouterr().out
    agent, rows = _state(crm, login)
    assert not agent.active
    assert {row.revoked_reason for row in rows} == {"deactivated"}
    assert main(["agents", "reactivate", login]) == 0
    assert _state(crm, login)[0].active
    assert _cli_audit(crm, "deactivate") and _cli_audit(crm, "reactivate")


def test_the_last_active_admin_cannot_be_deactivated(crm):
    login = _agent_with_sessions(crm, AgentRole.ADMIN)
    with pytest.raises(SystemExit, match="last active admin"):
        main(["agents", "deactivate", login])
    assert _state(crm, login)[0].active


def test_set_password_reads_stdin_never_argv(crm, monkeypatch, capsys):
    login = _agent_with_sessions(crm)
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    with pytest.raises(SystemExit, match="at least 10 characters"):
        main(["agents", "set-password", login])
    assert not any(row.revoked_at for row in _state(crm, login)[1])
    monkeypatch.setattr("sys.stdin", io.StringIO("a much longer passphrase\n"))
    assert main(["agents", "set-password", login]) == 0
    out = capsys.readouterr().out
    assert "new password; 2 session(s) ended" in out and "passphrase" not in out
    agent, rows = _state(crm, login)
    assert verify_password("a much longer passphrase", agent.password_hash)
    assert agent.password_changed_at is not None
    assert {row.revoked_reason for row in rows} == {"password_reset"}
    with pytest.raises(SystemExit):  # a password argument does not exist
        main(["agents", "set-password", login, "a much longer passphrase"])


def test_set_password_can_generate_one_shown_once(crm, capsys):
    login = _agent_with_sessions(crm, sessions=0)
    assert main(["agents", "set-password", login, "--generate"]) == 0
    password = capsys.readouterr().out.split("new password (shown once): ")[1].strip()
    assert verify_password(password, _state(crm, login)[0].password_hash)
    assert all(password not in str(row.detail) for row in _cli_audit(crm, "password_reset"))


def test_agents_logout_ends_every_session(crm, capsys):
    login = _agent_with_sessions(crm, sessions=3)
    assert main(["agents", "logout", login]) == 0
    assert f"{login}: 3 session(s) ended" in capsys.readouterr().out
    assert {row.revoked_reason for row in _state(crm, login)[1]} == {"logout_all"}
    with pytest.raises(SystemExit, match="no agent has the login 'nobody'"):
        main(["agents", "logout", "nobody"])


def test_a_second_crm_is_seeded_with_the_saved_demo_logins(tmp_path, monkeypatch):
    """`make run-scaleout` seeds PostgreSQL, `make run` SQLite: one file of logins for both."""
    monkeypatch.setenv("CSA_VAR_DIR", str(tmp_path))
    assert main(["seed-demo"]) == 0
    path = tmp_path / "secrets" / "demo_agents.txt"
    saved = path.read_text()
    monkeypatch.setenv("CSA_BRIDGE_DATABASE_URL", f"sqlite:///{tmp_path / 'other.db'}")
    assert main(["seed-demo"]) == 0
    assert path.read_text() == saved  # the file still holds the first CRM's logins
    passwords = dict(line.split() for line in saved.splitlines())
    for database in ("crm.db", "other.db"):
        engine = make_engine(f"sqlite:///{tmp_path / database}")
        with session_factory(engine)() as session:
            agents = {a.login: a.password_hash for a in session.scalars(select(Agent))}
        engine.dispose()
        assert set(agents) == set(passwords)
        assert all(verify_password(passwords[login], agents[login]) for login in agents)
