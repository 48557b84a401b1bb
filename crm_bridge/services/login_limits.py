"""Brute-force protection of agent log-ins, shared by every bridge instance (it is in the DB).

A slow-down rather than a lock, so that nobody can lock an agent out by guessing: failures are
counted per login *and* client address. After ``LOGIN_FREE_FAILURES`` wrong passwords for one
login from one address (within ``LOGIN_FAILURE_MEMORY_HOURS``), each further attempt of that
login from that address waits ``LOGIN_DELAY_SECONDS`` × 2^(failures − free) after the latest
failure, at most ``LOGIN_MAX_DELAY_MINUTES`` (429 with ``Retry-After`` meanwhile; the password is
not even checked). The same login from another address is not slowed, so the agent can still
log in while someone hammers their login from elsewhere; a success forgets that login's
failures from that address only (not an attacker's from elsewhere).

An address with ``LOGIN_MAX_FAILURES_PER_CLIENT`` failures over any logins within
``LOGIN_WINDOW_MINUTES`` (guessing many logins) is refused until the window has passed since its
latest failure.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from crm_bridge.core.config import Settings
from crm_bridge.models import LoginFailure, utcnow


def delay_after(failures: int, settings: Settings) -> timedelta:
    """How long to wait after the latest of ``failures`` wrong passwords (zero when free)."""
    if failures < settings.LOGIN_FREE_FAILURES:
        return timedelta(0)
    cap = settings.LOGIN_MAX_DELAY_MINUTES * 60
    # The exponent is bounded so that the power stays small whatever the count.
    exponent = min(failures - settings.LOGIN_FREE_FAILURES, 32)
    return timedelta(seconds=min(cap, settings.LOGIN_DELAY_SECONDS * 2**exponent))


def _pair_wait(session: Session, settings: Settings, login: str, client: str) -> datetime | None:
    since = utcnow() - timedelta(hours=settings.LOGIN_FAILURE_MEMORY_HOURS)
    count, latest = session.execute(
        select(func.count(), func.max(LoginFailure.at)).where(
            LoginFailure.login == login, LoginFailure.client == client, LoginFailure.at >= since
        )
    ).one()
    delay = delay_after(count, settings)
    return latest + delay if latest is not None and delay else None


def _client_wait(session: Session, settings: Settings, client: str) -> datetime | None:
    window = timedelta(minutes=settings.LOGIN_WINDOW_MINUTES)
    count, latest = session.execute(
        select(func.count(), func.max(LoginFailure.at)).where(
            LoginFailure.client == client, LoginFailure.at >= utcnow() - window
        )
    ).one()
    return latest + window if count >= settings.LOGIN_MAX_FAILURES_PER_CLIENT else None


def retry_after(session: Session, settings: Settings, login: str, client: str) -> int | None:
    """Seconds until this login may be tried from this client again, or None when it may now."""
    waits = [
        _pair_wait(session, settings, login[:255], client[:64]),
        _client_wait(session, settings, client[:64]),
    ]
    until = max((w for w in waits if w is not None), default=None)
    if until is None:
        return None
    seconds = (until - utcnow()).total_seconds()
    return max(1, math.ceil(seconds)) if seconds > 0 else None


def record_failure(session: Session, login: str, client: str) -> None:
    """Remember one wrong password (the caller commits)."""
    session.add(LoginFailure(login=login[:255], client=client[:64]))


def clear_failures(session: Session, login: str, client: str) -> None:
    """Forget a login's failures from this client after it logged in (the caller commits)."""
    session.execute(
        delete(LoginFailure).where(
            LoginFailure.login == login[:255], LoginFailure.client == client[:64]
        )
    )


def prune(session: Session, settings: Settings) -> None:
    """Drop failures that no longer count (with each new failure: an indexed delete)."""
    keep = max(
        timedelta(hours=settings.LOGIN_FAILURE_MEMORY_HOURS),
        timedelta(minutes=settings.LOGIN_WINDOW_MINUTES),
    )
    session.execute(delete(LoginFailure).where(LoginFailure.at < utcnow() - keep))
