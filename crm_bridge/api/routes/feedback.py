"""Feedback from the bot: CSAT ratings and whether knowledge-base answers helped."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status
from sqlalchemy import func, select

from crm_bridge.api.contract import NOT_THE_PROOFS_CONVERSATION, errors
from crm_bridge.api.deps import (
    BOT,
    SERVICE,
    STAFF,
    ConversationProof,
    Principal,
    SessionDep,
    SettingsDep,
    require,
    same_conversation,
)
from crm_bridge.models import Feedback, FeedbackKind
from crm_bridge.schemas import (
    MAX_ID,
    FeedbackCreate,
    FeedbackPublic,
    KbEntryId,
    Page,
    QueryTime,
)
from crm_bridge.services.audit import audit
from crm_bridge.services.feedback import record_feedback

router = APIRouter(prefix="/feedback", tags=["feedback"])
Service = Annotated[Principal, Depends(require(BOT, SERVICE))]
Staff = Annotated[Principal, Depends(require(*STAFF))]


@router.post(
    "",
    response_model=FeedbackPublic,
    status_code=status.HTTP_201_CREATED,
    operation_id="feedback-create",
    responses=errors({403: NOT_THE_PROOFS_CONVERSATION}),
)
def create_feedback(
    session: SessionDep,
    principal: Service,
    settings: SettingsDep,
    proof: ConversationProof,
    body: FeedbackCreate,
) -> FeedbackPublic:
    """Record a CSAT rating or a KB answer rating for a conversation (by its key).

    The bot records them only for the conversation its proof names.
    """
    if principal.role == BOT:
        same_conversation(proof, body.sender_id)
    feedback = record_feedback(session, body, mask_comment=settings.MASK_STORED_TRANSCRIPTS)
    audit(session, principal.name, "create", "feedback", feedback.id, kind=body.kind)
    session.commit()
    return FeedbackPublic.model_validate(feedback)


def _utc(value: datetime) -> datetime:
    """A query time in UTC (naive = UTC); 422 when it cannot be expressed in UTC."""
    try:
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except OverflowError as err:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, detail="since is out of range"
        ) from err


@router.get(
    "",
    response_model=Page[FeedbackPublic],
    operation_id="feedback-list",
    responses=errors({422: "since cannot be expressed in UTC"}),
)
def list_feedback(
    session: SessionDep,
    _principal: Staff,
    kind: FeedbackKind | None = None,
    kb_entry_id: Annotated[KbEntryId | None, Query()] = None,
    since: Annotated[QueryTime | None, Query(description="created at or after")] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[FeedbackPublic]:
    """Feedback, newest first."""
    query = select(Feedback)
    if kind is not None:
        query = query.where(Feedback.kind == kind)
    if kb_entry_id is not None:
        query = query.where(Feedback.kb_entry_id == kb_entry_id)
    if since is not None:
        query = query.where(Feedback.created_at >= _utc(since))
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Feedback.created_at.desc(), Feedback.id.desc()).offset(offset).limit(limit)
    ).all()
    return Page(data=[FeedbackPublic.model_validate(f) for f in rows], count=count)
