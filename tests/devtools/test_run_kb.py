"""`make run` trains the knowledge base's Chinese model when the data is there."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.run import prepare_zh_model
from knowledge_base.zh_model import is_trained
from tests.knowledge_base.test_zh_model import synthetic_pairs, write_data


def test_no_data_leaves_chinese_search_lexical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CSA_KB_USE_ZH_MODEL", "true")
    monkeypatch.setenv("CSA_KB_ZH_DATA_DIR", str(tmp_path / "absent"))
    monkeypatch.setenv("CSA_KB_ZH_MODEL_DIR", str(tmp_path / "kb-zh"))
    prepare_zh_model()
    assert "stays lexical" in capsys.readouterr().out
    assert not (tmp_path / "kb-zh").exists()


def test_trains_once_then_reuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_data(tmp_path / "data", synthetic_pairs())
    monkeypatch.setenv("CSA_KB_USE_ZH_MODEL", "true")
    monkeypatch.setenv("CSA_KB_ZH_DATA_DIR", str(data))
    monkeypatch.setenv("CSA_KB_ZH_MODEL_DIR", str(tmp_path / "kb-zh"))
    prepare_zh_model()
    assert is_trained(tmp_path / "kb-zh")
    assert "held-out pairs" in capsys.readouterr().out
    prepare_zh_model()
    assert "up to date" in capsys.readouterr().out
    monkeypatch.setenv("CSA_KB_USE_ZH_MODEL", "false")
    prepare_zh_model()
    assert capsys.readouterr().out == ""
