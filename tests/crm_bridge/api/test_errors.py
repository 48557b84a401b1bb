"""One error shape everywhere, documented for every route (SQLite and PostgreSQL).

``{"detail": str, "error": str, "errors": [...]}`` (``ErrorPublic``) for a route's refusal, a
request that does not match the schema, routing (404, 405 with ``Allow``), a body over the
limit, a storage fault and a bug; and the OpenAPI says so for every operation.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from crm_bridge.api.errors import install_error_handlers
from crm_bridge.schemas import ErrorPublic

ERROR_REF = "#/components/schemas/ErrorPublic"


def _error(response, status: int, error: str) -> ErrorPublic:
    """The body of ``response``, checked to be the one error shape with ``status``/``error``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json", response.headers
    body = ErrorPublic.model_validate_json(response.content)
    assert set(response.json()) == {"detail", "error", "errors"}, response.text
    assert body.error == error and body.detail, response.text
    return body


def test_route_refusals(api):
    _error(api.client.get("/api/v1/customers"), 401, "unauthorized")
    _error(api.client.get("/api/v1/customers", headers=api.as_("bot")), 403, "forbidden")
    _error(api.client.get("/api/v1/customers/999999", headers=api.as_("admin")), 404, "not_found")
    twice = {"identities": [{"channel": "wechat", "external_id": "o-twice"}] * 2}
    refused = api.client.post("/api/v1/customers", json=twice, headers=api.as_("admin"))
    assert "listed twice" in _error(refused, 409, "conflict").detail
    # A record the body names that does not exist: a conflict, not "this URL does not exist".
    missing = {"reason": "complaint", "customer_id": 999_999}
    refused = api.client.post("/api/v1/escalations", json=missing, headers=api.as_("admin"))
    assert _error(refused, 409, "conflict").detail == "no customer 999999"


def test_routing_errors(api):
    nowhere = _error(api.client.get("/api/v1/nowhere"), 404, "not_found")
    assert nowhere.detail == "nothing at /api/v1/nowhere"
    for method, path, allowed in (
        ("DELETE", "/api/v1/customers", "GET, POST"),
        ("OPTIONS", "/api/v1/customers", "GET, POST"),
        ("POST", "/api/v1/customers/1", "GET, PATCH"),
        # Not agent "me"'s password (POST /agents/{agent_id}/password): one's own (PUT).
        ("POST", "/api/v1/agents/me/password", "PUT"),
    ):
        response = api.client.request(method, path, headers=api.as_("admin"))
        _error(response, 405, "method_not_allowed")
        assert response.headers["allow"] == allowed, (method, path)


def test_invalid_requests(api):
    headers = api.bot("wechat:o-errors", platform_id="o-errors")
    rating = {"sender_id": "wechat:o-errors", "kind": "csat", "rating": "5"}
    response = api.client.post("/api/v1/feedback", json=rating, headers=headers)
    body = _error(response, 422, "invalid_request")
    (field,) = body.errors
    assert field.loc == ["body", "csat", "rating"] and field.type == "int_type"
    assert body.detail == "body.csat.rating: Input should be a valid integer"
    # A rule the schema cannot express is a 422 of the same shape, with no field list.
    kpis = api.client.get("/api/v1/kpis?start=2030-01-01T00:00:00Z", headers=api.as_("admin"))
    assert _error(kpis, 422, "invalid_request").errors == []
    unreadable = api.client.post(
        "/api/v1/customers",
        content=b'{"name": "\xff"}',
        headers={**api.as_("admin"), "Content-Type": "application/json"},
    )
    _error(unreadable, 400, "bad_request")


@pytest.mark.parametrize(
    ("body", "wrong"),
    [
        # JSON types are not converted: true is no number, 0 no boolean, "5" no integer.
        ({"transcript": [{"role": "bot", "kb_score": True}]}, "transcript.0.kb_score"),
        ({"transcript": [{"role": "bot", "confidence": "0.5"}]}, "transcript.0.confidence"),
        ({"customer_id": True}, "customer_id"),
    ],
)
def test_types_are_strict(api, body, wrong):
    sender = f"wechat:o-{uuid.uuid4().hex[:8]}"
    request = {"sender_id": sender, "reason": "asked_for_human", **body}
    response = api.client.post("/api/v1/handoff", json=request, headers=api.as_("service"))
    errors = _error(response, 422, "invalid_request").errors
    assert [".".join(map(str, e.loc)) for e in errors] == [f"body.{wrong}"]


def test_integral_numbers_are_integers(api):
    headers = api.bot("wechat:o-integral", platform_id="o-integral")
    rating = {"sender_id": "wechat:o-integral", "kind": "csat", "rating": 5.0}
    response = api.client.post("/api/v1/feedback", json=rating, headers=headers)
    assert response.status_code == 201 and response.json()["rating"] == 5, response.text


def test_rate_limits(api):
    login = f"ghost-{uuid.uuid4().hex[:6]}"
    answers = [
        api.client.post("/api/v1/login/access-token", data={"username": login, "password": "x"})
        for _ in range(api.settings.LOGIN_FREE_FAILURES + 1)
    ]
    slowed = _error(answers[-1], 429, "rate_limited")
    assert "try again" in slowed.detail and int(answers[-1].headers["retry-after"]) > 0


def test_bodies_over_the_limit(api):
    limit = api.settings.MAX_BODY_BYTES
    declared = api.client.post(
        "/api/v1/customers",
        content=b" " * (limit + 1),
        headers={**api.as_("admin"), "Content-Type": "application/json"},
    )
    assert str(limit) in _error(declared, 413, "content_too_large").detail

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it is read
        for _ in range(limit // 65536 + 2):
            yield b" " * 65536

    streamed = api.client.post(
        "/api/v1/customers",
        content=chunks(),
        headers={**api.as_("admin"), "Content-Type": "application/json"},
    )
    _error(streamed, 413, "content_too_large")


def test_storage_faults_and_bugs_in_the_same_shape():
    app = FastAPI()

    @app.get("/locked")
    def locked() -> None:
        raise OperationalError("UPDATE x", {}, Exception("database is locked"))

    @app.get("/bug")
    def bug() -> None:
        raise RuntimeError("a bug")

    install_error_handlers(app, max_body_bytes=1024)
    client = TestClient(app, raise_server_exceptions=False)
    response = client.get("/locked")
    _error(response, 503, "database_locked")
    assert int(response.headers["retry-after"]) > 0
    failed = _error(client.get("/bug"), 500, "internal_error")
    assert "a bug" not in failed.detail  # the traceback is for the log


def test_every_operation_documents_its_errors(api):
    """Every error a route can give is in the OpenAPI, with the one body and its headers."""
    schema = api.client.get("/openapi.json").json()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert {"ErrorPublic", "FieldError"} <= set(schema["components"]["schemas"])
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            where = f"{method.upper()} {path}"
            responses = operation["responses"]
            errors = {int(code) for code in responses if int(code) >= 400}
            for code in errors:
                content = responses[str(code)]["content"]
                assert content == {"application/json": {"schema": {"$ref": ERROR_REF}}}, where
            if operation.get("security") and {} not in operation["security"]:
                assert {401, 403} <= errors, where
            if operation.get("parameters") or operation.get("requestBody"):
                assert 422 in errors, where
            assert {503, 507} <= errors, where  # every route reads the database
            if 429 in errors:
                assert responses["429"]["headers"]["Retry-After"]["required"], where


def test_the_schema_links_created_records_to_their_uses(api):
    operations = {
        operation["operationId"]: operation
        for methods in api.client.get("/openapi.json").json()["paths"].values()
        for operation in methods.values()
    }
    for source, status, target in (
        ("customers-create", "201", "customers-get_360"),
        ("escalations-create", "201", "escalations-update"),
        ("handoff-open", "201", "handoff-left-message"),
        ("conversations-list", "200", "conversations-get"),
        ("agents-create", "201", "agents-deactivate"),
    ):
        links = operations[source]["responses"][status]["links"].values()
        assert target in {link["operationId"] for link in links}, source
        assert all(link["operationId"] in operations for link in links), source


def test_the_bots_proof_is_a_documented_header(api):
    operation = api.client.get("/openapi.json").json()["paths"]["/api/v1/bot/identify"]["post"]
    (header,) = [p for p in operation["parameters"] if p["in"] == "header"]
    assert header["name"] == "X-Identity-Proof" and not header["required"]
