from __future__ import annotations

import logging

import pytest

from crm_bridge.core.pii import PiiMaskingFilter, mask_pii


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我的手机是13800138000，请回电", "我的手机是[phone]，请回电"),
        ("call +86 138 0013 8000 now", "call [phone] now"),
        ("mail me: li.lei@example.com", "mail me: [email]"),
        ("身份证 11010519491231002X 已提交", "身份证 [id-card] 已提交"),
        ("card 6222 0212 3456 7890 123", "card [bank-card]"),
        ("订单号 A1234567 没问题", "订单号 A1234567 没问题"),
        ("order 12345 is fine", "order 12345 is fine"),
    ],
)
def test_mask_pii(text, expected):
    assert mask_pii(text) == expected


def test_log_records_are_masked(caplog):
    logger = logging.getLogger("test.pii")
    handler = logging.Handler()
    records = []
    handler.emit = records.append
    handler.addFilter(PiiMaskingFilter())
    logger.addHandler(handler)
    try:
        logger.warning("customer %s wrote from %s", "li.lei@example.com", "13800138000")
    finally:
        logger.removeHandler(handler)
    assert records[0].getMessage() == "customer [email] wrote from [phone]"
