"""Answer confidence fitted across several knowledge bases, applied to any other one.

Self-calibration (:mod:`knowledge_base.selfcal`) places a knowledge base's score cut from its
own variants, but a single score cut cannot tell a colloquial in-scope question from a
near-domain one that shares its words: on a shop it was never fitted on it left most of the
right answers below the cut. This model looks at more of the search than the score, and at the
score *relative to the knowledge base's own probe scores*, so that one set of coefficients holds
across knowledge bases:

* the best entry's score minus the self-calibrated cut, minus the median score of correctly
  answered held-out variants, and minus the median score of held-out entries' variants;
* the lead of the best entry over the second;
* the dense cosine and the lexical (BM25, IDF-normalised) match of the best variant;
* the query's length (log characters).

Per query language a logistic regression of "the answer is the expected entry" on these
features is fitted on the labelled query sets of several development knowledge bases
(``kb fit-confidence``), never on the one it is measured on. Its coefficients and the decision
value at which to answer ship in ``calibration/confidence.json``; at search time the value is
mapped so that it meets ``ANSWER_THRESHOLD`` exactly where the fitted answer point is.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = [
    "FEATURES",
    "DEFAULT_MODEL_FILE",
    "LangModel",
    "TransferConfidence",
    "features",
    "fit_lang_model",
    "load_transfer",
    "search_features",
]

DEFAULT_MODEL_FILE = Path(__file__).with_name("calibration") / "confidence.json"
FEATURES = (
    "score_minus_cut",
    "score_minus_paraphrase_median",
    "score_minus_near_median",
    "lead",
    "dense",
    "lexical",
    "log_query_chars",
)
SCORE_FEATURES = 3
"""The first features are the score minus a per-knowledge-base constant."""
STATS = ("cut", "p50", "n50")
"""Self-calibration figures the features need (``manifest["calibration"][lang]``)."""


def features(
    score: float, lead: float, dense: float, lexical: float, query: str, stats: dict
) -> np.ndarray:
    """The feature vector of a search's best entry (see :data:`FEATURES`)."""
    return np.asarray(
        [
            score - stats["cut"],
            score - stats["p50"],
            score - stats["n50"],
            lead,
            dense,
            lexical,
            math.log1p(len(query.strip())),
        ],
        dtype=np.float64,
    )


def search_features(
    scores: Sequence[float], dense: float, lexical: float, query: str, stats: dict
) -> np.ndarray:
    """:func:`features` of a search: its ranked entries' scores and its best variant's match."""
    lead = scores[0] - scores[1] if len(scores) > 1 else 1.0
    return features(scores[0], lead, dense, lexical, query, stats)


@dataclass(frozen=True)
class LangModel:
    """A standardised logistic regression and the decision value at which to answer."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    answer_at: float

    def decision(self, x: np.ndarray) -> float:
        """The regression's log-odds for feature vector ``x``."""
        return float(((x - self.mean) / self.scale) @ self.coef + self.intercept)

    @property
    def score_slope(self) -> float:
        """Log-odds per unit of score (the score features moved together)."""
        k = SCORE_FEATURES
        return float(np.sum(self.coef[:k] / self.scale[:k]))

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "mean": [round(float(v), 6) for v in self.mean],
            "scale": [round(float(v), 6) for v in self.scale],
            "coef": [round(float(v), 6) for v in self.coef],
            "intercept": round(self.intercept, 6),
            "answer_at": round(self.answer_at, 4),
        }

    @classmethod
    def from_dict(cls, data: dict) -> LangModel:
        """Inverse of :meth:`to_dict`."""
        return cls(
            np.asarray(data["mean"], dtype=np.float64),
            np.asarray(data["scale"], dtype=np.float64),
            np.asarray(data["coef"], dtype=np.float64),
            float(data["intercept"]),
            float(data["answer_at"]),
        )


@dataclass(frozen=True)
class TransferConfidence:
    """Per-language models (``{"zh": LangModel, "en": LangModel}``) and where they came from."""

    langs: dict[str, LangModel]
    fitted_on: tuple[str, ...] = ()

    def confidences(
        self,
        lang: str,
        stats: dict,
        scores: Sequence[float],
        dense: float,
        lexical: float,
        query: str,
        threshold: float,
    ) -> list[float] | None:
        """Confidence of each ranked entry, or ``None`` when this model cannot judge.

        The best entry's log-odds come from the model; the others' are lowered by their score
        difference times the model's score slope, so "close to the best" keeps its meaning for
        ``clarify``. The log-odds are shifted so that the fitted answer point maps to
        ``threshold``.
        """
        model = self.langs.get(lang)
        if model is None or not scores or any(key not in stats for key in STATS):
            return None
        top = model.decision(search_features(scores, dense, lexical, query, stats))
        shift = math.log(threshold / (1.0 - threshold)) - model.answer_at
        slope = max(model.score_slope, 0.0)
        return [_sigmoid(top + slope * (s - scores[0]) + shift) for s in scores]

    def to_json(self) -> str:
        """The model file's text."""
        return json.dumps(
            {
                "features": list(FEATURES),
                "fitted_on": list(self.fitted_on),
                "langs": {lang: m.to_dict() for lang, m in sorted(self.langs.items())},
            },
            ensure_ascii=False,
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> TransferConfidence:
        """Parse a model file; refuse one written for other features."""
        data = json.loads(text)
        if tuple(data.get("features", ())) != FEATURES:
            raise ValueError("confidence model was fitted on other features: refit it")
        langs = {lang: LangModel.from_dict(m) for lang, m in data["langs"].items()}
        return cls(langs, tuple(data.get("fitted_on", ())))


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(x, 60.0), -60.0)))


@lru_cache(maxsize=4)
def load_transfer(path: str) -> TransferConfidence | None:
    """The model in ``path`` (``None`` for an empty path or a missing file)."""
    if not path or not Path(path).is_file():
        return None
    return TransferConfidence.from_json(Path(path).read_text(encoding="utf-8"))


def fit_lang_model(
    groups: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    *,
    min_precision: float,
    min_oos_reject: float,
) -> LangModel:
    """Fit one language's model on several knowledge bases' labelled searches.

    Args:
        groups: Per knowledge base ``(X, correct, in_scope)``: feature rows of its queries'
            best entries, whether that entry is the expected one, whether the query is in
            scope.
        min_precision: Answer precision the answer point must keep on every knowledge base.
        min_oos_reject: Share of out-of-scope queries it must reject on every one.

    The answer point is the lowest log-odds at which every knowledge base meets both
    minimums; if none does, the one with the best worst-case shortfall.
    """
    from sklearn.linear_model import LogisticRegression

    x = np.vstack([g[0] for g in groups])
    y = np.concatenate([g[1] for g in groups]).astype(int)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    reg = LogisticRegression(C=1.0, max_iter=2000).fit((x - mean) / scale, y)
    model = LangModel(mean, scale, reg.coef_[0].astype(np.float64), float(reg.intercept_[0]), 0.0)
    values = [np.asarray([model.decision(row) for row in g[0]]) for g in groups]
    best, best_short = 0.0, -math.inf
    for point in np.round(np.arange(-4.0, 4.0001, 0.05), 2):
        shortfall = min(
            min(
                _precision(v, g[1], point) - min_precision,
                _oos_reject(v, g[2], point) - min_oos_reject,
            )
            for v, g in zip(values, groups, strict=True)
        )
        if shortfall >= 0:
            best = float(point)
            break
        if shortfall > best_short:
            best, best_short = float(point), shortfall
    return LangModel(mean, scale, model.coef, model.intercept, best)


def _precision(values: np.ndarray, correct: np.ndarray, point: float) -> float:
    answered = values >= point
    return float(correct[answered].mean()) if answered.any() else 1.0


def _oos_reject(values: np.ndarray, in_scope: np.ndarray, point: float) -> float:
    out = ~in_scope.astype(bool)
    return float((values[out] < point).mean()) if out.any() else 1.0
