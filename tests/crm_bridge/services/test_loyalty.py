"""Tier rules and expiring points (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from crm_bridge.models import Tier
from crm_bridge.services.loyalty import TIER_THRESHOLDS, loyalty, next_tier, tier_for_spend
from tests.utils.factories import make_customer, make_points, make_purchase

NOW = datetime(2026, 6, 15, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("spend", "tier"),
    [
        ("0", Tier.REGULAR),
        ("1999.99", Tier.REGULAR),
        ("2000", Tier.SILVER),
        ("5999.99", Tier.SILVER),
        ("6000.00", Tier.GOLD),
        ("14999.99", Tier.GOLD),
        ("15000", Tier.PLATINUM),
        ("29999.99", Tier.PLATINUM),
        ("30000", Tier.DIAMOND),
        ("1000000", Tier.DIAMOND),
    ],
)
def test_tier_thresholds_and_boundaries(spend, tier):
    assert tier_for_spend(Decimal(spend)) == tier


def test_thresholds_are_the_documented_ones():
    assert TIER_THRESHOLDS == {
        Tier.SILVER: 2000,
        Tier.GOLD: 6000,
        Tier.PLATINUM: 15000,
        Tier.DIAMOND: 30000,
    }
    assert [next_tier(t) for t in Tier] == [
        Tier.SILVER,
        Tier.GOLD,
        Tier.PLATINUM,
        Tier.DIAMOND,
        None,
    ]


def test_spend_counts_the_last_12_months_of_real_orders(sessions):
    with sessions() as session:
        customer = make_customer(session, tier=Tier.SILVER, points_balance=2300)
        for amount, days, status in [
            ("1500.00", 10, "delivered"),
            ("600.50", 100, "shipped"),
            ("0.50", 364, "paid"),
            ("5000.00", 20, "cancelled"),
            ("4000.00", 30, "refunded"),
            ("3000.00", 2, "pending_payment"),
            ("9000.00", 366, "delivered"),
            ("7000.00", -1, "delivered"),  # in the future: not spent yet
        ]:
            make_purchase(session, customer, amount, NOW - timedelta(days=days), status)
        make_purchase(session, customer, "8000", NOW - timedelta(days=365), "delivered")  # edge
        session.commit()
        standing = loyalty(session, customer, warning_days=30, now=NOW)
    assert standing.customer_id == customer.id
    assert standing.tier == Tier.SILVER and standing.points_balance == 2300
    assert standing.spend_12m == Decimal("2101.00")
    assert standing.next_tier == Tier.GOLD
    assert standing.spend_to_next_tier == Decimal("3899.00")


@pytest.mark.parametrize(
    ("stored", "spend", "next_", "to_next"),
    [
        (Tier.REGULAR, "1999.99", Tier.SILVER, "0.01"),
        (Tier.REGULAR, "2000.00", Tier.SILVER, "0.00"),
        (Tier.SILVER, "20000.00", Tier.GOLD, "0.00"),  # the stored tier decides the next one
        (Tier.GOLD, "7000.00", Tier.PLATINUM, "8000.00"),
        (Tier.PLATINUM, "0", Tier.DIAMOND, "30000.00"),
        (Tier.DIAMOND, "100.00", None, None),
    ],
)
def test_next_tier_follows_the_stored_tier(sessions, stored, spend, next_, to_next):
    with sessions() as session:
        customer = make_customer(session, tier=stored)
        if Decimal(spend):
            make_purchase(session, customer, spend, NOW - timedelta(days=1))
        session.commit()
        standing = loyalty(session, customer, warning_days=30, now=NOW)
    assert standing.spend_12m == Decimal(spend)
    assert standing.next_tier == next_
    assert standing.spend_to_next_tier == (None if to_next is None else Decimal(to_next))


def test_expiring_points_within_the_warning_window(sessions):
    with sessions() as session:
        customer = make_customer(session)
        make_points(session, customer, 100, NOW + timedelta(days=5))
        make_points(session, customer, 200, NOW + timedelta(days=30))  # edge: included
        make_points(session, customer, 300, NOW + timedelta(days=30, seconds=1))
        make_points(session, customer, 400, NOW - timedelta(seconds=1))  # expired already
        make_points(session, customer, -50, NOW + timedelta(days=3))  # spent, not earned
        make_points(session, customer, 70)  # never expires
        make_points(session, customer, 80, NOW)  # edge: expires right now, included
        other = make_customer(session)
        make_points(session, other, 999, NOW + timedelta(days=1))
        session.commit()
        standing = loyalty(session, customer, warning_days=30, now=NOW)
        longer = loyalty(session, customer, warning_days=60, now=NOW)
        nothing = loyalty(session, customer, warning_days=30, now=NOW + timedelta(days=400))
    assert standing.expiring_points == 380
    assert [(e.points, e.expires_at) for e in standing.expiring] == [
        (80, NOW),
        (100, NOW + timedelta(days=5)),
        (200, NOW + timedelta(days=30)),
    ]
    assert standing.expiring_before == NOW + timedelta(days=30)
    assert longer.expiring_points == 680
    assert longer.expiring_before == NOW + timedelta(days=30, seconds=1)
    assert nothing.expiring_points == 0 and nothing.expiring == []
    assert nothing.expiring_before is None
