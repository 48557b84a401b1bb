"""Feedback the bot collects: CSAT after a conversation, helpfulness of knowledge-base answers."""

from __future__ import annotations

from sqlalchemy.orm import Session

from crm_bridge.core.pii import mask_pii
from crm_bridge.models import Feedback, FeedbackKind
from crm_bridge.schemas import FeedbackCreate
from crm_bridge.services.linking import latest_conversation, link_feedback


def record_feedback(session: Session, data: FeedbackCreate, *, mask_comment: bool) -> Feedback:
    """Store feedback, linked to the sender's latest conversation when there is one.

    A CSAT rating also becomes that conversation's ``csat`` / ``csat_comment``. Without a
    conversation yet, the row waits for the ingestor to open one (``services/linking.py``).
    ``mask_comment`` stores the comment with personal data masked, as transcripts are.
    """
    comment = data.comment
    if comment and mask_comment:
        comment = mask_pii(comment)
    feedback = Feedback(
        sender_id=data.sender_id,
        kind=FeedbackKind(data.kind),
        rating=data.rating,
        comment=comment,
        kb_entry_id=data.kb_entry_id,
        language=data.language,
        channel=data.channel,
    )
    session.add(feedback)
    conversation = latest_conversation(session, data.sender_id)
    if conversation is not None:
        link_feedback(feedback, conversation)
    session.flush()
    return feedback
