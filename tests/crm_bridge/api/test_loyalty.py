"""GET /customers/{id}/loyalty (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from crm_bridge.models import AuditLog, Tier, utcnow
from crm_bridge.services.customers import merge_customers
from tests.utils.factories import make_customer, make_points, make_purchase


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
