"""Every setting is documented in .env.example."""

from __future__ import annotations

import re

import pytest
from pydantic_settings import BaseSettings

from actions.config import ActionSettings
from crm_bridge.core.config import Settings as BridgeSettings
from devtools.config import ROOT, LauncherSettings
from knowledge_base.config import Settings as KnowledgeBaseSettings


def _env_names(settings_class: type[BaseSettings]) -> set[str]:
    prefix = settings_class.model_config.get("env_prefix", "")
    names = set()
    for name, field in settings_class.model_fields.items():
        alias = field.validation_alias
        names.add(alias.choices[0] if alias is not None else f"{prefix}{name}")
    return names


@pytest.mark.parametrize(
    "settings_class", [LauncherSettings, BridgeSettings, ActionSettings, KnowledgeBaseSettings]
)
def test_every_setting_is_in_env_example(settings_class):
    documented = set(re.findall(r"\b(CSA_[A-Z0-9_]+)=", (ROOT / ".env.example").read_text()))
    missing = _env_names(settings_class) - documented
    assert not missing, f"add to .env.example: {sorted(missing)}"


def test_relative_folders_are_taken_from_the_project_root(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CSA_VENV_DIR", "var/venvs")
    monkeypatch.setenv("CSA_VAR_DIR", "var")
    settings = LauncherSettings()
    assert settings.VENV_DIR == ROOT / "var" / "venvs"
    assert settings.bot_python == ROOT / "var" / "venvs" / "bot" / "bin" / "python"
    assert BridgeSettings().VAR_DIR == ROOT / "var"
