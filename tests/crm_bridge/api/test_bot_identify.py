"""POST /bot/identify: who the current message proved to be, from Rasa's identity proof only.

The bridge never sees the shop's signature any more (Rasa's widget channel checks it,
tests/bot/test_site_identity.py); it believes what a proof signed with the identity proof key
names, and nothing a caller writes in a body.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from crm_bridge.core.proofs import PROOF_HEADER
from crm_bridge.models import AuditLog, Conversation, ConversationStatus, Tier
from crm_bridge.services.customers import merge_customers
from tests.utils.factories import make_customer
from tests.utils.proofs import EXPIRED, FORGED_KEY, proof

URL = "/api/v1/bot/identify"


def _uid() -> str:
    return uuid.uuid4().hex[:10]


def _identify(api, conversation: str, **claims):
    response = api.client.post(URL, json={}, headers=api.bot(conversation, **claims))
    assert response.status_code == 200, response.text
    return response.json()


def _widget() -> str:
    return f"socketio:w_{uuid.uuid4().hex}"


NOT_VERIFIED_FIELDS = (
    "method",
    "customer_id",
    "channel",
    "external_id",
    "name",
    "tier",
    "language",
)


def _not_verified(result: dict, reason: str) -> None:
    assert result["verified"] is False and result["reason"] == reason, result
    assert all(result[field] is None for field in NOT_VERIFIED_FIELDS), result


def test_a_proven_site_user_is_identified_audited_and_linked(api, db):
    user = f"shop-{_uid()}"
    customer = make_customer(
        db,
        name="Emily Carter",
        language="en",
        tier=Tier.PLATINUM,
        identities=[("site", user, False)],
    )
    conversation_key = _widget()
    conversation = Conversation(
        sender_id=conversation_key, channel="socketio", status=ConversationStatus.BOT
    )
    db.add(conversation)
    db.commit()
    result = _identify(api, conversation_key, site_user=user)
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
    # The read of customer data is audited, as the bot's.
    rows = db.scalars(
        select(AuditLog).where(
            AuditLog.entity == "customer", AuditLog.entity_id == str(customer.id)
        )
    ).all()
    assert any(r.detail.get("via") == "signed_identity" and r.actor == "bot" for r in rows)
    db.expire_all()
    # The shop vouched for the account: its site identity is verified from now on, and the
    # conversation (by its key) is this customer's.
    assert [i.verified for i in db.get(type(customer), customer.id).identities] == [True]
    assert db.get(Conversation, conversation.id).customer_id == customer.id


def test_a_proven_site_user_unknown_to_the_crm(api):
    _not_verified(_identify(api, _widget(), site_user=f"nobody-{_uid()}"), "unknown_user")


def test_a_verified_platform_identity(api, db):
    open_id = f"o{_uid()}"
    customer = make_customer(db, name="李伟", language="zh", identities=[("wechat", open_id, True)])
    db.commit()
    result = _identify(api, f"wechat:{open_id}", platform_id=open_id)
    assert result["verified"] is True and result["method"] == "channel_identity"
    assert result["reason"] is None
    assert (result["customer_id"], result["channel"], result["external_id"]) == (
        customer.id,
        "wechat",
        open_id,
    )
    assert (result["name"], result["tier"], result["language"]) == ("李伟", "gold", "zh")


def test_unverified_unknown_or_other_channel_platform_ids_are_not_linked(api, db):
    open_id = f"o{_uid()}"
    make_customer(db, identities=[("wechat", open_id, False)])
    verified = f"o{_uid()}"
    make_customer(db, identities=[("wechat", verified, True)])
    db.commit()
    for conversation, pid in (
        (f"wechat:{open_id}", open_id),  # linked but not verified
        (f"wechat:{_uid()}", None),  # not linked at all
        (f"wecom:{verified}", verified),  # the same id on another platform is someone else
    ):
        claims = {"platform_id": pid or conversation.split(":", 1)[1]}
        _not_verified(_identify(api, conversation, **claims), "not_linked")


def test_a_message_that_proved_nothing_is_anonymous(api, db):
    # REST and callback senders are whatever the client says: Rasa proves no platform id
    # there, so even a sender named like a verified WeChat follower is nobody.
    open_id = f"o{_uid()}"
    make_customer(db, identities=[("wechat", open_id, True), ("rest", open_id, True)])
    db.commit()
    _not_verified(_identify(api, f"rest:{open_id}"), "anonymous")
    _not_verified(_identify(api, f"callback:{open_id}"), "anonymous")
    # A widget message whose shop claim Rasa refused carries no site user: anonymous too.
    _not_verified(_identify(api, _widget()), "anonymous")


def test_the_body_names_nobody(api, db):
    user = f"shop-{_uid()}"
    make_customer(db, identities=[("site", user, True)])
    db.commit()
    body = {"channel": "site", "sender_id": user, "user_id": user}
    response = api.client.post(URL, json=body, headers=api.bot(f"rest:{user}"))
    assert response.status_code in (200, 422), response.text
    if response.status_code == 200:
        _not_verified(response.json(), "anonymous")


def test_proofs_that_do_not_hold_are_refused(api, db):
    user = f"shop-{_uid()}"
    make_customer(db, identities=[("site", user, True)])
    db.commit()
    conversation = _widget()
    bot = api.as_("bot")
    refused = {
        "no proof": {},
        "forged with another key": {
            PROOF_HEADER: proof(api.settings, conversation, site_user=user, key=FORGED_KEY)
        },
        "expired": {PROOF_HEADER: proof(api.settings, conversation, site_user=user, age=EXPIRED)},
        "not a token": {PROOF_HEADER: "not.a.proof"},
        "another channel's conversation": {
            PROOF_HEADER: proof(api.settings, conversation, site_user=user, channel="wechat")
        },
    }
    for why, extra in refused.items():
        response = api.client.post(URL, json={}, headers={**bot, **extra})
        assert response.status_code == 401, (why, response.text)
        assert user not in response.text
    # The full key may leave the proof out, but identify has nothing to go on then.
    response = api.client.post(URL, json={}, headers=api.as_("service"))
    assert response.status_code == 400 and PROOF_HEADER in response.json()["detail"]
    # The full key with a proof gets the same answer as the bot.
    with_proof = {
        **api.as_("service"),
        PROOF_HEADER: proof(api.settings, conversation, site_user=user),
    }
    response = api.client.post(URL, json={}, headers=with_proof)
    assert response.status_code == 200 and response.json()["verified"] is True
    # Agents never identify anyone; an unknown key is nobody.
    for who, code in (("agent", 403), ("admin", 403), ("bad-key", 401), ("anonymous", 401)):
        headers = {**api.as_(who), PROOF_HEADER: proof(api.settings, conversation, site_user=user)}
        assert api.client.post(URL, json={}, headers=headers).status_code == code, who


def test_merged_customers_resolve_to_the_survivor(api, db):
    user, corp_id = f"shop-{_uid()}", _uid()
    survivor = make_customer(db, name="Survivor", tier=Tier.DIAMOND)
    merged = make_customer(db, identities=[("site", user, True), ("wecom", corp_id, True)])
    merge_customers(db, survivor, merged)
    db.commit()
    signed = _identify(api, _widget(), site_user=user)
    by_platform = _identify(api, f"wecom:{corp_id}", platform_id=corp_id)
    for result in (signed, by_platform):
        assert result["verified"] is True
        assert result["customer_id"] == survivor.id
        assert result["name"] == "Survivor" and result["tier"] == "diamond"
