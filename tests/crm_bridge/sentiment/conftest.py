"""Fixtures: a sentiment model trained on a small sample of the public corpora."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_bridge.sentiment import SentimentScorer, default_data_dir, train_models
from crm_bridge.sentiment.data import Example, load_zh_reviews

SAMPLE_ROWS = 2000


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = default_data_dir()
    if not path.is_dir():
        pytest.fail(f"the public sentiment corpora are missing: {path}")
    return path


@pytest.fixture(scope="session")
def zh_reviews(data_dir) -> list[Example]:
    return load_zh_reviews(data_dir)


@pytest.fixture(scope="session")
def small_model_dir(tmp_path_factory, data_dir) -> Path:
    """Models trained on a few thousand rows per language, without embeddings."""
    return train_models(
        tmp_path_factory.mktemp("sentiment-model"),
        data_dir,
        use_embeddings=False,
        max_rows=SAMPLE_ROWS,
    )


@pytest.fixture(scope="session")
def scorer(small_model_dir) -> SentimentScorer:
    return SentimentScorer.load(small_model_dir)


@pytest.fixture
def write_csv(tmp_path):
    """Write a small CSV file and return its path."""

    def write(text: str, name: str = "eval.csv") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
