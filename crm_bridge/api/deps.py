"""Dependencies shared by the routes: database session, settings, who is calling."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from sqlalchemy.orm import Session

from crm_bridge.core.config import Settings
from crm_bridge.core.db import iter_session
from crm_bridge.core.security import decode_access_token, keys_match
from crm_bridge.models import Agent
from crm_bridge.schemas import MAX_ID

SERVICE = "service"
AGENT = "agent"
SUPERVISOR = "supervisor"
ADMIN = "admin"
STAFF = (AGENT, SUPERVISOR, ADMIN)
MANAGERS = (SUPERVISOR, ADMIN)


def get_session(request: Request) -> Iterator[Session]:
    """One database session per request."""
    yield from iter_session(request.app.state.session_factory)


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings


SessionDep = Annotated[Session, Depends(get_session)]
# Row ids as path parameters: positive and within a 32-bit integer, so no database sees more.
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
SettingsDep = Annotated[Settings, Depends(get_settings)]

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="service API key")
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/login/access-token", auto_error=False)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the action server (service) or a logged-in agent."""

    name: str
    role: str
    agent_id: int | None = None


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": "Bearer"},
    )


class TokenRejected(Exception):
    """An agent token that does not authenticate; the message says why (safe to show)."""


def agent_of_token(session: Session, settings: Settings, token: str) -> Agent:
    """The active agent a bearer token names; :class:`TokenRejected` otherwise."""
    try:
        claims = decode_access_token(token, settings.jwt_secret.get_secret_value())
        agent = session.get(Agent, int(claims["sub"]))
    except (jwt.InvalidTokenError, ValueError, KeyError) as err:
        raise TokenRejected("invalid or expired token; log in again") from err
    if agent is None or not agent.active:
        raise TokenRejected("account disabled")
    return agent


def principal_of(agent: Agent) -> Principal:
    """The principal of a logged-in agent."""
    return Principal(name=agent.login, role=agent.role.value, agent_id=agent.id)


def get_principal(
    session: SessionDep,
    settings: SettingsDep,
    api_key: Annotated[str | None, Depends(api_key_header)],
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> Principal:
    """Authenticate by API key (services) or bearer token (agents)."""
    if api_key:
        if keys_match(api_key, settings.api_key.get_secret_value()):
            return Principal(name=SERVICE, role=SERVICE)
        raise _unauthorized("invalid API key")
    if token:
        try:
            return principal_of(agent_of_token(session, settings, token))
        except TokenRejected as err:
            raise _unauthorized(str(err)) from err
    raise _unauthorized("authentication required: X-API-Key header or bearer token")


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require(*roles: str) -> Callable[[Principal], Principal]:
    """A dependency that lets only the given roles through (403 for the others)."""

    def check(principal: CurrentPrincipal) -> Principal:
        if principal.role not in roles:
            raise HTTPException(
                status_code=status.HTTP_403_FORBIDDEN,
                detail=f"role '{principal.role}' may not do this",
            )
        return principal

    return check
