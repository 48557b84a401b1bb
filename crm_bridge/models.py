"""SQLAlchemy 2 models of the CRM. The schema changes only through Alembic migrations.

Vocabulary follows ``../shared/CRM_DOMAIN.md``: customer 360 with merged channel identities,
value tiers and loyalty points, lifecycle stages, RFM and CLV, the complaint closed loop as
escalations / tickets with SLA timestamps, and an audit log of access to customer data.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Named constraints, so Alembic can alter them on SQLite (batch mode) and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Store in UTC; a naive value is taken to be UTC already."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Read back as aware UTC."""
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """Base of every CRM model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


def _enum(cls: type[enum.Enum]) -> SAEnum:
    # Stored as the value string with a CHECK constraint: portable, readable in SQL.
    return SAEnum(
        cls,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        name=cls.__name__.lower(),
    )


class Tier(str, enum.Enum):
    """Membership tiers (会员等级), lowest first."""

    REGULAR = "regular"  # 普通会员
    SILVER = "silver"  # 银卡
    GOLD = "gold"  # 金卡
    PLATINUM = "platinum"  # 白金
    DIAMOND = "diamond"  # 钻石


class LifecycleStage(str, enum.Enum):
    """Customer lifecycle (客户生命周期); rules in ``crm_bridge/services/customer_value.py``."""

    PROSPECT = "prospect"
    NEW = "new"
    ACTIVE = "active"
    AT_RISK = "at_risk"
    CHURNED = "churned"


class ConversationStatus(str, enum.Enum):
    """Who holds a conversation, and how it ended."""

    BOT = "bot"
    WAITING_FOR_AGENT = "waiting_for_agent"
    WITH_AGENT = "with_agent"
    RESOLVED_BY_BOT = "resolved_by_bot"
    RESOLVED_BY_AGENT = "resolved_by_agent"
    ABANDONED = "abandoned"


class MessageRole(str, enum.Enum):
    """Who wrote a message."""

    CUSTOMER = "customer"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"


class EscalationStatus(str, enum.Enum):
    """Ticket status along the complaint closed loop."""

    OPEN = "open"
    ASSIGNED = "assigned"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Priority(str, enum.Enum):
    """Ticket priority."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class FeedbackKind(str, enum.Enum):
    """What a feedback row rates."""

    CSAT = "csat"  # satisfaction 1-5 with the conversation (客户满意度)
    KB_ANSWER = "kb_answer"  # was a knowledge-base answer helpful: 1 yes, 0 no


class AgentRole(str, enum.Enum):
    """What an agent may do."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class Availability(str, enum.Enum):
    """An agent's presence."""

    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


class Customer(Base):
    """One customer (客户), with every channel identity merged into this record."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    language: Mapped[str | None] = mapped_column(String(8))
    tier: Mapped[Tier] = mapped_column(_enum(Tier), default=Tier.REGULAR)
    points_balance: Mapped[int] = mapped_column(Integer, default=0)
    lifecycle_stage: Mapped[LifecycleStage] = mapped_column(
        _enum(LifecycleStage), default=LifecycleStage.PROSPECT
    )
    # Value metrics, recomputed from orders (services/customer_value.py).
    recency_days: Mapped[int | None] = mapped_column(Integer)
    frequency: Mapped[int] = mapped_column(Integer, default=0)
    monetary: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    rfm_segment: Mapped[str | None] = mapped_column(String(32))
    clv: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    consent_marketing: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_data_processing: Mapped[bool] = mapped_column(Boolean, default=True)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    identities: Mapped[list[CustomerIdentity]] = relationship(back_populates="customer")
    orders: Mapped[list[Order]] = relationship(back_populates="customer")


class CustomerIdentity(Base):
    """A customer's id on one channel (widget visitor, signed site user, Telegram, …)."""

    __tablename__ = "customer_identities"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(255))
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="identities")


class Order(Base):
    """An order, with enough detail to answer "where is my order"."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    status: Mapped[str] = mapped_column(String(32))
    items: Mapped[list[Any]] = mapped_column(default=list)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    placed_at: Mapped[datetime] = mapped_column(default=utcnow)
    shipped_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    carrier: Mapped[str | None] = mapped_column(String(64))
    tracking_number: Mapped[str | None] = mapped_column(String(64))

    customer: Mapped[Customer] = relationship(back_populates="orders")
    status_history: Mapped[list[OrderStatusChange]] = relationship(
        back_populates="order", order_by="OrderStatusChange.at"
    )


class OrderStatusChange(Base):
    """One step of an order's status history."""

    __tablename__ = "order_status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str | None] = mapped_column(String(500))

    order: Mapped[Order] = relationship(back_populates="status_history")


class PointsTransaction(Base):
    """Loyalty points earned (+) or spent/expired (-); ``expires_at`` for earned points."""

    __tablename__ = "points_transactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    delta: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]


class Conversation(Base):
    """One conversation: a Rasa session of one sender, or until an idle gap."""

    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_sender_started", "sender_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(255))
    channel: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(8))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    status: Mapped[ConversationStatus] = mapped_column(
        _enum(ConversationStatus), default=ConversationStatus.BOT
    )
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_event_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    customer_messages: Mapped[int] = mapped_column(Integer, default=0)
    scored_messages: Mapped[int] = mapped_column(Integer, default=0)
    sentiment_mean: Mapped[float | None] = mapped_column(Float)
    sentiment_min: Mapped[float | None] = mapped_column(Float)
    sentiment_trend: Mapped[float | None] = mapped_column(Float)
    """Slope of the sentiment over the last ``sentiment_recent`` scores (per message)."""
    sentiment_recent: Mapped[list[Any]] = mapped_column(default=list)
    csat: Mapped[int | None] = mapped_column(Integer)
    """Satisfaction 1-5 asked at the end of the conversation."""
    nps: Mapped[int | None] = mapped_column(Integer)
    """Would-recommend 0-10, when the survey asked it."""
    csat_comment: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)

    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", order_by="Message.at"
    )


class Message(Base):
    """One turn. ``event_key`` identifies the Rasa event it came from (idempotent ingestion)."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    event_key: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[MessageRole] = mapped_column(_enum(MessageRole))
    text: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    intent: Mapped[str | None] = mapped_column(String(100))
    intent_confidence: Mapped[float | None] = mapped_column(Float)
    entities: Mapped[list[Any]] = mapped_column(default=list)
    kb_entry_id: Mapped[str | None] = mapped_column(String(100))
    kb_score: Mapped[float | None] = mapped_column(Float)
    sentiment_score: Mapped[float | None] = mapped_column(Float)
    sentiment_label: Mapped[str | None] = mapped_column(String(16))
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")


class Agent(Base):
    """A service agent, supervisor or admin who logs in to the console."""

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    login: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[AgentRole] = mapped_column(_enum(AgentRole), default=AgentRole.AGENT)
    languages: Mapped[list[Any]] = mapped_column(default=list)
    availability: Mapped[Availability] = mapped_column(
        _enum(Availability), default=Availability.OFFLINE
    )
    max_concurrent: Mapped[int] = mapped_column(Integer, default=3)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    password_changed_at: Mapped[datetime | None] = mapped_column()
    """When the password was last set after the account was created (changed or reset)."""


class Escalation(Base):
    """A handoff to a human or a ticket (工单), with SLA timestamps."""

    __tablename__ = "escalations"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    sender_id: Mapped[str | None] = mapped_column(String(255), index=True)
    """Rasa sender id the bot opened it for: links it to a conversation ingested later."""
    reason: Mapped[str] = mapped_column(String(64))
    priority: Mapped[Priority] = mapped_column(_enum(Priority), default=Priority.NORMAL)
    status: Mapped[EscalationStatus] = mapped_column(
        _enum(EscalationStatus), default=EscalationStatus.OPEN
    )
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    resolution_code: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(Text)
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    live: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    """A live handoff: the conversation is paused in Rasa and waits for / is with an agent."""
    language: Mapped[str | None] = mapped_column(String(8))
    channel: Mapped[str | None] = mapped_column(String(32))
    """Rasa input channel of the customer (agent replies are sent to it)."""
    assigned_at: Mapped[datetime | None]


class Feedback(Base):
    """A customer's rating: CSAT of a conversation, or whether a KB answer helped.

    Sent by the bot with the Rasa sender id; linked to that sender's latest conversation, or
    to the first one ingested later when the bridge has not seen the conversation yet.
    """

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(255), index=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    kind: Mapped[FeedbackKind] = mapped_column(_enum(FeedbackKind))
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    kb_entry_id: Mapped[str | None] = mapped_column(String(100), index=True)
    language: Mapped[str | None] = mapped_column(String(8))
    channel: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditLog(Base):
    """Who read or changed which customer data, when (PIPL / GDPR accountability)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class IngestedEvent(Base):
    """Key of every Rasa event already applied: a redelivered event is skipped, not re-applied."""

    __tablename__ = "ingested_events"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class IngestCursor(Base):
    """How far ingestion got in a source (e.g. the row id in Rasa's SQL broker table)."""

    __tablename__ = "ingest_cursors"

    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class IdentityVerification(Base):
    """A one-time code sent to a customer's phone or e-mail to verify a chat account.

    Only a keyed hash of the code is kept. Rows of unknown contacts are stored too (with no
    customer), so rate limits apply to them and nothing tells whether a contact exists.
    """

    __tablename__ = "identity_verifications"
    __table_args__ = (Index("ix_identity_verifications_sender", "channel", "sender_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    sender_id: Mapped[str] = mapped_column(String(255))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    contact_kind: Mapped[str] = mapped_column(String(8))
    """``phone`` or ``email``."""
    contact_key: Mapped[str] = mapped_column(String(64), index=True)
    """A keyed hash of the normalised contact (rate limits per contact, no plain copy kept)."""
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    """``pending``, ``verified``, ``failed`` (too many wrong codes) or ``superseded``."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    expires_at: Mapped[datetime] = mapped_column()
    verified_at: Mapped[datetime | None] = mapped_column()


class LoginFailure(Base):
    """A failed agent log-in: recent ones per login and per client address slow down guessing."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(255), index=True)
    client: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class AgentSession(Base):
    """One log-in of an agent (a console): what its refresh token and access tokens name.

    Access tokens carry the session id (``sid``) and are accepted only while the session is
    neither revoked nor expired; the refresh token is stored only as a hash, replaced at each
    refresh (the previous hash is kept to tell a late retry from a stolen token).
    """

    __tablename__ = "agent_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    """Random, unguessable (128 bits, hex)."""
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    refresh_token_hash: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the current refresh token (the token itself is never stored)."""
    previous_token_hash: Mapped[str | None] = mapped_column(String(64))
    """SHA-256 of the refresh token the latest refresh replaced."""
    rotated_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(default=utcnow)
    """The log-in or the latest refresh (the idle limit counts from here)."""
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoked_reason: Mapped[str | None] = mapped_column(String(32))
    """``logout``, ``logout_all``, ``deactivated``, ``password_changed``, ``password_reset``,
    ``refresh_reuse`` …"""
    client: Mapped[str | None] = mapped_column(String(64))
    """The client address of the log-in."""
    user_agent: Mapped[str | None] = mapped_column(String(255))
    """The browser of the log-in (truncated)."""
