"""The OpenAPI of the bridge as a contract: every answer a route can give, documented.

A route declares what only it can answer (``responses=errors({404: "no customer with this
id"})``) and the links from what it creates to where that is read (:func:`links`).
:func:`document_errors` adds to a router's routes, before it is included, what follows from
a route's parameters and dependencies, so no route can forget them:

| the route … | can answer |
|---|---|
| uses the database (``SessionDep``) | 503 (locked, unreachable), 507 (disk full) |
| authenticates the caller (``CurrentPrincipal``) | 401 |
| lets only some roles through (``require``) | 403 |
| reads the message's identity proof (``FreshProof``, ``ConversationProof``) | 401 |
| has a body | 400 (unreadable), 413 (too large), 422 |
| has any parameter | 422 |

Every error has the one body :class:`~crm_bridge.schemas.ErrorPublic`
(:mod:`crm_bridge.api.errors`). ``tests/crm_bridge/api/test_fuzz.py`` holds the app to this
document with every check schemathesis has.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from fastapi import APIRouter
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import Dependant
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from crm_bridge.api import deps
from crm_bridge.schemas import ErrorPublic

DESCRIPTIONS: dict[int, str] = {
    400: "the body could not be read (not UTF-8, nested too deep, a broken form)",
    401: "no credentials, or credentials that are not valid (any more)",
    403: "the caller may not do this",
    404: "no such record (or not one this caller may see)",
    409: "the request conflicts with what the CRM holds (a record it names is missing, a "
    "value is taken, the record changed meanwhile)",
    413: "the body is larger than the bridge reads (CSA_BRIDGE_MAX_BODY_BYTES)",
    422: "the request does not match the schema, or breaks a rule the schema cannot express",
    429: "too many requests: wait the seconds of Retry-After",
    503: "a service the route needs is unavailable (the database is locked or unreachable …); "
    "retry later",
    507: "the database's disk is full; retry once space is freed",
}
"""What an error status means wherever the route says nothing more precise."""

NOT_THE_PROOFS_CONVERSATION = "the bot's sender_id is not the conversation its proof names"
"""403 of a bot write naming another conversation than its identity proof."""

RETRY_AFTER = {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}
HEADERS: dict[int, dict[str, dict[str, Any]]] = {
    401: {
        "WWW-Authenticate": {
            "description": "the scheme to authenticate with (API key and bearer routes)",
            "schema": {"type": "string"},
        }
    },
    429: {"Retry-After": {**RETRY_AFTER, "required": True}},
    503: {"Retry-After": RETRY_AFTER},
    507: {"Retry-After": RETRY_AFTER},
}
"""Headers an error answer carries (required where every such answer has it)."""


ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorPublic"}}}
"""An error's body where the route's own answers are not JSON (FastAPI would document a
``model`` in the route's media type)."""


def error_doc(status_code: int, description: str | None = None) -> dict[str, Any]:
    """The OpenAPI response of an error status: :class:`ErrorPublic` and its headers."""
    doc: dict[str, Any] = {
        "model": ErrorPublic,
        "description": description or DESCRIPTIONS.get(status_code, "error"),
    }
    if status_code in HEADERS:
        doc["headers"] = HEADERS[status_code]
    return doc


def _answers_json(route: APIRoute) -> bool:
    response_class = route.response_class
    if isinstance(response_class, DefaultPlaceholder):
        response_class = response_class.value
    return issubclass(response_class, JSONResponse)


def errors(specific: Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for the errors only this route answers, each with what it means here."""
    return {code: error_doc(code, description) for code, description in specific.items()}


def link(operation_id: str, description: str, **parameters: str) -> dict[str, Any]:
    """An OpenAPI link to ``operation_id``; a parameter ``body.<field>`` goes in its body."""
    body = {k.removeprefix("body."): v for k, v in parameters.items() if k.startswith("body.")}
    doc: dict[str, Any] = {
        "operationId": operation_id,
        "description": description,
        "parameters": {k: v for k, v in parameters.items() if not k.startswith("body.")},
    }
    if body:
        doc["requestBody"] = body
    return doc


def links(status_code: int, **named: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    """``responses=`` naming where the answer of ``status_code`` leads (:func:`link`)."""
    return {status_code: {"links": named}}


def responses(*parts: Mapping[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    """Several ``responses=`` mappings as one (entries of one status merged)."""
    merged: dict[int | str, dict[str, Any]] = {}
    for part in parts:
        for code, doc in part.items():
            merged[code] = {**merged.get(code, {}), **doc}
    return merged


def _calls(dependant: Dependant) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)


def _has_parameters(dependant: Dependant) -> bool:
    if dependant.body_params or dependant.path_params or dependant.query_params:
        return True
    if dependant.header_params or dependant.cookie_params:
        return True
    return any(_has_parameters(d) for d in dependant.dependencies)


def derived_errors(route: APIRoute) -> dict[int, str | None]:
    """The errors ``route`` can answer because of its parameters and dependencies."""
    calls = set(_calls(route.dependant))
    found: dict[int, str | None] = {}
    if deps.get_session in calls:
        found[503] = found[507] = None
    if deps.get_principal in calls:
        found[401] = "no API key or bearer token, or one that is not valid (any more)"
    if deps.fresh_proof in calls or deps.conversation_proof in calls:
        found[401] = (
            "no valid credentials, or an identity proof that is not valid (the bot's key "
            "must send the message's proof)"
        )
    if any(isinstance(call, deps.RoleCheck) for call in calls):
        found[403] = "the caller's role may not do this"
    if route.body_field is not None:
        found[400] = found[413] = None
    if _has_parameters(route.dependant):
        found[422] = None
    return found


def document_errors(router: APIRouter) -> APIRouter:
    """Document on every route of ``router`` the errors it can answer, in the one error shape.

    An error the route declared keeps its description, followed by the general one when the
    route's dependencies can give it too; a declared error without a body schema gets
    :class:`ErrorPublic`. Call it before the router is included anywhere: including
    builds the routes that serve, with their response models, from these declarations.
    """
    for route in router.routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        for code, description in derived_errors(route).items():
            general = description or DESCRIPTIONS[code]
            declared = route.responses.get(code)
            if declared is None:
                route.responses[code] = error_doc(code, general)
            elif general not in declared.get("description", ""):
                declared["description"] = f"{declared.get('description')}; or {general}"
        for code, doc in list(route.responses.items()):
            status_code = int(code)
            if status_code < 400:
                continue
            if "model" not in doc and "content" not in doc:
                doc = route.responses[code] = {**error_doc(status_code), **doc}
            if not _answers_json(route) and doc.get("model") is ErrorPublic:
                # ErrorPublic is in the components: every route with a parameter refers to it.
                doc.pop("model")
                doc["content"] = ERROR_CONTENT
        route.responses = dict(sorted(route.responses.items(), key=lambda item: int(item[0])))
    return router
