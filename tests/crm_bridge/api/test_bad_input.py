"""The 422 of invalid input never fails itself (crm_bridge/api/bad_input.py).

It has the API's one error shape: ``detail`` sums the invalid fields up, ``errors`` lists them.
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, Field

from crm_bridge.api.bad_input import MAX_ECHO, install_bad_input_handlers


class Body(BaseModel):
    """Like the bridge's request bodies: unknown fields refused, strings constrained."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=200)  # constrained: pydantic refuses lone surrogates


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()

    @app.post("/items")
    def create(body: Body) -> dict[str, str]:
        return {"name": body.name}

    install_bad_input_handlers(app)
    return TestClient(app, raise_server_exceptions=False)


def _post(client: TestClient, raw: bytes):
    return client.post("/items", content=raw, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize(
    "raw",
    [
        b'{"name": "\\ud800"}',  # FastAPI's own handler: UnicodeEncodeError, a 500
        b'{"name": "ok", "\\udfff": 1}',  # in the location of the error
        b'{"name": ["\\ud800"]}',
    ],
)
def test_lone_surrogates_get_a_422(client, raw):
    response = _post(client, raw)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["detail"] and body["error"] == "invalid_request" and body["errors"]
    assert "\ufffd" in response.text or "body" in body["detail"]


def test_echoed_values_are_short(client):
    response = client.post("/items", json={"name": "ok", "pad": "x" * 1_000_000})
    assert response.status_code == 422
    assert len(response.content) < 2 * MAX_ECHO + 500
    (error,) = response.json()["errors"]
    assert error["loc"] == ["body", "pad"] and error["input"].endswith("…")
    assert response.json()["detail"] == "body.pad: Extra inputs are not permitted"


def test_objects_are_named_not_echoed(client):
    response = client.post("/items", json={"name": {"deep": [1, 2, 3]}})
    assert response.status_code == 422
    assert response.json()["errors"][0]["input"] == "<dict>"
