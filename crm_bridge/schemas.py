"""Request and response bodies of the API (``XCreate`` / ``XUpdate`` / ``XPublic`` families)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Generic, Literal, Self, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    model_validator,
)

from crm_bridge.models import (
    AgentRole,
    Availability,
    ConversationStatus,
    EscalationStatus,
    FeedbackKind,
    LifecycleStage,
    MessageRole,
    Priority,
    Tier,
)

T = TypeVar("T")
MAX_ID = 2**31 - 1
"""Ids are 32-bit on every supported database."""
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 \-]{5,20}$")]
Language = Annotated[str, StringConstraints(pattern=r"^(zh|en)$")]
Channel = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{1,31}$")]


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL characters: refuse them here (422), not there (500).
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _text(max_length: int, min_length: int = 1) -> Any:
    """A free-text type of bounded length without NUL characters."""
    return Annotated[
        str,
        StringConstraints(min_length=min_length, max_length=max_length),
        AfterValidator(_no_nul),
    ]


ShortText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_no_nul),
]
SenderId = _text(255)
"""A Rasa sender (conversation) id."""
ChannelName = _text(32)
"""A Rasa input channel as the bot sees it (``socketio``, ``rest``, ``telegram``, …)."""
ExternalUserId = _text(255)
FeedbackComment = _text(2000, min_length=0)
KbEntryId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.#-]{0,99}$")]


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
    expires_in: int | None = None
    """Seconds the access token lasts (renew it with ``POST /login/refresh`` before)."""


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
    sender_id: str | None


# -- bot ------------------------------------------------------------------------------------


class IdentifyRequest(Strict):
    """Nothing: who the bot talks to is what the message's identity proof names.

    A field (``channel``, ``sender_id``, ``user_hash`` of the former request) is refused, so a
    client of the old API learns it at once instead of being told "anonymous".
    """


IdentifyMethod = Literal["signed_identity", "channel_identity"]
IdentifyFailure = Literal["anonymous", "unknown_user", "not_linked"]


class IdentifyResult(BaseModel):
    """The verified customer behind a conversation, or why there is none."""

    verified: bool
    method: IdentifyMethod | None = None
    reason: IdentifyFailure | None = None
    customer_id: int | None = None
    channel: str | None = None
    external_id: str | None = None
    name: str | None = None
    tier: str | None = None
    language: str | None = None


class VerificationStart(Strict):
    """A customer asks for a one-time code to the phone or e-mail of their account.

    The chat account is the one the message's identity proof names (a channel that
    authenticates its senders); nothing in the body names it.
    """

    contact: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=320)]
    """What the customer typed: a phone number or an e-mail address."""
    language: Literal["zh", "en"] = "zh"
    """Language of the code's message."""


class VerificationStarted(BaseModel):
    """Sent (or, for an unknown contact, silently not: the answer is the same), or why not."""

    status: Literal["sent", "invalid_contact", "rate_limited", "unavailable", "not_provable"]
    """``not_provable``: the channel cannot prove who writes (REST): nothing is sent."""
    masked_contact: str | None = None
    expires_in: int | None = None
    """Seconds the code is valid."""
    retry_after: int | None = None


class VerificationConfirm(Strict):
    """The code the customer typed back (the chat account: the proof's, as to start)."""

    code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]


class VerificationConfirmed(BaseModel):
    """Verified (the chat account is now the customer's verified identity), or why not."""

    status: Literal[
        "verified",
        "no_pending",
        "expired",
        "wrong_code",
        "too_many_attempts",
        "taken",
        "not_provable",
    ]
    attempts_left: int | None = None
    identity: IdentifyResult | None = None


# -- loyalty --------------------------------------------------------------------------------


class ExpiringPoints(BaseModel):
    """Points of one earning that expire soon."""

    points: int
    expires_at: datetime


class LoyaltyPublic(BaseModel):
    """Tier, points and what is needed for the next tier (会员等级 / 积分)."""

    customer_id: int
    tier: str
    points_balance: int
    spend_12m: Decimal
    next_tier: str | None
    spend_to_next_tier: Decimal | None
    expiring_points: int
    expiring_before: datetime | None
    expiring: list[ExpiringPoints]


# -- feedback -------------------------------------------------------------------------------


class FeedbackCreate(Strict):
    """A rating the bot collected: CSAT 1-5, or whether a KB answer helped (1) or not (0)."""

    sender_id: SenderId
    kind: FeedbackKind
    rating: int
    comment: FeedbackComment | None = None
    kb_entry_id: KbEntryId | None = None
    language: Language | None = None
    channel: ChannelName | None = None

    @model_validator(mode="after")
    def _rating_fits_kind(self) -> Self:
        if self.kind == FeedbackKind.CSAT and not 1 <= self.rating <= 5:
            raise ValueError("a csat rating is 1-5")
        if self.kind == FeedbackKind.KB_ANSWER:
            if self.rating not in (0, 1):
                raise ValueError("a kb_answer rating is 1 (helpful) or 0 (not helpful)")
            if self.kb_entry_id is None:
                raise ValueError("kb_entry_id is required for kb_answer feedback")
        return self


class FeedbackPublic(BaseModel):
    """A stored feedback row."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    sender_id: str
    conversation_id: int | None
    customer_id: int | None
    kind: FeedbackKind
    rating: int
    comment: str | None
    kb_entry_id: str | None
    language: str | None
    channel: str | None
    created_at: datetime


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
    active: bool = True
    password_changed_at: datetime | None = None


PasswordText = _text(1000)
"""A password as typed (the rules are checked by ``services/agent_accounts.py``)."""


class PasswordChange(Strict):
    """An agent changes their own password."""

    current_password: PasswordText
    new_password: PasswordText


class PasswordReset(Strict):
    """An admin sets an agent's password, or leaves it out to have one generated."""

    new_password: PasswordText | None = None


class PasswordResetResult(BaseModel):
    """The outcome of a reset; a generated password is shown here once and stored nowhere."""

    agent_id: int
    generated_password: str | None
    sessions_ended: int


class SessionsEnded(BaseModel):
    """How many live sessions an action ended."""

    agent_id: int
    sessions_ended: int


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


# -- live handoff (bot → bridge, agent console) ------------------------------------------------

HandoffReason = Annotated[str, StringConstraints(pattern=r"^[a-z_]{2,64}$")]
AgentText = _text(4000)


class HandoffTurn(Strict):
    """One turn of the conversation as the bot's tracker holds it."""

    role: Literal["customer", "bot"]
    text: _text(5000, min_length=0) | None = None
    at: float | None = Field(default=None, ge=0, le=2**40)
    intent: Annotated[str, StringConstraints(max_length=100)] | None = None
    confidence: float | None = Field(default=None, ge=0, le=1)
    entities: list[dict[str, Any]] = Field(default_factory=list, max_length=50)
    kb_entry_id: Annotated[str, StringConstraints(max_length=100)] | None = None
    kb_score: float | None = Field(default=None, ge=-10, le=10)
    kb_decision: Annotated[str, StringConstraints(max_length=32)] | None = None


class HandoffRequest(Strict):
    """The bot hands a conversation over, with everything it knows."""

    sender_id: SenderId
    reason: HandoffReason
    language: Language | None = None
    channel: ChannelName | None = None
    customer_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    transcript: list[HandoffTurn] = Field(default_factory=list, max_length=500)
    notes: _text(5000) | None = None


class HandoffOpened(BaseModel):
    """What the bot tells the customer: with an agent, in the queue, or a ticket."""

    id: int
    mode: Literal["assigned", "queued", "ticket"]
    why_ticket: Literal["closed", "no_agents"] | None = None
    queue_position: int = 0
    agent_name: str | None = None
    office_hours: str


class CustomerBrief(BaseModel):
    """Who the customer is, in one line of the queue."""

    id: int
    name: str | None
    tier: Tier


class QueueItem(BaseModel):
    """A live handoff as the console lists it."""

    id: int
    sender_id: str | None
    conversation_id: int | None
    customer: CustomerBrief | None
    language: str | None
    channel: str | None
    reason: str
    priority: Priority
    status: EscalationStatus
    agent_id: int | None
    agent_name: str | None
    created_at: datetime
    waiting_seconds: float
    summary: str
    last_message: str | None
    sentiment: float | None


class TranscriptItem(BaseModel):
    """One line of a handoff's conversation."""

    id: str
    role: MessageRole
    text: str | None
    at: datetime
    internal: bool = False
    agent_name: str | None = None
    intent: str | None = None
    sentiment_score: float | None = None
    sentiment_label: str | None = None
    kb_entry_id: str | None = None


class CustomerSummary(BaseModel):
    """The customer 360 panel of the console."""

    id: int
    name: str | None
    tier: Tier
    lifecycle_stage: LifecycleStage
    points_balance: int
    clv: Decimal | None
    open_tickets: int
    last_orders: list[dict[str, Any]]


class HandoffDetail(BaseModel):
    """Everything the agent sees of one handoff."""

    handoff: QueueItem
    transcript: list[TranscriptItem]
    context: dict[str, Any]
    customer: CustomerSummary | None


class AgentMessage(Strict):
    """An agent's reply to the customer, or an internal note."""

    text: AgentText


class TransferRequest(Strict):
    """Give the handoff to another agent."""

    agent_id: int = Field(ge=1, le=MAX_ID)


class CloseRequest(Strict):
    """End the agent's part: resolved (the bot asks for a rating) or handed back to the bot."""

    mode: Literal["resolve", "hand_back"]
    resolution_code: Annotated[str, StringConstraints(pattern=r"^[a-z_]{2,64}$")] | None = None


class AvailabilityUpdate(Strict):
    """An agent's presence."""

    availability: Availability


class HandoffAgent(BaseModel):
    """An agent someone can transfer to."""

    id: int
    name: str
    languages: list[str]
    availability: Availability
    active_conversations: int
    max_concurrent: int


class HandoffOptions(BaseModel):
    """Resolution codes and canned replies of the console."""

    resolution_codes: list[dict[str, str]]
    canned_replies: list[dict[str, str]]


class KbHit(BaseModel):
    """A knowledge-base answer an agent can insert."""

    entry_id: str
    question: str
    answer: str
    score: float


class LeftMessage(Strict):
    """What a customer wrote on their ticket when no agent could take the conversation."""

    sender_id: SenderId
    text: _text(2000)
