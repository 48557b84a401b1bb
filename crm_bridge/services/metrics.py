"""Service KPIs from conversations and escalations, by day, channel or language.

Definitions (see crm_bridge/README.md, "KPIs"):
- automation rate: ended conversations resolved by the bot / ended conversations;
- escalation rate: conversations with at least one escalation / conversations;
- sentiment: mean of the conversations' mean sentiment, and the worst message score;
- CSAT: mean of 1-5 ratings; NPS: % promoters (9-10) - % detractors (0-6) of 0-10 answers;
- first response / resolution time: mean seconds from an escalation's creation to its first
  agent reply / its resolution;
- KB helpfulness: share of "was this answer helpful" ratings (kb_answer feedback linked to
  the group's conversations) that said yes (rating 1).
Rows are grouped in Python so the same code runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from statistics import fmean
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_bridge.models import Conversation, ConversationStatus, Escalation, Feedback, FeedbackKind

GroupBy = Literal["day", "channel", "language", "all"]
_ENDED = {
    ConversationStatus.RESOLVED_BY_BOT,
    ConversationStatus.RESOLVED_BY_AGENT,
    ConversationStatus.ABANDONED,
}


def _mean(values: list[float]) -> float | None:
    return round(fmean(values), 4) if values else None


def _nps(scores: list[int]) -> float | None:
    if not scores:
        return None
    promoters = sum(s >= 9 for s in scores)
    detractors = sum(s <= 6 for s in scores)
    return round(100 * (promoters - detractors) / len(scores), 1)


def _key(group_by: GroupBy) -> Callable[[Conversation], str]:
    return {
        "day": lambda c: c.started_at.date().isoformat(),
        "channel": lambda c: c.channel or "unknown",
        "language": lambda c: c.language or "unknown",
        "all": lambda c: "all",
    }[group_by]


def kpis(session: Session, start: datetime, end: datetime, group_by: GroupBy) -> list[dict]:
    """One row of KPIs per group, for conversations started in [start, end)."""
    conversations = session.scalars(
        select(Conversation).where(Conversation.started_at >= start, Conversation.started_at < end)
    ).all()
    escalations: dict[int, list[Escalation]] = defaultdict(list)
    kb_ratings: dict[int, list[int]] = defaultdict(list)
    ids = [c.id for c in conversations]
    for chunk in range(0, len(ids), 500):
        for escalation in session.scalars(
            select(Escalation).where(Escalation.conversation_id.in_(ids[chunk : chunk + 500]))
        ):
            escalations[escalation.conversation_id].append(escalation)
        for conversation_id, rating in session.execute(
            select(Feedback.conversation_id, Feedback.rating).where(
                Feedback.conversation_id.in_(ids[chunk : chunk + 500]),
                Feedback.kind == FeedbackKind.KB_ANSWER,
            )
        ):
            kb_ratings[conversation_id].append(rating)
    groups: dict[str, list[Conversation]] = defaultdict(list)
    key = _key(group_by)
    for conversation in conversations:
        groups[key(conversation)].append(conversation)
    rows = []
    for group, items in sorted(groups.items()):
        ended = [c for c in items if c.status in _ENDED]
        tickets = [e for c in items for e in escalations.get(c.id, [])]
        kb = [r for c in items for r in kb_ratings.get(c.id, [])]
        rows.append(
            {
                "group": group,
                "conversations": len(items),
                "automation_rate": _mean(
                    [c.status == ConversationStatus.RESOLVED_BY_BOT for c in ended]
                ),
                "escalation_rate": _mean([bool(escalations.get(c.id)) for c in items]),
                "sentiment_mean": _mean(
                    [c.sentiment_mean for c in items if c.sentiment_mean is not None]
                ),
                "sentiment_worst": min(
                    (c.sentiment_min for c in items if c.sentiment_min is not None), default=None
                ),
                "csat": _mean([c.csat for c in items if c.csat is not None]),
                "nps": _nps([c.nps for c in items if c.nps is not None]),
                "first_response_seconds": _mean(
                    [
                        (e.first_response_at - e.created_at).total_seconds()
                        for e in tickets
                        if e.first_response_at
                    ]
                ),
                "resolution_seconds": _mean(
                    [
                        (e.resolved_at - e.created_at).total_seconds()
                        for e in tickets
                        if e.resolved_at
                    ]
                ),
                "kb_helpful_rate": _mean([r == 1 for r in kb]),
                "kb_ratings": len(kb),
            }
        )
    return rows
