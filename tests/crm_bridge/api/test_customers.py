from __future__ import annotations

import uuid

from sqlalchemy import select

from crm_bridge.models import AuditLog, Conversation, ConversationStatus
from tests.utils.factories import make_customer, make_order


def _uid() -> str:
    return uuid.uuid4().hex[:10]


def test_create_search_and_update(api):
    tg = _uid()
    body = {
        "name": "李雷 Li Lei",
        "email": f"li.{tg}@example.com",
        "phone": "+86 138 0013 8000",
        "language": "zh",
        "identities": [{"channel": "telegram", "external_id": tg, "verified": True}],
    }
    created = api.client.post("/api/v1/customers", json=body, headers=api.as_("service"))
    assert created.status_code == 201, created.text
    customer = created.json()
    assert customer["lifecycle_stage"] == "prospect"
    assert customer["identities"] == [{"channel": "telegram", "external_id": tg, "verified": True}]

    found = api.client.get(
        "/api/v1/customers", params={"q": f"li.{tg}"}, headers=api.as_("agent")
    ).json()
    assert found["count"] == 1 and found["data"][0]["id"] == customer["id"]
    by_identity = api.client.get(
        f"/api/v1/customers/by-identity/telegram/{tg}", headers=api.as_("service")
    )
    assert by_identity.json()["id"] == customer["id"]

    patched = api.client.patch(
        f"/api/v1/customers/{customer['id']}",
        json={"tier": "platinum", "tags": ["vip"]},
        headers=api.as_("supervisor"),
    )
    assert patched.json()["tier"] == "platinum" and patched.json()["tags"] == ["vip"]

    again = api.client.post("/api/v1/customers", json=body, headers=api.as_("service"))
    assert again.status_code == 409  # the identity belongs to someone already


def test_customer_360_and_audit(api, db):
    customer = make_customer(db, identities=[("site", f"u-{_uid()}", True)])
    order_number = f"A{_uid()[:8].upper()}"
    make_order(db, customer, order_number)
    db.add(
        Conversation(
            sender_id=_uid(),
            customer_id=customer.id,
            status=ConversationStatus.RESOLVED_BY_BOT,
            customer_messages=0,
        )
    )
    db.commit()
    view = api.client.get(f"/api/v1/customers/{customer.id}", headers=api.as_("agent"))
    assert view.status_code == 200, view.text
    data = view.json()
    assert data["customer"]["name"] == "王小明"
    assert [o["number"] for o in data["orders"]] == [order_number]
    assert data["orders"][0]["status_history"][0]["status"] == "paid"
    assert len(data["conversations"]) == 1
    reads = db.scalars(
        select(AuditLog).where(
            AuditLog.entity == "customer", AuditLog.entity_id == str(customer.id)
        )
    ).all()
    assert any(r.action == "read" and r.actor.startswith("agent-") for r in reads)


def test_merge_moves_identities_orders_and_points(api, db):
    web = make_customer(db, name=None, points_balance=100, identities=[("widget", _uid(), False)])
    app = make_customer(
        db, name="韩梅梅", points_balance=50, identities=[("telegram", _uid(), True)]
    )
    number = f"M{_uid()[:8].upper()}"
    make_order(db, app, number)
    db.commit()
    merged = api.client.post(
        f"/api/v1/customers/{web.id}/merge", json={"source_id": app.id}, headers=api.as_("admin")
    )
    assert merged.status_code == 200, merged.text
    body = merged.json()
    assert body["points_balance"] == 150
    assert body["name"] == "韩梅梅"
    assert {i["channel"] for i in body["identities"]} == {"widget", "telegram"}
    view = api.client.get(f"/api/v1/customers/{web.id}", headers=api.as_("admin")).json()
    assert [o["number"] for o in view["orders"]] == [number]
    twice = api.client.post(
        f"/api/v1/customers/{web.id}/merge", json={"source_id": app.id}, headers=api.as_("admin")
    )
    assert twice.status_code == 409


def test_linking_a_chat_account_brings_its_conversations_into_the_360(api, db):
    customer = make_customer(db, name="张伟", identities=[("site", f"u-{_uid()}", True)])
    other = make_customer(db, name="Someone else")
    open_id = f"o{_uid()}"
    # Conversations are keyed by channel; the chat account by its plain platform id. Only the
    # WeChat conversation is that account's: a REST client or another platform that named the
    # same id is someone else.
    db.add_all(
        [
            Conversation(
                sender_id=f"wechat:{open_id}", channel="wechat", status=ConversationStatus.BOT
            ),
            Conversation(
                sender_id=f"telegram:{open_id}", channel="telegram", status=ConversationStatus.BOT
            ),
            Conversation(
                sender_id=f"rest:{open_id}", channel="rest", status=ConversationStatus.BOT
            ),
        ]
    )
    db.commit()
    body = {"channel": "wechat", "external_id": open_id, "verified": True}
    linked = api.client.post(
        f"/api/v1/customers/{customer.id}/identities", json=body, headers=api.as_("agent")
    )
    assert linked.status_code == 201, linked.text
    view = api.client.get(f"/api/v1/customers/{customer.id}", headers=api.as_("agent")).json()
    linked = [c["sender_id"] for c in view["conversations"]]
    assert linked == [f"wechat:{open_id}"]  # not the telegram or REST ones
    assert {"channel": "wechat", "external_id": open_id, "verified": True} in view["customer"][
        "identities"
    ]
    taken = api.client.post(
        f"/api/v1/customers/{other.id}/identities", json=body, headers=api.as_("agent")
    )
    assert taken.status_code == 409 and "merge" in taken.json()["detail"]
    again = api.client.post(
        f"/api/v1/customers/{customer.id}/identities", json=body, headers=api.as_("supervisor")
    )
    assert again.status_code == 201
