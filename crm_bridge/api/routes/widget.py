"""The website widget's history: what a browser session already said and was told.

No API key or login: the widget's session id (``w_`` + 32 random hex characters, made in the
browser and kept in its local storage) is the secret, as it already is for Rasa's socket.io
channel. Only socket.io conversations are served, so the guessable ids of other channels
(REST senders, chat-app accounts) never match, and internal notes are never included.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select

from crm_bridge.api.deps import SessionDep
from crm_bridge.models import Conversation, Message, MessageRole
from crm_bridge.schemas import Page
from crm_bridge.services.handoff import transcript_item

router = APIRouter(prefix="/widget", tags=["widget"])
WIDGET_SESSION = r"^w_[0-9a-f]{32}$"
WIDGET_CHANNEL = "socketio"
HISTORY_LIMIT = 200
FEEDBACK_PAYLOADS = ("/kb_helpful", "/kb_not_helpful")


class WidgetLine(BaseModel):
    """One line of the widget's history."""

    id: str
    role: MessageRole
    text: str | None
    at: str
    agent_name: str | None = None
    kb_entry_id: str | None = None


@router.get("/history", response_model=Page[WidgetLine], operation_id="widget-history")
def history(
    session: SessionDep,
    session_id: Annotated[str, Query(pattern=WIDGET_SESSION)],
) -> Page[WidgetLine]:
    """The latest conversation of a widget session, oldest line first."""
    conversation = session.scalars(
        select(Conversation)
        .where(Conversation.sender_id == session_id, Conversation.channel == WIDGET_CHANNEL)
        .order_by(Conversation.id.desc())
        .limit(1)
    ).first()
    if conversation is None:
        return Page(data=[], count=0)
    messages = session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation.id)
        .order_by(Message.at.desc(), Message.id.desc())
        .limit(HISTORY_LIMIT)
    ).all()
    lines = []
    for message in reversed(messages):
        item = transcript_item(message)
        if item.internal or not item.text or item.text.startswith(FEEDBACK_PAYLOADS):
            continue  # "was this helpful?" votes are sent silently; the widget shows no bubble
        lines.append(
            WidgetLine(
                id=item.id,
                role=item.role,
                text=item.text,
                at=item.at.isoformat(),
                agent_name=item.agent_name,
                kb_entry_id=item.kb_entry_id,
            )
        )
    return Page(data=lines, count=len(lines))
