"""Fusion of dense and lexical signals, aggregation per entry, confidence and decision."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Decision", "aggregate_max", "confidence", "decide", "fuse"]

LEXICAL_CAP = 1.5


def fuse(dense: np.ndarray, lexical_norm: np.ndarray, dense_weight: float) -> np.ndarray:
    """Weighted sum of cosine similarity and query-normalised BM25 (capped)."""
    lexical = np.minimum(lexical_norm, LEXICAL_CAP)
    return dense_weight * dense + (1.0 - dense_weight) * lexical


def aggregate_max(
    doc_ids: np.ndarray,
    doc_scores: np.ndarray,
    doc_entry: np.ndarray,
    *,
    mean_weight: float = 0.0,
    top_k: int = 3,
) -> list[tuple[int, float, int]]:
    """Collapse question variants into entries.

    An entry's score is ``(1 - mean_weight) * best + mean_weight * mean(top_k best)`` over its
    variants among the candidates: the best variant decides, and several good variants
    (a query close to the entry's topic, not just one phrasing) add evidence.

    Returns:
        ``(entry index, score, best doc id)`` sorted by descending score.
    """
    per_entry: dict[int, list[tuple[float, int]]] = {}
    for doc, score in zip(doc_ids.tolist(), doc_scores.tolist(), strict=True):
        per_entry.setdefault(int(doc_entry[doc]), []).append((score, doc))
    ranked = []
    for entry, scored in per_entry.items():
        scored.sort(reverse=True)
        best, doc = scored[0]
        if mean_weight:
            top = [s for s, _ in scored[:top_k]]
            best = (1 - mean_weight) * best + mean_weight * sum(top) / len(top)
        ranked.append((entry, best, doc))
    ranked.sort(key=lambda item: -item[1])
    return ranked


def confidence(score: float, slope: float, center: float) -> float:
    """Platt-scaled probability that the entry with this fused score is the right answer."""
    return 1.0 / (1.0 + math.exp(-slope * (score - center)))


@dataclass(frozen=True)
class Decision:
    """What to do with a query: ``answer``, ``clarify`` between ``choices``, or ``none``."""

    action: str
    choices: int


def decide(
    scores: list[float],
    confidences: list[float],
    *,
    threshold: float,
    margin: float,
    underspecified: bool = False,
) -> Decision:
    """Decide from the ranked entries' fused scores and confidences.

    ``none`` when the best confidence is below ``threshold``; ``clarify`` when the second (and
    maybe third) entry is also above it and either within ``margin`` of the best fused score
    or the query is ``underspecified`` (a single content word such as "points" or "发票");
    ``answer`` otherwise.
    """
    if not scores or confidences[0] < threshold:
        return Decision("none", 0)
    confident = [s for s, c in zip(scores[:3], confidences[:3], strict=True) if c >= threshold]
    close = confident if underspecified else [s for s in confident if scores[0] - s <= margin]
    if len(close) >= 2:
        return Decision("clarify", len(close))
    return Decision("answer", 1)
