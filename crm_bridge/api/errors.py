"""Every error answer of the API, in one shape: :class:`~crm_bridge.schemas.ErrorPublic`.

``{"detail": "<for people>", "error": "<for programs>", "errors": [<invalid fields>]}``,
whatever raised it: a route's ``HTTPException``, a request that does not match the schema
(422, :mod:`crm_bridge.api.bad_input`), routing (404, 405 with ``Allow``), a body over
``MAX_BODY_BYTES`` (413, :class:`BodyLimit`), a storage fault (503 or 507 with
``Retry-After``) or a bug (500). What each route can answer is documented from the same
definitions (:mod:`crm_bridge.api.contract`).

Storage faults: a request that meets a locked database (another process held a write lock
longer than the busy timeout), a full disk or a database that cannot be opened gets an answer
that says what happened and when to retry; the operator gets one log line naming the database
(:func:`~crm_bridge.core.storage_faults.log_fault`). Other database errors are bugs (500).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from http import HTTPStatus

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_bridge.core.storage_faults import classify, log_fault
from crm_bridge.schemas import ErrorPublic, FieldError

logger = logging.getLogger(__name__)

ERROR_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "content_too_large",
    422: "invalid_request",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
    507: "insufficient_storage",
}
"""The ``error`` code of an answer whose raiser named none, by status."""


class ApiError(HTTPException):
    """An ``HTTPException`` with its own ``error`` code (else the status's, :data:`ERROR_CODES`)."""

    def __init__(
        self,
        status_code: int,
        detail: str,
        *,
        error: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status_code, detail=detail, headers=dict(headers or {}) or None)
        self.error = error


def unknown_reference(record: str, record_id: object) -> HTTPException:
    """A 409 for a record the request's body names that does not exist.

    404 is for the record the path names; a body that refers to a missing customer or agent
    conflicts with what the CRM holds (create that record first, then send it again).
    """
    return HTTPException(status.HTTP_409_CONFLICT, detail=f"no {record} {record_id}")


def error_body(
    status_code: int, detail: str, *, error: str | None = None, errors: Iterable[FieldError] = ()
) -> ErrorPublic:
    """The body of an error answer (``error`` defaults to the status's code)."""
    code = error or ERROR_CODES.get(status_code) or f"http_{status_code}"
    return ErrorPublic(detail=detail, error=code, errors=list(errors))


def error_response(
    status_code: int,
    detail: str,
    *,
    error: str | None = None,
    errors: Iterable[FieldError] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """An error answer of the API (:class:`~crm_bridge.schemas.ErrorPublic`)."""
    body = error_body(status_code, detail, error=error, errors=errors)
    return JSONResponse(
        body.model_dump(mode="json"), status_code=status_code, headers=dict(headers or {})
    )


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app answers at the request's path (for ``Allow``).

    Starlette's 405 names only the methods of the first route whose path matched, while
    FastAPI registers ``GET /customers`` and ``POST /customers`` as two routes.
    """
    path = request.scope["path"]
    root = request.scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        template, route_methods = getattr(route, "path", None), getattr(route, "methods", None)
        if template and route_methods and compile_path(template)[0].match(path):
            methods |= set(route_methods)
    return sorted(methods)


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Any ``HTTPException`` (a route's, routing's 404 and 405) as :class:`ErrorPublic`."""
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
        allowed = allowed_methods(request)
        headers["Allow"] = ", ".join(allowed)
        if detail == HTTPStatus.METHOD_NOT_ALLOWED.phrase:
            detail = f"{request.method} is not allowed here; allowed: {', '.join(allowed)}"
    elif exc.status_code == status.HTTP_404_NOT_FOUND and detail == HTTPStatus.NOT_FOUND.phrase:
        detail = f"nothing at {request.url.path}"
    return error_response(
        exc.status_code, detail, error=getattr(exc, "error", None), headers=headers
    )


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
    return error_response(
        fault.status_code,
        fault.detail,
        error=fault.kind.value,
        headers={"Retry-After": str(fault.retry_after)},
    )


async def internal_error_handler(request: Request, err: Exception) -> JSONResponse:
    """A bug: 500 in the same shape (the traceback goes to the log, not to the client)."""
    return error_response(
        status.HTTP_500_INTERNAL_SERVER_ERROR,
        "internal error: the request was not completed; the server's log has the details",
    )


class BodyLimit:
    """Refuse a request body over ``max_bytes`` with a 413 in the API's error shape.

    A declared ``Content-Length`` over the limit is answered before anything is read; a body
    sent in chunks is counted as it is read and refused when it passes the limit. (FastAPI's
    own ``max_body_size`` answers the first case with a plain-text 413.)
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> str:
        return f"the request body is larger than {self.max_bytes} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 413 for a declared length over the limit; count the bytes of the others."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            response = error_response(status.HTTP_413_CONTENT_TOO_LARGE, self._too_large())
            await response(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, self._too_large())
            return message

        await self.app(scope, limited, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def install_error_handlers(app: FastAPI, *, max_body_bytes: int) -> None:
    """Answer every error of ``app`` in the one shape, bodies limited to ``max_body_bytes``."""
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(OperationalError, storage_fault_handler)
    app.add_exception_handler(Exception, internal_error_handler)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
