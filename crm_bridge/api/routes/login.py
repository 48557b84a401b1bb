"""Agent log-in: exchange a login and password for a bearer token."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import select

from crm_bridge.api.deps import SessionDep, SettingsDep
from crm_bridge.core.security import create_access_token, verify_password
from crm_bridge.models import Agent
from crm_bridge.schemas import Token

router = APIRouter(prefix="/login", tags=["login"])


@router.post("/access-token", response_model=Token, operation_id="login-access_token")
def login_access_token(
    session: SessionDep,
    settings: SettingsDep,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> Token:
    """Log an agent in (OAuth2 password form)."""
    agent = session.scalars(select(Agent).where(Agent.login == form.username)).first()
    if agent is None or not agent.active or not verify_password(form.password, agent.password_hash):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="wrong login or password")
    token = create_access_token(
        str(agent.id),
        agent.role.value,
        settings.jwt_secret.get_secret_value(),
        timedelta(minutes=settings.ACCESS_TOKEN_MINUTES),
    )
    return Token(access_token=token)
