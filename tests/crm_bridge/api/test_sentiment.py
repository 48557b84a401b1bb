from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("text", "language", "label"),
    [
        ("我要投诉，你们的服务太差劲了！", "zh", "negative"),
        ("请问怎么申请退货？", "zh", "neutral"),
        ("this is the worst service ever, I'm furious", "en", "negative"),
        ("thank you so much, that was really helpful!", "en", "positive"),
    ],
)
def test_score_a_text(api, sentiment_scorer, text, language, label):
    response = api.client.post("/api/v1/sentiment", json={"text": text}, headers=api.as_("service"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["language"] == language and body["label"] == label
    assert -1 <= body["score"] <= 1


@pytest.mark.parametrize("body", [{"text": ""}, {"text": "x" * 5001}, {"txt": "hi"}, {}])
def test_bad_input(api, body):
    response = api.client.post("/api/v1/sentiment", json=body, headers=api.as_("agent"))
    assert response.status_code == 422
