"""Console users: admins create, deactivate, reactivate them and reset their passwords.

Everyone can read their own record and change their own password. Every change is audited,
and each one that should lock somebody out ends that agent's sessions and closes their open
consoles at once (on every bridge instance).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_bridge.api.contract import errors, link, links, responses
from crm_bridge.api.deps import (
    ADMIN,
    MANAGERS,
    STAFF,
    Principal,
    RowId,
    SessionDep,
    SettingsDep,
    require,
)
from crm_bridge.api.routes.login import client_address, forget_refresh_cookie, hub_of
from crm_bridge.core.security import generate_password, hash_password, verify_password
from crm_bridge.models import Agent, Availability
from crm_bridge.schemas import (
    AgentCreate,
    AgentPublic,
    Page,
    PasswordChange,
    PasswordReset,
    PasswordResetResult,
    SessionsEnded,
)
from crm_bridge.services import agent_accounts, login_limits
from crm_bridge.services.audit import audit
from crm_bridge.services.handoff import HandoffDesk

router = APIRouter(prefix="/agents", tags=["agents"])
# Agent ids in paths are digits (``{agent_id:int}``): ``/agents/me/password`` is one's own
# password (PUT), never agent "me"'s (POST answers 405, not 422).
Staff = Annotated[Principal, Depends(require(*STAFF))]
Admin = Annotated[Principal, Depends(require(ADMIN))]


def _unprocessable(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=detail)


def _agent(session: Session, agent_id: int) -> Agent:
    agent = session.get(Agent, agent_id)
    if agent is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such agent")
    return agent


@router.get("/me", response_model=AgentPublic, operation_id="agents-me")
def me(session: SessionDep, principal: Staff) -> AgentPublic:
    """The logged-in agent."""
    return AgentPublic.model_validate(session.get(Agent, principal.agent_id))


AGENT_ID = "$response.body#/data/0/id"
"""The first agent of a list."""
NEW_AGENT_ID = "$response.body#/id"


def _account_links(agent_id: str) -> dict[str, dict[str, Any]]:
    return {
        "DeactivateAgent": link("agents-deactivate", "disable the account", agent_id=agent_id),
        "ReactivateAgent": link("agents-reactivate", "enable it again", agent_id=agent_id),
        "ResetPassword": link("agents-reset_password", "set its password", agent_id=agent_id),
        "EndSessions": link("agents-logout", "end its sessions", agent_id=agent_id),
    }


@router.get(
    "",
    response_model=Page[AgentPublic],
    operation_id="agents-list",
    responses=links(200, **_account_links(AGENT_ID)),
)
def list_agents(
    session: SessionDep, _principal: Annotated[Principal, Depends(require(*MANAGERS))]
) -> Page[AgentPublic]:
    """All agents, deactivated ones included (``active``)."""
    rows = session.scalars(select(Agent).order_by(Agent.id)).all()
    return Page(data=[AgentPublic.model_validate(a) for a in rows], count=len(rows))


@router.post(
    "",
    response_model=AgentPublic,
    status_code=status.HTTP_201_CREATED,
    operation_id="agents-create",
    responses=responses(
        errors({409: "the login is taken", 422: "the password breaks a rule (which: detail)"}),
        links(201, **_account_links(NEW_AGENT_ID)),
    ),
)
def create_agent(
    session: SessionDep, settings: SettingsDep, principal: Admin, body: AgentCreate
) -> AgentPublic:
    """Create a console user."""
    if problem := agent_accounts.password_problem(body.password, body.login, settings):
        raise _unprocessable(problem)
    if session.scalars(select(Agent).where(Agent.login == body.login)).first():
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"login {body.login!r} is taken")
    agent = Agent(
        name=body.name,
        login=body.login,
        password_hash=hash_password(body.password),
        role=body.role,
        languages=body.languages,
        max_concurrent=body.max_concurrent,
        availability=Availability.OFFLINE,
        active=True,
    )
    session.add(agent)
    session.flush()
    audit(session, principal.name, "create", "agent", agent.id, role=body.role.value)
    session.commit()
    return AgentPublic.model_validate(agent)


@router.put(
    "/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="agents-change_password",
    responses=errors(
        {
            400: "the current password is wrong",
            422: "the new password breaks a rule (which: detail)",
            429: "too many wrong passwords: wait Retry-After",
        }
    ),
)
def change_password(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Staff,
    body: PasswordChange,
) -> Response:
    """Change one's own password; every session of the agent ends (log in again).

    A wrong current password counts as a failed log-in (the same slow-down applies), so a
    stolen access token cannot be used to guess the password.
    """
    agent = _agent(session, principal.agent_id or 0)
    client = client_address(request)
    if (wait := login_limits.retry_after(session, settings, agent.login, client)) is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail="too many wrong passwords; try again later",
            headers={"Retry-After": str(wait)},
        )
    if not verify_password(body.current_password, agent.password_hash):
        login_limits.record_failure(session, agent.login, client)
        audit(session, agent.login, "password_change_failed", "agent", agent.id)
        session.commit()
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="the current password is wrong")
    if body.new_password == body.current_password:
        raise _unprocessable("the new password must differ from the current one")
    try:
        agent_accounts.set_password(session, settings, agent, body.new_password, "password_changed")
    except agent_accounts.AccountError as err:
        raise _unprocessable(str(err)) from err
    audit(session, agent.login, "password_change", "agent", agent.id)
    session.commit()
    hub_of(request).end_sessions(agent.id, None, "password changed")
    answer = Response(status_code=status.HTTP_204_NO_CONTENT)
    forget_refresh_cookie(answer, request)
    return answer


@router.post(
    "/{agent_id:int}/deactivate",
    response_model=AgentPublic,
    operation_id="agents-deactivate",
    responses=responses(
        errors({404: "no agent with this id", 409: "oneself, or the last active admin"}),
        links(
            200,
            ReactivateAgent=link("agents-reactivate", "enable it again", agent_id=NEW_AGENT_ID),
        ),
    ),
)
def deactivate(
    request: Request, session: SessionDep, principal: Admin, agent_id: RowId
) -> AgentPublic:
    """Disable an account: it cannot log in, its sessions end, its consoles close.

    Its conversations go back to the queue (as when an agent goes offline). An admin cannot
    deactivate themselves, nor the last active admin.
    """
    agent = _agent(session, agent_id)
    me = _agent(session, principal.agent_id or 0)
    try:
        ended = agent_accounts.deactivate(session, agent, by=me)
    except agent_accounts.AccountError as err:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(err)) from err
    audit(session, principal.name, "deactivate", "agent", agent.id, sessions_ended=ended)
    desk: HandoffDesk = request.app.state.desk
    if agent.availability != Availability.OFFLINE:
        desk.set_availability(session, agent, Availability.OFFLINE)  # commits
    session.commit()
    hub_of(request).end_sessions(agent.id, None, "account disabled")
    return AgentPublic.model_validate(agent)


@router.post(
    "/{agent_id:int}/reactivate",
    response_model=AgentPublic,
    operation_id="agents-reactivate",
    responses=errors({404: "no agent with this id"}),
)
def reactivate(session: SessionDep, principal: Admin, agent_id: RowId) -> AgentPublic:
    """Enable a deactivated account again (it logs in with its password)."""
    agent = _agent(session, agent_id)
    agent_accounts.reactivate(agent)
    audit(session, principal.name, "reactivate", "agent", agent.id)
    session.commit()
    return AgentPublic.model_validate(agent)


@router.post(
    "/{agent_id:int}/password",
    response_model=PasswordResetResult,
    operation_id="agents-reset_password",
    responses=errors(
        {404: "no agent with this id", 422: "the new password breaks a rule (which: detail)"}
    ),
)
def reset_password(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Admin,
    agent_id: RowId,
    body: PasswordReset,
) -> PasswordResetResult:
    """Set an agent's password (or generate one, answered once); their sessions end."""
    agent = _agent(session, agent_id)
    password = body.new_password or generate_password()
    generated = body.new_password is None
    try:
        ended = agent_accounts.reset_password(
            session,
            settings,
            hub_of(request),
            agent,
            password,
            by=principal.name,
            generated=generated,
        )
    except agent_accounts.AccountError as err:
        raise _unprocessable(str(err)) from err
    return PasswordResetResult(
        agent_id=agent.id,
        generated_password=password if generated else None,
        sessions_ended=ended,
    )


@router.post(
    "/{agent_id:int}/logout",
    response_model=SessionsEnded,
    operation_id="agents-logout",
    responses=errors({404: "no agent with this id"}),
)
def logout_everywhere(
    request: Request, session: SessionDep, principal: Admin, agent_id: RowId
) -> SessionsEnded:
    """End every session of an agent (their consoles close; they log in again)."""
    agent = _agent(session, agent_id)
    ended = agent_accounts.end_sessions(session, agent)
    audit(session, principal.name, "logout_all", "agent", agent.id, sessions_ended=ended)
    session.commit()
    hub_of(request).end_sessions(agent.id, None, "logged out")
    return SessionsEnded(agent_id=agent.id, sessions_ended=ended)
