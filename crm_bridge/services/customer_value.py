"""Customer value from order history: RFM, segment, simple CLV and lifecycle stage.

The rules (documented in crm_bridge/README.md, "Customer value"):

- Recency R = days since the last order; frequency F = number of orders; monetary M = total
  (cancelled and refunded orders do not count).
- RFM scores 1-5 with fixed retail thresholds (``R_BINS``, ``F_BINS``, ``M_BINS``, CNY).
- Segment: champion (R>=4, F>=4), loyal (F>=4), new (F=1, R>=4), potential (R>=4),
  at_risk (R<=2, F>=3), hibernating (the rest).
- Lifecycle (客户生命周期): prospect (no orders), new (one order in the last 90 days),
  active (last order within 90 days), at_risk (91-180 days), churned (over 180 days).
- CLV = average order value x orders per year (over the customer's tenure, at least 90 days)
  x ``EXPECTED_YEARS`` x ``MARGIN``: a deliberately simple, explainable estimate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_bridge.models import Customer, LifecycleStage, Order, utcnow

R_BINS = (30, 60, 90, 180)  # days: <=30 -> 5 ... >180 -> 1
F_BINS = (2, 3, 5, 8)  # orders: 1 -> 1, 2 -> 2, 3-4 -> 3, 5-7 -> 4, >=8 -> 5
M_BINS = (Decimal(500), Decimal(2000), Decimal(5000), Decimal(10000))
EXPECTED_YEARS = Decimal(3)
MARGIN = Decimal("0.3")
EXCLUDED_STATUSES = ("cancelled", "refunded")
ACTIVE_DAYS = 90
AT_RISK_DAYS = 180


@dataclass(frozen=True)
class CustomerValue:
    """What the order history says about a customer."""

    recency_days: int | None
    frequency: int
    monetary: Decimal
    rfm: tuple[int, int, int] | None
    segment: str | None
    clv: Decimal | None
    lifecycle_stage: LifecycleStage


def _score_recency(days: int) -> int:
    return 5 - sum(days > edge for edge in R_BINS)


def _score_up(value: Decimal | int, bins: tuple) -> int:
    return 1 + sum(value >= edge for edge in bins)


def _segment(r: int, f: int) -> str:
    if r >= 4 and f >= 4:
        return "champion"
    if f >= 4:
        return "loyal"
    if f == 1 and r >= 4:
        return "new"
    if r >= 4:
        return "potential"
    if r <= 2 and f >= 3:
        return "at_risk"
    return "hibernating"


def evaluate(order_dates: list[datetime], amounts: list[Decimal], now: datetime) -> CustomerValue:
    """Value metrics from a customer's orders (dates and amounts, same order)."""
    if not order_dates:
        return CustomerValue(None, 0, Decimal(0), None, None, None, LifecycleStage.PROSPECT)
    recency = max(0, (now - max(order_dates)).days)
    frequency = len(order_dates)
    monetary = sum(amounts, Decimal(0))
    rfm = (_score_recency(recency), _score_up(frequency, F_BINS), _score_up(monetary, M_BINS))
    tenure_days = max(ACTIVE_DAYS, (now - min(order_dates)).days)
    orders_per_year = Decimal(frequency) * Decimal(365) / Decimal(tenure_days)
    clv = (monetary / frequency) * orders_per_year * EXPECTED_YEARS * MARGIN
    if recency > AT_RISK_DAYS:
        stage = LifecycleStage.CHURNED
    elif recency > ACTIVE_DAYS:
        stage = LifecycleStage.AT_RISK
    elif frequency == 1:
        stage = LifecycleStage.NEW
    else:
        stage = LifecycleStage.ACTIVE
    return CustomerValue(
        recency_days=recency,
        frequency=frequency,
        monetary=monetary,
        rfm=rfm,
        segment=_segment(rfm[0], rfm[1]),
        clv=clv.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP),
        lifecycle_stage=stage,
    )


def refresh(session: Session, customer: Customer, now: datetime | None = None) -> CustomerValue:
    """Recompute and store a customer's value metrics from the orders in the database."""
    rows = session.execute(
        select(Order.placed_at, Order.amount).where(
            Order.customer_id == customer.id, Order.status.not_in(EXCLUDED_STATUSES)
        )
    ).all()
    value = evaluate([r[0] for r in rows], [r[1] for r in rows], now or utcnow())
    customer.recency_days = value.recency_days
    customer.frequency = value.frequency
    customer.monetary = value.monetary
    customer.rfm_segment = value.segment
    customer.clv = value.clv
    customer.lifecycle_stage = value.lifecycle_stage
    return value
