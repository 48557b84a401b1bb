"""Language detection used by the bot's NLU pipeline."""

from __future__ import annotations

import pytest

from components.language import detect_language


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("你好", "zh"),
        ("我的订单到哪了？", "zh"),
        ("我的order到了吗", "zh"),
        ("請問退貨要多久", "zh"),  # traditional characters
        ("hello", "en"),
        ("Where is my order #A12345?", "en"),
        ("my order number is 12345, 谢谢 is all I know in Chinese", "en"),
        ("123456", None),
        ("DS01010003", None),  # an order number: no language of its own
        ("Demo2@Example.com", None),  # an e-mail address is a name, not English
        ("我的邮箱是 wang.fang@example.com", "zh"),
        ("my email is wang.fang@example.com", "en"),
        ("https://shop.example/orders", None),
        ("订单号DS01010003", "zh"),
        ("it's DS01010003", "en"),
        ("👍", None),
        ("A", None),
        ("", None),
    ],
)
def test_detect_language(text, expected):
    assert detect_language(text) == expected
