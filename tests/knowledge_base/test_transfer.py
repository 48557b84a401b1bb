"""The transfer confidence: features relative to the knowledge base, fitted across several."""

from __future__ import annotations

import math

import numpy as np
import pytest

from knowledge_base.confidence_fit import DevSet, fit_transfer
from knowledge_base.config import REPO_ROOT, Settings
from knowledge_base.kb import KnowledgeBase
from knowledge_base.transfer import (
    DEFAULT_MODEL_FILE,
    FEATURES,
    TransferConfidence,
    features,
    fit_lang_model,
    load_transfer,
)

STATS = {"cut": 0.4, "p50": 0.5, "n50": 0.3}


def _group(rng: np.random.Generator, shift: float, n: int = 200) -> tuple:
    """One synthetic knowledge base: right answers score higher; its scores shifted."""
    in_scope = rng.random(n) < 0.8
    correct = in_scope & (rng.random(n) < 0.85)
    score = np.where(correct, rng.normal(0.55, 0.08, n), rng.normal(0.35, 0.08, n)) + shift
    stats = {"cut": 0.42 + shift, "p50": 0.55 + shift, "n50": 0.33 + shift}
    x = np.vstack([features(s, 0.05, 0.6, 0.3, "a question of some length", stats) for s in score])
    return x, correct, in_scope


def test_features_are_relative_to_the_knowledge_bases_own_scores() -> None:
    x = features(0.5, 0.1, 0.7, 0.2, "退货运费谁出", STATS)
    assert len(x) == len(FEATURES)
    np.testing.assert_allclose(x[:3], [0.1, 0.0, 0.2])
    assert x[-1] == pytest.approx(math.log1p(6))


def test_the_answer_point_meets_the_minimums_on_every_knowledge_base() -> None:
    rng = np.random.default_rng(0)
    groups = [_group(rng, 0.0), _group(rng, 0.1), _group(rng, -0.05)]
    model = fit_lang_model(groups, min_precision=0.92, min_oos_reject=0.85)
    for x, correct, in_scope in groups:
        values = np.asarray([model.decision(row) for row in x])
        answered = values >= model.answer_at
        assert correct[answered].mean() >= 0.92
        assert (values[~in_scope] < model.answer_at).mean() >= 0.85
    # a shifted knowledge base is judged by its relative scores: same share answered
    shares = [
        np.mean([model.decision(row) >= model.answer_at for row in g[0][g[1]]]) for g in groups
    ]
    assert max(shares) - min(shares) < 0.1
    assert model.score_slope > 0


def test_confidences_map_the_answer_point_to_the_threshold_and_keep_the_order() -> None:
    rng = np.random.default_rng(1)
    model = fit_lang_model([_group(rng, 0.0)], min_precision=0.9, min_oos_reject=0.8)
    transfer = TransferConfidence({"en": model})
    query = "a question of some length"
    scores = [0.6, 0.58, 0.3]
    conf = transfer.confidences("en", STATS, scores, 0.6, 0.3, query, threshold=0.35)
    assert conf is not None and conf[0] > conf[1] > conf[2]
    x = features(0.6, 0.02, 0.6, 0.3, query, STATS)
    expected = 1 / (1 + math.exp(-(model.decision(x) - model.answer_at + math.log(0.35 / 0.65))))
    assert conf[0] == pytest.approx(expected, abs=1e-6)
    # a language it was not fitted for, or a knowledge base without the statistics: no opinion
    assert transfer.confidences("zh", STATS, scores, 0.6, 0.3, query, threshold=0.35) is None
    assert transfer.confidences("en", {"cut": 0.4}, scores, 0.6, 0.3, query, 0.35) is None


def test_the_model_file_round_trips_and_refuses_other_features(tmp_path) -> None:
    rng = np.random.default_rng(2)
    model = fit_lang_model([_group(rng, 0.0)], min_precision=0.9, min_oos_reject=0.8)
    transfer = TransferConfidence({"zh": model}, ("a", "b"))
    path = tmp_path / "confidence.json"
    path.write_text(transfer.to_json())
    again = load_transfer(str(path))
    assert again is not None and again.fitted_on == ("a", "b")
    row = features(0.5, 0.1, 0.7, 0.2, "q", STATS)
    assert again.langs["zh"].decision(row) == pytest.approx(model.decision(row), abs=1e-4)
    path.write_text(transfer.to_json().replace('"lead"', '"gap"'))
    with pytest.raises(ValueError, match="other features"):
        TransferConfidence.from_json(path.read_text())
    assert load_transfer("") is None and load_transfer(str(tmp_path / "missing.json")) is None


def test_the_shipped_model_was_fitted_on_development_sets_only() -> None:
    shipped = load_transfer(str(DEFAULT_MODEL_FILE))
    assert shipped is not None and set(shipped.langs) == {"zh", "en"}
    assert "electronics" not in shipped.fitted_on  # the evaluation-only set
    assert set(shipped.fitted_on) <= {"demo", "travel", "grocery"}


def test_the_demo_search_uses_the_model_when_asked(demo_kb: KnowledgeBase) -> None:
    query = "我收到的杯子碎了怎么办"
    before = demo_kb.search(query)
    demo_kb.settings = demo_kb.settings.model_copy(
        update={"CONFIDENCE_MODEL": str(DEFAULT_MODEL_FILE)}
    )
    try:
        after = demo_kb.search(query)
    finally:
        demo_kb.settings = demo_kb.settings.model_copy(update={"CONFIDENCE_MODEL": ""})
    assert [h.id for h in after.hits] == [h.id for h in before.hits]  # ranking unchanged
    assert after.hits[0].confidence != before.hits[0].confidence
    assert "p50" in demo_kb.calibration["zh"] and "n50" in demo_kb.calibration["zh"]


def test_the_opt_in_setting_is_off_by_default() -> None:
    assert Settings().CONFIDENCE_MODEL == ""
    assert (REPO_ROOT / "knowledge_base" / "calibration" / "confidence.json") == DEFAULT_MODEL_FILE


def _dev_set(folder, shop: str, topics: list[tuple[str, str]]) -> DevSet:
    """A small development set: per topic three English and three Chinese variants."""
    folder.mkdir()
    lines = ["entries:"]
    queries = ["query,expected_id"]
    for i, (en, zh) in enumerate(topics):
        lines += [f"  - id: {shop}-{i}", "    questions:"]
        lines += [f"      - {en} {w}" for w in ("please", "today", "now")]
        lines += [f"      - {zh}{w}" for w in ("吗", "呢", "啊")]
        lines += [f"    answer: {shop} answer {i}"]
        queries += [f"how about {en},{shop}-{i}", f"请问{zh},{shop}-{i}"]
    queries += ["what is the capital of france,", "今天天气怎么样,", "tell me a joke,", "你是谁,"]
    (folder / "faq.yml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "queries.csv").write_text("\n".join(queries) + "\n", encoding="utf-8")
    return DevSet(shop, folder / "faq.yml", folder / "queries.csv")


def test_fit_transfer_reports_each_set_left_out(tmp_path, fake_embedder) -> None:
    words = ["refund", "delivery", "points", "invoice", "coupon", "password", "warranty"]
    words += ["return", "exchange", "membership", "payment", "address", "tracking", "gift"]
    zh = ["退款", "配送", "积分", "发票", "优惠券", "密码", "保修", "退货", "换货", "会员"]
    zh += ["付款", "地址", "物流", "礼品卡"]
    sets = [
        _dev_set(tmp_path / name, name, [(f"{name} {w} question", f"{z}问题") for w, z in pairs])
        for name, pairs in (
            ("alpha", zip(words, zh, strict=True)),
            ("beta", zip(words[::-1], zh[::-1], strict=True)),
        )
    ]
    logged: list[str] = []
    model, report = fit_transfer(
        sets, settings=Settings(USE_TUNED=False), embedder=fake_embedder, log=logged.append
    )
    assert model.fitted_on == ("alpha", "beta") and set(model.langs) == {"zh", "en"}
    assert set(report) == {"alpha", "beta"}
    for systems in report.values():
        assert set(systems) == {"transfer", "self-calibration only"}
        for figures in systems.values():
            for lang in ("zh", "en"):
                assert set(figures[lang]) == {"answered_correct", "precision", "oos_reject"}
                assert all(0.0 <= v <= 1.0 for v in figures[lang].values())
    assert any("left out alpha" in line for line in logged)
