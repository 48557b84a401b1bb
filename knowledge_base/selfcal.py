"""Self-calibration: confidence and answer threshold fitted on the knowledge base's own variants.

A shop brings its own knowledge base and nobody labels queries for it, so the scores that mean
"answer" must come from the knowledge base itself. Two kinds of probe are searched against
indexes built without part of the knowledge base (cross-fitting, ``folds`` folds):

* **paraphrases** — each question variant, searched in an index that lacks that variant (its
  entry keeps its other variants): the scores of questions the knowledge base can answer,
  phrased in a way it has not seen;
* **unanswerable near-domain questions** — each variant, searched in an index that lacks its
  whole entry: the scores of questions about the shop's business that no entry answers, the
  hardest out-of-scope questions there are;
* **off-topic messages** — small talk and general knowledge in both languages
  (``calibration/off_topic.txt``, written for this), searched in the whole index.

Per query language, ``sigmoid(slope · (score − center))`` is fitted by logistic regression of
"the best entry is the right one" on the best score over all kinds; then the score cut is the
lowest one that rejects at least ``reject_share`` of the unanswerable near-domain probes and
``off_topic_reject`` of the off-topic ones, and the center is shifted so that this cut maps to
the answer threshold. Nothing here depends on a labelled query
set, so the same procedure serves any knowledge base (``README.md`` shows it on one it never
saw).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from knowledge_base.normalize import detect_lang

if TYPE_CHECKING:
    from knowledge_base.kb import KnowledgeBase
    from knowledge_base.sources import Entry

__all__ = ["Probe", "fit_calibration", "probe_scores", "self_calibrate"]

MIN_PROBES = 12
"""Fewer probes of a language than this (of either kind): keep the settings' calibration."""
OFF_TOPIC_FILE = Path(__file__).with_name("calibration") / "off_topic.txt"


@dataclass(frozen=True)
class Probe:
    """One probe's outcome: query language, best score, whether it found the right entry.

    ``kind`` is ``paraphrase`` (answerable), ``near`` (variant of a held-out entry) or
    ``off_topic``.
    """

    lang: str
    score: float
    correct: bool
    answerable: bool
    kind: str = "paraphrase"
    gap: float = 1.0
    """Best score minus the second entry's (answerable probes)."""


@lru_cache(maxsize=1)
def off_topic_messages() -> tuple[str, ...]:
    """The off-topic probe messages (comment lines and blanks skipped)."""
    lines = OFF_TOPIC_FILE.read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


class _CachedEmbedder:
    """Reuses the vectors of texts already encoded (the folds re-index the same variants)."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.name = inner.name
        self._docs: dict[str, np.ndarray] = {}
        self._queries: dict[str, np.ndarray] = {}
        self.block_sizes = getattr(inner, "block_sizes", None)
        if hasattr(inner, "encode_query"):
            self.encode_query = self._encode_query
        elif hasattr(inner, "unknown_ratio"):
            self.unknown_ratio = inner.unknown_ratio

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._docs]
        if missing:
            for text, vector in zip(missing, self.inner.encode(missing), strict=True):
                self._docs[text] = vector
        return np.stack([self._docs[t] for t in texts]) if texts else np.zeros((0, 0), "float32")

    def _encode_query(self, text: str) -> np.ndarray:
        if text not in self._queries:
            self._queries[text] = self.inner.encode_query(text)
        return self._queries[text]

    def fingerprint(self) -> str:
        return self.inner.fingerprint()


def _folds(items: list, folds: int, rng: random.Random) -> list[list]:
    items = list(items)
    rng.shuffle(items)
    return [items[i::folds] for i in range(folds)]


def probe_scores(
    kb: KnowledgeBase, *, folds: int = 5, max_probes: int = 600, seed: int = 13
) -> list[Probe]:
    """Search held-out variants (answerable) and held-out entries (unanswerable).

    Args:
        kb: A built knowledge base (its entries, settings, tokenizer, embedder and Chinese
            model are reused; the embedder's vectors are cached across folds).
        folds: Cross-fitting folds of each kind.
        max_probes: At most this many probes of each kind (sampled, every fold alike).
        seed: Seed of the folds and the sample.
    """
    from knowledge_base.kb import KnowledgeBase

    rng = random.Random(seed)
    embedder = _CachedEmbedder(kb.embedder)
    embedder.encode([q for e in kb.entries for q in e.questions])
    faq = [i for i, e in enumerate(kb.entries) if e.kind == "faq"]
    variants = [
        (i, j)
        for i in faq
        if len(kb.entries[i].questions) >= 2
        for j in range(len(kb.entries[i].questions))
    ]
    if len(variants) > max_probes:
        variants = rng.sample(variants, max_probes)
    per_entry = max(1, max_probes // max(len(faq), 1))
    probes: list[Probe] = []

    def build(entries: list[Entry]) -> KnowledgeBase:
        return KnowledgeBase.build(
            entries,
            settings=kb.settings,
            tokenizer=kb.tokenizer,
            embedder=embedder,
            zh_model=kb.zh_model,
            self_calibrate=False,
        )

    for held in _folds(variants, folds, rng):
        out = {(i, j) for i, j in held}
        entries = [
            replace(e, questions=[q for j, q in enumerate(e.questions) if (i, j) not in out])
            for i, e in enumerate(kb.entries)
        ]
        index = build([e for e in entries if e.questions])
        for i, j in held:
            query = kb.entries[i].questions[j]
            hits = index.search(query, k=2).hits
            probes.append(
                Probe(
                    detect_lang(query),
                    hits[0].score if hits else 0.0,
                    bool(hits and hits[0].id == kb.entries[i].id),
                    True,
                    gap=hits[0].score - hits[1].score if len(hits) > 1 else 1.0,
                )
            )
    for held in _folds(faq, folds, rng):
        out_entries = set(held)
        rest = [e for i, e in enumerate(kb.entries) if i not in out_entries]
        if not rest:
            continue
        index = build(rest)
        for i in held:
            questions = kb.entries[i].questions
            for query in rng.sample(questions, min(per_entry, len(questions))):
                hits = index.search(query, k=1).hits
                score = hits[0].score if hits else 0.0
                probes.append(Probe(detect_lang(query), score, False, False, "near"))
    for query in off_topic_messages():
        hits = kb.search(query, k=1).hits
        score = hits[0].score if hits else 0.0
        probes.append(Probe(detect_lang(query), score, False, False, "off_topic"))
    return probes


def fit_calibration(
    probes: Sequence[Probe],
    *,
    threshold: float,
    reject_share: float,
    off_topic_reject: float = 0.95,
    clarify_share: float = 0.07,
) -> dict[str, dict[str, float]]:
    """Per language: ``slope`` and ``center`` of the confidence, and the answer cut.

    The cut rejects ``reject_share`` of the near-domain probes and ``off_topic_reject`` of the
    off-topic ones. The clarify ``margin`` (score units) is the gap between the best two
    entries below which ``clarify_share`` of the correctly answered paraphrase probes fall:
    closer calls than that ask the customer which entry they meant.

    Returns:
        ``{"en": {"slope", "center", "cut", "answerable", "unanswerable"}, "zh": {…}}`` for the
        languages with enough probes of both kinds.
    """
    from sklearn.linear_model import LogisticRegression

    fitted: dict[str, dict[str, float]] = {}
    for lang in ("en", "zh"):
        sub = [p for p in probes if p.lang == lang]
        pos = [p for p in sub if p.answerable]
        neg = np.asarray([p.score for p in sub if p.kind == "near"])
        far = np.asarray([p.score for p in sub if p.kind == "off_topic"])
        if len(pos) < MIN_PROBES or len(neg) < MIN_PROBES:
            continue
        scores = np.asarray([p.score for p in sub]).reshape(-1, 1)
        labels = np.asarray([p.correct for p in sub], dtype=int)
        if labels.min() == labels.max():
            continue
        model = LogisticRegression(C=100.0, class_weight="balanced").fit(scores, labels)
        slope = max(float(model.coef_[0][0]), 1.0)
        cut = float(np.quantile(neg, reject_share))
        if len(far):
            cut = max(cut, float(np.quantile(far, off_topic_reject)))
        center = cut - math.log(threshold / (1.0 - threshold)) / slope
        answered = sum(p.correct and p.score >= cut for p in pos) / len(pos)
        right_gaps = [p.gap for p in pos if p.correct and p.score >= cut]
        margin = float(np.quantile(right_gaps, clarify_share)) if right_gaps else 0.0
        fitted[lang] = {
            "slope": round(slope, 3),
            "center": round(center, 4),
            "cut": round(cut, 4),
            "margin": round(max(margin, 0.0), 4),
            "answerable_probes": len(pos),
            "unanswerable_probes": int(len(neg)),
            "off_topic_probes": int(len(far)),
            "answerable_answered_correctly": round(answered, 4),
            # where the knowledge base's own scores lie (the transfer confidence's features)
            "p50": round(float(np.median([p.score for p in pos if p.correct] or [cut])), 4),
            "n50": round(float(np.median(neg)), 4),
        }
    return fitted


def self_calibrate(kb: KnowledgeBase) -> dict[str, dict[str, float]]:
    """Probe ``kb`` and fit its calibration with its settings (``SELF_CAL_*``)."""
    s = kb.settings
    probes = probe_scores(kb, folds=s.SELF_CAL_FOLDS, max_probes=s.SELF_CAL_MAX_PROBES)
    return fit_calibration(
        probes,
        threshold=s.ANSWER_THRESHOLD,
        reject_share=s.SELF_CAL_REJECT_SHARE,
        off_topic_reject=s.SELF_CAL_OFF_TOPIC_REJECT,
        clarify_share=s.SELF_CAL_CLARIFY_SHARE,
    )
