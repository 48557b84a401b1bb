"""The bot's training data, held-out NLU test set and domain are bilingual and complete."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import yaml

from devtools.config import ROOT

BOT = ROOT / "bot"
TRAINING = BOT / "data" / "nlu"
HELD_OUT = BOT / "tests" / "nlu" / "test_nlu.yml"
HAN = re.compile(r"[\u4e00-\u9fff]")
# `[text](entity)` or `[text]{"entity": ..., "value": ...}` -> text
ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")
MIN_TRAINING_PER_LANGUAGE = 20
MIN_HELD_OUT_PER_LANGUAGE = 10
# Intents every Rasa domain has without declaring them (rasa.shared.core.constants).
RASA_DEFAULT_INTENTS = {"restart", "back", "out_of_scope", "session_start", "nlu_fallback"}


def _examples(paths: list[Path]) -> dict[str, list[str]]:
    examples: dict[str, list[str]] = {}
    for path in paths:
        for block in yaml.safe_load(path.read_text()).get("nlu", []):
            if "intent" in block:
                lines = [
                    line.strip()[2:].strip()
                    for line in block["examples"].splitlines()
                    if line.strip()
                ]
                examples.setdefault(block["intent"], []).extend(lines)
    return examples


def _training() -> dict[str, list[str]]:
    return _examples(sorted(TRAINING.glob("*.yml")))


def _held_out() -> dict[str, list[str]]:
    return _examples([HELD_OUT])


def _plain(example: str) -> str:
    """The message text of an example: annotations removed, lower case, no whitespace."""
    return re.sub(r"\s+", "", ANNOTATION.sub(r"\1", example)).lower()


def _per_language(lines: list[str]) -> Counter[str]:
    return Counter("zh" if HAN.search(e) else "en" for e in lines)


def test_every_intent_has_20_training_examples_per_language():
    for intent, lines in _training().items():
        counts = _per_language(lines)
        assert counts["zh"] >= MIN_TRAINING_PER_LANGUAGE, (intent, counts)
        assert counts["en"] >= MIN_TRAINING_PER_LANGUAGE, (intent, counts)


def test_no_example_is_duplicated_across_intents():
    seen: dict[str, str] = {}
    for intent, lines in _training().items():
        for line in lines:
            key = _plain(line)
            assert seen.setdefault(key, intent) == intent, (line, intent, seen[key])


def test_held_out_set_has_10_examples_per_intent_per_language():
    training, held_out = _training(), _held_out()
    assert set(held_out) == set(training)
    for intent, lines in held_out.items():
        counts = _per_language(lines)
        assert counts["zh"] >= MIN_HELD_OUT_PER_LANGUAGE, (intent, counts)
        assert counts["en"] >= MIN_HELD_OUT_PER_LANGUAGE, (intent, counts)


def test_held_out_set_shares_no_example_with_training():
    trained = {_plain(line) for lines in _training().values() for line in lines}
    shared = [line for lines in _held_out().values() for line in lines if _plain(line) in trained]
    assert not shared


def test_held_out_set_is_outside_the_training_data():
    assert TRAINING not in HELD_OUT.parents


def test_every_training_intent_is_declared_in_the_domain():
    declared = set(RASA_DEFAULT_INTENTS)
    for path in (BOT / "domain").glob("*.yml"):
        declared.update(yaml.safe_load(path.read_text()).get("intents") or [])
    assert set(_training()) - declared == set()


def test_every_order_number_annotation_matches_the_regex():
    regexes = [
        block["examples"]
        for path in TRAINING.glob("*.yml")
        for block in yaml.safe_load(path.read_text()).get("nlu", [])
        if block.get("regex") == "order_number"
    ]
    assert len(regexes) == 1
    pattern = re.compile(regexes[0].strip()[2:].strip())
    examples = [e for lines in (*_training().values(), *_held_out().values()) for e in lines]
    numbers = re.findall(r"\[([^\]]+)\]\(order_number\)", "\n".join(examples))
    assert len(numbers) >= 40
    for number in numbers:
        assert pattern.fullmatch(number), number


def test_every_response_has_a_chinese_and_an_english_variant():
    for path in (BOT / "domain").glob("*.yml"):
        for name, variants in (yaml.safe_load(path.read_text()).get("responses") or {}).items():
            languages = {
                c["value"]
                for v in variants
                for c in v.get("condition", [])
                if c.get("name") == "language"
            }
            assert languages == {"zh", "en"}, (path.name, name, languages)
            for variant in variants:
                language = next(c["value"] for c in variant["condition"] if c["name"] == "language")
                assert bool(HAN.search(variant["text"])) == (language == "zh"), variant
