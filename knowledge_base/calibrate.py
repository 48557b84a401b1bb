"""Choosing the confidence calibration and the answer threshold on a labelled query set."""

from __future__ import annotations

import numpy as np

from knowledge_base.kb import KnowledgeBase
from knowledge_base.normalize import detect_lang

__all__ = ["calibrate"]


def _platt(scores: np.ndarray, correct: np.ndarray) -> tuple[float, float]:
    """Fit ``P(correct) = sigmoid(slope * (score - center))``; return ``(slope, center)``."""
    from sklearn.linear_model import LogisticRegression

    if correct.min() == correct.max():
        return 20.0, float(np.median(scores))
    model = LogisticRegression(C=100.0).fit(scores.reshape(-1, 1), correct)
    slope = float(model.coef_[0][0])
    return slope, float(-model.intercept_[0] / slope)


def calibrate(
    kb: KnowledgeBase, queries: list[tuple[str, str]], *, min_oos_reject: float = 0.8
) -> dict:
    """Fit per-language Platt scaling and pick the answer threshold.

    For each query language, the best entry's score is fitted against "this entry is the
    expected one" (out-of-scope queries count as wrong) by logistic regression. Then the
    confidence threshold is the one, on a grid, that maximises the share of in-scope queries
    answered correctly while rejecting at least ``min_oos_reject`` of out-of-scope ones
    (ties: the higher threshold).

    Returns:
        Suggested settings (``CONF_SLOPE_EN``, ``CONF_CENTER_EN``, ``…_ZH`` or, when the
        knowledge base uses the trained Chinese model, ``…_ZH_MODEL``, ``ANSWER_THRESHOLD``)
        and the figures reached on ``queries`` with them.
    """
    rows = []
    for query, expected in queries:
        hits = kb.search(query, k=3).hits
        top = hits[0] if hits else None
        rows.append(
            (
                detect_lang(query),
                top.score if top else 0.0,
                expected,
                bool(top and top.id == expected),
                [h.score for h in hits],
            )
        )
    suggested: dict[str, float] = {}
    # Chinese scores with the trained Chinese model have their own calibration
    suffix = {"en": "EN", "zh": "ZH_MODEL" if kb.zh_model is not None else "ZH"}
    for lang in ("en", "zh"):
        sub = [r for r in rows if r[0] == lang]
        if not sub:
            continue
        slope, center = _platt(
            np.asarray([r[1] for r in sub]), np.asarray([r[3] for r in sub], dtype=int)
        )
        suggested[f"CONF_SLOPE_{suffix[lang]}"] = round(slope, 2)
        suggested[f"CONF_CENTER_{suffix[lang]}"] = round(center, 4)

    def conf(lang: str, score: float) -> float:
        key = suffix[lang]
        slope = suggested.get(f"CONF_SLOPE_{key}", 20.0)
        center = suggested.get(f"CONF_CENTER_{key}", 0.5)
        return 1.0 / (1.0 + np.exp(-slope * (score - center)))

    ins = [r for r in rows if r[2]]
    oos = [r for r in rows if not r[2]]
    best: tuple[float, float, float] | None = None
    for threshold in np.round(np.arange(0.05, 0.96, 0.01), 2):
        correct = sum(r[3] and conf(r[0], r[1]) >= threshold for r in ins) / max(len(ins), 1)
        rejected = sum(conf(r[0], r[1]) < threshold for r in oos) / max(len(oos), 1)
        if rejected >= min_oos_reject and (best is None or correct >= best[1]):
            best = (float(threshold), correct, rejected)
    if best is not None:
        suggested["ANSWER_THRESHOLD"] = best[0]
    return {
        "settings": suggested,
        "answered_correct": round(best[1], 4) if best else None,
        "oos_reject": round(best[2], 4) if best else None,
        "queries": len(rows),
    }
