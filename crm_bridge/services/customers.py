"""Customer records: creation with identities, identity resolution, merge, customer 360."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm_bridge.core.conversation_keys import qualify, sender_on
from crm_bridge.models import (
    Conversation,
    Customer,
    CustomerIdentity,
    Escalation,
    Feedback,
    LifecycleStage,
    Message,
    MessageRole,
    Order,
    PointsTransaction,
)
from crm_bridge.schemas import CustomerCreate


class CustomerError(ValueError):
    """A customer operation that cannot be done; the message says why."""


def create_customer(session: Session, data: CustomerCreate) -> Customer:
    """Create a customer with its identities; one already taken or listed twice is an error."""
    keys = [(i.channel, i.external_id) for i in data.identities]
    if len(set(keys)) != len(keys):
        raise CustomerError("the same channel identity is listed twice")
    for identity in data.identities:
        if find_by_identity(session, identity.channel, identity.external_id) is not None:
            raise CustomerError(
                f"identity {identity.channel}:{identity.external_id} belongs to another customer"
            )
    customer = Customer(
        **data.model_dump(exclude={"identities"}),
        lifecycle_stage=LifecycleStage.PROSPECT,
        frequency=0,
    )
    customer.identities = [CustomerIdentity(**i.model_dump()) for i in data.identities]
    session.add(customer)
    session.flush()
    return customer


def find_by_identity(session: Session, channel: str, external_id: str) -> Customer | None:
    """The (surviving) customer that owns a channel identity."""
    customer = session.scalars(
        select(Customer)
        .join(CustomerIdentity)
        .where(CustomerIdentity.channel == channel, CustomerIdentity.external_id == external_id)
    ).first()
    return surviving(session, customer)


def surviving(session: Session, customer: Customer | None) -> Customer | None:
    """The record a customer was merged into (following merges), or the customer itself."""
    while customer is not None and customer.merged_into_id is not None:
        customer = session.get(Customer, customer.merged_into_id)
    return customer


def link_identity(
    session: Session, customer: Customer, channel: str, external_id: str, verified: bool
) -> CustomerIdentity:
    """Attach a chat account to a customer, with that account's earlier conversations.

    An agent who checked who it is, or a verified phone / e-mail match, makes the link. A
    conversation key of that channel (``socketio:w_…``) names its chat account (``w_…``).
    """
    external_id = sender_on(external_id, channel)
    owner = find_by_identity(session, channel, external_id)
    if owner is not None and owner.id != customer.id:
        raise CustomerError(
            f"identity {channel}:{external_id} belongs to customer {owner.id}; merge the two"
        )
    identity = session.scalars(
        select(CustomerIdentity).where(
            CustomerIdentity.channel == channel, CustomerIdentity.external_id == external_id
        )
    ).first()
    if identity is None:
        identity = CustomerIdentity(
            customer_id=customer.id, channel=channel, external_id=external_id, verified=verified
        )
        session.add(identity)
    identity.verified = identity.verified or verified
    for model in (Conversation, Escalation):  # its conversations and tickets so far
        session.execute(
            update(model)
            .where(
                model.sender_id == qualify(channel, external_id),
                model.channel == channel,
                model.customer_id.is_(None),
            )
            .values(customer_id=customer.id)
        )
    session.flush()
    return identity


def merge_customers(session: Session, target: Customer, source: Customer) -> Customer:
    """Move everything of ``source`` to ``target`` (统一客户视图); ``source`` stays as a pointer."""
    if target.id == source.id:
        raise CustomerError("a customer cannot be merged into itself")
    if source.merged_into_id is not None or target.merged_into_id is not None:
        raise CustomerError("merge the surviving records, not one that was merged already")
    for model in (CustomerIdentity, Order, PointsTransaction, Conversation, Escalation, Feedback):
        session.execute(
            update(model).where(model.customer_id == source.id).values(customer_id=target.id)
        )
    target.points_balance += source.points_balance
    source.points_balance = 0
    for field in ("name", "email", "phone", "language"):
        if getattr(target, field) is None:
            setattr(target, field, getattr(source, field))
    target.tags = sorted(set(target.tags) | set(source.tags))
    target.consent_marketing = target.consent_marketing and source.consent_marketing
    source.merged_into_id = target.id
    session.flush()
    session.expire_all()
    return target


def sentiment_history(session: Session, customer_id: int, limit: int = 50) -> list[float]:
    """The customer's latest message sentiment scores, oldest first."""
    scores = session.scalars(
        select(Message.sentiment_score)
        .join(Conversation)
        .where(
            Conversation.customer_id == customer_id,
            Message.role == MessageRole.CUSTOMER,
            Message.sentiment_score.is_not(None),
        )
        .order_by(Message.at.desc())
        .limit(limit)
    ).all()
    return list(reversed(scores))
