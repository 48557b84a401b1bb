"""The bridge's two service keys: the bot's key reaches only what the dialogue needs, the full
key administration; both rotate without a restart (docs/security.md, "The bridge's keys").

Every operation of the OpenAPI schema outside the bot's list is called with the bot's key (and
a genuine proof, so the refusal is about the key): a route added later is refused to the bot
unless it is added to ``BOT_OPERATIONS`` on purpose.
"""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi.testclient import TestClient

from crm_bridge.core.config import Settings
from crm_bridge.core.proofs import PROOF_HEADER
from crm_bridge.core.security import retire_secrets, rotate_secret
from crm_bridge.main import create_app
from crm_bridge.models import AgentRole, Tier
from tests.utils.factories import make_customer, make_order
from tests.utils.proofs import bot_headers, proof

BOT_OPERATIONS = {
    ("POST", "/api/v1/bot/identify"),
    ("POST", "/api/v1/bot/verification"),
    ("POST", "/api/v1/bot/verification/confirm"),
    ("POST", "/api/v1/handoff"),
    ("POST", "/api/v1/handoff/{handoff_id}/left-message"),
    ("POST", "/api/v1/escalations"),
    ("POST", "/api/v1/feedback"),
    ("POST", "/api/v1/sentiment"),
    ("GET", "/api/v1/orders/{number}"),
    ("GET", "/api/v1/customers/{customer_id}/loyalty"),
}
"""What the bot may call (docs/security.md): nothing else."""
PUBLIC_OPERATIONS = {
    ("GET", "/health"),
    ("GET", "/api/v1/widget/history"),  # the widget's session token, no key
    ("POST", "/api/v1/login/access-token"),  # agents' log-in, refresh and log-out
    ("POST", "/api/v1/login/refresh"),
    ("POST", "/api/v1/login/logout"),
}
"""Routes no service key is for (tested with the widget and agents' sessions)."""
PATH_VALUES = {"number": "DS00000001", "channel": "wechat", "external_id": "o-someone"}


def _operations(app) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    ]


def _url(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES.get(m.group(1), "1"), path)


def _follower() -> tuple[str, str]:
    open_id = f"o-{uuid.uuid4().hex[:12]}"
    return f"wechat:{open_id}", open_id


def test_the_allow_list_names_real_operations(api):
    operations = set(_operations(api.client.app))
    assert BOT_OPERATIONS <= operations
    assert PUBLIC_OPERATIONS <= operations


def test_every_other_route_refuses_the_bot_key(api):
    conversation, open_id = _follower()
    refused, wrong = [], []
    for method, path in _operations(api.client.app):
        if (method, path) in BOT_OPERATIONS | PUBLIC_OPERATIONS:
            continue
        headers = api.bot(conversation, platform_id=open_id)
        response = api.client.request(method, _url(path), json={}, headers=headers)
        refused.append((method, path))
        if response.status_code != 403 or "'bot'" not in response.json()["detail"]:
            wrong.append((method, path, response.status_code, response.text[:200]))
    assert not wrong, wrong
    # The families the issue named are all among them.
    for family in (
        "/api/v1/customers",  # search, create
        "/api/v1/customers/{customer_id}",  # 360, edit
        "/api/v1/customers/by-identity/{channel}/{external_id}",
        "/api/v1/customers/{customer_id}/identities",
        "/api/v1/customers/{customer_id}/merge",
        "/api/v1/conversations",
        "/api/v1/conversations/{conversation_id}",
        "/api/v1/escalations/{escalation_id}",
        "/api/v1/kpis",
        "/api/v1/export/conversations.csv",
        "/api/v1/agents",
        "/api/v1/handoff/queue",
        "/api/v1/kb/search",
    ):
        assert any(path == family for _, path in refused), family
    assert ("GET", "/api/v1/escalations") in refused and ("GET", "/api/v1/feedback") in refused


def test_an_unknown_key_is_refused_everywhere(api):
    for method, path in _operations(api.client.app):
        if (method, path) in PUBLIC_OPERATIONS:
            continue
        headers = {"X-API-Key": "not-a-key-of-this-bridge", PROOF_HEADER: "x"}
        response = api.client.request(method, _url(path), json={}, headers=headers)
        assert response.status_code == 401, (method, path, response.status_code)


def test_the_bots_routes_work_with_the_bot_key(api, db):
    conversation, open_id = _follower()
    customer = make_customer(db, tier=Tier.SILVER, identities=[("wechat", open_id, True)])
    number = f"DS{uuid.uuid4().int % 10**8:08d}"
    make_order(db, customer, number)
    db.commit()
    bot = api.bot(conversation, platform_id=open_id)

    def call(method: str, url: str, body: dict | None = None, code: int = 200) -> dict:
        response = api.client.request(method, url, json=body, headers=bot)
        assert response.status_code == code, (url, response.text)
        return response.json()

    identified = call("POST", "/api/v1/bot/identify", {})
    assert identified["customer_id"] == customer.id
    started = call("POST", "/api/v1/bot/verification", {"contact": "nobody@example.org"})
    assert started["status"] in ("sent", "unavailable")  # no code delivery configured here
    confirmed = call("POST", "/api/v1/bot/verification/confirm", {"code": "123456"})
    assert confirmed["status"] in ("no_pending", "wrong_code")
    assert call("GET", f"/api/v1/orders/{number}")["number"] == number
    assert call("GET", f"/api/v1/customers/{customer.id}/loyalty")["tier"] == "silver"
    assert call("POST", "/api/v1/sentiment", {"text": "太好了，谢谢"})["label"]
    ticket = call(
        "POST", "/api/v1/escalations", {"reason": "complaint", "sender_id": conversation}, 201
    )
    assert ticket["customer_id"] == customer.id
    rating = {"sender_id": conversation, "kind": "csat", "rating": 5}
    assert call("POST", "/api/v1/feedback", rating, 201)["rating"] == 5
    handoff = {
        "sender_id": conversation,
        "reason": "asked_for_human",
        "language": "zh",
        "channel": "wechat",
        "transcript": [{"role": "customer", "text": "转人工", "intent": "human_handoff"}],
    }
    opened = call("POST", "/api/v1/handoff", handoff, 201)
    left = {"sender_id": conversation, "text": "请回电话"}
    call("POST", f"/api/v1/handoff/{opened['id']}/left-message", left)


def test_the_full_key_works_where_the_bot_key_is_refused(api, db):
    customer = make_customer(db, name="韩梅梅")
    other = make_customer(db)
    db.commit()
    full = api.as_("service")
    for method, url, body, code in (
        ("GET", "/api/v1/customers?q=韩梅梅", None, 200),
        ("POST", "/api/v1/customers", {"name": "Integration"}, 201),
        ("GET", f"/api/v1/customers/{customer.id}", None, 200),
        ("PATCH", f"/api/v1/customers/{customer.id}", {"language": "zh"}, 200),
        ("GET", f"/api/v1/customers/{other.id}/loyalty", None, 200),  # any customer's
        ("GET", "/api/v1/conversations", None, 200),
        ("POST", "/api/v1/escalations", {"reason": "complaint", "customer_id": other.id}, 201),
    ):
        response = api.client.request(method, url, json=body, headers=full)
        assert response.status_code == code, (method, url, response.text)
        if method == "POST" and url == "/api/v1/escalations":
            continue  # the bot opens tickets too (for its proof's conversation)
        as_bot = api.bot(f"rest:{uuid.uuid4().hex}")
        refused = api.client.request(method, url, json=body, headers=as_bot)
        # Loyalty is the bot's route, for the proven customer only: anyone else's is "none".
        expected = 404 if url.endswith("/loyalty") else 403
        assert refused.status_code == expected, (method, url, refused.status_code)


MANAGER_ROUTES = [
    ("GET", "/api/v1/escalations", None),
    ("GET", "/api/v1/feedback", None),
    ("GET", "/api/v1/kpis?start=2024-01-01T00:00:00Z&end=2024-01-02T00:00:00Z", None),
    ("GET", "/api/v1/export/conversations.csv", None),
    ("GET", "/api/v1/agents", None),
]


# The full key is for administration and integrations (customer records, conversations,
# orders, tickets opened by an integration), not for people's work: what managers review and
# decide (the ticket queue, feedback, KPIs, exports, agents, merges) needs a person's log-in,
# so it is audited under a name (docs/security.md).
@pytest.mark.parametrize(("method", "url", "body"), MANAGER_ROUTES)
def test_manager_work_needs_a_person_not_the_full_key(api, method, url, body):
    as_manager = api.client.request(method, url, json=body, headers=api.as_("supervisor"))
    assert as_manager.status_code == 200, as_manager.text
    response = api.client.request(method, url, json=body, headers=api.as_("service"))
    assert response.status_code == 403, (method, url, response.status_code)


# -- rotation without downtime ------------------------------------------------------------------


def test_keys_rotate_and_retire_on_a_running_bridge(settings):
    """Real secret files under a temporary VAR_DIR; one app runs throughout, never restarted."""
    secrets = settings.VAR_DIR / "secrets"
    with TestClient(create_app(settings)) as client:
        old_bot, old_full = settings.bot_api_keys[0], settings.api_keys[0]
        assert (secrets / "bridge_bot_key").read_text().split() == [old_bot]
        conversation, open_id = _follower()
        token = proof(settings, conversation, platform_id=open_id)

        def as_bot(key: str) -> int:
            headers = {"X-API-Key": key, PROOF_HEADER: token}
            return client.post("/api/v1/bot/identify", json={}, headers=headers).status_code

        def as_full(key: str) -> int:
            return client.get("/api/v1/customers", headers={"X-API-Key": key}).status_code

        assert (as_bot(old_bot), as_full(old_full)) == (200, 200)
        new_bot = rotate_secret(secrets / "bridge_bot_key")
        new_full = rotate_secret(secrets / "bridge_api_key")
        assert new_bot != old_bot and new_full != old_full
        # Both generations work at once: the action server may still send the old key.
        assert [as_bot(k) for k in (new_bot, old_bot)] == [200, 200]
        assert [as_full(k) for k in (new_full, old_full)] == [200, 200]
        # A rotated bot key is still only the bot's.
        assert as_full(new_bot) == 403
        assert retire_secrets(secrets / "bridge_bot_key") == 1
        assert retire_secrets(secrets / "bridge_api_key") == 1
        assert [as_bot(k) for k in (new_bot, old_bot)] == [200, 401]
        assert [as_full(k) for k in (new_full, old_full)] == [200, 401]
        assert (secrets / "bridge_bot_key").stat().st_mode & 0o777 == 0o600


def test_keys_from_the_environment_take_a_rotation_list(settings):
    env = Settings(
        VAR_DIR=settings.VAR_DIR,
        EVENTS_SOURCE="none",
        BOT_API_KEY=" new-bot-key-0123456789 , old-bot-key-0123456789 ",
        API_KEY="full-key-0123456789",
    )
    assert env.bot_api_keys == ["new-bot-key-0123456789", "old-bot-key-0123456789"]
    with TestClient(create_app(env)) as client:
        conversation, open_id = _follower()
        headers = bot_headers(env, conversation, platform_id=open_id)
        for key in env.bot_api_keys:
            response = client.post(
                "/api/v1/bot/identify", json={}, headers={**headers, "X-API-Key": key}
            )
            assert response.status_code == 200, response.text
        full = client.get("/api/v1/customers", headers={"X-API-Key": "full-key-0123456789"})
        assert full.status_code == 200
        for key in ("", "new-bot-key-0123456789,old-bot-key-0123456789", "new-bot-key"):
            response = client.get("/api/v1/customers", headers={"X-API-Key": key})
            assert response.status_code == 401, key
    assert not (settings.VAR_DIR / "secrets" / "bridge_bot_key").exists()


def test_agents_are_no_bots(api):
    # An agent's token does not open the bot's identity routes, even with a genuine proof.
    conversation, open_id = _follower()
    for role in AgentRole:
        headers = {
            **api.as_(role.value),
            PROOF_HEADER: proof(api.settings, conversation, platform_id=open_id),
        }
        response = api.client.post("/api/v1/bot/identify", json={}, headers=headers)
        assert response.status_code == 403, role
