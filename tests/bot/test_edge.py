"""Checks of what clients send through our text channels (bot/channels/edge.py)."""

from __future__ import annotations

import json

import pytest
from channels.edge import (
    MAX_BODY,
    MAX_METADATA_BYTES,
    MAX_METADATA_DEPTH,
    MAX_SENDER,
    MAX_TEXT,
    Refusal,
    check_message,
    checked_metadata,
    clean_text,
    parse_body,
)
from channels.wecom_kf import incoming


def _nested(levels: int) -> dict:
    value: dict = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def test_text_is_cleaned_of_control_characters_and_lone_surrogates():
    assert clean_text("a\x00b\x07c\x1b[31m\u0085d\te\nf\r\n") == "abc[31md\te\nf\r\n"
    assert clean_text("hi \ud800 there \U0001f600") == "hi \ufffd there \U0001f600"


@pytest.mark.parametrize(
    ("sender", "text", "metadata", "status"),
    [
        ("s", "x" * (MAX_TEXT + 1), None, 413),
        ("s", {"text": "hi"}, None, 400),
        ("s", None, None, 400),
        (None, "hi", None, 400),
        ("", "hi", None, 400),
        ({"id": 1}, "hi", None, 400),
        (True, "hi", None, 400),
        ("s" * (MAX_SENDER + 1), "hi", None, 400),
        ("s\x00", "hi", None, 400),
        ("s", "hi", [1, 2], 400),
        ("s", "hi", "not json", 400),
        ("s", "hi", _nested(MAX_METADATA_DEPTH + 1), 400),
        ("s", "hi", {"pad": "x" * MAX_METADATA_BYTES}, 413),
        ("s", "hi", "[" * 50_000 + "]" * 50_000, 413),
    ],
)
def test_bad_messages_are_refused_with_a_reason(sender, text, metadata, status):
    with pytest.raises(Refusal) as refused:
        check_message(sender, text, metadata)
    assert refused.value.status == status and refused.value.detail


def test_good_messages_pass_cleaned():
    checked = check_message(42, "x" * MAX_TEXT + "\x00", {"user_id": "u\x00", "n": [1, {"b": 2}]})
    assert checked.sender == "42" and checked.text == "x" * MAX_TEXT
    assert checked.metadata == {"user_id": "u", "n": [1, {"b": 2}]}
    assert checked_metadata(_nested(MAX_METADATA_DEPTH)) == _nested(MAX_METADATA_DEPTH)
    assert checked_metadata('{"user_id": "u"}') == {"user_id": "u"}  # socket.io sends strings
    assert check_message("s", "hi").metadata is None


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"", 400),
        (b"\xff\xfe{}", 400),
        (b"[1, 2]", 400),
        (b"null", 400),
        (b"[" * 100_000, 413),
        (b"[" * 30_000 + b"]" * 30_000, 400),  # deeper than Python's JSON parser goes
        (json.dumps({"pad": "x" * MAX_BODY}).encode(), 413),
    ],
)
def test_bodies_that_are_no_small_json_object_are_refused(body, status):
    with pytest.raises(Refusal) as refused:
        parse_body(body)
    assert refused.value.status == status


def test_refusals_answer_the_customer_in_their_language():
    too_long = Refusal(413, "too long", too_long=True)
    assert "2000" in too_long.reply("退" * 3000) and "太长" in too_long.reply("退" * 3000)
    assert too_long.reply("a" * 3000).startswith("Sorry, that message is too long")
    unreadable = Refusal(400, "no string")
    both = unreadable.reply({"not": "text"})
    assert "刷新页面" in both and "reload the page" in both


def test_wecom_text_is_cleaned_too():
    item = {
        "msgid": "m1",
        "external_userid": "wm1",
        "origin": 3,
        "send_time": 1,
        "msgtype": "text",
        "text": {"content": "你好\x00\ud800"},
    }
    assert incoming(item, "kf1").text == "你好\ufffd"
