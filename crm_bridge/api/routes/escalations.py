"""Escalations / tickets: opened by the bot, worked by agents (complaint closed loop)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status
from sqlalchemy import func, select

from crm_bridge.api.contract import NOT_THE_PROOFS_CONVERSATION, errors, link, links, responses
from crm_bridge.api.deps import (
    BOT,
    SERVICE,
    STAFF,
    ConversationProof,
    Principal,
    RowId,
    SessionDep,
    require,
    same_conversation,
)
from crm_bridge.api.errors import unknown_reference
from crm_bridge.models import (
    Agent,
    Customer,
    Escalation,
    EscalationStatus,
    Priority,
    utcnow,
)
from crm_bridge.schemas import MAX_ID, EscalationCreate, EscalationPublic, EscalationUpdate, Page
from crm_bridge.services.audit import audit
from crm_bridge.services.identity import proven_customer_id
from crm_bridge.services.linking import latest_conversation

router = APIRouter(prefix="/escalations", tags=["escalations"])
Staff = Annotated[Principal, Depends(require(*STAFF))]


@router.post(
    "",
    response_model=EscalationPublic,
    status_code=status.HTTP_201_CREATED,
    operation_id="escalations-create",
    responses=responses(
        errors(
            {
                403: NOT_THE_PROOFS_CONVERSATION,
                409: "no customer with customer_id",
            }
        ),
        links(
            201,
            UpdateEscalation=link(
                "escalations-update", "work the ticket", escalation_id="$response.body#/id"
            ),
            LeaveMessage=link(
                "handoff-left-message",
                "add what the customer wrote to the ticket",
                handoff_id="$response.body#/id",
                **{"body.sender_id": "$response.body#/sender_id"},
            ),
        ),
    ),
)
def create_escalation(
    session: SessionDep,
    principal: Annotated[Principal, Depends(require(BOT, SERVICE, *STAFF))],
    proof: ConversationProof,
    body: EscalationCreate,
) -> EscalationPublic:
    """Open an escalation for a conversation (by Rasa conversation key) and/or a customer.

    The bot opens them only for the conversation its proof names, and for the customer that
    message proved (a ``customer_id`` it sends is ignored).
    """
    if principal.role == BOT:
        same_conversation(proof, body.sender_id)
        body = body.model_copy(
            update={
                "sender_id": proof.conversation if proof else body.sender_id,
                "customer_id": proven_customer_id(session, proof),
            }
        )
    # Without a conversation yet (ingestion lags behind), the ingestor links it later by sender.
    conversation = latest_conversation(session, body.sender_id) if body.sender_id else None
    if body.customer_id is not None and session.get(Customer, body.customer_id) is None:
        raise unknown_reference("customer", body.customer_id)
    customer_id = body.customer_id or (conversation.customer_id if conversation else None)
    escalation = Escalation(
        conversation_id=conversation.id if conversation else None,
        customer_id=customer_id,
        sender_id=body.sender_id,
        reason=body.reason,
        priority=body.priority,
        status=EscalationStatus.OPEN,
        notes=body.notes,
        context={**body.context, "sender_id": body.sender_id},
    )
    session.add(escalation)
    session.flush()
    audit(session, principal.name, "create", "escalation", escalation.id, reason=body.reason)
    session.commit()
    return EscalationPublic.model_validate(escalation)


@router.get(
    "",
    response_model=Page[EscalationPublic],
    operation_id="escalations-list",
    responses=links(
        200,
        UpdateEscalation=link(
            "escalations-update",
            "work the first ticket",
            escalation_id="$response.body#/data/0/id",
        ),
    ),
)
def list_escalations(
    session: SessionDep,
    principal: Staff,
    status_: Annotated[EscalationStatus | None, Query(alias="status")] = None,
    priority: Priority | None = None,
    mine: bool = False,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[EscalationPublic]:
    """Escalations, most urgent and oldest first."""
    query = select(Escalation)
    if status_:
        query = query.where(Escalation.status == status_)
    if priority:
        query = query.where(Escalation.priority == priority)
    if mine:
        query = query.where(Escalation.agent_id == principal.agent_id)
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Escalation.created_at).offset(offset).limit(limit)).all()
    return Page(data=[EscalationPublic.model_validate(e) for e in rows], count=count)


@router.patch(
    "/{escalation_id}",
    response_model=EscalationPublic,
    operation_id="escalations-update",
    responses=errors({404: "no escalation with this id", 409: "no agent with agent_id"}),
)
def update_escalation(
    session: SessionDep, principal: Staff, escalation_id: RowId, body: EscalationUpdate
) -> EscalationPublic:
    """Assign, re-prioritise, resolve or close a ticket; SLA timestamps follow the status."""
    escalation = session.get(Escalation, escalation_id)
    if escalation is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no escalation {escalation_id}")
    changes = body.model_dump(exclude_unset=True)
    if "agent_id" in changes and changes["agent_id"] is not None:
        if session.get(Agent, changes["agent_id"]) is None:
            raise unknown_reference("agent", changes["agent_id"])
    for field, value in changes.items():
        setattr(escalation, field, value)
    now = utcnow()
    if escalation.agent_id and escalation.status == EscalationStatus.OPEN:
        escalation.status = EscalationStatus.ASSIGNED
    if escalation.status == EscalationStatus.RESOLVED and escalation.resolved_at is None:
        escalation.resolved_at = now
    if escalation.status == EscalationStatus.CLOSED:
        escalation.resolved_at = escalation.resolved_at or now
        escalation.closed_at = escalation.closed_at or now
    audit(session, principal.name, "update", "escalation", escalation.id, fields=sorted(changes))
    session.commit()
    return EscalationPublic.model_validate(escalation)
