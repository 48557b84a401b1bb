"""``crm-bridge keys``: rotate and retire secrets without printing them."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_bridge.cli import main
from crm_bridge.core.config import Settings


@pytest.fixture
def var_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CSA_VAR_DIR", str(tmp_path))
    for name in ("CSA_BRIDGE_BOT_API_KEY", "CSA_BRIDGE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_rotate_then_retire_the_bot_key(var_dir: Path, capsys: pytest.CaptureFixture[str]):
    settings = Settings()
    old = settings.bot_api_keys
    assert main(["keys", "rotate", "bot"]) == 0
    rotated = Settings().bot_api_keys
    assert len(rotated) == 2 and rotated[1:] == old and rotated[0] not in old
    assert settings.bot_api_keys == rotated  # a running bridge sees the new file at once
    assert main(["keys", "retire", "bot"]) == 0
    assert Settings().bot_api_keys == rotated[:1]
    out = capsys.readouterr().out
    assert "1 older secret(s) dropped" in out
    assert not any(secret in out for secret in rotated)
    assert (var_dir / "secrets" / "bridge_bot_key").stat().st_mode & 0o777 == 0o600


def test_list_names_each_key_and_shows_no_secret(var_dir: Path, capsys):
    assert Settings().api_keys  # creates bridge_api_key
    assert main(["keys", "list"]) == 0
    out = capsys.readouterr().out
    assert "admin" in out and "bridge_api_key" in out and "1 valid" in out
    assert Settings().api_keys[0] not in out


def test_rasa_token_is_not_rotated_in_place(var_dir: Path):
    with pytest.raises(SystemExit, match="one token"):
        main(["keys", "rotate", "rasa"])
