"""Normalisation and tokenisation."""

from __future__ import annotations

from knowledge_base.normalize import detect_lang, normalize, to_simplified
from knowledge_base.tokens import Tokenizer


def test_traditional_to_simplified() -> None:
    assert to_simplified("退貨運費誰負擔") == "退货运费谁负担"
    assert normalize("積分什麼時候過期？") == "积分什么时候过期"


def test_full_width_case_and_punctuation() -> None:
    assert normalize("ＨＯＷ　ＬＯＮＧ，Delivery？！") == "how long delivery"
    assert normalize("１２３ＡＢＣ") == "123abc"


def test_detect_lang() -> None:
    assert detect_lang("退货要多久") == "zh"
    assert detect_lang("How do I return an item?") == "en"
    assert detect_lang("我的order在哪里") == "zh"


def test_tokenizer_mixes_jieba_words_chars_and_bigrams() -> None:
    tokens = Tokenizer()("退貨的運費 for my Orders")
    assert "w:退货" in tokens and "w:运费" in tokens and "w:的" not in tokens
    assert "g:运费" in tokens and "c:费" in tokens
    assert "order" in tokens and "for" not in tokens
