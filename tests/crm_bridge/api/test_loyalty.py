"""GET /customers/{id}/loyalty (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select

from crm_bridge.core.proofs import PROOF_HEADER
from crm_bridge.models import AuditLog, Tier, utcnow
from crm_bridge.services.customers import merge_customers
from tests.utils.factories import make_customer, make_points, make_purchase
from tests.utils.proofs import EXPIRED, FORGED_KEY, proof


def test_loyalty_view(api, db):
    now = utcnow()
    customer = make_customer(db, tier=Tier.GOLD, points_balance=8900)
    make_purchase(db, customer, "4000.00", now - timedelta(days=40))
    make_purchase(db, customer, "2500.50", now - timedelta(days=200), status="shipped")
    make_purchase(db, customer, "9999.00", now - timedelta(days=3), status="refunded")
    make_purchase(db, customer, "3000.00", now - timedelta(days=400))
    make_points(db, customer, 500, now + timedelta(days=10))
    make_points(db, customer, 250, now + timedelta(days=29, hours=23))
    make_points(db, customer, 900, now + timedelta(days=30, minutes=5))  # just outside 30 days
    make_points(db, customer, 120, now - timedelta(days=1))
    db.commit()
    for who in ("service", "agent"):
        response = api.client.get(f"/api/v1/customers/{customer.id}/loyalty", headers=api.as_(who))
        assert response.status_code == 200, response.text
        body = response.json()
        assert {k: v for k, v in body.items() if k not in ("expiring", "expiring_before")} == {
            "customer_id": customer.id,
            "tier": "gold",
            "points_balance": 8900,
            "spend_12m": "6500.50",
            "next_tier": "platinum",
            "spend_to_next_tier": "8499.50",
            "expiring_points": 750,
        }
        assert [e["points"] for e in body["expiring"]] == [500, 250]
        latest = datetime.fromisoformat(body["expiring_before"])
        assert latest == datetime.fromisoformat(body["expiring"][-1]["expires_at"])
        assert abs(latest - (now + timedelta(days=29, hours=23))) < timedelta(seconds=1)
    audit = db.scalars(select(AuditLog).where(AuditLog.entity_id == str(customer.id))).all()
    assert any(r.detail.get("view") == "loyalty" for r in audit)


def test_diamond_has_no_next_tier_and_empty_history(api, db):
    customer = make_customer(db, tier=Tier.DIAMOND, points_balance=0)
    db.commit()
    body = api.client.get(
        f"/api/v1/customers/{customer.id}/loyalty", headers=api.as_("service")
    ).json()
    assert body["spend_12m"] == "0.00"
    assert body["next_tier"] is None and body["spend_to_next_tier"] is None
    assert body["expiring_points"] == 0 and body["expiring"] == []
    assert body["expiring_before"] is None


def test_merged_customer_gives_the_survivor_and_unknown_is_404(api, db):
    survivor = make_customer(db, tier=Tier.SILVER, points_balance=100)
    merged = make_customer(db, tier=Tier.REGULAR, points_balance=50)
    make_purchase(db, merged, "2500.00", utcnow() - timedelta(days=5))
    merge_customers(db, survivor, merged)
    db.commit()
    body = api.client.get(
        f"/api/v1/customers/{merged.id}/loyalty", headers=api.as_("service")
    ).json()
    assert body["customer_id"] == survivor.id
    assert body["tier"] == "silver" and body["points_balance"] == 150
    assert body["spend_12m"] == "2500.00"
    missing = api.client.get("/api/v1/customers/999998/loyalty", headers=api.as_("service"))
    assert missing.status_code == 404 and missing.json()["detail"]


def test_the_bot_reads_only_the_proven_customer(api, db):
    user, other_user = f"u-{uuid.uuid4().hex[:8]}", f"u-{uuid.uuid4().hex[:8]}"
    customer = make_customer(
        db, tier=Tier.GOLD, points_balance=777, identities=[("site", user, True)]
    )
    other = make_customer(db, points_balance=1, identities=[("site", other_user, True)])
    db.commit()
    conversation = f"socketio:w_{uuid.uuid4().hex}"

    def loyalty(customer_id: int, headers: dict[str, str]):
        return api.client.get(f"/api/v1/customers/{customer_id}/loyalty", headers=headers)

    mine = loyalty(customer.id, api.bot(conversation, site_user=user))
    assert mine.status_code == 200, mine.text
    assert mine.json()["customer_id"] == customer.id and mine.json()["points_balance"] == 777
    # Another customer's id, or any id for a message that proved nobody: "no such customer".
    for customer_id, headers in (
        (other.id, api.bot(conversation, site_user=user)),
        (customer.id, api.bot(conversation, site_user=other_user)),
        (customer.id, api.bot(f"rest:{user}")),
        (999_997, api.bot(conversation, site_user=user)),
    ):
        refused = loyalty(customer_id, headers)
        assert refused.status_code == 404, refused.text
        assert "points_balance" not in refused.text
    # No proof, an expired or a forged one: not even a 404.
    stale = {
        **api.as_("bot"),
        PROOF_HEADER: proof(api.settings, conversation, site_user=user, age=EXPIRED),
    }
    forged = {
        **api.as_("bot"),
        PROOF_HEADER: proof(api.settings, conversation, site_user=user, key=FORGED_KEY),
    }
    for headers in (api.as_("bot"), stale, forged):
        assert loyalty(customer.id, headers).status_code == 401


def test_the_bot_reads_a_merged_customer_by_the_survivors_id(api, db):
    user = f"u-{uuid.uuid4().hex[:8]}"
    survivor = make_customer(db, tier=Tier.SILVER, points_balance=100)
    merged = make_customer(db, points_balance=50, identities=[("site", user, True)])
    merge_customers(db, survivor, merged)
    db.commit()
    headers = api.bot(f"socketio:w_{uuid.uuid4().hex}", site_user=user)
    # /bot/identify answers with the survivor's id; that is the one the bot may read.
    found = api.client.post("/api/v1/bot/identify", json={}, headers=headers).json()
    assert found["customer_id"] == survivor.id
    ok = api.client.get(f"/api/v1/customers/{survivor.id}/loyalty", headers=headers)
    assert ok.status_code == 200 and ok.json()["points_balance"] == 150
    old_id = api.client.get(f"/api/v1/customers/{merged.id}/loyalty", headers=headers)
    assert old_id.status_code == 404
