"""The bot's training data and domain are bilingual and complete."""

from __future__ import annotations

import re
from collections import Counter

import yaml

from devtools.config import ROOT

BOT = ROOT / "bot"
HAN = re.compile(r"[\u4e00-\u9fff]")
SKELETON_INTENTS = {"greet", "goodbye", "thank", "bot_challenge", "out_of_scope"}


def _examples() -> dict[str, list[str]]:
    examples: dict[str, list[str]] = {}
    for path in (BOT / "data" / "nlu").glob("*.yml"):
        for block in yaml.safe_load(path.read_text()).get("nlu", []):
            if "intent" in block:
                lines = [
                    line[2:].strip() for line in block["examples"].splitlines() if line.strip()
                ]
                examples.setdefault(block["intent"], []).extend(lines)
    return examples


def test_each_skeleton_intent_has_15_examples_per_language():
    examples = _examples()
    for intent in SKELETON_INTENTS:
        counts = Counter("zh" if HAN.search(e) else "en" for e in examples[intent])
        assert counts["zh"] >= 15 and counts["en"] >= 15, (intent, counts)


def test_no_example_is_duplicated_across_intents():
    seen: dict[str, str] = {}
    for intent, lines in _examples().items():
        for line in lines:
            assert seen.setdefault(line.lower(), intent) == intent, (
                line,
                intent,
                seen[line.lower()],
            )


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
