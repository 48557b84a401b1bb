"""Contrastive tuning on question variants (one tiny epoch on the real default model)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from knowledge_base.config import Settings
from knowledge_base.embed import SentenceTransformerEmbedder, model_from_settings
from knowledge_base.tune import tune


def test_tune_saves_a_loadable_model_used_when_present(tmp_path: Path) -> None:
    groups = [
        ["How long does delivery take?", "When will my order arrive?", "多久能收到货？"],
        ["Do my points expire?", "How long are points valid?", "积分会过期吗？"],
    ]
    out = tmp_path / "kb-tuned" / "model"
    assert tune(groups, out, epochs=1, batch_size=4, show_progress=False) == out
    assert (out / "config.json").is_file()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]
    vectors = SentenceTransformerEmbedder(str(out)).encode(["When will it arrive?"])
    assert vectors.shape == (1, 384)
    assert np.isclose(np.linalg.norm(vectors[0]), 1.0, atol=1e-4)
    assert model_from_settings(Settings(TUNED_MODEL_DIR=out)) == str(out)
    assert model_from_settings(Settings(TUNED_MODEL_DIR=out, USE_TUNED=False)) != str(out)
    assert model_from_settings(Settings(TUNED_MODEL_DIR=tmp_path / "none")) == Settings().MODEL
