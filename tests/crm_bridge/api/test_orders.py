"""The bot sees an order only for the verified customer who owns it; agents see any."""

from __future__ import annotations

import uuid

from tests.utils.factories import make_customer, make_order


def test_order_lookup_requires_a_verified_owner(api, db):
    owner_id, stranger_id, unverified_id = (f"u-{uuid.uuid4().hex[:8]}" for _ in range(3))
    owner = make_customer(db, identities=[("site", owner_id, True)])
    make_customer(db, identities=[("site", stranger_id, True)])
    make_customer(db, identities=[("widget", unverified_id, False)])
    number = f"C{uuid.uuid4().hex[:8].upper()}"
    make_order(db, owner, number)
    db.commit()
    service = api.as_("service")

    def lookup(channel: str, external_id: str, n: str = number):
        return api.client.get(
            f"/api/v1/orders/{n}",
            params={"channel": channel, "external_id": external_id},
            headers=service,
        )

    ok = lookup("site", owner_id)
    assert ok.status_code == 200, ok.text
    assert ok.json()["tracking_number"] == "SF1234567890"
    assert ok.json()["items"][0]["name"] == "陶瓷马克杯 Ceramic mug"
    # Someone else's order and an unknown order look the same to the bot.
    assert lookup("site", stranger_id).json() == lookup("site", owner_id, "ZZZZ9999").json()
    assert lookup("site", stranger_id).status_code == 404
    assert lookup("widget", unverified_id).status_code == 404
    no_identity = api.client.get(f"/api/v1/orders/{number}", headers=service)
    assert no_identity.status_code == 400
    assert api.client.get(f"/api/v1/orders/{number}", headers=api.as_("agent")).status_code == 200
