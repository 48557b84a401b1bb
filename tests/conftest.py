"""Test-wide set-up: trained artefacts are cached in the project's var/ and shared.

Servers started by the tests get a temporary var dir each, but the trained Rasa model and the
sentiment models are expensive and depend only on their inputs, so every test process and
server reads them from the project's var/ (trained there once if missing).
"""

from __future__ import annotations

import os

import pytest

from devtools.config import ROOT

os.environ.setdefault("CSA_MODEL_DIR", str(ROOT / "var" / "models"))
os.environ.setdefault("CSA_BRIDGE_SENTIMENT_MODEL_DIR", str(ROOT / "var" / "sentiment"))


@pytest.fixture(scope="session")
def demo_kb():
    """The demo knowledge base built with the default (untuned) model, once per session."""
    from knowledge_base.config import REPO_ROOT, Settings
    from knowledge_base.kb import KnowledgeBase
    from knowledge_base.sources import load_sources

    faq = REPO_ROOT / "knowledge_base" / "demo" / "faq.yml"
    return KnowledgeBase.build(load_sources([faq]), settings=Settings(USE_TUNED=False))
