"""Decisions on the demo knowledge base with the real default model, in both languages."""

from __future__ import annotations

import pytest

from knowledge_base.evaluate import evaluate, read_queries
from knowledge_base.kb import KnowledgeBase
from knowledge_base.sources import load_sources
from tests.knowledge_base.conftest import DEMO_FAQ, DEMO_QUERIES


def test_demo_kb_size_and_languages() -> None:
    entries = load_sources([DEMO_FAQ])
    assert len(entries) >= 40
    for entry in entries:
        assert len(entry.questions) >= 3
        assert {"zh", "en"} <= set(entry.answer)
        assert any("\u4e00" <= ch <= "\u9fff" for q in entry.questions for ch in q)
        assert any(q.isascii() for q in entry.questions)


@pytest.mark.parametrize(
    ("query", "expected", "lang"),
    [
        ("How many days will shipping take to my city?", "delivery-time", "en"),
        ("买的台灯不满意，可以退货吗", "returns-window", "zh"),
        ("退貨運費誰負擔？", "returns-shipping-fee", "zh"),
        ("ＣＡＮ　Ｉ　ＰＡＹ　ＩＮ　ＩＮＳＴＡＬＬＭＥＮＴＳ", "payment-installments", "en"),
    ],
)
def test_answers_in_the_query_language(
    demo_kb: KnowledgeBase, query: str, expected: str, lang: str
) -> None:
    result = demo_kb.search(query)
    assert result.decision == "answer", result.hits[:2]
    assert result.answer is not None and result.answer.id == expected
    assert result.lang == lang
    has_chinese = any("\u4e00" <= ch <= "\u9fff" for ch in result.answer.answer)
    assert has_chinese == (lang == "zh")


def test_answer_language_can_be_forced(demo_kb: KnowledgeBase) -> None:
    result = demo_kb.search("退货运费谁出", lang="en")
    assert result.hits[0].answer.startswith("We pay return shipping")


@pytest.mark.parametrize("query", ["What's the capital of Australia?", "给我讲个笑话", ""])
def test_out_of_scope_is_none(demo_kb: KnowledgeBase, query: str) -> None:
    assert demo_kb.search(query).decision == "none"


@pytest.mark.parametrize("query", ["points", "积分"])
def test_ambiguous_query_asks_to_clarify(demo_kb: KnowledgeBase, query: str) -> None:
    result = demo_kb.search(query)
    assert result.decision == "clarify"
    assert 2 <= result.choices <= 3
    assert all(h.id.startswith(("points-", "membership-")) for h in result.hits[: result.choices])


def test_demo_query_set_meets_targets(demo_kb: KnowledgeBase) -> None:
    metrics = evaluate(demo_kb, read_queries(DEMO_QUERIES))
    assert metrics["oos_reject"] >= 0.8
    assert metrics["top1"] >= 0.85
    assert metrics["answered_correct"] >= 0.8
