"""The site identity secret: a setting, else generated into var/secrets like the others."""

from __future__ import annotations

import hashlib
import hmac
import stat

from crm_bridge.core.config import Settings
from crm_bridge.core.security import sign_site_user, verify_site_user


def test_secret_is_generated_once_into_var(tmp_path):
    first = Settings(VAR_DIR=tmp_path).site_identity_secret.get_secret_value()
    path = tmp_path / "secrets" / "site_identity_secret"
    assert path.read_text().strip() == first and len(first) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Settings(VAR_DIR=tmp_path).site_identity_secret.get_secret_value() == first


def test_secret_from_the_environment_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("CSA_BRIDGE_SITE_IDENTITY_SECRET", "configured-secret")
    settings = Settings(VAR_DIR=tmp_path)
    assert settings.site_identity_secret.get_secret_value() == "configured-secret"
    assert not (tmp_path / "secrets" / "site_identity_secret").exists()


def test_sign_and_verify():
    signature = sign_site_user("k", "用户-1")
    assert signature == hmac.new(b"k", "用户-1".encode(), hashlib.sha256).hexdigest()
    assert verify_site_user("k", "用户-1", signature)
    assert verify_site_user("k", "用户-1", signature.upper())
    assert not verify_site_user("k", "用户-2", signature)
    assert not verify_site_user("other", "用户-1", signature)
    assert not verify_site_user("k", "用户-1", "")


def test_points_expiry_warning_days_setting(monkeypatch):
    assert Settings().POINTS_EXPIRY_WARNING_DAYS == 30
    monkeypatch.setenv("CSA_BRIDGE_POINTS_EXPIRY_WARNING_DAYS", "14")
    assert Settings().POINTS_EXPIRY_WARNING_DAYS == 14
