"""Per-message sentiment for the CRM bridge: a score in [-1, 1] and a label, zh and en.

Typical use in the bridge::

    from crm_bridge.sentiment import SentimentScorer, ensure_model

    scorer = SentimentScorer.load(ensure_model())  # trains on first start (minutes)
    scorer.score("我要投诉，你们太差劲了")  # SentimentResult(score=-0.9…, label='negative', …)
"""

from __future__ import annotations

from crm_bridge.sentiment.data import SentimentDataError
from crm_bridge.sentiment.language import detect_language
from crm_bridge.sentiment.paths import default_data_dir, default_model_dir
from crm_bridge.sentiment.scorer import NEUTRAL_BAND, SentimentResult, SentimentScorer
from crm_bridge.sentiment.train import ensure_model, train_models

__all__ = [
    "NEUTRAL_BAND",
    "SentimentDataError",
    "SentimentResult",
    "SentimentScorer",
    "default_data_dir",
    "default_model_dir",
    "detect_language",
    "ensure_model",
    "train_models",
]
