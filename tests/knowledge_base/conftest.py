"""Fixtures for the knowledge-base tests: small sources, a fake embedder, the demo KB."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from knowledge_base.config import REPO_ROOT, Settings
from knowledge_base.zh_model import train_from_data

DEMO_FAQ = REPO_ROOT / "knowledge_base" / "demo" / "faq.yml"
DEMO_QUERIES = REPO_ROOT / "knowledge_base" / "demo" / "eval_queries.csv"

SMALL_FAQ = """\
entries:
  - id: returns-window
    questions:
      - 收到的商品不满意可以退货吗？
      - Can I return an item I'm not happy with?
      - What is the return policy?
    answer:
      zh: 自签收之日起30天内可以退货。
      en: You can return most items within 30 days.
    tags: [returns]
  - id: delivery-time
    questions:
      - 多久能收到货？
      - How long does delivery take?
      - When will my order arrive?
    answer:
      zh: 一般2到4个工作日送达。
      en: Delivery usually takes 2 to 4 working days.
  - id: points-expiry
    questions:
      - 积分会过期吗？
      - Do my points expire?
      - How long are points valid?
    answer: Points are valid until the end of the following year.
"""


class FakeEmbedder:
    """Deterministic embedder: hashed character trigrams, for tests that need no real model."""

    name = "fake-trigram"

    def __init__(self, dim: int = 64, version: str = "v1") -> None:
        self.dim = dim
        self.version = version

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Return normalised hashed-trigram vectors."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            padded = f"  {text.lower()}  "
            for i in range(len(padded) - 2):
                digest = hashlib.md5(padded[i : i + 3].encode()).digest()
                out[row, int.from_bytes(digest[:4], "little") % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-9)

    def fingerprint(self) -> str:
        """Change ``version`` to simulate a new model."""
        return f"{self.name}-{self.version}"


@pytest.fixture
def small_faq(tmp_path: Path) -> Path:
    """A three-entry bilingual FAQ file."""
    path = tmp_path / "faq.yml"
    path.write_text(SMALL_FAQ, encoding="utf-8")
    return path


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    """A fast deterministic embedder."""
    return FakeEmbedder()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Default settings without a tuned model, index under ``tmp_path``."""
    return Settings(USE_TUNED=False, INDEX_DIR=tmp_path / "index")


@pytest.fixture(scope="session", autouse=True)
def _zh_model_cached() -> None:
    """Train the Chinese model into the project's var/ once (cached by its inputs' hash).

    The knowledge base uses it for Chinese queries whenever it is present, so the tests run
    with it, as the product does; without the shared data folder they run without it.
    """
    settings = Settings()
    if settings.USE_ZH_MODEL and (Path(settings.ZH_DATA_DIR) / "zh_question_matching").is_dir():
        train_from_data(settings.ZH_DATA_DIR, settings.ZH_MODEL_DIR, log=lambda _: None)
