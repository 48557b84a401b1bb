"""The bot sees an order only for the customer its message proved; the full key and agents any."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from crm_bridge.core.proofs import PROOF_HEADER
from crm_bridge.models import AuditLog
from crm_bridge.services.customers import merge_customers
from tests.utils.factories import make_customer, make_order
from tests.utils.proofs import EXPIRED, FORGED_KEY, proof


def _uid() -> str:
    return uuid.uuid4().hex[:8]


def _widget() -> str:
    return f"socketio:w_{uuid.uuid4().hex}"


def test_the_bot_gets_an_order_only_for_its_proven_owner(api, db):
    owner_id, stranger_id = f"u-{_uid()}", f"u-{_uid()}"
    unverified_id, follower = f"o-{_uid()}", f"o-{_uid()}"
    owner = make_customer(db, identities=[("site", owner_id, True), ("wechat", follower, True)])
    make_customer(db, identities=[("site", stranger_id, True)])
    make_customer(db, identities=[("wechat", unverified_id, False)])
    number = f"C{_uid().upper()}"
    make_order(db, owner, number)
    db.commit()

    def lookup(n: str = number, **claims):
        conversation = claims.pop("conversation", _widget())
        return api.client.get(f"/api/v1/orders/{n}", headers=api.bot(conversation, **claims))

    ok = lookup(site_user=owner_id)
    assert ok.status_code == 200, ok.text
    assert ok.json()["tracking_number"] == "SF1234567890"
    assert ok.json()["items"][0]["name"] == "陶瓷马克杯 Ceramic mug"
    by_platform = lookup(conversation=f"wechat:{follower}", platform_id=follower)
    assert by_platform.status_code == 200 and by_platform.json()["number"] == number
    assert lookup(n=number.lower(), site_user=owner_id).status_code == 200
    # Someone else's order and an unknown order look the same to the bot.
    stranger = lookup(site_user=stranger_id)
    unknown = lookup(n="ZZZZ9999", site_user=owner_id)
    assert stranger.status_code == unknown.status_code == 404
    assert stranger.json() == unknown.json()
    assert number not in stranger.text
    for claims in (
        {"conversation": f"wechat:{unverified_id}", "platform_id": unverified_id},
        # REST proves nobody, whatever sender it names.
        {"conversation": f"rest:{follower}"},
        {"conversation": f"rest:{owner_id}"},
        {},  # a widget message without a shop claim
    ):
        assert lookup(**claims).json() == stranger.json(), claims
    # The query parameters the bot used to name an identity with mean nothing now.
    named = api.client.get(
        f"/api/v1/orders/{number}",
        params={"channel": "site", "external_id": owner_id},
        headers=api.bot(_widget(), site_user=stranger_id),
    )
    assert named.status_code == 404


def test_the_bot_needs_a_fresh_genuine_proof(api, db):
    owner_id = f"u-{_uid()}"
    owner = make_customer(db, identities=[("site", owner_id, True)])
    number = f"C{_uid().upper()}"
    make_order(db, owner, number)
    db.commit()
    conversation = _widget()
    url = f"/api/v1/orders/{number}"
    bot = api.as_("bot")
    for why, extra in {
        "no proof": {},
        "expired": {
            PROOF_HEADER: proof(api.settings, conversation, site_user=owner_id, age=EXPIRED)
        },
        "another key": {
            PROOF_HEADER: proof(api.settings, conversation, site_user=owner_id, key=FORGED_KEY)
        },
    }.items():
        response = api.client.get(url, headers={**bot, **extra})
        assert response.status_code == 401, (why, response.text)
        assert "SF1234567890" not in response.text


def test_merged_owner_and_staff_access(api, db):
    site_user = f"u-{_uid()}"
    survivor = make_customer(db, name="Survivor")
    merged = make_customer(db, identities=[("site", site_user, True)])
    number = f"M{_uid().upper()}"
    make_order(db, merged, number)
    merge_customers(db, survivor, merged)
    db.commit()
    # The proof names the merged record's site user: the order is the survivor's now.
    proven = api.client.get(
        f"/api/v1/orders/{number}", headers=api.bot(_widget(), site_user=site_user)
    )
    assert proven.status_code == 200, proven.text
    # The full key and every staff role see any order, without a proof; each read is audited.
    for who in ("service", "agent", "supervisor", "admin"):
        response = api.client.get(f"/api/v1/orders/{number}", headers=api.as_(who))
        assert response.status_code == 200, (who, response.text)
    missing = api.client.get("/api/v1/orders/ZZZZ0000", headers=api.as_("service"))
    assert missing.status_code == 404
    readers = db.scalars(
        select(AuditLog.actor).where(AuditLog.entity == "order", AuditLog.entity_id == number)
    ).all()
    assert {"bot", "service"} <= set(readers)
    assert api.client.get(f"/api/v1/orders/{number}").status_code == 401
