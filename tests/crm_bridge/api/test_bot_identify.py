"""POST /bot/identify: signed site identities and verified channel identities."""

from __future__ import annotations

import hashlib
import hmac
import uuid

from sqlalchemy import select

from crm_bridge.core.security import sign_site_user
from crm_bridge.models import AuditLog, Tier
from crm_bridge.services.customers import merge_customers
from tests.utils.factories import make_customer

URL = "/api/v1/bot/identify"


def _uid() -> str:
    return uuid.uuid4().hex[:10]


def _identify(api, **body):
    body.setdefault("channel", "socketio")
    body.setdefault("sender_id", _uid())
    response = api.client.post(URL, json=body, headers=api.as_("service"))
    assert response.status_code == 200, response.text
    return response.json()


def _secret(api) -> str:
    return api.settings.site_identity_secret.get_secret_value()


NOT_VERIFIED_FIELDS = (
    "method",
    "customer_id",
    "channel",
    "external_id",
    "name",
    "tier",
    "language",
)


def test_good_signature_of_a_known_user(api, db):
    user = f"shop-{_uid()}"
    customer = make_customer(
        db,
        name="Emily Carter",
        language="en",
        tier=Tier.PLATINUM,
        identities=[("site", user, False)],
    )
    db.commit()
    sender = _uid()
    result = _identify(
        api, sender_id=sender, user_id=user, user_hash=sign_site_user(_secret(api), user)
    )
    assert result == {
        "verified": True,
        "method": "signed_identity",
        "reason": None,
        "customer_id": customer.id,
        "channel": "site",
        "external_id": user,
        "name": "Emily Carter",
        "tier": "platinum",
        "language": "en",
    }
    # The read of customer data is audited.
    rows = db.scalars(
        select(AuditLog).where(
            AuditLog.entity == "customer", AuditLog.entity_id == str(customer.id)
        )
    ).all()
    assert any(r.detail.get("via") == "signed_identity" for r in rows)
    # The backend vouched for the account: its site identity is now verified, so order
    # look-ups (which check the flag) agree with this answer.
    db.expire_all()
    assert [i.verified for i in db.get(type(customer), customer.id).identities] == [True]


def test_signature_is_hmac_sha256_hex_and_case_insensitive(api, db):
    user = f"shop-{_uid()}"
    make_customer(db, identities=[("site", user, True)])
    db.commit()
    expected = hmac.new(_secret(api).encode(), user.encode(), hashlib.sha256).hexdigest()
    assert sign_site_user(_secret(api), user) == expected == expected.lower()
    assert len(expected) == 64
    assert sign_site_user(api.settings.site_identity_secret, user) == expected  # SecretStr too
    assert _identify(api, user_id=user, user_hash=expected.upper())["verified"] is True


def test_bad_and_forged_signatures_are_refused_and_audited(api, db):
    user = f"shop-{_uid()}"
    other = f"shop-{_uid()}"
    make_customer(db, identities=[("site", user, True), ("site", other, True)])
    db.commit()
    good = sign_site_user(_secret(api), user)
    forged = [
        "0" * 64,  # made up
        sign_site_user("not-the-site-secret", user),  # another key
        sign_site_user(_secret(api), other),  # someone else's signature
        good[:-1],  # truncated
        good[:-1] + ("0" if good[-1] != "0" else "1"),  # one digit changed
        good + "00",
    ]
    for user_hash in forged:
        sender = _uid()
        result = _identify(api, sender_id=sender, user_id=user, user_hash=user_hash)
        assert result["verified"] is False and result["reason"] == "bad_signature", user_hash
        assert all(result[field] is None for field in NOT_VERIFIED_FIELDS)
        audit = db.scalars(select(AuditLog).where(AuditLog.action == "identify_failed")).all()
        row = next(r for r in audit if r.detail.get("sender_id") == sender)
        assert row.detail["user_id"] == user and row.detail["reason"] == "bad_signature"
        assert row.actor == "service"
        logged = repr(row.detail)
        assert user_hash not in logged and _secret(api) not in logged


def test_valid_signature_of_an_unknown_user(api):
    user = f"nobody-{_uid()}"
    result = _identify(api, user_id=user, user_hash=sign_site_user(_secret(api), user))
    assert result["verified"] is False and result["reason"] == "unknown_user"
    assert all(result[field] is None for field in NOT_VERIFIED_FIELDS)


def test_verified_channel_identity(api, db):
    tg = _uid()
    customer = make_customer(db, name="李伟", language="zh", identities=[("telegram", tg, True)])
    db.commit()
    result = _identify(api, channel="telegram", sender_id=tg)
    assert result["verified"] is True and result["method"] == "channel_identity"
    assert result["reason"] is None
    assert (result["customer_id"], result["channel"], result["external_id"]) == (
        customer.id,
        "telegram",
        tg,
    )
    assert (result["name"], result["tier"], result["language"]) == ("李伟", "gold", "zh")


def test_unverified_or_unknown_channel_identity_is_not_linked(api, db):
    tg = _uid()
    make_customer(db, identities=[("telegram", tg, False)])
    db.commit()
    for channel, sender in (("telegram", tg), ("telegram", _uid()), ("slack", tg)):
        result = _identify(api, channel=channel, sender_id=sender)
        assert result["verified"] is False and result["reason"] == "not_linked"
        assert all(result[field] is None for field in NOT_VERIFIED_FIELDS)


def test_user_id_without_hash_is_not_a_signed_identity(api, db):
    user = f"shop-{_uid()}"
    make_customer(db, identities=[("site", user, True)])
    db.commit()
    # The site identity is not trusted without its signature; the sender is unknown.
    assert _identify(api, user_id=user)["reason"] == "not_linked"
    assert _identify(api, user_hash=sign_site_user(_secret(api), user))["reason"] == "not_linked"


def test_merged_customers_resolve_to_the_survivor(api, db):
    user, tg = f"shop-{_uid()}", _uid()
    survivor = make_customer(db, name="Survivor", tier=Tier.DIAMOND)
    merged = make_customer(db, identities=[("site", user, True), ("wecom", tg, True)])
    merge_customers(db, survivor, merged)
    db.commit()
    signed = _identify(api, user_id=user, user_hash=sign_site_user(_secret(api), user))
    by_channel = _identify(api, channel="wecom", sender_id=tg)
    for result in (signed, by_channel):
        assert result["verified"] is True
        assert result["customer_id"] == survivor.id
        assert result["name"] == "Survivor" and result["tier"] == "diamond"
