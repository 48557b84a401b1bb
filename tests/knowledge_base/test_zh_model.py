"""The trained Chinese signal: leak-free split, training, caching, and its use in search."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from knowledge_base.cli import main
from knowledge_base.config import Settings
from knowledge_base.kb import KnowledgeBase, build_if_changed
from knowledge_base.sources import load_sources
from knowledge_base.zh_data import data_fingerprint, load_pair_sets, split_pairs
from knowledge_base.zh_model import (
    FEATURE_NAMES,
    RERANK_FEATURE_NAMES,
    ZH_MODEL_VERSION,
    TrainConfig,
    ZhModel,
    inputs_hash,
    is_trained,
    list_features,
    load_zh_model,
    pair_features,
    sentence_features,
    shared_multilingual,
    train_from_data,
    train_zh_model,
)

# Topics and phrasings of a tiny synthetic question-matching set: two phrasings of one topic
# match, the same phrasing of two topics does not.
TOPICS = [
    ("退货", "退掉买的东西"), ("开发票", "要一张发票"), ("查积分", "看看我的积分"),
    ("改密码", "修改登录密码"), ("用优惠券", "使用优惠券"), ("查物流", "看快递到哪了"),
    ("取消订单", "撤销下的单"), ("换货", "更换商品"), ("绑定银行卡", "添加银行卡"),
    ("注销账户", "删除我的账号"), ("申请退款", "把钱退给我"), ("修改地址", "更改收货地址"),
]  # fmt: skip
TEMPLATES = ["怎么{}", "我想{}，怎么办", "如何{}呢", "请问可以{}吗", "{}要多久"]


def synthetic_pairs() -> list[tuple[str, str, int]]:
    """Positives: two phrasings of one topic; negatives: one phrasing, two topics."""
    pairs = []
    for t, (first, second) in enumerate(TOPICS):
        for i, template in enumerate(TEMPLATES):
            other = TEMPLATES[(i + 1) % len(TEMPLATES)]
            pairs.append((template.format(first), other.format(second), 1))
            wrong = TOPICS[(t + 1 + i) % len(TOPICS)][0]
            pairs.append((template.format(first), template.format(wrong), 0))
    return pairs


def write_data(folder: Path, pairs: list[tuple[str, str, int]]) -> Path:
    """Write the pairs in the three files' formats (BQ CSV, LCQMC and ATEC TSV)."""
    zh = folder / "zh_question_matching"
    zh.mkdir(parents=True)
    third = len(pairs) // 3
    with (zh / "bq_dev.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sentence1", "sentence2", "label"])
        writer.writerows(pairs[:third])
    (zh / "lcqmc_dev.tsv").write_text(
        "".join(f"{a}\t{b}\t{label}\n" for a, b, label in pairs[third : 2 * third]),
        encoding="utf-8",
    )
    (zh / "atec_ccks_dev.tsv").write_text(
        "text_1\ttext_2\tlabel\n"
        + "".join(f"{a}\t{b}\t{label}\n" for a, b, label in pairs[2 * third :]),
        encoding="utf-8",
    )
    return folder


TINY = TrainConfig(
    dim=16,
    epochs=3,
    batch_size=16,
    gbm_iter=30,
    gbm_min_leaf=5,
    min_df=1,
    unlabelled=0,
    retrieval_negatives=0,
)


@pytest.fixture(scope="module")
def tiny_model() -> ZhModel:
    """A model trained in memory on the synthetic pairs (seconds)."""
    return train_zh_model(synthetic_pairs(), config=TINY, log=lambda _: None)


def test_split_is_by_sentence_groups_and_seeded() -> None:
    sets = {
        "a": [("甲", "乙", 1), ("乙", "丙", 0), ("丁", "戊", 1), ("己", "庚", 0)],
        "b": [("丙", "辛", 1), ("壬", "癸", 1), ("子", "丑", 0), ("寅", "卯", 1)],
    }
    split = split_pairs(sets, seed=3, heldout_share=0.5)
    train = split.train_sentences()
    held = {s for pairs in split.heldout.values() for a, b, _ in pairs for s in (a, b)}
    assert train and held and not train & held
    # 甲-乙-丙-辛 is one group across both sets: all on one side
    group = {"甲", "乙", "丙", "辛"}
    assert group <= train or group <= held
    assert sum(map(len, split.train.values())) + sum(map(len, split.heldout.values())) == 8
    again = split_pairs(sets, seed=3, heldout_share=0.5)
    assert again.heldout == split.heldout


def test_features_cover_characters_ngrams_and_words() -> None:
    feats = sentence_features("怎麼開發票？")  # traditional script is simplified first
    assert {"1:发", "2:发票", "3:开发票", "w:怎么"} <= set(feats)
    assert "e:vip" in sentence_features("VIP会员")


def test_pair_features_see_negation_and_numbers(tiny_model: ZhModel) -> None:
    def pair(a: str, b: str) -> list[float]:
        return pair_features(tiny_model.prepared(a), tiny_model.prepared(b), tiny_model.adapter)

    same = pair("怎么开发票", "怎么开发票")
    neg = pair("可以开发票", "不可以开发票")
    num = pair("3天能到吗", "5天能到吗")
    names = {n: i for i, n in enumerate(FEATURE_NAMES)}
    assert len(same) == len(FEATURE_NAMES)
    for name in ("cosine", "use_cosine", "adapted_cosine"):
        assert same[names[name]] == pytest.approx(1.0, abs=1e-5)
    assert same[names["edit_ratio"]] == 0.0
    assert neg[names["negation_differ"]] == 1.0 and same[names["negation_differ"]] == 0.0
    assert num[names["digits_differ"]] == 1.0
    # symmetric features are symmetric
    there, back = pair("怎么退货", "如何退掉买的东西呢"), pair("如何退掉买的东西呢", "怎么退货")
    for name in ("cosine", "use_cosine", "adapted_cosine", "use_head", "use_topic_0"):
        assert there[names[name]] == pytest.approx(back[names[name]], abs=1e-5)


def test_multilingual_vectors_can_be_passed_in(tiny_model: ZhModel) -> None:
    """A caller holding a text's vector from the same encoder (the knowledge base, for its
    query) passes it instead of having it computed twice; the result is the same."""
    text, other = "请问可以开发票吗", "我想要一张发票"
    vector = shared_multilingual(tiny_model.multilingual_name).encode([text])[0]
    assert (
        tiny_model.multilingual_fingerprint
        == shared_multilingual("use-multilingual-v3").fingerprint()
    )
    fresh = ZhModel(
        tiny_model.encoder, tiny_model.adapter, tiny_model.scorer, tiny_model.reranker,
        tiny_model.semantic, tiny_model.manifest,
    )  # fmt: skip
    given = fresh.prepared(text, use_vector=0.5 * vector)  # its length does not matter
    assert np.allclose(given.vector, tiny_model.prepared(text).vector, atol=1e-5)
    assert np.allclose(
        fresh.encode([other], use_vectors=fresh.multilingual_vectors([other])),
        tiny_model.encode([other]),
        atol=1e-5,
    )
    assert fresh.score_pairs(given, [other]) == pytest.approx(
        tiny_model.score_pairs(text, [other]), abs=1e-5
    )
    with pytest.raises(ValueError, match="dimension"):
        fresh.prepared("另一个问题", use_vector=np.ones(7, dtype=np.float32))


def test_reranker_margins_compare_each_candidate_with_the_other_entries() -> None:
    rows = np.zeros((4, len(FEATURE_NAMES)), dtype=np.float32)
    rows[:, FEATURE_NAMES.index("use_cosine")] = [0.9, 0.85, 0.5, 0.7]
    rows[:, FEATURE_NAMES.index("use_topic_0")] = 0.3
    out = list_features(rows)
    assert out.shape == (4, len(RERANK_FEATURE_NAMES))
    assert not any("topic" in name for name in RERANK_FEATURE_NAMES)
    margin = RERANK_FEATURE_NAMES.index("use_cosine_margin")
    assert out[:, margin].tolist() == pytest.approx([0.05, -0.05, -0.4, -0.2])
    # two variants of one entry do not compete with each other
    grouped = list_features(rows, groups=["a", "a", "b", "c"])
    assert grouped[:, margin].tolist() == pytest.approx([0.2, 0.15, -0.4, -0.2])
    assert not list_features(rows, groups=[1, 1, 1, 1])[:, margin].any()
    assert not list_features(rows[:1])[:, margin].any()  # alone: no margins
    assert out[:, RERANK_FEATURE_NAMES.index("use_cosine")].tolist() == pytest.approx(
        [0.9, 0.85, 0.5, 0.7]
    )


def test_trained_model_ranks_the_paraphrase_first(tiny_model: ZhModel) -> None:
    vectors = tiny_model.encode(["怎么退货", "如何退掉买的东西呢", "怎么开发票"])
    assert vectors.shape == (3, 16 + 512) and tiny_model.dim == 16 + 512
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    probs = tiny_model.score_pairs("我想退货，怎么办", ["我想退货，怎么办", "我想开发票，怎么办"])
    assert probs[0] > probs[1]
    assert 0.0 <= tiny_model.pair_score("怎么退货", "怎么查积分") <= 1.0
    scores = tiny_model.pair_scores([("怎么退货", "怎么查积分"), ("怎么查积分", "怎么退货")])
    assert scores[0] == pytest.approx(scores[1])
    assert scores[0] == pytest.approx(tiny_model.pair_score("怎么退货", "怎么查积分"))


def test_train_from_data_is_cached_by_inputs_and_saved_atomically(tmp_path: Path) -> None:
    data = write_data(tmp_path / "data", synthetic_pairs())
    out = tmp_path / "var" / "kb-zh"
    assert train_from_data(data, out, config=TINY, log=lambda _: None) == (out, True)
    assert is_trained(out)
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["split"]) == {"bq", "lcqmc", "atec_ccks"}
    assert manifest["training_pairs"] < len(synthetic_pairs())  # the held-out part is unused
    assert train_from_data(data, out, config=TINY, log=lambda _: None) == (out, False)
    loaded = load_zh_model(out)
    assert loaded is not None and loaded.fingerprint() == ZhModel.load(out).fingerprint()
    assert loaded.encode(["怎么退货"]).shape == (1, 16 + 512)
    assert manifest["multilingual"]["fingerprint"] == loaded.multilingual_fingerprint
    assert manifest["multilingual"]["fingerprint"].startswith("use-multilingual-v3@")
    assert 0.0 <= manifest["ngram_weight"] <= 1.0

    before = data_fingerprint(data)
    lcqmc = data / "zh_question_matching" / "lcqmc_dev.tsv"
    lcqmc.write_text(lcqmc.read_text(encoding="utf-8") + "怎么换货\t如何更换商品\t1\n")
    assert data_fingerprint(data) != before
    assert train_from_data(data, out, config=TINY, log=lambda _: None) == (out, True)
    assert load_zh_model(out).fingerprint() != loaded.fingerprint()


def test_missing_data_is_an_error_and_no_model_means_none(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        train_from_data(tmp_path / "nothing", tmp_path / "out", config=TINY)
    assert load_pair_sets(tmp_path / "nothing") == {}
    assert load_zh_model(tmp_path / "out") is None


def test_kb_uses_the_model_for_chinese_queries_only(
    tmp_path: Path, small_faq: Path, fake_embedder, tiny_model: ZhModel
) -> None:
    entries = load_sources([small_faq])
    settings = Settings(USE_TUNED=False, USE_ZH_MODEL=False)
    kb = KnowledgeBase.build(
        entries, settings=settings, embedder=fake_embedder, zh_model=tiny_model
    )
    assert kb.zh_vectors is not None and kb.zh_vectors.shape == (9, 16 + 512)
    zh = kb.search("收到的商品不满意，可以退吗")
    assert zh.hits[0].id == "returns-window"
    assert any(h.zh != 0.0 for h in zh.hits)
    en = kb.search("How long does delivery take?")
    assert all(h.zh == 0.0 for h in en.hits)
    plain = KnowledgeBase.build(entries, settings=settings, embedder=fake_embedder, zh_model=None)
    assert all(h.zh == 0.0 for h in plain.search("收到的商品不满意，可以退吗").hits)
    # the English ranking does not depend on the Chinese model
    assert [h.score for h in plain.search("How long does delivery take?").hits] == [
        h.score for h in en.hits
    ]

    kb.save(tmp_path / "index")
    assert (tmp_path / "index" / "zh_vectors.npy").is_file()
    loaded = KnowledgeBase.load(
        tmp_path / "index", settings=settings, embedder=fake_embedder, zh_model=tiny_model
    )
    assert np.array_equal(loaded.zh_vectors, kb.zh_vectors)
    assert loaded.search("收到的商品不满意，可以退吗").hits[0].id == "returns-window"


def test_build_if_changed_rebuilds_when_the_model_appears(
    tmp_path: Path, small_faq: Path, fake_embedder
) -> None:
    data = write_data(tmp_path / "data", synthetic_pairs())
    zh_dir = tmp_path / "kb-zh"
    settings = Settings(USE_TUNED=False, ZH_MODEL_DIR=zh_dir, USE_ZH_MODEL=True)
    out = tmp_path / "index"
    kb, built = build_if_changed([small_faq], out, settings=settings, embedder=fake_embedder)
    assert built and kb.zh_model is None
    assert not build_if_changed([small_faq], out, settings=settings, embedder=fake_embedder)[1]
    train_from_data(data, zh_dir, config=TINY, log=lambda _: None)
    kb, built = build_if_changed([small_faq], out, settings=settings, embedder=fake_embedder)
    assert built and kb.zh_model is not None
    off = Settings(USE_TUNED=False, ZH_MODEL_DIR=zh_dir, USE_ZH_MODEL=False)
    assert KnowledgeBase.load(out, settings=off, embedder=fake_embedder).zh_model is None


def test_cli_train_zh(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_data(tmp_path / "data", synthetic_pairs())
    out = tmp_path / "model"
    assert main(["train-zh", "--data", str(data), "--out", str(out), "--epochs", "1"]) == 0
    assert "held-out pairs" in capsys.readouterr().out
    assert main(["train-zh", "--data", str(data), "--out", str(out), "--epochs", "1"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert main(["train-zh", "--data", str(tmp_path / "none"), "--out", str(out)]) == 1


def test_a_model_of_another_encoder_is_stale(tmp_path: Path) -> None:
    """The encoder's fingerprint is part of the inputs hash, and a saved model trained with
    another encoder (weights changed) is neither used nor loaded, but retrained."""
    config = TrainConfig()
    assert inputs_hash("data", config, "use-multilingual-v3@a") != inputs_hash(
        "data", config, "use-multilingual-v3@b"
    )
    data = write_data(tmp_path / "data", synthetic_pairs())
    out = tmp_path / "kb-zh"
    train_from_data(data, out, config=TINY, log=lambda _: None)
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    assert manifest["version"] == ZH_MODEL_VERSION
    manifest["multilingual"]["fingerprint"] = "use-multilingual-v3@0000000000000000"
    manifest_path.write_text(json.dumps(manifest))
    assert not is_trained(out)
    assert load_zh_model(out) is None
    with pytest.raises(ValueError, match="multilingual encoder"):
        ZhModel.load(out)
    assert train_from_data(data, out, config=TINY, log=lambda _: None) == (out, True)
    assert is_trained(out)
