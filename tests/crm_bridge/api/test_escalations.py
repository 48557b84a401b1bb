from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select

from crm_bridge.models import Escalation
from tests.utils.factories import make_customer


def test_ticket_closed_loop_timestamps(api, db):
    created = api.client.post(
        "/api/v1/escalations",
        json={"reason": "complaint", "priority": "high", "notes": "包裹破损 parcel damaged"},
        headers=api.as_("service"),
    )
    assert created.status_code == 201, created.text
    ticket = created.json()
    assert ticket["status"] == "open" and ticket["resolved_at"] is None
    me = api.client.get("/api/v1/agents/me", headers=api.as_("agent")).json()
    assigned = api.client.patch(
        f"/api/v1/escalations/{ticket['id']}",
        json={"agent_id": me["id"]},
        headers=api.as_("agent"),
    ).json()
    assert assigned["status"] == "assigned"
    closed = api.client.patch(
        f"/api/v1/escalations/{ticket['id']}",
        json={"status": "closed", "resolution_code": "refunded"},
        headers=api.as_("agent"),
    ).json()
    assert closed["status"] == "closed" and closed["resolution_code"] == "refunded"
    assert datetime.fromisoformat(closed["closed_at"]) >= datetime.fromisoformat(
        closed["created_at"]
    )
    assert closed["resolved_at"] is not None
    mine = api.client.get(
        "/api/v1/escalations", params={"mine": True}, headers=api.as_("agent")
    ).json()
    assert ticket["id"] in [e["id"] for e in mine["data"]]


def test_the_bot_opens_tickets_for_its_proofs_conversation_and_customer(api, db):
    user = f"shop-{uuid.uuid4().hex[:8]}"
    proven = make_customer(db, identities=[("site", user, True)])
    named = make_customer(db)
    db.commit()
    key = f"socketio:w_{uuid.uuid4().hex}"
    body = {"reason": "complaint", "priority": "high", "customer_id": named.id}
    # Without a sender the ticket is the proof's conversation's; the proven customer's.
    created = api.client.post(
        "/api/v1/escalations", json=body, headers=api.bot(key, site_user=user)
    )
    assert created.status_code == 201, created.text
    ticket = created.json()
    assert ticket["sender_id"] == key and ticket["customer_id"] == proven.id
    # A message that proved nobody opens a ticket for nobody, whatever the body names.
    anonymous = f"rest:{uuid.uuid4().hex}"
    created = api.client.post(
        "/api/v1/escalations", json={**body, "sender_id": anonymous}, headers=api.bot(anonymous)
    )
    assert created.status_code == 201 and created.json()["customer_id"] is None
    # Another conversation's ticket is refused, and nothing is opened.
    victim = f"wechat:o-{uuid.uuid4().hex[:12]}"
    refused = api.client.post(
        "/api/v1/escalations", json={**body, "sender_id": victim}, headers=api.bot(key)
    )
    assert refused.status_code == 403
    assert db.scalars(select(Escalation).where(Escalation.sender_id == victim)).all() == []
    no_proof = api.client.post("/api/v1/escalations", json=body, headers=api.as_("bot"))
    assert no_proof.status_code == 401
    # The bot neither lists nor updates tickets.
    assert api.client.get("/api/v1/escalations", headers=api.bot(key)).status_code == 403
    update = api.client.patch(
        f"/api/v1/escalations/{ticket['id']}", json={"status": "closed"}, headers=api.bot(key)
    )
    assert update.status_code == 403
