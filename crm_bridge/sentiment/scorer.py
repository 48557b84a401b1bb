"""Scoring one customer message: language routing, score in [-1, 1] and a three-way label."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
from sklearn.pipeline import Pipeline

from crm_bridge.sentiment.data import LABELS
from crm_bridge.sentiment.language import Language, detect_language
from crm_bridge.sentiment.models import class_probabilities

MANIFEST = "manifest.json"
FORMAT_VERSION = 2
NEUTRAL_BAND = 0.5
"""Binary (zh) models: a score strictly inside (-0.5, 0.5), i.e. P(positive) between 0.25 and
0.75, is labelled neutral."""


@dataclass(frozen=True)
class SentimentResult:
    """The sentiment of one message.

    Attributes:
        score: ``P(positive) - P(negative)`` in [-1, 1]; -1 is certainly negative.
        label: ``"negative"``, ``"neutral"`` or ``"positive"``.
        language: The model that scored it, ``"zh"`` or ``"en"``.
    """

    score: float
    label: str
    language: str


def label_for(probabilities: np.ndarray, *, has_neutral: bool, neutral_band: float) -> str:
    """Return the label for one row of P(negative), P(neutral), P(positive).

    Args:
        probabilities: Three class probabilities in :data:`LABELS` order.
        has_neutral: Whether the model learnt a neutral class (en). Then the most probable
            class wins.
        neutral_band: For binary models (zh): half-width of the score band labelled neutral.

    Returns:
        The label.
    """
    if has_neutral:
        return LABELS[int(np.argmax(probabilities))]
    score = probabilities[2] - probabilities[0]
    if score <= -neutral_band:
        return "negative"
    if score >= neutral_band:
        return "positive"
    return "neutral"


class SentimentScorer:
    """Scores messages with one trained model per language.

    Args:
        models: Trained pipelines by language (``"zh"``, ``"en"``).
        neutral_band: Half-width of the neutral score band for binary models.
    """

    def __init__(
        self, models: Mapping[str, Pipeline], *, neutral_band: float = NEUTRAL_BAND
    ) -> None:
        missing = {"zh", "en"} - set(models)
        if missing:
            raise ValueError(f"no sentiment model for {', '.join(sorted(missing))}")
        self.models = dict(models)
        self.neutral_band = neutral_band
        self._has_neutral = {
            language: "neutral" in model.classes_ for language, model in self.models.items()
        }

    @classmethod
    def load(cls, path: Path, *, neutral_band: float = NEUTRAL_BAND) -> SentimentScorer:
        """Load the models that :func:`crm_bridge.sentiment.train.train_models` saved.

        Args:
            path: The model folder (holds ``manifest.json``, ``zh.joblib``, ``en.joblib``).
            neutral_band: Half-width of the neutral score band for binary models.

        Raises:
            FileNotFoundError: If the folder holds no complete model.
        """
        path = Path(path)
        manifest = path / MANIFEST
        if not manifest.is_file():
            raise FileNotFoundError(
                f"{path}: no trained sentiment model (missing {MANIFEST}); "
                "run the 'train' command or ensure_model()"
            )
        languages = json.loads(manifest.read_text(encoding="utf-8"))["languages"]
        models = {language: joblib.load(path / f"{language}.joblib") for language in languages}
        return cls(models, neutral_band=neutral_band)

    def warm_up(self) -> None:
        """Score one message per language, so lazy loads (the English encoder) happen now.

        Call it once at start-up (e.g. in a background thread) to keep the first customer
        message fast.
        """
        self.score_many(["你好", "hello"])

    def score(self, text: str) -> SentimentResult:
        """Score one message.

        Args:
            text: The customer's message, in Chinese or English.

        Returns:
            Its score, label and the language model used. Blank text is neutral (0.0).
        """
        return self.score_many([text])[0]

    def score_many(self, texts: Sequence[str]) -> list[SentimentResult]:
        """Score many messages at once (batched per language; same results as :meth:`score`)."""
        results: list[SentimentResult | None] = [None] * len(texts)
        by_language: dict[Language, list[int]] = {"zh": [], "en": []}
        for index, text in enumerate(texts):
            language = detect_language(text)
            if text.strip():
                by_language[language].append(index)
            else:
                results[index] = SentimentResult(0.0, "neutral", language)
        for language, indices in by_language.items():
            if not indices:
                continue
            probabilities = class_probabilities(
                self.models[language], [texts[index] for index in indices]
            )
            for index, row in zip(indices, probabilities, strict=True):
                label = label_for(
                    row,
                    has_neutral=self._has_neutral[language],
                    neutral_band=self.neutral_band,
                )
                score = float(np.clip(row[2] - row[0], -1.0, 1.0))
                results[index] = SentimentResult(round(score, 4), label, language)
        return [result for result in results if result is not None]
