"""Agent log-in sessions: log in, refresh the access token, log out.

A log-in answers a short-lived access token (bearer, ``ACCESS_TOKEN_MINUTES``) and sets the
session's refresh token as a cookie that only these routes receive (``Path=/api/v1/login``,
HttpOnly, SameSite=Strict, Secure over https). ``POST /login/refresh`` trades it for a new
access token and a new refresh token; it needs an ``X-Requested-With`` header, which a page of
another site cannot send without the bridge's consent (CORS), so no cross-site form can call it.
"""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Cookie, Form, Header, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_bridge.api.contract import errors
from crm_bridge.api.deps import (
    BearerToken,
    SessionDep,
    SettingsDep,
    TokenRejected,
    agent_of_token,
)
from crm_bridge.api.errors import error_response
from crm_bridge.core.security import (
    hash_password,
    keys_match,
    session_of_refresh_token,
    token_hash,
    verify_password,
)
from crm_bridge.models import Agent, AgentSession, utcnow
from crm_bridge.schemas import LoginForm, Token
from crm_bridge.services import agent_sessions, login_limits
from crm_bridge.services.audit import audit
from crm_bridge.services.console_hub import ConsoleHub

# Checked when the login does not exist, so both cases take the same time.
_DUMMY_HASH = hash_password("not-a-real-password")

REFRESH_COOKIE = "csa_console_refresh"
COOKIE_PATH = "/api/v1/login"
"""The refresh cookie goes to the log-in routes only, never to the rest of the API."""
CSRF_HEADER = "X-Requested-With"

router = APIRouter(prefix="/login", tags=["login"])

RefreshCookie = Annotated[str | None, Cookie(alias=REFRESH_COOKIE, include_in_schema=False)]
RequestedWith = Annotated[
    str | None,
    Header(
        alias=CSRF_HEADER,
        description="any value, e.g. `csa-console`: proves the call is not a cross-site form",
    ),
]


def client_address(request: Request) -> str:
    """The caller's address (behind a trusted proxy, the one it forwarded)."""
    return request.client.host if request.client else "unknown"


def hub_of(request: Request) -> ConsoleHub:
    """The console hub of this app (closes the consoles of ended sessions)."""
    return request.app.state.desk.hub


def _set_refresh_cookie(
    response: Response, request: Request, token: str, row: AgentSession
) -> None:
    lifetime = max(1, int((row.expires_at - utcnow()).total_seconds()))
    response.set_cookie(
        REFRESH_COOKIE,
        token,
        max_age=lifetime,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def forget_refresh_cookie(response: Response, request: Request) -> None:
    """Make the browser drop the refresh cookie (after a logout, a password change …)."""
    response.delete_cookie(
        REFRESH_COOKIE,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def _refused(request: Request, status_code: int, detail: str) -> JSONResponse:
    """An error answer that also drops the (now useless) refresh cookie."""
    response = error_response(status_code, detail)
    forget_refresh_cookie(response, request)
    return response


def _require_header(requested_with: str | None) -> None:
    if not requested_with:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"the {CSRF_HEADER} header is required (any value, e.g. csa-console)",
        )


@router.post(
    "/access-token",
    response_model=Token,
    operation_id="login-access_token",
    responses=errors(
        {
            401: "wrong login or password (or a deactivated account)",
            422: "a form field is missing or too long",
            429: "too many failed log-ins for this login from this address: wait Retry-After",
        }
    ),
)
def login_access_token(
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    form: Annotated[LoginForm, Form()],
) -> Token:
    """Log an agent in (OAuth2 password form); sets the refresh cookie of the new session.

    Repeated wrong passwords for one login from one address slow that pair down (429).
    """
    client = client_address(request)
    wait = login_limits.retry_after(session, settings, form.username, client)
    if wait is not None:
        later = f"{wait} seconds" if wait < 120 else f"{math.ceil(wait / 60)} minutes"
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"too many failed log-ins; try again in {later}",
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
    login_limits.clear_failures(session, form.username, client)
    issued = agent_sessions.start(
        session, settings, agent, client=client, user_agent=request.headers.get("user-agent")
    )
    audit(session, agent.login, "login", "agent", agent.id, client=client[:64])
    session.commit()
    _set_refresh_cookie(response, request, issued.refresh_token, issued.session)
    return Token(access_token=issued.access_token, expires_in=issued.expires_in)


@router.post(
    "/refresh",
    response_model=Token,
    operation_id="login-refresh",
    responses=errors(
        {
            401: "no live session: log in",
            403: f"the {CSRF_HEADER} header is missing",
        }
    ),
)
def refresh(
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    requested_with: RequestedWith = None,
    refresh_token: RefreshCookie = None,
) -> Token | JSONResponse:
    """A new access token for the session of the refresh cookie, which is replaced too.

    Presenting a refresh token that was already replaced ends the whole session.
    """
    _require_header(requested_with)
    if not refresh_token:
        return _refused(request, status.HTTP_401_UNAUTHORIZED, "not logged in")
    try:
        issued = agent_sessions.refresh(session, settings, refresh_token)
    except agent_sessions.RefreshRejected as err:
        if (row := err.reused) is not None:
            # The session has just been ended: keep that, say so, close its consoles.
            client = client_address(request)[:64]
            audit(session, "anonymous", "refresh_reuse", "agent", row.agent_id, client=client)
            session.commit()
            hub_of(request).end_sessions(row.agent_id, row.id, "session ended")
        return _refused(request, status.HTTP_401_UNAUTHORIZED, f"{err.reason}; log in again")
    session.commit()
    _set_refresh_cookie(response, request, issued.refresh_token, issued.session)
    return Token(access_token=issued.access_token, expires_in=issued.expires_in)


def _session_of_cookie(session: Session, refresh_token: str) -> AgentSession | None:
    """The session a refresh cookie proves (its current or just replaced token), or None."""
    session_id = session_of_refresh_token(refresh_token)
    row = session.get(AgentSession, session_id) if session_id else None
    if row is None:
        return None
    presented = token_hash(refresh_token)
    known = [row.refresh_token_hash, row.previous_token_hash]
    return row if any(h and keys_match(presented, h) for h in known) else None


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="login-logout",
    responses=errors({403: f"the refresh cookie without the {CSRF_HEADER} header"}),
    # The bearer token is optional: without one (or with an expired one) the refresh cookie
    # names the session, and a session already ended is no error.
    openapi_extra={"security": [{"HTTPBearer": []}, {}]},
)
def logout(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: BearerToken,
    requested_with: RequestedWith = None,
    refresh_token: RefreshCookie = None,
) -> Response:
    """End this session (named by the bearer token, or else by the refresh cookie).

    Its consoles are closed at once; the refresh cookie is dropped. Logging out of a session
    that has already ended is no error.
    """
    row: AgentSession | None = None
    if token:
        try:
            row = session.get(AgentSession, agent_of_token(session, settings, token).session_id)
        except TokenRejected:
            row = None
    if row is None and refresh_token:
        _require_header(requested_with)  # the cookie is the credential: no cross-site forms
        row = _session_of_cookie(session, refresh_token)
    answer = Response(status_code=status.HTTP_204_NO_CONTENT)
    forget_refresh_cookie(answer, request)
    if row is None or row.revoked_at is not None:
        return answer
    agent_sessions.revoke(row, "logout")
    agent = session.get(Agent, row.agent_id)
    audit(session, agent.login if agent else "anonymous", "logout", "agent", row.agent_id)
    session.commit()
    hub_of(request).end_sessions(row.agent_id, row.id, "logged out")
    return answer
