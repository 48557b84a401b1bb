"""The live-handoff queue: priority, order, and who gets the next conversation.

Order: priority first (urgent, high, normal, low), then waiting time (oldest first). The
priority comes from the customer's tier, the sentiment of their messages and the reason of the
handoff. Automatic assignment gives a waiting handoff to an online agent with free capacity
who speaks the customer's language, least busy first (then the one who has waited longest for
work, approximated by the lower id); agents can also pick by hand and supervisors reassign.

Several bridge instances work on the same rows, so every change of a handoff's owner or status
is a conditional UPDATE (``… WHERE status / agent_id are what the caller saw``) that tells
whether it won, and automatic assignment runs under a PostgreSQL transaction lock, so that two
instances never give one handoff twice or an agent more than their capacity.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, case, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from crm_bridge.core.locks import xact_lock
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


def _agent_is(agent_id: int | None) -> ColumnElement[bool]:
    return Escalation.agent_id.is_(None) if agent_id is None else Escalation.agent_id == agent_id


def update_if(
    session: Session, escalation: Escalation, conditions: Sequence[ColumnElement[bool]], **values
) -> bool:
    """``UPDATE`` the handoff's row only while ``conditions`` hold; True if it did.

    On PostgreSQL a concurrent transaction that changed the row first makes this one wait for
    its commit and then re-check the conditions on the new row: exactly one of two wins. The
    object gets the new values (the row is already written in this transaction).
    """
    result = session.execute(
        update(Escalation)
        .where(Escalation.id == escalation.id, *conditions)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    for name, value in values.items():
        set_committed_value(escalation, name, value)
    return True


def take(session: Session, escalation: Escalation, agent: Agent) -> bool:
    """Give a waiting handoff to ``agent``; False if it is no longer waiting."""
    return update_if(
        session,
        escalation,
        [Escalation.live.is_(True), Escalation.status == EscalationStatus.OPEN],
        agent_id=agent.id,
        status=EscalationStatus.ASSIGNED,
        assigned_at=utcnow(),
    )


def hand_over(session: Session, escalation: Escalation, to: Agent, seen_agent: int | None) -> bool:
    """Give an open handoff to ``to``; False if it closed or changed hands since it was read."""
    return update_if(
        session,
        escalation,
        [Escalation.live.is_(True), Escalation.status.in_(ACTIVE), _agent_is(seen_agent)],
        agent_id=to.id,
        status=EscalationStatus.ASSIGNED,
        assigned_at=utcnow(),
    )


def finish(session: Session, escalation: Escalation, seen_agent: int | None, **values) -> bool:
    """Resolve or close an open handoff; False if it closed or changed hands since it was read."""
    return update_if(
        session,
        escalation,
        [Escalation.live.is_(True), Escalation.status.in_(ACTIVE), _agent_is(seen_agent)],
        **values,
    )


def lock(session: Session, escalation: Escalation) -> None:
    """Re-read the handoff's row; on PostgreSQL lock it until this transaction ends.

    ``SELECT … FOR UPDATE``: for a change decided on the row's state with a slow step in
    between (closing calls Rasa first).
    """
    session.refresh(escalation, with_for_update=True)


def serialize_assignment(session: Session) -> None:
    """Keep other transactions from assigning handoffs or changing presence meanwhile.

    Waits for the one doing it now; held until this transaction ends (PostgreSQL; SQLite is
    a single instance).
    """
    xact_lock(session, "handoff-assignment")


def auto_assign(session: Session) -> list[Escalation]:
    """Assign waiting handoffs, in queue order, while agents have capacity; return those.

    One instance at a time (:func:`serialize_assignment`), so that loads and presence are
    read after the other instances' assignments are committed.
    """
    serialize_assignment(session)
    assigned = []
    for escalation in waiting(session):
        agent = pick_agent(session, escalation.language)
        if agent is not None and take(session, escalation, agent):
            assigned.append(escalation)
    return assigned


def release(session: Session, agent: Agent) -> list[Escalation]:
    """Return an agent's live handoffs to the queue (the agent went offline).

    One conditional UPDATE: a handoff closed or transferred meanwhile on another instance is
    left as it is.
    """
    ids = session.scalars(
        update(Escalation)
        .where(
            Escalation.agent_id == agent.id,
            Escalation.live.is_(True),
            Escalation.status.in_(ACTIVE),
        )
        .values(agent_id=None, status=EscalationStatus.OPEN, assigned_at=None)
        .returning(Escalation.id)
        .execution_options(synchronize_session=False)
    ).all()
    if not ids:
        return []
    return list(
        session.scalars(
            select(Escalation)
            .where(Escalation.id.in_(ids))
            .order_by(_RANK, Escalation.created_at, Escalation.id)
            .execution_options(populate_existing=True)
        )
    )
