"""Who the bot is talking to: a signed website user, or a verified channel identity.

Website visitors are anonymous unless the host site passes its user id with
``HMAC-SHA256(site identity secret, user id)`` (``core.security.sign_site_user``); that user
is the customer with the identity (``site``, user id). Other channels (Telegram, WeCom, …)
identify the sender themselves: the customer whose identity (channel, sender id) the CRM
marked ``verified``. Merged customers resolve to the surviving record.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm_bridge.core.security import verify_site_user
from crm_bridge.models import Customer, CustomerIdentity
from crm_bridge.schemas import IdentifyMethod, IdentifyRequest, IdentifyResult
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


def identify(session: Session, site_secret: SecretStr, data: IdentifyRequest) -> Identification:
    """Resolve the customer behind a conversation, or say why there is none.

    With ``user_id`` and ``user_hash``: a bad signature gives ``bad_signature``, a good one
    for a user the CRM does not know ``unknown_user``. Without them (or with only one of
    the two): the verified channel identity (channel, sender id), else ``not_linked``.
    """
    if data.user_id is not None and data.user_hash is not None:
        if not verify_site_user(site_secret, data.user_id, data.user_hash):
            return Identification(IdentifyResult(verified=False, reason="bad_signature"))
        customer = find_by_identity(session, SITE_CHANNEL, data.user_id)
        if customer is None:
            return Identification(IdentifyResult(verified=False, reason="unknown_user"))
        # The shop's backend vouched for this account: the site identity is verified from now
        # on, so order look-ups (which check the flag) agree with this answer.
        session.execute(
            update(CustomerIdentity)
            .where(
                CustomerIdentity.channel == SITE_CHANNEL,
                CustomerIdentity.external_id == data.user_id,
                CustomerIdentity.verified.is_(False),
            )
            .values(verified=True)
        )
        return _verified(customer, "signed_identity", SITE_CHANNEL, data.user_id)
    identity = session.scalars(
        select(CustomerIdentity).where(
            CustomerIdentity.channel == data.channel,
            CustomerIdentity.external_id == data.sender_id,
        )
    ).first()
    customer = surviving(session, identity.customer) if identity and identity.verified else None
    if customer is None:
        return Identification(IdentifyResult(verified=False, reason="not_linked"))
    return _verified(customer, "channel_identity", data.channel, data.sender_id)
