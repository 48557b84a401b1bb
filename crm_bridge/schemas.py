"""Request and response bodies of the API (``XCreate`` / ``XUpdate`` / ``XPublic`` families)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Generic, Literal, Self, TypeVar

from email_validator import SPECIAL_USE_DOMAIN_NAMES
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    GetJsonSchemaHandler,
    StringConstraints,
    model_validator,
)
from pydantic import Strict as StrictType
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

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

# What the validators below check, as JSON-Schema patterns, so the OpenAPI says exactly what
# is accepted (explicit code points: the regular expressions of ECMA-262, Python and Rust
# disagree on ``\s``).
NO_NUL = r"^[^\u0000]*$"
_SPACE = r"\t-\r\u001c-\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
"""What Python's ``str.isspace`` (and so ``str.strip``) takes for whitespace."""
NOT_BLANK = rf"^[^\u0000]*[^\u0000{_SPACE}][^\u0000]*$"
"""No NUL, and something besides whitespace."""


@dataclass(frozen=True)
class JsonSchemaPattern:
    """The ``pattern`` of a string type in the OpenAPI: what its validator checks.

    Annotated metadata for the schema only; the validation is the type's own.
    """

    pattern: str

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """The type's schema with :attr:`pattern`."""
        schema = handler(core_schema)
        schema["pattern"] = self.pattern
        return schema


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL characters: refuse them here (422), not there (500).
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _stripped(value: str) -> str:
    """``value`` without surrounding whitespace; one with a NUL or nothing else is refused."""
    _no_nul(value)
    stripped = value.strip()
    if not stripped:
        raise ValueError("must not be blank")
    return stripped


def _text(max_length: int, min_length: int = 1) -> Any:
    """A free-text type of bounded length without NUL characters."""
    return Annotated[
        str,
        StringConstraints(min_length=min_length, max_length=max_length),
        AfterValidator(_no_nul),
        JsonSchemaPattern(NO_NUL),
    ]


def _line(max_length: int) -> Any:
    """Text of at most ``max_length`` characters as sent, stored without surrounding spaces.

    Blank text (nothing but whitespace) and NUL characters are refused.
    """
    return Annotated[
        str,
        StringConstraints(min_length=1, max_length=max_length),
        AfterValidator(_stripped),
        JsonSchemaPattern(NOT_BLANK),
    ]


def _any_case(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" for c in word)


# email-validator (EmailStr) refuses what JSON Schema's email format allows at special-use
# domains (RFC 6761: .local, .test …) and without a dot after the @: the pattern says so.
_SPECIAL_USE = "|".join(_any_case(name) for name in SPECIAL_USE_DOMAIN_NAMES)
Email = Annotated[EmailStr, JsonSchemaPattern(rf"^(?!.*\.(?:{_SPECIAL_USE})$)[^@]*@[^@]*\.[^@.]+$")]
"""An e-mail address (normalised); refused at a special-use domain (``a@b.local``)."""
Phone = Annotated[
    str,
    StringConstraints(pattern=r"^\+?[0-9 \-]{5,20}$"),
    AfterValidator(str.strip),
]
Language = Annotated[str, StringConstraints(pattern=r"^(zh|en)$")]
Channel = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{1,31}$")]
ShortText = _line(200)
SenderId = _text(255)
"""A Rasa sender (conversation) id."""
ChannelName = _text(32)
"""A Rasa input channel as the bot sees it (``socketio``, ``rest``, ``telegram``, …)."""
ExternalUserId = _text(255)
FeedbackComment = _text(2000, min_length=0)
Notes = _text(5000, min_length=0)
NewPassword = Annotated[
    str,
    StringConstraints(min_length=10, max_length=200),
    AfterValidator(_no_nul),
    JsonSchemaPattern(NOT_BLANK),
    Field(
        description="at least CSA_BRIDGE_PASSWORD_MIN_LENGTH characters (10 by default), not "
        "only spaces, not the login"
    ),
]
KbEntryId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.#-]{0,99}$")]


def _not_a_number(value: Any) -> Any:
    """Refuse a bare number for a date and time (pydantic would read it as Unix time)."""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return value
        raise ValueError("give a date and time (ISO 8601, e.g. 2025-01-31T09:00:00+08:00)")
    return value


QueryTime = Annotated[datetime, BeforeValidator(_not_a_number)]
"""A date and time in a query (ISO 8601; without an offset: UTC), never a Unix time."""


# Enumerations arrive as JSON strings: validated by value, while every other field of a
# request body is strict (see :class:`Strict`).
TierIn = Annotated[Tier, StrictType(False)]
PriorityIn = Annotated[Priority, StrictType(False)]
EscalationStatusIn = Annotated[EscalationStatus, StrictType(False)]
AgentRoleIn = Annotated[AgentRole, StrictType(False)]
AvailabilityIn = Annotated[Availability, StrictType(False)]


class Strict(BaseModel):
    """A request body: unknown fields and wrong JSON types are refused (422).

    Unknown fields fail loudly instead of being ignored (typos), and no value is converted to
    the type its field declares: ``true`` is not a number, ``0`` not a boolean, ``"5"`` not an
    integer, as the OpenAPI schema says (``3.0`` is one). Enumerations are matched by value
    (``TierIn`` …).
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _integral_numbers(cls, data: Any) -> Any:
        """A number without a fraction (``3.0``) is an integer, as JSON Schema counts."""
        if isinstance(data, dict):
            return {
                name: int(value) if isinstance(value, float) and value.is_integer() else value
                for name, value in data.items()
            }
        return data


def _not_nullable(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """Describe the ``not_null`` fields of a :class:`Patch` as optional but never ``null``."""
    properties = schema.get("properties", {})
    for name in getattr(model, "not_null", ()):
        field = properties.get(name)
        if field is None:
            continue
        options = [o for o in field.pop("anyOf", []) if o != {"type": "null"}]
        if len(options) == 1:
            field.update(options[0])
        elif options:
            field["anyOf"] = options
        field.pop("default", None)


class Patch(Strict):
    """A partial update: omitted fields stay; ``null`` only where the record allows it.

    The fields named in ``not_null`` are typed ``X | None`` (left out: ``None``), but an
    explicit ``null`` is refused, and the OpenAPI schema shows them as not nullable.
    """

    model_config = ConfigDict(json_schema_extra=_not_nullable)
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


class FieldError(BaseModel):
    """One invalid part of a request (the ``errors`` of a 422)."""

    loc: list[str | int]
    """Where: ``body``, ``query``, ``path``, ``header`` or ``cookie``, then the field's path."""
    msg: str
    """What is wrong with it, for people."""
    type: str
    """pydantic's error type (``missing``, ``string_too_long``, ``int_type`` …)."""
    input: Any = None
    """The value that was refused: a string cut to 200 characters; objects and lists only
    named (``"<dict>"``)."""


class ErrorPublic(BaseModel):
    """The body of every error answer of the API (4xx and 5xx), whatever the route."""

    detail: str
    """What went wrong and, where it helps, what to do; for people (shown by the console)."""
    error: str
    """What went wrong, for programs: ``bad_request``, ``unauthorized``, ``forbidden``,
    ``not_found``, ``method_not_allowed``, ``conflict``, ``content_too_large``,
    ``invalid_request``, ``rate_limited``, ``unavailable``, ``database_locked``,
    ``database_unavailable``, ``disk_full``, ``internal_error``."""
    errors: list[FieldError]
    """The invalid parts of the request (a 422 of a request that does not match the schema);
    empty for every other error."""


def _login_name(value: str) -> str:
    if "\x00" in value:
        # No agent has such a login, and PostgreSQL cannot even look a NUL up (a 500).
        raise ValueError("a login name has at most 255 characters and no NUL character")
    return value


class LoginForm(BaseModel):
    """The OAuth2 password grant (RFC 6749, 4.3.2), as a form: an agent logs in.

    A form has no ``null``, and an empty field counts as left out: nothing here is nullable,
    and what is required is not empty.
    """

    grant_type: Literal["password"] = "password"
    username: Annotated[
        str,
        StringConstraints(min_length=1, max_length=255),
        AfterValidator(_login_name),
        JsonSchemaPattern(NO_NUL),
    ]
    """The agent's login."""
    password: Annotated[str, StringConstraints(min_length=1)]
    scope: str = ""
    """Not used (OAuth2 clients may send it)."""
    client_id: str = ""
    """Not used (OAuth2 clients may send it)."""
    client_secret: str = ""
    """Not used (OAuth2 clients may send it)."""


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
    external_id: ExternalUserId
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
    email: Email | None = None
    phone: Phone | None = None
    language: Language | None = None
    tier: TierIn = Tier.REGULAR
    points_balance: int = Field(default=0, ge=0, le=100_000_000)
    consent_marketing: bool = False
    consent_data_processing: bool = True
    tags: list[ShortText] = Field(default_factory=list, max_length=50)
    identities: list[IdentityIn] = Field(default_factory=list, max_length=20)
    """Each channel identity once (one listed twice is a conflict: 409)."""


class CustomerUpdate(Patch):
    """Fields to change (all optional)."""

    not_null: ClassVar[frozenset[str]] = frozenset(
        {"tier", "consent_marketing", "consent_data_processing", "tags"}
    )

    name: ShortText | None = None
    email: Email | None = None
    phone: Phone | None = None
    language: Language | None = None
    tier: TierIn | None = None
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

    sender_id: SenderId | None = None
    customer_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    reason: Annotated[str, StringConstraints(pattern=r"^[a-z_]{2,64}$")]
    priority: PriorityIn = Priority.NORMAL
    notes: Notes | None = None
    context: dict[str, Any] = Field(default_factory=dict)


class EscalationUpdate(Patch):
    """Ticket fields an agent changes."""

    not_null: ClassVar[frozenset[str]] = frozenset({"status", "priority"})

    status: EscalationStatusIn | None = None
    priority: PriorityIn | None = None
    agent_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    resolution_code: _text(64, min_length=0) | None = None
    notes: Notes | None = None


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

    contact: _line(320)
    """What the customer typed: a phone number or an e-mail address."""
    language: Literal["zh", "en"] = "zh"
    """Language of the code's message."""


class VerificationStarted(BaseModel):
    """Sent (or, for an unknown contact, silently not: the answer is the same), or why not.

    Too many codes for the contact or the chat account is a 429 (``rate_limited``, with
    ``Retry-After``), not one of these.
    """

    status: Literal["sent", "invalid_contact", "unavailable", "not_provable"]
    """``not_provable``: the channel cannot prove who writes (REST): nothing is sent."""
    masked_contact: str | None = None
    expires_in: int | None = None
    """Seconds the code is valid."""


class VerificationConfirm(Strict):
    """The code the customer typed back (the chat account: the proof's, as to start)."""

    code: _line(20)


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


class _FeedbackIn(Strict):
    """What every rating the bot collected carries."""

    sender_id: SenderId
    comment: FeedbackComment | None = None
    language: Language | None = None
    channel: ChannelName | None = None


class CsatFeedbackCreate(_FeedbackIn):
    """A CSAT rating, 1 (very unhappy) to 5 (very happy), with an optional comment."""

    kind: Literal["csat"]
    rating: int = Field(ge=1, le=5)
    kb_entry_id: KbEntryId | None = None


class KbAnswerFeedbackCreate(_FeedbackIn):
    """Whether a knowledge-base answer helped (1) or not (0), and which entry gave it."""

    kind: Literal["kb_answer"]
    rating: int = Field(ge=0, le=1)
    kb_entry_id: KbEntryId


FeedbackCreate = Annotated[CsatFeedbackCreate | KbAnswerFeedbackCreate, Field(discriminator="kind")]
"""A rating the bot collected; its ``kind`` says which rules the rest follows."""


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
    password: NewPassword
    role: AgentRoleIn = AgentRole.AGENT
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
    new_password: NewPassword


class PasswordReset(Strict):
    """An admin sets an agent's password, or leaves it out to have one generated."""

    new_password: NewPassword | None = None


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
    intent: _text(100, min_length=0) | None = None
    confidence: float | None = Field(default=None, ge=0, le=1)
    entities: list[dict[str, Any]] = Field(default_factory=list, max_length=50)
    kb_entry_id: _text(100, min_length=0) | None = None
    kb_score: float | None = Field(default=None, ge=-10, le=10)
    kb_decision: _text(32, min_length=0) | None = None


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

    availability: AvailabilityIn


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
