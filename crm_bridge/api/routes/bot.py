"""Look-ups the dialogue (Rasa actions) needs before it may reveal account data."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends

from crm_bridge.api.deps import SERVICE, Principal, SessionDep, SettingsDep, require
from crm_bridge.schemas import IdentifyRequest, IdentifyResult
from crm_bridge.services.audit import audit
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
