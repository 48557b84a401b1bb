"""Answers for database faults that are the storage's: 503 or 507 with a reason, not a 500.

A request that meets a locked database (another process held a write lock longer than the
busy timeout), a full disk or a database that cannot be opened gets a JSON answer that says
what happened and when to retry, with ``Retry-After``; the operator gets one log line naming
the database (:func:`~crm_bridge.core.storage_faults.log_fault`). Other database errors are
bugs and stay 500s.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

from crm_bridge.core.storage_faults import classify, log_fault

logger = logging.getLogger(__name__)


async def storage_fault_handler(request: Request, err: Exception) -> JSONResponse:
    """503 (locked, unavailable) or 507 (disk full) for a storage fault; re-raise the rest."""
    fault = classify(err)
    if fault is None:
        raise err
    log_fault(
        logger,
        fault,
        err,
        during=f"{request.method} {request.url.path}",
        then=f"answered {fault.status_code}",
    )
    return JSONResponse(
        status_code=fault.status_code,
        content={"detail": fault.detail, "error": fault.kind.value},
        headers={"Retry-After": str(fault.retry_after)},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the storage-fault answers on ``app``."""
    app.add_exception_handler(OperationalError, storage_fault_handler)
