"""Liveness and readiness of the bridge (public: no secrets, no data)."""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from crm_bridge import __version__
from crm_bridge.api.contract import errors
from crm_bridge.api.deps import SessionDep
from crm_bridge.api.errors import ApiError
from crm_bridge.core.storage_faults import FaultKind, free_bytes

router = APIRouter(tags=["health"])


class HealthPublic(BaseModel):
    """Health report."""

    status: str
    database: str
    version: str
    ingestion: str
    """``off`` (no event source), ``single`` (the only instance), ``leader`` or ``standby``
    (several instances on PostgreSQL: one ingests)."""
    console_fanout: str
    """``local`` (this process's consoles only), ``redis`` (relayed to every instance) or
    ``redis_unreachable`` (relaying, but Redis is down: local consoles only for now)."""


@router.get(
    "/health",
    response_model=HealthPublic,
    operation_id="health-get",
    responses=errors(
        {
            503: "the database does not answer (database_unavailable)",
            507: "the database's disk has no byte free (disk_full)",
        }
    ),
)
def health(request: Request, session: SessionDep) -> HealthPublic:
    """Report whether the bridge and its database answer, and this instance's roles.

    503 when the database does not answer, 507 when its disk (SQLite) has no byte free.
    """
    try:
        session.execute(text("SELECT 1"))
    except SQLAlchemyError as err:
        raise ApiError(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "database unavailable",
            error=FaultKind.UNAVAILABLE.value,
        ) from err
    # Reads still work on a full disk, so SELECT 1 alone would say "ok" while every write
    # answers 507: say so, as the API does, for monitoring.
    if free_bytes(session.get_bind()) == 0:
        raise ApiError(
            status.HTTP_507_INSUFFICIENT_STORAGE,
            "disk full: the database cannot be written",
            error=FaultKind.DISK_FULL.value,
        )
    worker = getattr(request.app.state, "ingestion", None)
    relay = getattr(request.app.state, "relay", None)
    fanout = "local" if relay is None else "redis" if relay.connected else "redis_unreachable"
    return HealthPublic(
        status="ok",
        database="ok",
        version=__version__,
        ingestion=worker.role if worker is not None else "off",
        console_fanout=fanout,
    )
