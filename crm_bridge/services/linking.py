"""Link rows the bot sent by Rasa sender id (feedback, escalations) to their conversation.

The bot may send a rating or open an escalation before the bridge has ingested the
conversation it belongs to (ingestion runs behind the broker). Such rows are stored with
their ``sender_id`` and ``conversation_id`` NULL; when the ingestor opens a conversation for
that sender it calls :func:`attach_orphans`, which links them (and their customer) and applies
a CSAT rating to the conversation.

A row is attached to the latest newly opened conversation of its sender that started before
the row was created (``CLOCK_SKEW`` allowed between Rasa's and the bridge's clocks): a row
whose conversation was missed never lands on a later, unrelated conversation of a returning
sender.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_bridge.models import Conversation, Escalation, Feedback, FeedbackKind

CLOCK_SKEW = timedelta(minutes=5)
_CHUNK = 500


def latest_conversation(session: Session, sender_id: str) -> Conversation | None:
    """The sender's most recent conversation, if the bridge has ingested one."""
    return session.scalars(
        select(Conversation)
        .where(Conversation.sender_id == sender_id)
        .order_by(Conversation.id.desc())
        .limit(1)
    ).first()


def link_feedback(feedback: Feedback, conversation: Conversation) -> None:
    """Attach feedback to its conversation; a CSAT rating becomes the conversation's CSAT."""
    feedback.conversation_id = conversation.id
    if feedback.customer_id is None:
        feedback.customer_id = conversation.customer_id
    if feedback.kind == FeedbackKind.CSAT:
        conversation.csat = feedback.rating
        conversation.csat_comment = feedback.comment


def link_escalation(escalation: Escalation, conversation: Conversation) -> None:
    """Attach an escalation to its conversation (and the conversation's customer)."""
    escalation.conversation_id = conversation.id
    if escalation.customer_id is None:
        escalation.customer_id = conversation.customer_id


def _pick(candidates: list[Conversation], row: Feedback | Escalation) -> Conversation | None:
    started = [c for c in candidates if c.started_at <= row.created_at + CLOCK_SKEW]
    return max(started, key=lambda c: (c.started_at, c.id), default=None)


def attach_orphans(session: Session, conversations: Sequence[Conversation]) -> int:
    """Link unlinked feedback and escalations of these (flushed, new) conversations' senders.

    Returns how many rows were linked. Rows are applied oldest first, so the latest CSAT
    rating wins.
    """
    by_sender: dict[str, list[Conversation]] = defaultdict(list)
    for conversation in conversations:
        by_sender[conversation.sender_id].append(conversation)
    senders = sorted(by_sender)
    linked = 0
    for start in range(0, len(senders), _CHUNK):
        chunk = senders[start : start + _CHUNK]
        feedback = session.scalars(
            select(Feedback)
            .where(Feedback.sender_id.in_(chunk), Feedback.conversation_id.is_(None))
            .order_by(Feedback.created_at, Feedback.id)
        ).all()
        for row in feedback:
            conversation = _pick(by_sender[row.sender_id], row)
            if conversation is not None:
                link_feedback(row, conversation)
                linked += 1
        escalations = session.scalars(
            select(Escalation)
            .where(Escalation.sender_id.in_(chunk), Escalation.conversation_id.is_(None))
            .order_by(Escalation.created_at, Escalation.id)
        ).all()
        for row in escalations:
            conversation = _pick(by_sender[row.sender_id or ""], row)
            if conversation is not None:
                link_escalation(row, conversation)
                linked += 1
    return linked
