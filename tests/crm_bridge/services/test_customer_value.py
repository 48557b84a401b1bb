from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from crm_bridge.models import LifecycleStage
from crm_bridge.services.customer_value import evaluate

NOW = datetime(2026, 11, 24, tzinfo=UTC)


def _orders(*days_ago: int, amount: str = "100"):
    return [NOW - timedelta(days=d) for d in days_ago], [Decimal(amount)] * len(days_ago)


@pytest.mark.parametrize(
    ("days", "stage"),
    [
        ((), LifecycleStage.PROSPECT),
        ((10,), LifecycleStage.NEW),
        ((10, 200), LifecycleStage.ACTIVE),
        ((120,), LifecycleStage.AT_RISK),
        ((120, 150, 170), LifecycleStage.AT_RISK),
        ((181,), LifecycleStage.CHURNED),
    ],
)
def test_lifecycle_rules(days, stage):
    assert evaluate(*_orders(*days), NOW).lifecycle_stage == stage


def test_rfm_segment_and_clv():
    champion = evaluate(*_orders(3, 20, 40, 60, 80, amount="2000"), NOW)
    assert champion.rfm == (5, 4, 5)
    assert champion.segment == "champion"
    assert champion.monetary == Decimal("10000")
    # 5 orders over a 90-day minimum tenure: 2000 x (5 x 365 / 90) x 3 years x 0.3 margin
    assert champion.clv == Decimal("36500.00")
    lapsed = evaluate(*_orders(200, 220, 240, amount="50"), NOW)
    assert lapsed.segment == "at_risk" and lapsed.rfm == (1, 3, 1)
    assert evaluate(*_orders(5), NOW).segment == "new"
