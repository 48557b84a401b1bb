"""The shop's signed user: checked by Rasa's widget channel on every message."""

from __future__ import annotations

import pytest
from channels.site_identity import CLOCK_SKEW, check, sign

from crm_bridge.core.security import sign_site_user

NOW = 1_800_000_000


def _claim(secret: str = "s", user: str = "u-1", expires: int = NOW + 600) -> dict:
    return {"user_id": user, "user_expires": expires, "user_hash": sign(secret, user, expires)}


def test_the_bridge_and_the_channel_sign_alike():
    assert sign("s", "用户-1", NOW) == sign_site_user("s", "用户-1", NOW)


def test_a_good_claim_names_the_user():
    assert check(["s"], _claim(), now=NOW).user_id == "u-1"
    upper = {**_claim(), "user_hash": _claim()["user_hash"].upper()}
    assert check(["s"], upper, now=NOW).user_id == "u-1"
    as_text = {**_claim(), "user_expires": str(NOW + 600)}
    assert check(["s"], as_text, now=NOW).user_id == "u-1"
    assert check(["new", "s"], _claim(), now=NOW).user_id == "u-1"  # during a rotation


def test_no_claim_is_no_refusal():
    assert check(["s"], {"other": 1}, now=NOW).reason is None
    assert check(["s"], None, now=NOW).user_id is None


@pytest.mark.parametrize(
    ("claim", "reason"),
    [
        ({"user_id": "u-1", "user_hash": "ab"}, "incomplete"),
        ({**_claim(), "user_expires": "soon"}, "incomplete"),
        ({**_claim(), "user_expires": True}, "incomplete"),
        ({**_claim(), "user_id": "x" * 300}, "incomplete"),
        (_claim(secret="not-the-shop"), "bad_signature"),
        ({**_claim(), "user_id": "u-2"}, "bad_signature"),  # someone else's signature
        ({**_claim(), "user_expires": NOW + 601}, "bad_signature"),  # expiry moved
        (_claim(expires=NOW - CLOCK_SKEW - 1), "expired"),
        (_claim(expires=NOW + 2 * 86_400), "expiry_too_far"),
    ],
)
def test_bad_claims_are_refused_with_what_to_do(claim, reason):
    result = check(["s"], claim, now=NOW)
    assert result.user_id is None and result.reason == reason
    assert result.detail and claim.get("user_hash", "-") not in result.detail


def test_a_claim_just_past_its_expiry_passes_within_the_clock_skew():
    assert check(["s"], _claim(expires=NOW - CLOCK_SKEW + 1), now=NOW).user_id == "u-1"
