"""The skeleton bot answers in the language of the latest message, over the REST channel."""

from __future__ import annotations

import re
import uuid

import pytest
import yaml

from devtools.config import ROOT

pytestmark = pytest.mark.slow

HAN = re.compile(r"[\u4e00-\u9fff]")


def response_texts(name: str, language: str) -> set[str]:
    """Texts of a domain response conditioned on ``language``."""
    texts: set[str] = set()
    for path in (ROOT / "bot" / "domain").glob("*.yml"):
        domain = yaml.safe_load(path.read_text()) or {}
        for variant in (domain.get("responses") or {}).get(name, []):
            conditions = variant.get("condition", [])
            if {"type": "slot", "name": "language", "value": language} in conditions:
                texts.add(variant["text"])
    assert texts, f"no {language} variant of {name}"
    return texts


@pytest.mark.parametrize(
    ("message", "language", "response"),
    [
        ("你好", "zh", "utter_greet"),
        ("谢谢", "zh", "utter_you_are_welcome"),
        ("hello", "en", "utter_greet"),
        ("thanks", "en", "utter_you_are_welcome"),
        ("你是机器人吗？", "zh", "utter_iamabot"),
        ("are you a bot?", "en", "utter_iamabot"),
    ],
)
def test_reply_in_the_customers_language(stack, message, language, response):
    replies = stack.say(f"test-{uuid.uuid4().hex}", message)
    assert len(replies) == 1, replies
    text = replies[0]["text"]
    assert text in response_texts(response, language)
    assert bool(HAN.search(text)) == (language == "zh"), text


def test_language_follows_the_latest_message(stack):
    sender = f"test-{uuid.uuid4().hex}"
    assert stack.say(sender, "你好")[0]["text"] in response_texts("utter_greet", "zh")
    assert stack.say(sender, "thank you")[0]["text"] in response_texts(
        "utter_you_are_welcome", "en"
    )
    # A message that shows no language keeps the one the conversation had.
    replies = stack.say(sender, "👍👍")
    assert replies and not any(HAN.search(reply["text"]) for reply in replies), replies
    assert stack.say(sender, "谢谢")[0]["text"] in response_texts("utter_you_are_welcome", "zh")


@pytest.mark.parametrize(
    ("message", "expected"),
    [("拜拜", "再见，祝您购物愉快！"), ("see you later", "Goodbye, and happy shopping!")],
)
def test_goodbye_before_any_service_just_says_goodbye(stack, message, expected):
    replies = stack.say(f"test-{uuid.uuid4().hex}", message)
    assert [r["text"] for r in replies] == [expected]


def test_out_of_scope_is_admitted_in_both_languages(stack):
    zh = stack.say(f"test-{uuid.uuid4().hex}", "帮我写一首关于大海的诗")[0]["text"]
    en = stack.say(f"test-{uuid.uuid4().hex}", "what's the weather in Berlin tomorrow")[0]["text"]
    assert "答不上来" in zh and "转人工" in zh
    assert "don't know" in en and "human agent" in en
