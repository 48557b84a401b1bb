"""Verify a chat account by a one-time code sent to the customer's phone or e-mail.

The customer types the phone number or e-mail of their account in the chat; if it belongs to
exactly one customer, a six-digit code goes there (``code_delivery``); typing the code back
links the chat account (channel + sender id) to that customer as a verified identity, which
lets the bot share their orders and points on that channel.

What a careful shop needs from this:
- the answer to "send a code" is the same whether or not the contact is known (no probing
  which phone numbers are customers);
- only a keyed hash of the code and of the contact is stored;
- codes expire (``VERIFY_CODE_MINUTES``), allow ``VERIFY_MAX_ATTEMPTS`` wrong tries, and a
  new code voids the previous one;
- at most ``VERIFY_MAX_PER_HOUR`` codes per contact and per chat account per hour.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from crm_bridge.core.config import Settings
from crm_bridge.models import Customer, IdentityVerification, utcnow
from crm_bridge.services.code_delivery import (
    CodeMessage,
    ContactKind,
    DeliveryError,
    configured_route,
    deliver,
)
from crm_bridge.services.customers import CustomerError, link_identity

StartStatus = Literal["sent", "invalid_contact", "rate_limited", "unavailable"]
ConfirmStatus = Literal[
    "verified", "no_pending", "expired", "wrong_code", "too_many_attempts", "taken"
]

_EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}$")
_PHONE_JUNK = re.compile(r"[\s\-().]")
_CODE = re.compile(r"^\d{6}$")

MESSAGES = {
    "zh": ("您的验证码", "您的验证码是 {code}，{minutes} 分钟内有效。如非本人操作，请忽略。"),
    "en": (
        "Your verification code",
        "Your verification code is {code}. It is valid for {minutes} minutes. "
        "If you did not ask for it, ignore this message.",
    ),
}


@dataclass(frozen=True)
class Contact:
    """A normalised phone number (digits, mainland numbers without +86) or e-mail."""

    kind: ContactKind
    value: str

    @property
    def masked(self) -> str:
        """What the bot may repeat back: ``138****5678``, ``w***@example.com``."""
        if self.kind == "phone":
            return self.value[:3] + "****" + self.value[-4:]
        name, domain = self.value.split("@", 1)
        return f"{name[0]}***@{domain}"


def parse_contact(raw: str) -> Contact | None:
    """The phone number or e-mail in what the customer typed, or None."""
    text = raw.strip()
    if "@" in text:
        return Contact("email", text.lower()) if _EMAIL.match(text) else None
    digits = _PHONE_JUNK.sub("", text)
    if digits.startswith("+"):
        digits = digits[1:]
    if not digits.isdigit():
        return None
    for prefix in ("0086", "86"):  # mainland mobiles: compare the 11 national digits
        rest = digits[len(prefix) :]
        if digits.startswith(prefix) and len(rest) == 11 and rest.startswith("1"):
            digits = rest
    return Contact("phone", digits) if 6 <= len(digits) <= 15 else None


def _keyed(settings: Settings, purpose: str, value: str) -> str:
    key = settings.jwt_secret.get_secret_value().encode()
    return hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def find_customer(session: Session, contact: Contact) -> Customer | None:
    """The one (unmerged) customer with this phone or e-mail; None when none or several."""
    query = select(Customer).where(Customer.merged_into_id.is_(None))
    if contact.kind == "email":
        found = session.scalars(query.where(func.lower(Customer.email) == contact.value)).all()
    else:
        candidates = session.scalars(query.where(Customer.phone.like(f"%{contact.value[-4:]}")))
        found = [
            customer
            for customer in candidates
            if customer.phone and parse_contact(customer.phone) == contact
        ]
    return found[0] if len(found) == 1 else None


@dataclass(frozen=True)
class Started:
    """The answer to "send me a code" (the same for known and unknown contacts)."""

    status: StartStatus
    masked_contact: str | None = None
    expires_in: int | None = None
    retry_after: int | None = None


def _sent_in_last_hour(session: Session, *conditions: object) -> int:
    since = utcnow() - timedelta(hours=1)
    query = select(func.count()).select_from(IdentityVerification)
    return session.scalar(query.where(IdentityVerification.created_at >= since, *conditions)) or 0


def start(
    session: Session,
    settings: Settings,
    channel: str,
    sender_id: str,
    raw_contact: str,
    language: str = "zh",
) -> Started:
    """Send a code to the contact if it is a customer's (the caller commits)."""
    contact = parse_contact(raw_contact)
    if contact is None:
        return Started("invalid_contact")
    if configured_route(settings, contact.kind) is None:
        return Started("unavailable")
    contact_key = _keyed(settings, "contact", f"{contact.kind}:{contact.value}")
    limit = settings.VERIFY_MAX_PER_HOUR
    if (
        _sent_in_last_hour(
            session,
            IdentityVerification.channel == channel,
            IdentityVerification.sender_id == sender_id,
        )
        >= limit
        or _sent_in_last_hour(session, IdentityVerification.contact_key == contact_key) >= limit
    ):
        return Started("rate_limited", retry_after=3600)
    session.execute(
        update(IdentityVerification)
        .where(
            IdentityVerification.channel == channel,
            IdentityVerification.sender_id == sender_id,
            IdentityVerification.status == "pending",
        )
        .values(status="superseded")
    )
    customer = find_customer(session, contact)
    code = f"{secrets.randbelow(1_000_000):06d}"
    minutes = settings.VERIFY_CODE_MINUTES
    session.add(
        IdentityVerification(
            channel=channel,
            sender_id=sender_id,
            customer_id=customer.id if customer else None,
            contact_kind=contact.kind,
            contact_key=contact_key,
            code_hash=_keyed(settings, "code", code),
            attempts=0,
            status="pending",
            expires_at=utcnow() + timedelta(minutes=minutes),
        )
    )
    session.flush()
    if customer is not None:
        subject, body = MESSAGES["en" if language == "en" else "zh"]
        to = (customer.email if contact.kind == "email" else customer.phone) or contact.value
        try:
            deliver(
                settings,
                CodeMessage(contact.kind, to, subject, body.format(code=code, minutes=minutes)),
            )
        except DeliveryError:
            session.rollback()
            raise
    return Started("sent", contact.masked, expires_in=minutes * 60)


@dataclass(frozen=True)
class Confirmed:
    """The outcome of typing a code."""

    status: ConfirmStatus
    customer_id: int | None = None
    attempts_left: int | None = None


def confirm(
    session: Session, settings: Settings, channel: str, sender_id: str, code: str
) -> Confirmed:
    """Check the code of the sender's pending verification; link the account when right."""
    pending = session.scalars(
        select(IdentityVerification)
        .where(
            IdentityVerification.channel == channel,
            IdentityVerification.sender_id == sender_id,
            IdentityVerification.status == "pending",
        )
        .order_by(IdentityVerification.id.desc())
        .limit(1)
        .with_for_update()
    ).first()
    if pending is None:
        return Confirmed("no_pending")
    if pending.expires_at <= utcnow():
        pending.status = "expired"
        return Confirmed("expired")
    pending.attempts += 1
    typed = re.sub(r"\s", "", code)
    right = bool(_CODE.match(typed)) and hmac.compare_digest(
        pending.code_hash, _keyed(settings, "code", typed)
    )
    if not right or pending.customer_id is None:
        left = settings.VERIFY_MAX_ATTEMPTS - pending.attempts
        if left <= 0:
            pending.status = "failed"
            return Confirmed("too_many_attempts", attempts_left=0)
        return Confirmed("wrong_code", attempts_left=left)
    customer = session.get(Customer, pending.customer_id)
    assert customer is not None  # the foreign key cascades
    try:
        link_identity(session, customer, channel, sender_id, verified=True)
    except CustomerError:
        pending.status = "failed"
        return Confirmed("taken", customer_id=None)
    pending.status = "verified"
    pending.verified_at = utcnow()
    return Confirmed("verified", customer_id=customer.id)
