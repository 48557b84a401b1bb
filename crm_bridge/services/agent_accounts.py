"""Console accounts: password rules, password changes and resets, deactivation, ending sessions.

Shared by the API (``api/routes/agents.py``) and the CLI (``crm-bridge agents …``). Each change
that should lock somebody out ends the agent's sessions in the same transaction; the caller
commits, then closes the agent's open consoles (``ConsoleHub.end_sessions``).
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_bridge.core.config import Settings
from crm_bridge.core.security import hash_password
from crm_bridge.models import Agent, AgentRole, utcnow
from crm_bridge.services import agent_sessions
from crm_bridge.services.audit import audit
from crm_bridge.services.console_hub import ConsoleHub

MAX_PASSWORD_CHARS = 200


class AccountError(ValueError):
    """A change that cannot be made; the message says why (safe to show)."""


def password_problem(password: str, login: str, settings: Settings) -> str | None:
    """What is wrong with a new password for ``login``, or None when it is acceptable."""
    if len(password) < settings.PASSWORD_MIN_LENGTH:
        return f"the password must have at least {settings.PASSWORD_MIN_LENGTH} characters"
    if len(password) > MAX_PASSWORD_CHARS:
        return f"the password must have at most {MAX_PASSWORD_CHARS} characters"
    if "\x00" in password:
        return "the password must not contain NUL characters"
    if not password.strip():
        return "the password must not be only spaces"
    if password.strip().casefold() == login.strip().casefold():
        return "the password must not be the login"
    return None


def by_login(session: Session, login: str) -> Agent:
    """The agent with this login (exactly as stored)."""
    agent = session.scalars(select(Agent).where(Agent.login == login)).first()
    if agent is None:
        raise AccountError(f"no agent has the login {login!r}")
    return agent


def set_password(
    session: Session, settings: Settings, agent: Agent, password: str, reason: str
) -> int:
    """Give an agent a new password and end all their sessions; how many were live.

    ``reason`` is recorded on the ended sessions (``password_changed``, ``password_reset``).
    """
    if problem := password_problem(password, agent.login, settings):
        raise AccountError(problem)
    agent.password_hash = hash_password(password)
    agent.password_changed_at = utcnow()
    return agent_sessions.revoke_all(session, agent.id, reason)


def reset_password(
    session: Session,
    settings: Settings,
    hub: ConsoleHub,
    agent: Agent,
    password: str,
    *,
    by: str,
    generated: bool,
) -> int:
    """An administrator's reset (console or CLI): set, audit, commit, close the consoles.

    Returns how many sessions ended. Raises :class:`AccountError` for a password the rules
    refuse (nothing changed).
    """
    ended = set_password(session, settings, agent, password, "password_reset")
    audit(
        session, by, "password_reset", "agent", agent.id, generated=generated, sessions_ended=ended
    )
    session.commit()
    hub.end_sessions(agent.id, None, "password reset")
    return ended


def deactivate(session: Session, agent: Agent, by: Agent | None = None) -> int:
    """Disable an account and end its sessions; how many were live.

    Set the agent offline first (``HandoffDesk.set_availability``) where a desk runs, so that
    their conversations go back to the queue and the customers are told.
    """
    if by is not None and by.id == agent.id:
        raise AccountError("you cannot deactivate your own account")
    if agent.active and agent.role == AgentRole.ADMIN and _active_admins(session) <= 1:
        raise AccountError("this is the last active admin")
    agent.active = False
    return agent_sessions.revoke_all(session, agent.id, "deactivated")


def _active_admins(session: Session) -> int:
    query = select(func.count()).where(Agent.active.is_(True), Agent.role == AgentRole.ADMIN)
    return session.scalar(query) or 0


def reactivate(agent: Agent) -> None:
    """Enable an account again (it logs in with its password; no session comes back)."""
    agent.active = True


def end_sessions(session: Session, agent: Agent, reason: str = "logout_all") -> int:
    """End every session of an agent (log them out everywhere); how many were live."""
    return agent_sessions.revoke_all(session, agent.id, reason)
