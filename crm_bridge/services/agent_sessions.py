"""Agents' log-in sessions: start, refresh with rotation, check, end.

A log-in starts a session (table ``agent_sessions``) and hands out two credentials: a
short-lived access token (JWT, ``ACCESS_TOKEN_MINUTES``) naming the session, and an opaque
refresh token kept by the browser in an HttpOnly cookie. Every request checks that the session
is still live (:func:`is_live`), so ending a session takes effect at once whatever the access
token's expiry. A refresh replaces the refresh token; presenting a replaced one again is
taken as theft and ends the session (:class:`RefreshRejected` with ``reused``), except within
``REFRESH_REUSE_SECONDS`` of the rotation (a retry whose answer was lost, two tabs at once).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from crm_bridge.core.config import Settings
from crm_bridge.core.security import (
    create_access_token,
    keys_match,
    new_refresh_token,
    session_of_refresh_token,
    token_hash,
)
from crm_bridge.models import Agent, AgentSession, utcnow

KEEP_ENDED_DAYS = 30
"""Ended sessions stay this long (who logged in from where), then a log-in prunes them."""


class RefreshRejected(Exception):
    """A refresh token that gives no new access token; ``reason`` says why (safe to show)."""

    def __init__(self, reason: str, reused: AgentSession | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.reused = reused
        """The session a replaced token was presented for: it has just been ended."""


@dataclass(frozen=True)
class Issued:
    """What a log-in or a refresh hands out."""

    session: AgentSession
    access_token: str
    refresh_token: str
    expires_in: int
    """Seconds the access token lasts."""


def is_live(row: AgentSession, settings: Settings, now: datetime | None = None) -> bool:
    """Whether a session is neither revoked, past its lifetime, nor idle too long."""
    now = now or utcnow()
    idle_limit = row.last_used_at + timedelta(minutes=settings.SESSION_IDLE_MINUTES)
    return row.revoked_at is None and now < row.expires_at and now < idle_limit


def load(session: Session, agent_id: int, session_id: str) -> tuple[Agent, AgentSession] | None:
    """An agent and one of their sessions, in one query; None when they do not match."""
    found = session.execute(
        select(Agent, AgentSession)
        .join(AgentSession, AgentSession.agent_id == Agent.id)
        .where(Agent.id == agent_id, AgentSession.id == session_id)
    ).first()
    return None if found is None else (found[0], found[1])


def still_valid(session: Session, settings: Settings, agent_id: int, session_id: str) -> bool:
    """Whether the agent is active and the session live (an open console's periodic check)."""
    found = load(session, agent_id, session_id)
    return found is not None and found[0].active and is_live(found[1], settings)


def _access_token(settings: Settings, agent: Agent, row: AgentSession) -> tuple[str, int]:
    lifetime = timedelta(minutes=settings.ACCESS_TOKEN_MINUTES)
    token = create_access_token(
        str(agent.id), agent.role.value, settings.jwt_secret.get_secret_value(), lifetime, row.id
    )
    return token, int(lifetime.total_seconds())


def start(
    session: Session,
    settings: Settings,
    agent: Agent,
    client: str | None = None,
    user_agent: str | None = None,
) -> Issued:
    """Open a session for an agent who just proved their password (the caller commits)."""
    now = utcnow()
    _prune(session, agent.id, now)
    row = AgentSession(
        id=secrets.token_hex(16),
        agent_id=agent.id,
        refresh_token_hash="",
        created_at=now,
        last_used_at=now,
        expires_at=now + timedelta(hours=settings.SESSION_HOURS),
        client=(client or "")[:64] or None,
        user_agent=(user_agent or "")[:255] or None,
    )
    refresh = new_refresh_token(row.id)
    row.refresh_token_hash = token_hash(refresh)
    session.add(row)
    session.flush()
    access, expires_in = _access_token(settings, agent, row)
    return Issued(row, access, refresh, expires_in)


def _prune(session: Session, agent_id: int, now: datetime) -> None:
    # One agent's rows (indexed): ended or expired a while ago.
    old = now - timedelta(days=KEEP_ENDED_DAYS)
    session.execute(
        delete(AgentSession).where(
            AgentSession.agent_id == agent_id,
            or_(AgentSession.revoked_at < old, AgentSession.expires_at < old),
        )
    )


def refresh(session: Session, settings: Settings, token: str) -> Issued:
    """A new access token and a new refresh token for a live session (the caller commits).

    Raises:
        RefreshRejected: the token names no live session, or it was replaced earlier than
            ``REFRESH_REUSE_SECONDS`` ago; in that last case the session is ended (the caller
            commits that too, and closes the session's consoles).
    """
    session_id = session_of_refresh_token(token)
    if session_id is None:
        raise RefreshRejected("not a refresh token")
    # Locked: two refreshes of one session (two instances) rotate one after the other.
    found = session.execute(
        select(AgentSession, Agent)
        .join(Agent, Agent.id == AgentSession.agent_id)
        .where(AgentSession.id == session_id)
        .with_for_update(of=AgentSession)
    ).first()
    if found is None:
        raise RefreshRejected("unknown session")
    row, agent = found
    now = utcnow()
    if not agent.active:
        raise RefreshRejected("account disabled")
    if not is_live(row, settings, now):
        raise RefreshRejected("session ended")
    presented = token_hash(token)
    if keys_match(presented, row.refresh_token_hash):
        row.previous_token_hash = row.refresh_token_hash
        row.rotated_at = now
    elif not (
        row.previous_token_hash is not None
        and row.rotated_at is not None
        and keys_match(presented, row.previous_token_hash)
        and now - row.rotated_at <= timedelta(seconds=settings.REFRESH_REUSE_SECONDS)
    ):
        # A replaced token (or a forged one for a real session) shows up late: whoever holds
        # the session's tokens, one of them is not its owner. End it for both.
        revoke(row, "refresh_reuse", now)
        raise RefreshRejected("refresh token reused", row)
    # Within the grace period the previous token is taken once more: its holder gets a fresh
    # pair and the token issued meanwhile becomes the one that may no longer be presented.
    new = new_refresh_token(row.id)
    row.refresh_token_hash = token_hash(new)
    row.last_used_at = now
    access, expires_in = _access_token(settings, agent, row)
    return Issued(row, access, new, expires_in)


def revoke(row: AgentSession, reason: str, now: datetime | None = None) -> None:
    """End one session (the caller commits)."""
    if row.revoked_at is None:
        row.revoked_at = now or utcnow()
        row.revoked_reason = reason[:32]


def revoke_by_id(session: Session, session_id: str, reason: str) -> int | None:
    """End the session with this id; its agent's id, or None when there is no such session."""
    row = session.get(AgentSession, session_id)
    if row is None:
        return None
    revoke(row, reason)
    return row.agent_id


def revoke_all(session: Session, agent_id: int, reason: str) -> int:
    """End every live session of an agent (the caller commits); how many were live."""
    result = session.execute(
        update(AgentSession)
        .where(AgentSession.agent_id == agent_id, AgentSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason[:32])
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def live_count(session: Session, settings: Settings, agent_id: int) -> int:
    """How many live sessions an agent has (for the agents list)."""
    rows = session.scalars(
        select(AgentSession).where(
            AgentSession.agent_id == agent_id,
            AgentSession.revoked_at.is_(None),
            AgentSession.expires_at > utcnow(),
        )
    ).all()
    return sum(1 for row in rows if is_live(row, settings))
