"""Conversations and their transcripts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from crm_bridge.api.contract import errors, link, links
from crm_bridge.api.deps import SERVICE, STAFF, Principal, RowId, SessionDep, require
from crm_bridge.models import Conversation, ConversationStatus
from crm_bridge.schemas import MAX_ID, ConversationPublic, ConversationWithTranscript, Page
from crm_bridge.services.audit import audit

router = APIRouter(prefix="/conversations", tags=["conversations"])
Reader = Annotated[Principal, Depends(require(SERVICE, *STAFF))]


@router.get(
    "",
    response_model=Page[ConversationPublic],
    operation_id="conversations-list",
    responses=links(
        200,
        GetConversation=link(
            "conversations-get",
            "the first conversation with its transcript",
            conversation_id="$response.body#/data/0/id",
        ),
    ),
)
def list_conversations(
    session: SessionDep,
    _principal: Reader,
    sender_id: Annotated[str | None, Query(max_length=255)] = None,
    status_: Annotated[ConversationStatus | None, Query(alias="status")] = None,
    channel: Annotated[str | None, Query(max_length=32)] = None,
    language: Annotated[str | None, Query(pattern=r"^(zh|en)$")] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[ConversationPublic]:
    """Conversations, newest first."""
    query = select(Conversation)
    for column, value in (
        (Conversation.sender_id, sender_id),
        (Conversation.status, status_),
        (Conversation.channel, channel),
        (Conversation.language, language),
    ):
        if value is not None:
            query = query.where(column == value)
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Conversation.started_at.desc(), Conversation.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return Page(data=[ConversationPublic.model_validate(c) for c in rows], count=count)


@router.get(
    "/{conversation_id}",
    response_model=ConversationWithTranscript,
    operation_id="conversations-get",
    responses=errors({404: "no conversation with this id"}),
)
def get_conversation(
    session: SessionDep, principal: Reader, conversation_id: RowId
) -> ConversationWithTranscript:
    """One conversation with its whole transcript."""
    conversation = session.get(
        Conversation, conversation_id, options=[selectinload(Conversation.messages)]
    )
    if conversation is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no conversation {conversation_id}")
    if conversation.customer_id is not None:
        audit(session, principal.name, "read", "conversation", conversation.id)
        session.commit()
    return ConversationWithTranscript.model_validate(conversation)
