from __future__ import annotations

import numpy as np
import pytest

from crm_bridge.sentiment import NEUTRAL_BAND, SentimentResult, SentimentScorer
from crm_bridge.sentiment.scorer import label_for


@pytest.mark.parametrize(
    ("p_positive", "expected"),
    [
        (0.0, "negative"),
        (0.25, "negative"),  # score -0.5: the band's edge belongs to the polar label
        (0.26, "neutral"),
        (0.5, "neutral"),
        (0.74, "neutral"),
        (0.75, "positive"),
        (1.0, "positive"),
    ],
)
def test_binary_label_thresholds(p_positive, expected):
    assert NEUTRAL_BAND == 0.5
    row = np.array([1 - p_positive, 0.0, p_positive])
    assert label_for(row, has_neutral=False, neutral_band=NEUTRAL_BAND) == expected


def test_three_class_label_is_the_most_probable_class():
    row = np.array([0.3, 0.45, 0.25])
    assert label_for(row, has_neutral=True, neutral_band=NEUTRAL_BAND) == "neutral"
    row = np.array([0.5, 0.1, 0.4])
    assert label_for(row, has_neutral=True, neutral_band=NEUTRAL_BAND) == "negative"


def test_score_routes_by_script_and_stays_in_range(scorer):
    zh = scorer.score("这家店的菜很好吃，送餐也快")
    en = scorer.score("thanks, that solved it")
    assert isinstance(zh, SentimentResult)
    assert (zh.language, en.language) == ("zh", "en")
    for result in (zh, en):
        assert -1.0 <= result.score <= 1.0
        assert result.label in {"negative", "neutral", "positive"}


def test_blank_message_is_neutral(scorer):
    assert scorer.score("   ") == SentimentResult(0.0, "neutral", "en")


def test_score_many_matches_score(scorer):
    texts = ["太差劲了", "great service, thank you!", "", "where is my parcel??", "好评"]
    assert scorer.score_many(texts) == [scorer.score(text) for text in texts]


@pytest.mark.parametrize(
    "text",
    [
        "我要投诉，你们太差劲了",
        "太慢了，等了两个小时还没送到，非常失望",
        "this is terrible, worst service ever",
    ],
)
def test_angry_complaints_are_negative(scorer, text):
    result = scorer.score(text)
    assert result.label == "negative"
    assert result.score <= -0.5


@pytest.mark.parametrize(
    "text", ["请问怎么退货", "我的快递到哪了？", "能帮我改一下地址吗", "how do I return an item?"]
)
def test_plain_questions_are_neutral(scorer, text):
    result = scorer.score(text)
    assert result.label == "neutral"
    assert abs(result.score) < 0.5


@pytest.mark.parametrize("text", ["非常好，谢谢", "thank you so much, great help!"])
def test_praise_is_positive(scorer, text):
    result = scorer.score(text)
    assert result.label == "positive"
    assert result.score >= 0.5


def test_load_requires_a_trained_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no trained sentiment model"):
        SentimentScorer.load(tmp_path)


def test_scorer_needs_both_languages(scorer):
    with pytest.raises(ValueError, match="no sentiment model for en"):
        SentimentScorer({"zh": scorer.models["zh"]})
