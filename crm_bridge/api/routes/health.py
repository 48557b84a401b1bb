"""Liveness and readiness of the bridge (public: no secrets, no data)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from crm_bridge import __version__
from crm_bridge.api.deps import SessionDep

router = APIRouter(tags=["health"])


class HealthPublic(BaseModel):
    """Health report."""

    status: str
    database: str
    version: str


@router.get("/health", response_model=HealthPublic, operation_id="health-get")
def health(session: SessionDep) -> HealthPublic:
    """Report whether the bridge and its database answer."""
    try:
        session.execute(text("SELECT 1"))
    except SQLAlchemyError as err:
        raise HTTPException(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE, detail="database unavailable"
        ) from err
    return HealthPublic(status="ok", database="ok", version=__version__)
