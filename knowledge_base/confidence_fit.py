"""Fitting the transfer confidence (:mod:`knowledge_base.transfer`) on development sets.

Each development set is a knowledge base with labelled queries written for it. Every set is
built as a shop would build it (self-calibration included), its queries are searched, and the
best entry's features are kept with "right entry?" and "in scope?". One model per query
language is fitted on all sets together; leave-one-set-out runs (fit on the others, measure the
full search pipeline on the one left out) show how it transfers to a knowledge base it has not
seen. The evaluation-only set (``eval_sets/``) is never used here.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from knowledge_base.config import REPO_ROOT, Settings
from knowledge_base.evaluate import evaluate, read_queries
from knowledge_base.kb import KnowledgeBase
from knowledge_base.normalize import detect_lang
from knowledge_base.sources import load_sources
from knowledge_base.transfer import TransferConfidence, fit_lang_model, search_features

__all__ = ["DEV_SETS", "DevSet", "fit_transfer"]


@dataclass(frozen=True)
class DevSet:
    """A development knowledge base and its labelled queries."""

    name: str
    faq: Path
    queries: Path


DEV_SETS = (
    DevSet(
        "demo",
        REPO_ROOT / "knowledge_base" / "demo" / "faq.yml",
        REPO_ROOT / "knowledge_base" / "demo" / "eval_queries.csv",
    ),
    DevSet(
        "travel",
        REPO_ROOT / "knowledge_base" / "dev_sets" / "travel" / "faq.yml",
        REPO_ROOT / "knowledge_base" / "dev_sets" / "travel" / "queries.csv",
    ),
    DevSet(
        "grocery",
        REPO_ROOT / "knowledge_base" / "dev_sets" / "grocery" / "faq.yml",
        REPO_ROOT / "knowledge_base" / "dev_sets" / "grocery" / "queries.csv",
    ),
)
"""The project's development sets (settings may be chosen on them)."""


@dataclass
class _Collected:
    kb: KnowledgeBase
    queries: list[tuple[str, str]]
    rows: dict[str, list[tuple[np.ndarray, bool, bool]]] = field(default_factory=dict)


def _collect(dev: DevSet, settings: Settings, embedder: object) -> _Collected:
    kb = KnowledgeBase.build(load_sources([dev.faq]), settings=settings, embedder=embedder)
    queries = read_queries(dev.queries)
    out = _Collected(kb, queries)
    for query, expected in queries:
        lang = detect_lang(query)
        stats = kb.calibration.get(lang)
        hits = kb.search(query, k=2).hits
        if stats is None or not hits:
            continue
        scores = [h.score for h in hits]
        x = search_features(scores, hits[0].dense, hits[0].lexical, query, stats)
        out.rows.setdefault(lang, []).append((x, hits[0].id == expected, bool(expected)))
    return out


def _fit(
    collected: Sequence[_Collected], names: Sequence[str], min_precision: float, oos: float
) -> TransferConfidence:
    langs = {}
    for lang in ("en", "zh"):
        groups = [
            (
                np.vstack([r[0] for r in c.rows[lang]]),
                np.asarray([r[1] for r in c.rows[lang]]),
                np.asarray([r[2] for r in c.rows[lang]]),
            )
            for c in collected
            if c.rows.get(lang)
        ]
        if groups:
            langs[lang] = fit_lang_model(groups, min_precision=min_precision, min_oos_reject=oos)
    return TransferConfidence(langs, tuple(names))


def _measure(c: _Collected, model_file: str) -> dict[str, dict[str, float]]:
    c.kb.settings = c.kb.settings.model_copy(update={"CONFIDENCE_MODEL": model_file})
    figures = {}
    for lang in ("zh", "en"):
        metrics = evaluate(c.kb, [q for q in c.queries if detect_lang(q[0]) == lang])
        figures[lang] = {
            key: metrics[key] for key in ("answered_correct", "precision", "oos_reject")
        }
    return figures


def fit_transfer(
    sets: Sequence[DevSet] = DEV_SETS,
    *,
    settings: Settings,
    embedder: object,
    min_precision: float = 0.92,
    min_oos_reject: float = 0.85,
    log: Callable[[str], None] = print,
) -> tuple[TransferConfidence, dict]:
    """Fit on every set; report leave-one-set-out figures.

    Returns:
        The model fitted on all ``sets`` and ``{left-out set: {lang: figures}}``, where the
        figures (in scope answered correctly, answer precision, out of scope rejected) come
        from the whole search pipeline with the model fitted on the other sets, and, under
        ``"self-calibration only"``, the same without the model.
    """
    settings = settings.model_copy(update={"CONFIDENCE_MODEL": ""})
    collected = []
    for dev in sets:
        log(f"building {dev.name} and searching its {dev.queries.name}")
        collected.append(_collect(dev, settings, embedder))
    report: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, dev in enumerate(sets):
            others = [c for j, c in enumerate(collected) if j != i]
            names = [d.name for j, d in enumerate(sets) if j != i]
            path = Path(tmp) / f"without-{dev.name}.json"
            path.write_text(_fit(others, names, min_precision, min_oos_reject).to_json())
            report[dev.name] = {
                "transfer": _measure(collected[i], str(path)),
                "self-calibration only": _measure(collected[i], ""),
            }
            log(f"left out {dev.name}: {report[dev.name]}")
    model = _fit(collected, [d.name for d in sets], min_precision, min_oos_reject)
    return model, report
