"""Loyalty (忠诚度): membership tiers (会员等级) by spend, and points about to expire.

The rules (documented in crm_bridge/README.md, "Loyalty"):

- Spend = the amounts of the customer's orders placed in the last 12 months (``SPEND_WINDOW``,
  365 days), without orders that are cancelled, refunded or still awaiting payment
  (``EXCLUDED_STATUSES``).
- Tier thresholds on that spend, in CNY (``TIER_THRESHOLDS``): silver ≥ 2,000, gold ≥ 6,000,
  platinum ≥ 15,000, diamond ≥ 30,000; below 2,000 regular. A threshold reached exactly
  counts (≥).
- Next tier = the tier above the customer's *stored* tier (none above diamond); the spend to
  reach it = max(0, its threshold − spend). The stored tier is what the customer holds today
  (it changes by the shop's own review, not by this read); :func:`tier_for_spend` is the
  rule that review applies.
- Expiring points = earnings (positive transactions) whose ``expires_at`` falls within the
  next ``POINTS_EXPIRY_WARNING_DAYS`` (from now, inclusive); already expired ones are not
  listed. Spent points are not matched against earnings: the figure is what will expire at
  most.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_bridge.models import Customer, Order, PointsTransaction, Tier, utcnow

SPEND_WINDOW = timedelta(days=365)
EXCLUDED_STATUSES = ("cancelled", "refunded", "pending_payment")
TIER_THRESHOLDS: dict[Tier, Decimal] = {
    Tier.SILVER: Decimal(2_000),
    Tier.GOLD: Decimal(6_000),
    Tier.PLATINUM: Decimal(15_000),
    Tier.DIAMOND: Decimal(30_000),
}
"""Spend over 12 months (CNY) from which a tier is reached; regular has none."""
TIERS: tuple[Tier, ...] = tuple(Tier)
"""Tiers from lowest to highest."""
CENTS = Decimal("0.01")


@dataclass(frozen=True)
class ExpiringEarning:
    """Points of one earning and when they expire."""

    points: int
    expires_at: datetime


@dataclass(frozen=True)
class Loyalty:
    """A customer's loyalty standing."""

    customer_id: int
    tier: Tier
    points_balance: int
    spend_12m: Decimal
    next_tier: Tier | None
    spend_to_next_tier: Decimal | None
    expiring_points: int
    expiring_before: datetime | None
    expiring: list[ExpiringEarning]


def tier_for_spend(spend: Decimal) -> Tier:
    """The tier a 12-month spend qualifies for."""
    reached = [tier for tier, threshold in TIER_THRESHOLDS.items() if spend >= threshold]
    return max(reached, key=TIERS.index, default=Tier.REGULAR)


def next_tier(tier: Tier) -> Tier | None:
    """The tier above ``tier``; None for the highest."""
    position = TIERS.index(tier)
    return TIERS[position + 1] if position + 1 < len(TIERS) else None


def spend_12m(session: Session, customer_id: int, now: datetime) -> Decimal:
    """What the customer spent in the 12 months before ``now`` (counted orders only)."""
    amounts = session.scalars(
        select(Order.amount).where(
            Order.customer_id == customer_id,
            Order.status.not_in(EXCLUDED_STATUSES),
            Order.placed_at > now - SPEND_WINDOW,
            Order.placed_at <= now,
        )
    ).all()
    return sum((Decimal(a) for a in amounts), Decimal(0)).quantize(CENTS)


def expiring_points(
    session: Session, customer_id: int, now: datetime, within: timedelta
) -> list[ExpiringEarning]:
    """Earnings whose points expire in [now, now + within], soonest first."""
    rows = session.execute(
        select(PointsTransaction.delta, PointsTransaction.expires_at)
        .where(
            PointsTransaction.customer_id == customer_id,
            PointsTransaction.delta > 0,
            PointsTransaction.expires_at >= now,
            PointsTransaction.expires_at <= now + within,
        )
        .order_by(PointsTransaction.expires_at, PointsTransaction.id)
    ).all()
    return [ExpiringEarning(points=delta, expires_at=at) for delta, at in rows]


def loyalty(
    session: Session,
    customer: Customer,
    warning_days: int,
    now: datetime | None = None,
) -> Loyalty:
    """The loyalty standing of ``customer`` (give the surviving record of a merge)."""
    now = now or utcnow()
    spend = spend_12m(session, customer.id, now)
    above = next_tier(customer.tier)
    expiring = expiring_points(session, customer.id, now, timedelta(days=warning_days))
    to_next = None if above is None else max(Decimal(0), TIER_THRESHOLDS[above] - spend)
    return Loyalty(
        customer_id=customer.id,
        tier=customer.tier,
        points_balance=customer.points_balance,
        spend_12m=spend,
        next_tier=above,
        spend_to_next_tier=None if to_next is None else to_next.quantize(CENTS),
        expiring_points=sum(e.points for e in expiring),
        expiring_before=max((e.expires_at for e in expiring), default=None),
        expiring=expiring,
    )
