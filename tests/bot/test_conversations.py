"""Rasa's own checks on the bot: data validation and the conversation tests.

``bot/tests/test_stories.yml`` holds one test story per flow and language; ``rasa test core``
runs them through the trained model (NLU and dialogue policies; custom actions are not run).
"""

from __future__ import annotations

import subprocess

import pytest

from devtools.config import ROOT, LauncherSettings
from devtools.model import ensure_model

BOT = ROOT / "bot"


def _rasa(*args: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    settings = LauncherSettings()
    return subprocess.run(
        [str(settings.bot_python), "-m", "rasa", *args],
        cwd=BOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_training_data_validates_without_warnings():
    result = _rasa("data", "validate", "--domain", "domain", "--data", "data", "--fail-on-warnings")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "UserWarning" not in result.stderr, result.stderr[-3000:]


@pytest.mark.slow
def test_every_conversation_test_passes(tmp_path):
    settings = LauncherSettings()
    model = ensure_model(BOT, settings.model_dir, settings.bot_python)
    result = _rasa(
        "test",
        "core",
        "--model",
        str(model),
        "--stories",
        "tests/test_stories.yml",
        "--out",
        str(tmp_path),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    failed = (tmp_path / "failed_test_stories.yml").read_text()
    assert "None of the test stories failed" in failed, failed
