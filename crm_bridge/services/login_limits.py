"""Brute-force protection of agent log-ins, shared by every bridge instance (it is in the DB).

A login name with ``LOGIN_MAX_FAILURES`` wrong passwords within ``LOGIN_WINDOW_MINUTES`` is
refused (429) until the window has passed since its latest failure, even with the right
password; so is a client address with ``LOGIN_MAX_FAILURES_PER_CLIENT`` failures (guessing
many logins). A successful log-in clears the login's failures.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from crm_bridge.core.config import Settings
from crm_bridge.models import LoginFailure, utcnow


def _latest_over_limit(
    session: Session, column: object, value: str, limit: int, since: datetime
) -> datetime | None:
    query = select(func.count(), func.max(LoginFailure.at))
    count, latest = session.execute(query.where(column == value, LoginFailure.at >= since)).one()
    return latest if count >= limit else None


def retry_after(session: Session, settings: Settings, login: str, client: str) -> int | None:
    """Seconds until this login / client may try again, or None when it may now."""
    window = timedelta(minutes=settings.LOGIN_WINDOW_MINUTES)
    since = utcnow() - window
    blocked = [
        _latest_over_limit(session, LoginFailure.login, login, settings.LOGIN_MAX_FAILURES, since),
        _latest_over_limit(
            session, LoginFailure.client, client, settings.LOGIN_MAX_FAILURES_PER_CLIENT, since
        ),
    ]
    until = max((latest + window for latest in blocked if latest is not None), default=None)
    if until is None:
        return None
    return max(1, math.ceil((until - utcnow()).total_seconds()))


def record_failure(session: Session, login: str, client: str) -> None:
    """Remember one wrong password (the caller commits)."""
    session.add(LoginFailure(login=login[:255], client=client[:64]))


def clear_failures(session: Session, login: str) -> None:
    """Forget a login's failures after it logged in (the caller commits)."""
    session.execute(delete(LoginFailure).where(LoginFailure.login == login))


def prune(session: Session, settings: Settings) -> None:
    """Drop failures older than the window (with each new failure: an indexed delete)."""
    since = utcnow() - timedelta(minutes=settings.LOGIN_WINDOW_MINUTES)
    session.execute(delete(LoginFailure).where(LoginFailure.at < since))
