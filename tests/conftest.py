"""Test-wide set-up: trained artefacts are cached in the project's var/ and shared.

Servers started by the tests get a temporary var dir each, but the trained Rasa model and the
sentiment models are expensive and depend only on their inputs, so every test process and
server reads them from the project's var/ (trained there once if missing).
"""

from __future__ import annotations

import os

from devtools.config import ROOT

os.environ.setdefault("CSA_MODEL_DIR", str(ROOT / "var" / "models"))
os.environ.setdefault("CSA_BRIDGE_SENTIMENT_MODEL_DIR", str(ROOT / "var" / "sentiment"))
