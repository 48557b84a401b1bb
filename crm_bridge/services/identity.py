"""Who the bot is talking to: a signed website user, or a verified channel identity.

Decided only from what the customer's current message proved (:mod:`crm_bridge.core.proofs`):
Rasa's widget channel checked the shop's signature of its user on that message (``site``),
or a channel that authenticates its senders (WeChat, WeCom, the widget's session) names the
sender (``pid``) and the CRM marked that identity ``verified`` (by an agent, or by a one-time
code). Nothing a caller names, and nothing from an earlier message, identifies anyone. Merged
customers resolve to the surviving record.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm_bridge.core.proofs import Proof
from crm_bridge.models import Customer, CustomerIdentity
from crm_bridge.schemas import IdentifyMethod, IdentifyResult
from crm_bridge.services.customers import find_by_identity, surviving

SITE_CHANNEL = "site"
"""Channel of the identities a host website signs (its own user ids)."""


@dataclass(frozen=True)
class Identification:
    """The answer for the bot, and the customer it names (None unless verified)."""

    result: IdentifyResult
    customer: Customer | None = None


def _verified(
    customer: Customer, method: IdentifyMethod, channel: str, external_id: str
) -> Identification:
    return Identification(
        IdentifyResult(
            verified=True,
            method=method,
            customer_id=customer.id,
            channel=channel,
            external_id=external_id,
            name=customer.name,
            tier=customer.tier.value,
            language=customer.language,
        ),
        customer,
    )


def identify(session: Session, proof: Proof) -> Identification:
    """Resolve the customer a message proved, or say why there is none.

    A proven site user the CRM does not know gives ``unknown_user``; a proven platform
    identity that is not linked and verified ``not_linked``; a message that proved nothing
    (REST, callback) ``anonymous``.
    """
    if proof.site_user is not None:
        customer = find_by_identity(session, SITE_CHANNEL, proof.site_user)
        if customer is None:
            return Identification(IdentifyResult(verified=False, reason="unknown_user"))
        # The shop's backend vouched for this account: the site identity is verified from now
        # on, so look-ups that check the flag agree with this answer.
        session.execute(
            update(CustomerIdentity)
            .where(
                CustomerIdentity.channel == SITE_CHANNEL,
                CustomerIdentity.external_id == proof.site_user,
                CustomerIdentity.verified.is_(False),
            )
            .values(verified=True)
        )
        return _verified(customer, "signed_identity", SITE_CHANNEL, proof.site_user)
    if proof.platform_id is None:
        return Identification(IdentifyResult(verified=False, reason="anonymous"))
    identity = session.scalars(
        select(CustomerIdentity).where(
            CustomerIdentity.channel == proof.channel,
            CustomerIdentity.external_id == proof.platform_id,
        )
    ).first()
    customer = surviving(session, identity.customer) if identity and identity.verified else None
    if customer is None:
        return Identification(IdentifyResult(verified=False, reason="not_linked"))
    return _verified(customer, "channel_identity", proof.channel, proof.platform_id)


def proven_customer(session: Session, proof: Proof | None) -> Customer | None:
    """The verified customer ``proof`` names, or ``None``."""
    return identify(session, proof).customer if proof is not None else None


def proven_customer_id(session: Session, proof: Proof | None) -> int | None:
    """The customer a still-fresh proof names, for a write (an expired one links nobody)."""
    if proof is None or proof.expired:
        return None
    customer = proven_customer(session, proof)
    return customer.id if customer else None
