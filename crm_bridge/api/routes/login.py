"""Agent log-in: exchange a login and password for a bearer token."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import select

from crm_bridge.api.deps import SessionDep, SettingsDep
from crm_bridge.core.security import create_access_token, hash_password, verify_password
from crm_bridge.models import Agent
from crm_bridge.schemas import Token
from crm_bridge.services import login_limits
from crm_bridge.services.audit import audit

# Checked when the login does not exist, so both cases take the same time.
_DUMMY_HASH = hash_password("not-a-real-password")

router = APIRouter(prefix="/login", tags=["login"])


@router.post("/access-token", response_model=Token, operation_id="login-access_token")
def login_access_token(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> Token:
    """Log an agent in (OAuth2 password form); repeated wrong passwords lock for a while."""
    if len(form.username) > 255 or "\x00" in form.username:
        # No agent has such a login, and PostgreSQL cannot even look a NUL up (a 500).
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail="a login name has at most 255 characters and no NUL character",
        )
    client = request.client.host if request.client else "unknown"
    wait = login_limits.retry_after(session, settings, form.username, client)
    if wait is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"too many failed log-ins; try again in {math.ceil(wait / 60)} minutes",
            headers={"Retry-After": str(wait)},
        )
    agent = session.scalars(select(Agent).where(Agent.login == form.username)).first()
    right = verify_password(form.password, agent.password_hash if agent else _DUMMY_HASH)
    if agent is None or not agent.active or not right:
        login_limits.record_failure(session, form.username, client)
        audit(session, "anonymous", "login_failed", "agent", login=form.username[:100])
        login_limits.prune(session, settings)
        session.commit()
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="wrong login or password")
    login_limits.clear_failures(session, form.username)
    session.commit()
    token = create_access_token(
        str(agent.id),
        agent.role.value,
        settings.jwt_secret.get_secret_value(),
        timedelta(minutes=settings.ACCESS_TOKEN_MINUTES),
    )
    return Token(access_token=token)
