from __future__ import annotations

import pytest

from crm_bridge.sentiment import detect_language


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我要投诉，你们太差劲了", "zh"),
        ("謝謝你們的幫助", "zh"),
        ("订单 A123 where is it?", "zh"),
        ("where is my parcel??", "en"),
        ("thanks, that solved it 👍", "en"),
        ("12345", "en"),
        ("", "en"),
    ],
)
def test_detect_language_by_script(text, expected):
    assert detect_language(text) == expected
