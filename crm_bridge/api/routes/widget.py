"""The website widget's history: what a browser session already said and was told.

No API key or login: the widget's session token (``X-Widget-Session``, issued by Rasa's
widget channel as ``<session id>.<secret>``, :mod:`crm_bridge.core.widget_sessions`) is the
credential. The session id alone, which agents and logs may see, is refused (401), and the
token travels in a header, never in a URL (access logs). Only that session's widget
conversation is served (``socketio:<session id>``), internal notes never. Reads are
rate-limited per client address and per session.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request, status
from pydantic import BaseModel
from sqlalchemy import select

from crm_bridge.api.contract import errors
from crm_bridge.api.deps import SessionDep, SettingsDep
from crm_bridge.api.rate_limits import PublicLimits, client_of
from crm_bridge.core.widget_sessions import HEADER, MAX_TOKEN, session_of
from crm_bridge.models import Conversation, Message, MessageRole
from crm_bridge.schemas import Page
from crm_bridge.services.handoff import transcript_item

router = APIRouter(prefix="/widget", tags=["widget"])
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


@router.get(
    "/history",
    response_model=Page[WidgetLine],
    operation_id="widget-history",
    responses=errors(
        {
            401: f"no valid widget session token in {HEADER}",
            429: "too many reads from this address or session: wait Retry-After",
        }
    ),
)
def history(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str | None, Header(alias=HEADER, max_length=MAX_TOKEN)] = None,
) -> Page[WidgetLine]:
    """The latest conversation of a widget session, oldest line first."""
    limits: PublicLimits = request.app.state.public_limits
    # Every request counts against its address, a bad token too; then the session's own.
    limits.check(settings.WIDGET_HISTORY_RATE_LIMIT, "widget-history-ip", client_of(request))
    session_id = session_of(token, settings.widget_session_keys)
    if session_id is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail=f"send the widget's session token in {HEADER}; the session id alone is refused",
        )
    limits.check(settings.WIDGET_HISTORY_RATE_LIMIT, "widget-history-session", session_id)
    conversation_key = f"{WIDGET_CHANNEL}:{session_id}"
    conversation = session.scalars(
        select(Conversation)
        .where(Conversation.sender_id == conversation_key, Conversation.channel == WIDGET_CHANNEL)
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
