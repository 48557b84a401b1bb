from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from crm_bridge.sentiment.features import (
    SentenceEmbeddings,
    VaderFeatures,
    normalise,
    normalise_chat,
)


def test_normalisation():
    assert normalise("ＡＢＣ？！") == "abc?!"
    assert normalise_chat("@united see https://t.co/x &amp; fix it") == "@user see http & fix it"


def test_vader_features_pickle_without_the_lexicon():
    features = VaderFeatures()
    values = features.transform(["great, thanks!", "awful"])
    assert values.shape == (2, 4)
    assert values[0, 3] > 0 > values[1, 3]
    copy = pickle.loads(pickle.dumps(features))
    assert "_vader" not in copy.__dict__
    np.testing.assert_allclose(copy.transform(["awful"]), values[1:])


@pytest.fixture(scope="module")
def embeddings() -> SentenceEmbeddings:
    return SentenceEmbeddings(weight=0.5)


def test_embeddings_load_offline_and_are_weighted(embeddings):
    vectors = embeddings.transform(["where is my parcel?"])
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    assert vectors.shape == (1, 384)
    assert np.linalg.norm(vectors[0]) == pytest.approx(0.5, abs=1e-4)


def test_embeddings_single_and_batched_agree(embeddings):
    texts = [f"message number {i}, thanks" for i in range(9)]
    batched = embeddings.transform(texts)
    single = np.vstack([embeddings.transform([text]) for text in texts])
    np.testing.assert_allclose(batched, single, atol=1e-4)
    copy = pickle.loads(pickle.dumps(embeddings))
    assert "_encoder" not in copy.__dict__ and "_controller" not in copy.__dict__
