"""The knowledge base's own adapter: learnt from its variants, applied to queries."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from knowledge_base.adapter import Adapter, fit_adapter
from knowledge_base.config import Settings
from knowledge_base.kb import KnowledgeBase
from knowledge_base.sources import Entry


def _clusters(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two blocks; in block 1 the entries differ only along a few noisy directions."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(10, 24)) * 0.35
    labels = np.repeat(np.arange(10), 6)

    def sample(lab: np.ndarray) -> np.ndarray:
        first = centres[lab] + rng.normal(size=(len(lab), 24))  # signal below the noise
        second = rng.normal(size=(len(lab), 8))  # a block with no signal at all
        blocks = [first, second]
        return np.hstack([b / np.linalg.norm(b, axis=1, keepdims=True) for b in blocks])

    queries = np.repeat(np.arange(10), 20)
    return sample(labels).astype("float32"), labels, sample(queries).astype("float32"), queries


def _top1(docs: np.ndarray, labels: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> float:
    best = labels[(queries @ docs.T).argmax(axis=1)]
    return float(np.mean(best == truth))


def test_the_adapter_learns_what_the_variants_share_and_keeps_block_norms() -> None:
    docs, labels, queries, truth = _clusters()
    adapter = fit_adapter(docs, labels, [24, 8], steps=100, learning_rate=1e-2)
    assert adapter is not None and [m.shape for m in adapter.matrices] == [(24, 24), (8, 8)]
    mapped = adapter.apply(docs)
    np.testing.assert_allclose(np.linalg.norm(mapped[:, :24], axis=1), 1.0, rtol=1e-5)
    scaled = adapter.apply(queries * np.r_[np.full(24, 0.7), np.full(8, 0.3)])
    np.testing.assert_allclose(np.linalg.norm(scaled[:, :24], axis=1), 0.7, rtol=1e-5)
    assert _top1(mapped, labels, adapter.apply(queries), truth) > _top1(
        docs, labels, queries, truth
    )
    again = Adapter.from_arrays(adapter.to_arrays())
    np.testing.assert_allclose(again.apply(docs), mapped)


def test_nothing_to_learn_without_two_variants_of_an_entry() -> None:
    vectors = np.eye(5, dtype="float32")
    assert fit_adapter(vectors, np.arange(5), [5]) is None


def test_the_index_keeps_its_adapter(fake_embedder, tmp_path: Path) -> None:
    entries = [
        Entry(id=f"e{i}", questions=[f"topic {i} one", f"topic {i} two", f"about {i}"], answer={})
        for i in range(6)
    ]
    settings = Settings(USE_TUNED=False, SELF_CALIBRATE=False)
    kb = KnowledgeBase.build(entries, settings=settings, embedder=fake_embedder, zh_model=None)
    assert kb.adapter is not None and kb.manifest["adapter"] is True
    kb.save(tmp_path / "index")
    loaded = KnowledgeBase.load(
        tmp_path / "index", settings=settings, embedder=fake_embedder, zh_model=None
    )
    np.testing.assert_allclose(loaded.adapter.matrices[0], kb.adapter.matrices[0])
    assert loaded.search("topic 3").hits[0].dense == kb.search("topic 3").hits[0].dense
    plain = KnowledgeBase.build(
        entries,
        settings=Settings(USE_TUNED=False, SELF_CALIBRATE=False, ADAPT=False),
        embedder=fake_embedder,
        zh_model=None,
    )
    assert plain.adapter is None and not (plain.save(tmp_path / "plain") / "adapter.npz").exists()
