from __future__ import annotations

from datetime import datetime


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
