"""Console users: admins create them; everyone can read their own record."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from sqlalchemy import select

from crm_bridge.api.deps import ADMIN, MANAGERS, STAFF, Principal, SessionDep, require
from crm_bridge.core.security import hash_password
from crm_bridge.models import Agent, Availability
from crm_bridge.schemas import AgentCreate, AgentPublic, Page
from crm_bridge.services.audit import audit

router = APIRouter(prefix="/agents", tags=["agents"])


@router.get("/me", response_model=AgentPublic, operation_id="agents-me")
def me(
    session: SessionDep, principal: Annotated[Principal, Depends(require(*STAFF))]
) -> AgentPublic:
    """The logged-in agent."""
    return AgentPublic.model_validate(session.get(Agent, principal.agent_id))


@router.get("", response_model=Page[AgentPublic], operation_id="agents-list")
def list_agents(
    session: SessionDep, _principal: Annotated[Principal, Depends(require(*MANAGERS))]
) -> Page[AgentPublic]:
    """All agents."""
    rows = session.scalars(select(Agent).order_by(Agent.id)).all()
    return Page(data=[AgentPublic.model_validate(a) for a in rows], count=len(rows))


@router.post(
    "",
    response_model=AgentPublic,
    status_code=status.HTTP_201_CREATED,
    operation_id="agents-create",
)
def create_agent(
    session: SessionDep,
    principal: Annotated[Principal, Depends(require(ADMIN))],
    body: AgentCreate,
) -> AgentPublic:
    """Create a console user."""
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
