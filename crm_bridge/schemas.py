"""Request and response bodies of the API (``XCreate`` / ``XUpdate`` / ``XPublic`` families)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Generic, Self, TypeVar

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, model_validator

from crm_bridge.models import (
    AgentRole,
    Availability,
    ConversationStatus,
    EscalationStatus,
    LifecycleStage,
    MessageRole,
    Priority,
    Tier,
)

T = TypeVar("T")
MAX_ID = 2**31 - 1
"""Ids are 32-bit on every supported database."""
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 \-]{5,20}$")]
Language = Annotated[str, StringConstraints(pattern=r"^(zh|en)$")]
Channel = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{1,31}$")]


class Strict(BaseModel):
    """Bodies reject unknown fields, so typos fail loudly (422) instead of being ignored."""

    model_config = ConfigDict(extra="forbid")


class Patch(Strict):
    """A partial update: omitted fields stay; ``null`` only where the record allows it."""

    not_null: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_null_for_required(self) -> Self:
        nulled = sorted(
            f for f in self.model_fields_set & self.not_null if getattr(self, f) is None
        )
        if nulled:
            raise ValueError(f"{', '.join(nulled)} cannot be null; leave it out to keep it")
        return self


class Page(BaseModel, Generic[T]):
    """A list wrapper."""

    data: list[T]
    count: int


class Token(BaseModel):
    """A bearer token for an agent."""

    access_token: str
    token_type: str = "bearer"


# -- customers ------------------------------------------------------------------------------


class IdentityIn(Strict):
    """A channel identity to attach to a customer."""

    channel: Channel
    external_id: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    verified: bool = False


class IdentityPublic(BaseModel):
    """A channel identity."""

    model_config = ConfigDict(from_attributes=True)
    channel: str
    external_id: str
    verified: bool


class CustomerCreate(Strict):
    """A new customer."""

    name: ShortText | None = None
    email: EmailStr | None = None
    phone: Phone | None = None
    language: Language | None = None
    tier: Tier = Tier.REGULAR
    points_balance: int = Field(default=0, ge=0, le=100_000_000)
    consent_marketing: bool = False
    consent_data_processing: bool = True
    tags: list[ShortText] = Field(default_factory=list, max_length=50)
    identities: list[IdentityIn] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _identities_unique(self) -> Self:
        keys = [(i.channel, i.external_id) for i in self.identities]
        if len(set(keys)) != len(keys):
            raise ValueError("the same channel identity is listed twice")
        return self


class CustomerUpdate(Patch):
    """Fields to change (all optional)."""

    not_null: ClassVar[frozenset[str]] = frozenset(
        {"tier", "consent_marketing", "consent_data_processing", "tags"}
    )

    name: ShortText | None = None
    email: EmailStr | None = None
    phone: Phone | None = None
    language: Language | None = None
    tier: Tier | None = None
    consent_marketing: bool | None = None
    consent_data_processing: bool | None = None
    tags: list[ShortText] | None = Field(default=None, max_length=50)


class CustomerPublic(BaseModel):
    """A customer record."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str | None
    email: str | None
    phone: str | None
    language: str | None
    tier: Tier
    points_balance: int
    lifecycle_stage: LifecycleStage
    recency_days: int | None
    frequency: int
    monetary: Decimal
    rfm_segment: str | None
    clv: Decimal | None
    consent_marketing: bool
    consent_data_processing: bool
    tags: list[str]
    merged_into_id: int | None
    identities: list[IdentityPublic]
    created_at: datetime


class MergeRequest(Strict):
    """Merge ``source_id`` into the customer of the path."""

    source_id: int = Field(ge=1, le=MAX_ID)


# -- orders ---------------------------------------------------------------------------------


class OrderStatusPublic(BaseModel):
    """One status change."""

    model_config = ConfigDict(from_attributes=True)
    status: str
    at: datetime
    note: str | None


class OrderPublic(BaseModel):
    """An order as the customer may see it."""

    model_config = ConfigDict(from_attributes=True)
    number: str
    status: str
    items: list[Any]
    amount: Decimal
    currency: str
    placed_at: datetime
    shipped_at: datetime | None
    delivered_at: datetime | None
    carrier: str | None
    tracking_number: str | None
    status_history: list[OrderStatusPublic]


# -- conversations ----------------------------------------------------------------------------


class MessagePublic(BaseModel):
    """One turn of a transcript."""

    model_config = ConfigDict(from_attributes=True)
    role: MessageRole
    text: str | None
    at: datetime
    intent: str | None
    intent_confidence: float | None
    kb_entry_id: str | None
    kb_score: float | None
    sentiment_score: float | None
    sentiment_label: str | None


class ConversationPublic(BaseModel):
    """A conversation without its transcript."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    sender_id: str
    channel: str | None
    language: str | None
    customer_id: int | None
    status: ConversationStatus
    started_at: datetime
    ended_at: datetime | None
    customer_messages: int
    sentiment_mean: float | None
    sentiment_min: float | None
    sentiment_trend: float | None
    csat: int | None
    summary: str | None


class ConversationWithTranscript(ConversationPublic):
    """A conversation and every turn."""

    messages: list[MessagePublic]


class Customer360(BaseModel):
    """Everything known about a customer, in one view."""

    customer: CustomerPublic
    orders: list[OrderPublic]
    conversations: list[ConversationPublic]
    escalations: list[EscalationPublic]
    sentiment_trend: list[float]


# -- escalations ----------------------------------------------------------------------------


class EscalationCreate(Strict):
    """A handoff or ticket opened by the bot."""

    sender_id: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
    customer_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    reason: Annotated[str, StringConstraints(pattern=r"^[a-z_]{2,64}$")]
    priority: Priority = Priority.NORMAL
    notes: Annotated[str, StringConstraints(max_length=5000)] | None = None
    context: dict[str, Any] = Field(default_factory=dict)


class EscalationUpdate(Patch):
    """Ticket fields an agent changes."""

    not_null: ClassVar[frozenset[str]] = frozenset({"status", "priority"})

    status: EscalationStatus | None = None
    priority: Priority | None = None
    agent_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    resolution_code: Annotated[str, StringConstraints(max_length=64)] | None = None
    notes: Annotated[str, StringConstraints(max_length=5000)] | None = None


class EscalationPublic(BaseModel):
    """A ticket."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    conversation_id: int | None
    customer_id: int | None
    reason: str
    priority: Priority
    status: EscalationStatus
    agent_id: int | None
    created_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    resolution_code: str | None
    notes: str | None


# -- agents ---------------------------------------------------------------------------------


class AgentCreate(Strict):
    """A new console user."""

    name: ShortText
    login: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_.-]{3,100}$")]
    password: Annotated[str, StringConstraints(min_length=10, max_length=200)]
    role: AgentRole = AgentRole.AGENT
    languages: list[Language] = Field(default_factory=lambda: ["zh"], min_length=1)
    max_concurrent: int = Field(default=3, ge=1, le=50)


class AgentPublic(BaseModel):
    """A console user (never the password hash)."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    login: str
    role: AgentRole
    languages: list[str]
    availability: Availability
    max_concurrent: int


# -- sentiment --------------------------------------------------------------------------------


class SentimentRequest(Strict):
    """Text to score."""

    text: Annotated[str, StringConstraints(min_length=1, max_length=5000)]


class SentimentPublic(BaseModel):
    """A sentiment score."""

    score: float = Field(ge=-1, le=1)
    label: str
    language: str


Customer360.model_rebuild()
