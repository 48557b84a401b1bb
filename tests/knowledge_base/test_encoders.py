"""The packaged multilingual encoders and the bilingual embedder, with their real weights."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge_base.config import Settings
from knowledge_base.embed import (
    BilingualEmbedder,
    SentenceTransformerEmbedder,
    embedder_from_settings,
)
from knowledge_base.encoders import (
    E5_SMALL,
    USE_MULTILINGUAL,
    E5SmallEncoder,
    EnsembleEncoder,
    UseMultilingualEncoder,
    multilingual_encoder,
)


@pytest.fixture(scope="module")
def use() -> UseMultilingualEncoder:
    return UseMultilingualEncoder()


@pytest.fixture(scope="module")
def bilingual(use: UseMultilingualEncoder) -> BilingualEmbedder:
    return BilingualEmbedder(SentenceTransformerEmbedder(), use, multilingual_share=0.3)


@pytest.mark.parametrize(
    "encoder_name", [USE_MULTILINGUAL, E5_SMALL, f"{USE_MULTILINGUAL}+{E5_SMALL}"]
)
def test_paraphrases_across_scripts_and_languages_are_closer_than_other_topics(
    encoder_name: str,
) -> None:
    encoder = multilingual_encoder(encoder_name)
    texts = ["收到的商品破损了怎么办", "杯子送到的时候碎了", "積分什麼時候過期"]
    texts.append("The mug arrived broken")
    vectors = encoder.encode(texts)
    assert vectors.shape == (4, encoder.dim) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    sims = vectors @ vectors.T
    assert sims[0, 1] > sims[0, 2]  # broken item ≈ broken mug, not points expiry
    assert sims[3, 1] > sims[3, 2]  # English ≈ Chinese paraphrase
    one = encoder.encode([texts[1]])  # the one-query path gives the batch path's vector
    np.testing.assert_allclose(one[0], vectors[1], atol=1e-4)


def test_fingerprint_names_the_encoder_and_its_files() -> None:
    assert UseMultilingualEncoder().fingerprint().startswith(f"{USE_MULTILINGUAL}@")
    assert E5SmallEncoder().fingerprint().startswith(f"{E5_SMALL}@")
    with pytest.raises(ValueError, match="unknown multilingual encoder 'bert'.*use-multilingual"):
        multilingual_encoder("bert")


def test_a_chinese_query_is_scored_by_the_multilingual_encoder_alone(
    bilingual: BilingualEmbedder,
) -> None:
    docs = bilingual.encode(["退货运费谁出", "Who pays for return shipping?"])
    assert docs.shape == (2, 384 + 512)
    query = bilingual.encode_query("退貨運費誰負擔")[0]
    assert bilingual.english_weight("退貨運費誰負擔") == 0.0
    assert not query[:384].any()  # the English model was not asked
    use_only = bilingual.multilingual.encode(["退貨運費誰負擔"])[0]
    np.testing.assert_allclose(docs[:, 384:] @ use_only, docs @ query, atol=1e-5)


def test_an_english_query_mixes_both_cosines_by_the_share(bilingual: BilingualEmbedder) -> None:
    text = "who pays the postage when I send something back"
    docs = bilingual.encode(["Who pays for return shipping?"])
    query = bilingual.encode_query(text)[0]
    assert bilingual.english_weight(text) == pytest.approx(0.7)
    english = bilingual.english.encode([text])[0] @ docs[0, :384]
    multilingual = bilingual.multilingual.encode([text])[0] @ docs[0, 384:]
    assert float(docs[0] @ query) == pytest.approx(0.7 * english + 0.3 * multilingual, abs=1e-4)


def test_settings_choose_the_encoder_or_the_english_model_alone() -> None:
    assert isinstance(embedder_from_settings(Settings(USE_TUNED=False)), BilingualEmbedder)
    alone = embedder_from_settings(Settings(USE_TUNED=False, MULTILINGUAL_MODEL=""))
    assert isinstance(alone, SentenceTransformerEmbedder)
    e5 = embedder_from_settings(Settings(USE_TUNED=False, MULTILINGUAL_MODEL=E5_SMALL))
    assert isinstance(e5.multilingual, E5SmallEncoder)


def test_an_ensemble_scores_the_mean_of_its_members_cosines() -> None:
    ensemble = multilingual_encoder(f"{USE_MULTILINGUAL}+{E5_SMALL}")
    assert isinstance(ensemble, EnsembleEncoder)
    assert ensemble.block_sizes == [512, 384] and ensemble.dim == 896
    assert ensemble.fingerprint().startswith(f"{USE_MULTILINGUAL}@")
    assert f"+{E5_SMALL}@" in ensemble.fingerprint()
    texts = ["积分会过期吗", "Do my points expire?"]
    vectors = ensemble.encode(texts)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    use, e5 = ensemble.members
    cos_use = float(use.encode(texts[:1])[0] @ use.encode(texts[1:])[0])
    cos_e5 = float(e5.encode(texts[:1])[0] @ e5.encode(texts[1:])[0])
    assert float(vectors[0] @ vectors[1]) == pytest.approx((cos_use + cos_e5) / 2, abs=1e-4)
    bilingual = BilingualEmbedder(SentenceTransformerEmbedder(), ensemble)
    assert bilingual.block_sizes == [384, 512, 384]  # the adapter maps each model's block


def test_an_unknown_member_of_an_ensemble_is_named() -> None:
    with pytest.raises(ValueError, match="unknown multilingual encoder 'e6'.*joined by"):
        multilingual_encoder(f"{USE_MULTILINGUAL}+e6")
