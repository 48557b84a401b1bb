"""Look-ups the dialogue (Rasa actions) needs before it may reveal account data."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response, status

from crm_bridge.api.deps import SERVICE, Principal, SessionDep, SettingsDep, require
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

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/bot", tags=["bot"])
Service = Annotated[Principal, Depends(require(SERVICE))]


@router.post("/identify", response_model=IdentifyResult, operation_id="bot-identify")
def identify_sender(
    session: SessionDep, principal: Service, settings: SettingsDep, body: IdentifyRequest
) -> IdentifyResult:
    """Who the bot is talking to: a signed site user or a verified channel identity."""
    found = identify(session, settings.site_identity_secret, body)
    result = found.result
    if result.reason == "bad_signature":
        # Never the hash nor the secret: who tried, for which user id, on which conversation.
        logger.warning("identify: bad site signature on channel %s", body.channel)
        audit(
            session,
            principal.name,
            "identify_failed",
            "customer",
            channel=body.channel,
            sender_id=body.sender_id,
            user_id=body.user_id,
            reason=result.reason,
        )
        session.commit()
    elif found.customer is not None:
        audit(
            session,
            principal.name,
            "read",
            "customer",
            found.customer.id,
            via=result.method,
            channel=body.channel,
            sender_id=body.sender_id,
        )
        session.commit()
    return result


@router.post(
    "/verification",
    response_model=VerificationStarted,
    operation_id="bot-verification_start",
    responses={429: {"model": VerificationStarted}, 503: {"description": "delivery failed"}},
)
def start_verification(
    session: SessionDep,
    principal: Service,
    settings: SettingsDep,
    body: VerificationStart,
    response: Response,
) -> VerificationStarted:
    """Send a one-time code to the customer's phone or e-mail (same answer for unknown ones)."""
    try:
        started = verification.start(
            session, settings, body.channel, body.sender_id, body.contact, body.language
        )
    except DeliveryError as err:
        logger.error("verification code not delivered: %s", err)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="the code could not be sent; check the SMTP / SMS settings and try again",
        ) from err
    if started.status == "rate_limited":
        response.status_code = status.HTTP_429_TOO_MANY_REQUESTS
        response.headers["Retry-After"] = str(started.retry_after)
    audit(
        session,
        principal.name,
        "verification_start",
        "identity",
        channel=body.channel,
        sender_id=body.sender_id,
        status=started.status,
    )
    session.commit()
    return VerificationStarted(**started.__dict__)


@router.post(
    "/verification/confirm",
    response_model=VerificationConfirmed,
    operation_id="bot-verification_confirm",
)
def confirm_verification(
    session: SessionDep, principal: Service, settings: SettingsDep, body: VerificationConfirm
) -> VerificationConfirmed:
    """Check the code; when right, the chat account becomes the customer's verified identity."""
    confirmed = verification.confirm(session, settings, body.channel, body.sender_id, body.code)
    audit(
        session,
        principal.name,
        "verification_confirm",
        "customer" if confirmed.customer_id else "identity",
        confirmed.customer_id,
        channel=body.channel,
        sender_id=body.sender_id,
        status=confirmed.status,
    )
    session.commit()
    identity = None
    if confirmed.status == "verified":
        identity = identify(
            session,
            settings.site_identity_secret,
            IdentifyRequest(channel=body.channel, sender_id=body.sender_id),
        ).result
    return VerificationConfirmed(
        status=confirmed.status, attempts_left=confirmed.attempts_left, identity=identity
    )
