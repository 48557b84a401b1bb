"""Self-calibration: the answer cut comes from the knowledge base's own variants."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from knowledge_base.config import Settings
from knowledge_base.fusion import confidence
from knowledge_base.kb import KnowledgeBase
from knowledge_base.selfcal import MIN_PROBES, Probe, fit_calibration, probe_scores
from knowledge_base.sources import Entry


def _probes(lang: str, answerable: list[float], unanswerable: list[float]) -> list[Probe]:
    return [Probe(lang, s, True, True, gap=s - 0.3) for s in answerable] + [
        Probe(lang, s, False, False, "near") for s in unanswerable
    ]


def test_the_cut_rejects_the_asked_share_of_unanswerable_probes() -> None:
    rng = np.random.default_rng(0)
    probes = _probes("en", list(rng.uniform(0.4, 0.9, 100)), list(rng.uniform(0.1, 0.5, 100)))
    fitted = fit_calibration(probes, threshold=0.35, reject_share=0.3)["en"]
    unanswerable = np.asarray([p.score for p in probes if not p.answerable])
    assert np.mean(unanswerable < fitted["cut"]) == pytest.approx(0.3, abs=0.02)
    # the cut is where the confidence crosses the answer threshold
    cut_confidence = confidence(fitted["cut"], fitted["slope"], fitted["center"])
    assert cut_confidence == pytest.approx(0.35, abs=1e-3)
    assert fitted["slope"] > 1
    # closer calls than the 7 % closest correct answers are clarified
    gaps = np.asarray([p.gap for p in probes if p.answerable and p.score >= fitted["cut"]])
    assert np.mean(gaps < fitted["margin"]) == pytest.approx(0.07, abs=0.02)


def test_off_topic_probes_can_raise_the_cut() -> None:
    probes = _probes("zh", [0.6] * 40, [0.2] * 40)
    probes += [Probe("zh", s, False, False, "off_topic") for s in np.linspace(0.1, 0.5, 41)]
    fitted = fit_calibration(probes, threshold=0.35, reject_share=0.3, off_topic_reject=0.95)
    assert fitted["zh"]["cut"] == pytest.approx(0.48)


def test_a_language_with_too_few_probes_keeps_the_static_calibration() -> None:
    few = _probes("zh", [0.8] * (MIN_PROBES - 1), [0.2] * 40)
    assert "zh" not in fit_calibration(few, threshold=0.35, reject_share=0.3)


def test_probes_search_indexes_without_the_probe(fake_embedder) -> None:
    entries = [
        Entry(id=f"topic-{i}", questions=[f"question {i} alpha", f"question {i} beta"], answer={})
        for i in range(12)
    ]
    kb = KnowledgeBase.build(
        entries, settings=Settings(USE_TUNED=False), embedder=fake_embedder, zh_model=None
    )
    probes = probe_scores(kb, folds=3)
    answerable = [p for p in probes if p.answerable]
    assert len(answerable) == 24 and len(probes) > 24
    # an exact copy of the probe would score ≈ 1; held out, the sibling variant is found
    assert max(p.score for p in probes) < 0.95
    assert all(p.correct for p in answerable)


def test_the_demo_index_is_calibrated_per_language_and_keeps_it_when_saved(
    demo_kb: KnowledgeBase, tmp_path: Path
) -> None:
    assert set(demo_kb.calibration) == {"en", "zh"}
    assert demo_kb.manifest["calibration"] == demo_kb.calibration
    demo_kb.save(tmp_path / "index")
    loaded = KnowledgeBase.load(tmp_path / "index", embedder=demo_kb.embedder, zh_model=None)
    assert loaded.calibration == demo_kb.calibration
    for query in ("退货运费谁出", "can I pay in installments", "给我讲个笑话"):
        got, want = loaded.search(query), demo_kb.search(query)
        assert (got.decision, got.hits[0].confidence) == (want.decision, want.hits[0].confidence)


def test_without_self_calibration_the_static_settings_apply(demo_kb: KnowledgeBase) -> None:
    static = Settings(USE_TUNED=False, SELF_CALIBRATE=False)
    hit = demo_kb.search("can I pay in installments").hits[0]
    original = demo_kb.settings
    try:
        demo_kb.settings = static
        plain = demo_kb.search("can I pay in installments").hits[0]
    finally:
        demo_kb.settings = original
    assert plain.score == hit.score
    assert plain.confidence == pytest.approx(
        confidence(hit.score, static.CONF_SLOPE_EN, static.CONF_CENTER_EN), abs=1e-4
    )
