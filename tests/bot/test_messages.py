"""What the actions say exists in both languages and parses what customers type."""

from __future__ import annotations

import re
import string

import pytest
from rasa_sdk import Tracker

from actions.complaint import describes_what_happened
from actions.messages import MESSAGES, ORDER_STATUS, TIERS, local_date
from actions.orders import normalise_order_number, order_number_in
from actions.satisfaction import rating_in

HAN = re.compile(r"[\u4e00-\u9fff]")


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_every_message_has_both_languages_with_the_same_placeholders(key):
    variants = MESSAGES[key]
    assert set(variants) == {"zh", "en"}
    assert HAN.search(variants["zh"]) and not HAN.search(variants["en"]), variants
    assert _fields(variants["zh"]) == _fields(variants["en"]), variants


@pytest.mark.parametrize("table", [ORDER_STATUS, TIERS])
def test_status_and_tier_names_exist_in_both_languages(table):
    for names in table.values():
        assert HAN.search(names["zh"]) and not HAN.search(names["en"])


def _tracker(text: str, intent: str = "inform", entities: list | None = None) -> Tracker:
    ranking = [{"name": intent, "confidence": 0.9}]
    message = {
        "text": text,
        "intent": ranking[0],
        "intent_ranking": ranking,
        "entities": entities or [],
    }
    return Tracker("t", {}, message, [], False, None, {}, "action_listen")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("DS01010003", "DS01010003"),
        ("ds01010003", "DS01010003"),
        ("DS 0101 0003", "DS01010003"),
        ("DS-01010003", "DS01010003"),
        ("DS0101000", None),
        ("DS010100031", None),
        ("AB01010003", None),
        ("12345", None),
        ("", None),
    ],
)
def test_order_numbers_are_normalised_or_rejected(value, expected):
    assert normalise_order_number(value) == expected


def test_an_order_number_is_found_in_a_sentence_or_taken_raw():
    assert order_number_in(_tracker("单号是 DS01010003 谢谢")) == "DS01010003"
    assert order_number_in(_tracker("12345")) == "12345"
    entity = [{"entity": "order_number", "value": "DS02010001"}]
    assert order_number_in(_tracker("x", entities=entity)) == "DS02010001"
    assert order_number_in(_tracker("no, forget it", intent="deny")) is None
    assert order_number_in(_tracker("/deny")) is None


@pytest.mark.parametrize(
    ("text", "entities", "expected"),
    [
        ("/rate", [{"entity": "rating", "value": "4"}], 4),
        ("打5分", [], 5),
        ("I'd give it three", [], 3),
        ("五星好评", [], 5),
        ("10 out of 10", [], None),
        ("great", [], None),
        ("x", [{"entity": "rating", "value": "9"}], None),
    ],
)
def test_ratings_are_read_from_entities_or_words(text, entities, expected):
    assert rating_in(_tracker(text, "rate", entities)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我要投诉", False),
        ("你们什么破服务，快递送来的杯子全碎了", True),
        ("I want to complain", False),
        ("the courier was rude and left my parcel in the rain", True),
        ("/complain", False),
    ],
)
def test_a_complaint_that_tells_the_story_is_kept_as_its_details(text, expected):
    assert describes_what_happened(text) is expected


def test_dates_are_written_the_way_each_language_reads_them():
    assert local_date("2026-11-24T08:30:00", "zh") == "2026年11月24日"
    assert local_date("2026-11-24T08:30:00", "en") == "2026-11-24"
    assert local_date(None, "en") == ""
