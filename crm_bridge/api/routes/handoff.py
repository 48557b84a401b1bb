"""Live handoffs: opened by the bot, worked by agents in the console."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, HTTPException, Request, status
from sqlalchemy import select

from crm_bridge.api.contract import NOT_THE_PROOFS_CONVERSATION, errors, link, links, responses
from crm_bridge.api.deps import (
    BOT,
    MANAGERS,
    SERVICE,
    STAFF,
    ConversationProof,
    Principal,
    RowId,
    SessionDep,
    SettingsDep,
    require,
    same_conversation,
)
from crm_bridge.api.errors import unknown_reference
from crm_bridge.models import Agent, Availability, Customer, Escalation
from crm_bridge.schemas import (
    AgentMessage,
    CloseRequest,
    HandoffAgent,
    HandoffDetail,
    HandoffOpened,
    HandoffOptions,
    HandoffRequest,
    LeftMessage,
    Page,
    QueueItem,
    TranscriptItem,
    TransferRequest,
)
from crm_bridge.services import handoff_queue
from crm_bridge.services.handoff import HandoffConflict, HandoffDesk
from crm_bridge.services.identity import proven_customer_id
from crm_bridge.services.rasa_api import RasaUnavailable

router = APIRouter(prefix="/handoff", tags=["handoff"])
Staff = Annotated[Principal, Depends(require(*STAFF))]


def get_desk(request: Request) -> HandoffDesk:
    """The app's handoff desk."""
    return request.app.state.desk


Desk = Annotated[HandoffDesk, Depends(get_desk)]
NOT_LIVE = "no live handoff with this id that the caller may see"
ACTING = {
    404: "no handoff with this id",
    409: "the conversation was closed, or another agent has it",
}
RASA_DOWN = "the bot server did not take it (the agent keeps the conversation); retry"


def _work_links(handoff_id: str) -> dict[str, dict[str, Any]]:
    """What an agent does with a live handoff (its id taken from ``handoff_id``)."""
    return {
        "GetHandoff": link("handoff-get", "transcript and context", handoff_id=handoff_id),
        "AcceptHandoff": link("handoff-accept", "take it", handoff_id=handoff_id),
        "Reply": link("handoff-reply", "answer the customer", handoff_id=handoff_id),
        "Note": link("handoff-note", "an internal note", handoff_id=handoff_id),
        "Transfer": link("handoff-transfer", "give it to another agent", handoff_id=handoff_id),
        "Close": link("handoff-close", "resolve or hand back", handoff_id=handoff_id),
    }


def _agent(session: SessionDep, principal: Principal) -> Agent:
    agent = session.get(Agent, principal.agent_id) if principal.agent_id else None
    if agent is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="only agents work handoffs")
    return agent


def _handoff(
    session: SessionDep,
    handoff_id: int,
    principal: Principal,
    desk: HandoffDesk,
    *,
    acting: bool = False,
):
    """The live handoff this principal may see, or 404.

    When ``acting`` (reply, note, transfer, close), one that was closed or taken by another
    agent meanwhile, on any instance, is a 409 that says so: the console shows why the action
    did not happen instead of "not found".
    """
    escalation = session.get(Escalation, handoff_id)
    missing = HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no live handoff {handoff_id}")
    if escalation is None:
        raise missing
    visible = desk.may_see(escalation, principal.agent_id, principal.role in MANAGERS)
    if not acting:
        if not (visible and escalation.live):
            raise missing
        return escalation
    if not escalation.live:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="this conversation is closed")
    if not visible:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail="another agent has taken this conversation"
        )
    return escalation


def _conflict(err: Exception) -> HTTPException:
    if isinstance(err, RasaUnavailable):
        return HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail=f"the bot server did not take it ({err}); try again in a moment",
        )
    return HTTPException(status.HTTP_409_CONFLICT, detail=str(err))


@router.post(
    "",
    response_model=HandoffOpened,
    status_code=status.HTTP_201_CREATED,
    operation_id="handoff-open",
    responses=responses(
        errors(
            {
                403: NOT_THE_PROOFS_CONVERSATION,
                409: "no customer with customer_id",
            }
        ),
        links(
            201,
            **_work_links("$response.body#/id"),
            LeaveMessage=link(
                "handoff-left-message",
                "add what the customer wrote to the ticket",
                handoff_id="$response.body#/id",
                **{"body.sender_id": "$request.body#/sender_id"},
            ),
        ),
    ),
)
def open_handoff(
    session: SessionDep,
    desk: Desk,
    principal: Annotated[Principal, Depends(require(BOT, SERVICE))],
    proof: ConversationProof,
    body: HandoffRequest,
) -> HandoffOpened:
    """The bot hands a conversation over with its full context (idempotent per sender).

    Only the conversation the bot's proof names; its customer is the one that message proved.
    """
    if principal.role == BOT:
        same_conversation(proof, body.sender_id)
        # Agents' replies go out on the handoff's channel: the proof's, never one the bot names.
        channel = proof.channel if proof else body.channel
        body = body.model_copy(
            update={"customer_id": proven_customer_id(session, proof), "channel": channel}
        )
    if body.customer_id is not None and session.get(Customer, body.customer_id) is None:
        raise unknown_reference("customer", body.customer_id)
    return desk.open(session, body, principal.name)


@router.get(
    "/queue",
    response_model=Page[QueueItem],
    operation_id="handoff-queue",
    responses=links(200, **_work_links("$response.body#/data/0/id")),
)
def get_queue(session: SessionDep, desk: Desk, principal: Staff) -> Page[QueueItem]:
    """Waiting handoffs (most urgent first), then the caller's own (supervisors: all)."""
    items = desk.queue_for(session, principal.agent_id, principal.role in MANAGERS)
    session.commit()  # links conversations found on the way
    return Page(data=items, count=len(items))


@router.get("/agents", response_model=Page[HandoffAgent], operation_id="handoff-agents")
def list_agents(session: SessionDep, _principal: Staff) -> Page[HandoffAgent]:
    """Agents someone could transfer to, with their load."""
    busy = handoff_queue.load(session)
    agents = session.scalars(select(Agent).where(Agent.active.is_(True)).order_by(Agent.id)).all()
    data = [
        HandoffAgent(
            id=a.id,
            name=a.name,
            languages=list(a.languages or []),
            availability=a.availability,
            active_conversations=busy.get(a.id, 0),
            max_concurrent=a.max_concurrent,
        )
        for a in agents
        if a.role.value != "admin" or a.availability != Availability.OFFLINE
    ]
    return Page(data=data, count=len(data))


@lru_cache(maxsize=4)
def _options(path: Path, _mtime: float) -> HandoffOptions:
    raw: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return HandoffOptions(
        resolution_codes=[
            {k: str(v) for k, v in item.items()} for item in raw.get("resolution_codes", [])
        ],
        canned_replies=[
            {k: str(v) for k, v in item.items()} for item in raw.get("canned_replies", [])
        ],
    )


@router.get(
    "/options",
    response_model=HandoffOptions,
    operation_id="handoff-options",
    responses=errors({503: "the canned replies file cannot be read"}),
)
def options(settings: SettingsDep, _principal: Staff) -> HandoffOptions:
    """Resolution codes and canned replies (from ``CSA_BRIDGE_CANNED_REPLIES_FILE``)."""
    path = settings.CANNED_REPLIES_FILE
    try:
        return _options(path, path.stat().st_mtime)
    except (OSError, yaml.YAMLError) as err:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail=f"canned replies unreadable: {path}"
        ) from err


@router.get(
    "/{handoff_id}",
    response_model=HandoffDetail,
    operation_id="handoff-get",
    responses=errors({404: NOT_LIVE}),
)
def get_handoff(
    session: SessionDep, desk: Desk, principal: Staff, handoff_id: RowId
) -> HandoffDetail:
    """Transcript, context and customer 360 summary of one handoff."""
    escalation = _handoff(session, handoff_id, principal, desk)
    detail = desk.detail(session, escalation)
    session.commit()
    return detail


@router.post(
    "/{handoff_id}/accept",
    response_model=QueueItem,
    operation_id="handoff-accept",
    responses=responses(
        errors(
            {
                403: "only agents work handoffs (the full key may not)",
                404: "no live handoff with this id",
                409: "another agent has taken it, or it is no longer waiting",
            }
        ),
        links(200, **_work_links("$response.body#/id")),
    ),
)
def accept(session: SessionDep, desk: Desk, principal: Staff, handoff_id: RowId) -> QueueItem:
    """Take a waiting handoff."""
    escalation = session.get(Escalation, handoff_id)
    if escalation is None or not escalation.live:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no live handoff {handoff_id}")
    # Every agent saw it waiting: one taken meanwhile (on any instance) is a 409 that says so,
    # whether it was taken just before this request or while it ran.
    try:
        return desk.accept(session, escalation, _agent(session, principal))
    except HandoffConflict as err:
        raise _conflict(err) from err


@router.post(
    "/{handoff_id}/messages",
    response_model=TranscriptItem,
    status_code=status.HTTP_201_CREATED,
    operation_id="handoff-reply",
    responses=errors({**ACTING, 503: RASA_DOWN}),
)
def reply(
    session: SessionDep, desk: Desk, principal: Staff, handoff_id: RowId, body: AgentMessage
) -> TranscriptItem:
    """Send a reply to the customer on their channel."""
    escalation = _handoff(session, handoff_id, principal, desk, acting=True)
    try:
        return desk.reply(
            session, escalation, _agent(session, principal), body.text, principal.role in MANAGERS
        )
    except (HandoffConflict, RasaUnavailable) as err:
        raise _conflict(err) from err


@router.post(
    "/{handoff_id}/notes",
    response_model=TranscriptItem,
    status_code=status.HTTP_201_CREATED,
    operation_id="handoff-note",
    responses=errors(ACTING),
)
def note(
    session: SessionDep, desk: Desk, principal: Staff, handoff_id: RowId, body: AgentMessage
) -> TranscriptItem:
    """An internal note (never sent to the customer)."""
    escalation = _handoff(session, handoff_id, principal, desk, acting=True)
    try:
        return desk.note(session, escalation, _agent(session, principal), body.text)
    except HandoffConflict as err:
        raise _conflict(err) from err


@router.post(
    "/{handoff_id}/transfer",
    response_model=QueueItem,
    operation_id="handoff-transfer",
    responses=errors(
        {
            403: "only its agent or a supervisor",
            404: "no handoff with this id",
            409: "the conversation was closed or changed hands, the agent is offline, or there "
            "is no agent with agent_id",
        }
    ),
)
def transfer(
    session: SessionDep, desk: Desk, principal: Staff, handoff_id: RowId, body: TransferRequest
) -> QueueItem:
    """Give the handoff to another agent (own handoffs; supervisors any)."""
    escalation = _handoff(session, handoff_id, principal, desk, acting=True)
    agent = _agent(session, principal)
    if escalation.agent_id != agent.id and principal.role not in MANAGERS:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="only its agent or a supervisor")
    target = session.get(Agent, body.agent_id)
    if target is None:
        raise unknown_reference("agent", body.agent_id)
    try:
        return desk.transfer(session, escalation, agent, target)
    except HandoffConflict as err:
        raise _conflict(err) from err


@router.post(
    "/{handoff_id}/close",
    response_model=QueueItem,
    operation_id="handoff-close",
    responses=errors({**ACTING, 503: RASA_DOWN}),
)
def close(
    session: SessionDep, desk: Desk, principal: Staff, handoff_id: RowId, body: CloseRequest
) -> QueueItem:
    """Resolve (the bot resumes and asks for a rating) or hand back to the bot."""
    escalation = _handoff(session, handoff_id, principal, desk, acting=True)
    try:
        return desk.close(
            session,
            escalation,
            _agent(session, principal),
            body.mode,
            body.resolution_code,
            principal.role in MANAGERS,
        )
    except (HandoffConflict, RasaUnavailable) as err:
        raise _conflict(err) from err


@router.post(
    "/{handoff_id}/left-message",
    response_model=QueueItem,
    operation_id="handoff-left-message",
    responses=errors(
        {
            403: NOT_THE_PROOFS_CONVERSATION,
            404: "no ticket with this id for this sender_id",
        }
    ),
)
def left_message(
    session: SessionDep,
    desk: Desk,
    principal: Annotated[Principal, Depends(require(BOT, SERVICE))],
    proof: ConversationProof,
    handoff_id: RowId,
    body: LeftMessage,
) -> QueueItem:
    """The bot adds the customer's message to their ticket (outside office hours)."""
    if principal.role == BOT:
        same_conversation(proof, body.sender_id)
    escalation = session.get(Escalation, handoff_id)
    if escalation is None or escalation.sender_id != body.sender_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no ticket {handoff_id} here")
    desk.leave_message(session, escalation, body.text)
    return desk.queue_item(session, escalation)
