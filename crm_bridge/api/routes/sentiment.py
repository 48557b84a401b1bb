"""Sentiment of a text, with the models the bridge scores messages with."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status

from crm_bridge.api.contract import errors
from crm_bridge.api.deps import BOT, SERVICE, STAFF, Principal, require
from crm_bridge.schemas import SentimentPublic, SentimentRequest

router = APIRouter(prefix="/sentiment", tags=["sentiment"])


@router.post(
    "",
    response_model=SentimentPublic,
    operation_id="sentiment-score",
    responses=errors({503: "no sentiment model is trained yet"}),
)
def score(
    request: Request,
    _principal: Annotated[Principal, Depends(require(BOT, SERVICE, *STAFF))],
    body: SentimentRequest,
) -> SentimentPublic:
    """Score one text (zh or en): a score in [-1, 1] and a label."""
    scorer = request.app.state.scorer
    if scorer is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="no sentiment model is trained yet; run `crm-bridge sentiment-train`",
        )
    result = scorer.score(body.text)
    return SentimentPublic(score=result.score, label=result.label, language=result.language)
