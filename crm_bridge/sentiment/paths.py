"""Default locations, computed from the package's place in the repository."""

from __future__ import annotations

from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parents[2]


def default_model_dir() -> Path:
    """Return ``<repo>/var/sentiment``, where trained models are saved."""
    return _REPO_ROOT / "var" / "sentiment"


def default_data_dir() -> Path:
    """Return ``<repo>/../shared/data/sentiment``, where the public corpora live."""
    return _REPO_ROOT.parent / "shared" / "data" / "sentiment"
