"""Look-ups the dialogue (Rasa actions) needs before it may reveal account data.

Every route here takes the customer's current message's identity proof
(``X-Identity-Proof``, :mod:`crm_bridge.core.proofs`): who the message proved to be is the
only customer the bot may learn about or verify. Nothing in a request body names a channel or a
sender.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status

from crm_bridge.api.contract import errors
from crm_bridge.api.deps import (
    BOT,
    SERVICE,
    FreshProof,
    Principal,
    SessionDep,
    SettingsDep,
    require,
)
from crm_bridge.api.errors import ApiError
from crm_bridge.core.proofs import PROOF_HEADER, Proof
from crm_bridge.schemas import (
    IdentifyRequest,
    IdentifyResult,
    VerificationConfirm,
    VerificationConfirmed,
    VerificationStart,
    VerificationStarted,
)
from crm_bridge.services import verification
from crm_bridge.services.audit import audit
from crm_bridge.services.code_delivery import DeliveryError
from crm_bridge.services.identity import identify
from crm_bridge.services.linking import latest_conversation

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/bot", tags=["bot"])
Bot = Annotated[Principal, Depends(require(BOT, SERVICE))]


NO_PROOF = {400: f"the full key without the message's identity proof ({PROOF_HEADER})"}


def _required(proof: Proof | None) -> Proof:
    if proof is None:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            detail=f"send the message's identity proof ({PROOF_HEADER})",
        )
    return proof


@router.post(
    "/identify",
    response_model=IdentifyResult,
    operation_id="bot-identify",
    responses=errors(NO_PROOF),
)
def identify_sender(
    session: SessionDep, principal: Bot, proof: FreshProof, _body: IdentifyRequest
) -> IdentifyResult:
    """Who the current message proved to be: a signed site user or a verified chat account."""
    proof = _required(proof)
    found = identify(session, proof)
    if found.customer is not None:
        # The conversation is this customer's: its 360 view and handoffs show it from now on.
        conversation = latest_conversation(session, proof.conversation)
        if conversation is not None and conversation.customer_id is None:
            conversation.customer_id = found.customer.id
        audit(
            session,
            principal.name,
            "read",
            "customer",
            found.customer.id,
            via=found.result.method,
            channel=proof.channel,
        )
        session.commit()
    return found.result


@router.post(
    "/verification",
    response_model=VerificationStarted,
    operation_id="bot-verification_start",
    responses=errors(
        {
            **NO_PROOF,
            429: "too many codes for this contact or chat account: wait Retry-After",
            503: "the code could not be sent (SMTP / SMS settings)",
        }
    ),
)
def start_verification(
    session: SessionDep,
    principal: Bot,
    settings: SettingsDep,
    proof: FreshProof,
    body: VerificationStart,
) -> VerificationStarted:
    """Send a one-time code to the customer's phone or e-mail (same answer for unknown ones).

    Only for a chat account its channel authenticates (``not_provable`` otherwise): a code
    confirmed on the REST channel would hand the account to anyone naming that sender.
    """
    proof = _required(proof)
    if proof.platform_id is None:
        return VerificationStarted(status="not_provable")
    try:
        started = verification.start(
            session, settings, proof.channel, proof.platform_id, body.contact, body.language
        )
    except DeliveryError as err:
        logger.error("verification code not delivered: %s", err)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="the code could not be sent; check the SMTP / SMS settings and try again",
        ) from err
    audit(
        session,
        principal.name,
        "verification_start",
        "identity",
        channel=proof.channel,
        status=started.status,
    )
    session.commit()
    if started.status == "rate_limited":
        raise ApiError(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many codes were asked for this contact or chat account; "
            f"try again in {started.retry_after} s",
            error="rate_limited",
            headers={"Retry-After": str(started.retry_after)},
        )
    return VerificationStarted(
        status=started.status, masked_contact=started.masked_contact, expires_in=started.expires_in
    )


@router.post(
    "/verification/confirm",
    response_model=VerificationConfirmed,
    operation_id="bot-verification_confirm",
    responses=errors(NO_PROOF),
)
def confirm_verification(
    session: SessionDep,
    principal: Bot,
    settings: SettingsDep,
    proof: FreshProof,
    body: VerificationConfirm,
) -> VerificationConfirmed:
    """Check the code; when right, the chat account becomes the customer's verified identity."""
    proof = _required(proof)
    if proof.platform_id is None:
        return VerificationConfirmed(status="not_provable")
    confirmed = verification.confirm(session, settings, proof.channel, proof.platform_id, body.code)
    audit(
        session,
        principal.name,
        "verification_confirm",
        "customer" if confirmed.customer_id else "identity",
        confirmed.customer_id,
        channel=proof.channel,
        status=confirmed.status,
    )
    session.commit()
    identity = None
    if confirmed.status == "verified":
        identity = identify(session, proof).result
        session.commit()
    return VerificationConfirmed(
        status=confirmed.status, attempts_left=confirmed.attempts_left, identity=identity
    )
