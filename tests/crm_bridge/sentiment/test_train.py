from __future__ import annotations

import json
import shutil

from crm_bridge.sentiment import ensure_model
from crm_bridge.sentiment import train as train_module
from crm_bridge.sentiment.train import is_trained


def test_ensure_model_keeps_a_trained_model(small_model_dir, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("must not retrain")

    monkeypatch.setattr(train_module, "train_models", fail)
    assert ensure_model(small_model_dir) == small_model_dir


def test_ensure_model_trains_when_missing(small_model_dir, tmp_path, monkeypatch):
    calls = []

    def fake_train(model_dir, data_dir):
        calls.append((model_dir, data_dir))
        shutil.copytree(small_model_dir, model_dir, dirs_exist_ok=True)
        return model_dir

    monkeypatch.setattr(train_module, "train_models", fake_train)
    target = tmp_path / "models"
    assert ensure_model(target, tmp_path / "data") == target
    assert calls == [(target, tmp_path / "data")]
    assert is_trained(target)


def test_model_from_another_sklearn_version_is_stale(small_model_dir, tmp_path):
    copy = shutil.copytree(small_model_dir, tmp_path / "copy")
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    manifest["sklearn"] = "0.0.1"
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert not is_trained(copy)
    assert not is_trained(tmp_path / "absent")
