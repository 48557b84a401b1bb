"""The live-handoff queue: priority, order, and who gets the next conversation.

Order: priority first (urgent, high, normal, low), then waiting time (oldest first). The
priority comes from the customer's tier, the sentiment of their messages and the reason of the
handoff. Automatic assignment gives a waiting handoff to an online agent with free capacity
who speaks the customer's language, least busy first (then the one who has waited longest for
work, approximated by the lower id); agents can also pick by hand and supervisors reassign.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from crm_bridge.models import (
    Agent,
    AgentRole,
    Availability,
    Escalation,
    EscalationStatus,
    Priority,
    utcnow,
)

ACTIVE = (EscalationStatus.OPEN, EscalationStatus.ASSIGNED)
HIGH_TIERS = frozenset({"platinum", "diamond"})
URGENT_REASONS = frozenset({"legal_threat", "negative_sentiment"})
HIGH_REASONS = frozenset({"vip_complaint", "sentiment_falling"})
URGENT_SENTIMENT = -0.6
_RANK = case(
    (Escalation.priority == Priority.URGENT, 0),
    (Escalation.priority == Priority.HIGH, 1),
    (Escalation.priority == Priority.NORMAL, 2),
    else_=3,
)


def handoff_priority(tier: str | None, sentiment: Sequence[float], reason: str) -> Priority:
    """Urgent for legal threats and strongly negative customers, high for top tiers."""
    if reason in URGENT_REASONS or (sentiment and min(sentiment) <= URGENT_SENTIMENT):
        return Priority.URGENT
    if reason in HIGH_REASONS or (tier or "") in HIGH_TIERS:
        return Priority.HIGH
    return Priority.NORMAL


def waiting(session: Session) -> list[Escalation]:
    """Live handoffs nobody has taken yet, in queue order."""
    return list(
        session.scalars(
            select(Escalation)
            .where(Escalation.live.is_(True), Escalation.status == EscalationStatus.OPEN)
            .order_by(_RANK, Escalation.created_at, Escalation.id)
        )
    )


def active(session: Session, agent_id: int | None = None) -> list[Escalation]:
    """Live handoffs that are waiting or with an agent (``agent_id``: only theirs)."""
    query = select(Escalation).where(Escalation.live.is_(True), Escalation.status.in_(ACTIVE))
    if agent_id is not None:
        query = query.where(Escalation.agent_id == agent_id)
    return list(session.scalars(query.order_by(_RANK, Escalation.created_at, Escalation.id)))


def queue_position(session: Session, escalation: Escalation) -> int:
    """1 for the next in line; 0 when not waiting."""
    for position, item in enumerate(waiting(session), start=1):
        if item.id == escalation.id:
            return position
    return 0


def load(session: Session) -> dict[int, int]:
    """Open conversations per agent."""
    rows = session.execute(
        select(Escalation.agent_id, func.count())
        .where(
            Escalation.live.is_(True),
            Escalation.status == EscalationStatus.ASSIGNED,
            Escalation.agent_id.is_not(None),
        )
        .group_by(Escalation.agent_id)
    ).all()
    return {agent_id: count for agent_id, count in rows}


def speaks(agent: Agent, language: str | None) -> bool:
    """An agent with no languages listed takes any."""
    return not agent.languages or not language or language in agent.languages


def online_agents(session: Session, language: str | None = None) -> list[Agent]:
    """Active agents who are online (and speak ``language`` when given)."""
    agents = session.scalars(
        select(Agent).where(
            Agent.active.is_(True),
            Agent.availability == Availability.ONLINE,
            Agent.role.in_((AgentRole.AGENT, AgentRole.SUPERVISOR)),
        )
    ).all()
    return [a for a in agents if speaks(a, language)]


def pick_agent(session: Session, language: str | None) -> Agent | None:
    """The least busy online agent with free capacity who speaks ``language``."""
    busy = load(session)
    free = [a for a in online_agents(session, language) if busy.get(a.id, 0) < a.max_concurrent]
    return min(free, key=lambda a: (busy.get(a.id, 0), a.id), default=None)


def assign(escalation: Escalation, agent: Agent) -> None:
    """Give the handoff to ``agent``."""
    escalation.agent_id = agent.id
    escalation.status = EscalationStatus.ASSIGNED
    escalation.assigned_at = utcnow()


def auto_assign(session: Session) -> list[Escalation]:
    """Assign waiting handoffs, in queue order, while agents have capacity; return those."""
    assigned = []
    for escalation in waiting(session):
        agent = pick_agent(session, escalation.language)
        if agent is not None:
            assign(escalation, agent)
            session.flush()
            assigned.append(escalation)
    return assigned


def release(session: Session, agent: Agent) -> list[Escalation]:
    """Return an agent's live handoffs to the queue (the agent went offline)."""
    returned = active(session, agent.id)
    for escalation in returned:
        escalation.agent_id = None
        escalation.status = EscalationStatus.OPEN
        escalation.assigned_at = None
    session.flush()
    return returned
