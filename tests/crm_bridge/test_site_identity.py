"""The shop's signed user: the bridge signs (demo shop) as Rasa's widget channel checks.

The site identity secret is a setting, else generated into var/secrets like the others. A claim
is ``hex(HMAC-SHA256(secret, "<user_id>:<expires>"))`` with ``expires`` in Unix seconds; the
bridge's ``sign_site_user`` and the channel's ``sign`` / ``check``
(``bot/channels/site_identity.py``) must agree on it.
"""

from __future__ import annotations

import hashlib
import hmac
import stat

import pytest
from channels.site_identity import CLOCK_SKEW, DEFAULT_MAX_TTL, check, sign
from pydantic import SecretStr

from crm_bridge.core.config import Settings
from crm_bridge.core.security import sign_site_user

NOW = 1_800_000_000
SECRET = "shop-secret-0123456789abcdef0123"


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


def test_the_signature_covers_the_user_and_its_expiry():
    signature = sign_site_user("k", "用户-1", NOW)
    expected = hmac.new(b"k", f"用户-1:{NOW}".encode(), hashlib.sha256).hexdigest()
    assert signature == expected == expected.lower() and len(signature) == 64
    assert sign_site_user(SecretStr("k"), "用户-1", NOW) == signature
    assert sign_site_user("k", "用户-1", NOW + 1) != signature
    assert sign_site_user("k", "用户-2", NOW) != signature
    assert sign_site_user("other", "用户-1", NOW) != signature


@pytest.mark.parametrize("user", ["demo-user-1", "用户-1", "a:b", "x" * 255])
@pytest.mark.parametrize("expires", [0, NOW, NOW + 3600, 4_102_444_800])
def test_the_bridge_and_rasas_widget_channel_sign_alike(user, expires):
    assert sign(SECRET, user, expires) == sign_site_user(SECRET, user, expires)
    assert sign_site_user(SecretStr(SECRET), user, expires) == sign(SECRET, user, expires)


def _claim(user: str = "u-1", expires: int = NOW + 600, secret: str = SECRET) -> dict:
    """A claim as the shop's server signs it (with the bridge's signer, as the demo shop)."""
    return {
        "user_id": user,
        "user_expires": expires,
        "user_hash": sign_site_user(secret, user, expires),
    }


def test_a_claim_the_bridge_signed_passes_the_channels_check():
    assert check([SECRET], _claim(), now=NOW).user_id == "u-1"
    upper = {**_claim(), "user_hash": _claim()["user_hash"].upper()}
    assert check([SECRET], upper, now=NOW).user_id == "u-1"
    as_text = {**_claim(), "user_expires": str(NOW + 600)}
    assert check([SECRET], as_text, now=NOW).user_id == "u-1"
    assert check(["newer-secret", SECRET], _claim(), now=NOW).user_id == "u-1"  # rotation
    assert check([SECRET], _claim(expires=NOW - CLOCK_SKEW + 1), now=NOW).user_id == "u-1"
    assert check([SECRET], _claim(expires=NOW + DEFAULT_MAX_TTL), now=NOW).user_id == "u-1"
    assert check([SECRET], None, now=NOW) == check([SECRET], {"page": "/"}, now=NOW)
    assert check([SECRET], None, now=NOW).reason is None


@pytest.mark.parametrize(
    ("claim", "reason"),
    [
        ({"user_id": "u-1", "user_hash": "ab"}, "incomplete"),
        ({"user_id": "u-1", "user_expires": NOW + 600}, "incomplete"),
        ({"user_expires": NOW + 600, "user_hash": _claim()["user_hash"]}, "incomplete"),
        ({**_claim(), "user_id": ""}, "incomplete"),
        ({**_claim(), "user_id": 42}, "incomplete"),
        ({**_claim(), "user_expires": "soon"}, "incomplete"),
        ({**_claim(), "user_expires": 1.5}, "incomplete"),
        ({**_claim(), "user_expires": True}, "incomplete"),
        ({**_claim(), "user_hash": None}, "incomplete"),
        ({**_claim(), "user_id": "x" * 256}, "incomplete"),
        (_claim(secret="not-the-shops-secret"), "bad_signature"),
        ({**_claim(), "user_id": "u-2"}, "bad_signature"),  # someone else's signature
        ({**_claim(), "user_expires": NOW + 601}, "bad_signature"),  # expiry moved
        ({**_claim(), "user_hash": _claim()["user_hash"][:-1]}, "bad_signature"),
        ({**_claim(), "user_hash": "0" * 64}, "bad_signature"),
        # the old, expiry-less signature of the user id alone
        (
            {**_claim(), "user_hash": hmac.new(SECRET.encode(), b"u-1", "sha256").hexdigest()},
            "bad_signature",
        ),
        (_claim(expires=NOW - CLOCK_SKEW - 1), "expired"),
        (_claim(expires=NOW - 86_400), "expired"),
        (_claim(expires=NOW + DEFAULT_MAX_TTL + 1), "expiry_too_far"),
        (_claim(expires=NOW + 365 * 86_400), "expiry_too_far"),
    ],
)
def test_the_channel_refuses_bad_claims_with_a_reason(claim, reason):
    result = check([SECRET], claim, now=NOW)
    assert result.user_id is None and result.reason == reason
    assert result.detail  # what the shop's developer should do
    assert SECRET not in result.detail
    if isinstance(claim.get("user_hash"), str) and claim["user_hash"]:
        assert claim["user_hash"] not in result.detail


def test_a_shorter_maximum_lifetime_is_honoured():
    claim = _claim(expires=NOW + 7200)
    assert check([SECRET], claim, now=NOW).user_id == "u-1"
    assert check([SECRET], claim, max_ttl=3600, now=NOW).reason == "expiry_too_far"


def test_points_expiry_warning_days_setting(monkeypatch):
    assert Settings().POINTS_EXPIRY_WARNING_DAYS == 30
    monkeypatch.setenv("CSA_BRIDGE_POINTS_EXPIRY_WARNING_DAYS", "14")
    assert Settings().POINTS_EXPIRY_WARNING_DAYS == 14
