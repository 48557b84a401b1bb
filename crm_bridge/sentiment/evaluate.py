"""Evaluating a scorer on labelled examples: accuracy and macro-F1.

If the gold labels hold no ``neutral`` (binary corpora such as the Chinese reviews), the
prediction is the sign of the score (``score >= 0`` → positive), so that the figure measures
polarity and is comparable with published binary results. Otherwise the scorer's three-way
label is compared with the gold label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sklearn.metrics import accuracy_score, classification_report, f1_score

from crm_bridge.sentiment.data import Example
from crm_bridge.sentiment.scorer import SentimentResult, SentimentScorer


@dataclass(frozen=True)
class Evaluation:
    """Figures of one evaluation run.

    Attributes:
        accuracy: Share of correct predictions.
        macro_f1: Unweighted mean of the per-class F1.
        rows: Number of examples.
        binary: Whether predictions were binarised because the gold labels have no neutral.
        report: scikit-learn's per-class text report.
    """

    accuracy: float
    macro_f1: float
    rows: int
    binary: bool
    report: str

    def summary(self) -> str:
        """Return the one-line summary ``accuracy=… macro_f1=…``."""
        return f"accuracy={self.accuracy:.4f} macro_f1={self.macro_f1:.4f}"


def predicted_labels(results: Sequence[SentimentResult], *, binary: bool) -> list[str]:
    """Return the labels to compare with the gold ones (see the module docstring)."""
    if binary:
        return ["positive" if result.score >= 0 else "negative" for result in results]
    return [result.label for result in results]


def compare(gold: Sequence[str], predicted: Sequence[str]) -> Evaluation:
    """Return accuracy and macro-F1 of predicted against gold labels.

    Macro-F1 averages over the classes present in the gold labels.
    """
    labels = sorted(set(gold))
    return Evaluation(
        accuracy=float(accuracy_score(gold, predicted)),
        macro_f1=float(f1_score(gold, predicted, labels=labels, average="macro", zero_division=0)),
        rows=len(gold),
        binary="neutral" not in labels,
        report=classification_report(gold, predicted, digits=4, zero_division=0),
    )


def evaluate(scorer: SentimentScorer, examples: Sequence[Example]) -> Evaluation:
    """Score every example and compare with its gold label.

    Args:
        scorer: A loaded scorer.
        examples: Labelled texts (either language, or mixed).

    Returns:
        The evaluation.
    """
    gold = [ex.label for ex in examples]
    results = scorer.score_many([ex.text for ex in examples])
    return compare(gold, predicted_labels(results, binary="neutral" not in gold))
