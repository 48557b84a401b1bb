"""The 422 of a request the API cannot accept, safe for any input.

FastAPI's own answer echoes each invalid value back in full. Two things go wrong with that:
a lone UTF-16 surrogate (an unpaired ``U+D800`` escaped in JSON: valid JSON, no UTF-8)
cannot be encoded, so the answer to bad input became a 500; and a 20 MB string came back as
a 20 MB error. This handler answers the API's error shape (:mod:`crm_bridge.api.errors`):
``errors`` lists each invalid field with its echoed value cut to :data:`MAX_ECHO` characters
(objects and lists are not echoed) and surrogates replaced by U+FFFD; ``detail`` sums them up
in one line (``body.rating: Input should be …; query.limit: …``).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from crm_bridge.api.errors import error_response
from crm_bridge.schemas import FieldError

MAX_ECHO = 200
"""Characters of an invalid value shown back in a 422."""
MAX_SUMMED_UP = 5
"""Invalid fields named in the ``detail`` of a 422 (``errors`` lists them all)."""
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _safe(value: Any) -> Any:
    """``value`` with every string free of lone surrogates (so it encodes as UTF-8)."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_safe(key): _safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_safe(item) for item in value]
    return value


def _echo(value: Any) -> Any:
    """The part of an invalid value worth showing back: short scalars only."""
    if isinstance(value, str):
        return value if len(value) <= MAX_ECHO else value[:MAX_ECHO] + "…"
    if isinstance(value, dict | list | tuple | bytes):
        return f"<{type(value).__name__}>"
    return value


def validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """FastAPI's error list with short, encodable echoes."""
    errors = []
    for error in exc.errors():
        error = dict(error)
        if "input" in error:
            error["input"] = _echo(error["input"])
        errors.append(error)
    return _safe(jsonable_encoder(errors))


def field_errors(exc: RequestValidationError) -> list[FieldError]:
    """The invalid fields of a request, as the API's error shape lists them."""
    return [
        FieldError(
            loc=list(error.get("loc", ())),
            msg=str(error.get("msg", "")),
            type=str(error.get("type", "")),
            input=error.get("input"),
        )
        for error in validation_errors(exc)
    ]


def summary(errors: list[FieldError]) -> str:
    """One line naming the invalid fields and what is wrong with each."""
    parts = [
        f"{'.'.join(str(part) for part in error.loc) or 'request'}: {error.msg}"
        for error in errors[:MAX_SUMMED_UP]
    ]
    if len(errors) > MAX_SUMMED_UP:
        parts.append(f"and {len(errors) - MAX_SUMMED_UP} more")
    return "; ".join(parts) or "the request does not match the API's schema"


async def request_validation_handler(request: Request, exc: Exception) -> JSONResponse:
    """422 in the API's error shape, every echoed value short and valid UTF-8."""
    assert isinstance(exc, RequestValidationError)
    errors = field_errors(exc)
    return error_response(status.HTTP_422_UNPROCESSABLE_CONTENT, summary(errors), errors=errors)


def install_bad_input_handlers(app: FastAPI) -> None:
    """Answer invalid requests with :func:`request_validation_handler`."""
    app.add_exception_handler(RequestValidationError, request_validation_handler)
