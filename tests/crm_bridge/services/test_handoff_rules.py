"""Pure rules of the live handoff: summary, office hours, triggers, queue priority."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crm_bridge.models import Priority
from crm_bridge.services.escalation_triggers import EscalationRules
from crm_bridge.services.handoff_queue import handoff_priority
from crm_bridge.services.office_hours import OfficeHours
from crm_bridge.services.summary import summarize

RULES = EscalationRules(
    sentiment_below=-0.75,
    trend_turns=3,
    trend_drop=0.8,
    keywords=("12315", "律师", "lawyer", "sue"),
)


def test_the_summary_keeps_the_telling_sentences_in_both_languages():
    zh = summarize(
        [
            "你好",
            "转人工",
            "我的快递三天没动了。快递单号查不到物流信息，快递员电话也打不通！",
            "好的",
        ]
    )
    assert "快递" in zh and "你好" not in zh and len(zh) <= 240
    en = summarize(
        [
            "hi",
            "/affirm",
            "My parcel has not moved for three days. The parcel tracking shows nothing.",
        ]
    )
    assert "parcel" in en and "/affirm" not in en
    assert summarize(["ok", "/deny"]) == ""


@pytest.mark.parametrize(
    ("text", "score", "recent", "reason"),
    [
        ("我要打12315投诉你们", 0.0, [0.0], "legal_threat"),
        ("我会找律师", None, [], "legal_threat"),
        ("I'll SUE you", 0.1, [0.1], "legal_threat"),
        ("there is an issue with my order", 0.0, [0.0], None),  # "sue" inside "issue"
        ("my order is DS12315678", 0.0, [0.0], None),  # a hotline number inside a number
        ("this is terrible service", -0.9, [-0.9], "negative_sentiment"),
        ("发票", -0.95, [-0.95], None),  # too short to trust the score
        ("not sure about that", -0.5, [0.6, 0.1, -0.5], "sentiment_falling"),
        ("not sure about that", -0.5, [0.2, 0.1, -0.5], None),  # falling, but not by 0.8
        ("not sure about that", -0.5, [0.6, -0.6, -0.5], None),  # not falling every turn
    ],
)
def test_escalation_triggers(text, score, recent, reason):
    assert RULES.reason(text, score, recent) == reason


def test_office_hours_in_the_shop_time_zone_and_days():
    hours = OfficeHours.parse("09:00-21:00", "1-5", "Asia/Shanghai")
    monday_10_beijing = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    assert hours.is_open(monday_10_beijing)
    assert not hours.is_open(datetime(2026, 11, 30, 13, 30, tzinfo=UTC))  # 21:30 Beijing
    assert not hours.is_open(datetime(2026, 11, 28, 2, 0, tzinfo=UTC))  # Saturday
    always = OfficeHours.parse("00:00-24:00", "1-7", "UTC")
    assert always.is_open(datetime(2026, 11, 29, 23, 59, tzinfo=UTC))
    night = OfficeHours.parse("20:00-02:00", "1", "UTC")
    assert night.is_open(datetime(2026, 11, 30, 23, 0, tzinfo=UTC))  # Monday night
    assert night.is_open(datetime(2026, 12, 1, 1, 0, tzinfo=UTC))  # still Monday's shift
    assert not night.is_open(datetime(2026, 12, 1, 23, 0, tzinfo=UTC))  # Tuesday
    assert hours.describe() == "09:00-21:00 (Asia/Shanghai)"


def test_priority_from_reason_tier_and_sentiment():
    assert handoff_priority(None, [], "legal_threat") == Priority.URGENT
    assert handoff_priority("regular", [-0.7], "asked_for_human") == Priority.URGENT
    assert handoff_priority("diamond", [0.2], "asked_for_human") == Priority.HIGH
    assert handoff_priority("silver", [0.2], "asked_for_human") == Priority.NORMAL
