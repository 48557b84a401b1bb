"""Feedback and escalations the bot sent before their conversation was ingested get linked
when the ingestor opens it; sent afterwards they are linked at once (real EventIngestor)."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from sqlalchemy import select

from crm_bridge.models import Conversation, Escalation, Feedback
from crm_bridge.services.ingest import EventIngestor, RasaEvent
from tests.utils import rasa_events as ev
from tests.utils.factories import make_customer


def _uid() -> str:
    return uuid.uuid4().hex[:10]


def _follower() -> tuple[str, str]:
    """A WeChat follower: its conversation key and its OpenID (what the CRM links)."""
    open_id = f"o{_uid()}"
    return f"wechat:{open_id}", open_id


def _wechat(sender: str, text: str, **fields) -> dict:
    return ev.user(sender, text, input_channel="wechat", **fields)


def _ingest(api, payloads) -> int:
    ingestor = EventIngestor(scorer=None, idle_timeout=timedelta(minutes=30))
    with api.client.app.state.session_factory() as session, session.begin():
        return ingestor.apply(session, [RasaEvent(p["sender_id"], p) for p in payloads])


def _post(api, path, body, **claims):
    """The bot writes for the conversation its message's proof names."""
    sender = body["sender_id"]
    response = api.client.post(path, json=body, headers=api.bot(sender, **claims))
    assert response.status_code == 201, response.text
    return response.json()


def _conversations(db, sender):
    db.expire_all()
    return db.scalars(
        select(Conversation).where(Conversation.sender_id == sender).order_by(Conversation.id)
    ).all()


def test_feedback_and_escalation_before_ingestion_are_linked_when_it_arrives(api, db):
    sender, open_id = _follower()
    customer = make_customer(db, identities=[("wechat", open_id, True)])
    db.commit()
    csat = _post(
        api, "/api/v1/feedback", {"sender_id": sender, "kind": "csat", "rating": 2, "comment": "慢"}
    )
    helpful = _post(
        api,
        "/api/v1/feedback",
        {"sender_id": sender, "kind": "kb_answer", "rating": 1, "kb_entry_id": "shipping-time"},
    )
    ticket = _post(api, "/api/v1/escalations", {"reason": "asked_for_human", "sender_id": sender})
    assert csat["conversation_id"] is None and ticket["conversation_id"] is None
    assert ticket["customer_id"] is None and ticket["sender_id"] == sender

    other = f"rest:{open_id}"  # a REST client naming the follower's OpenID: another conversation
    events = [
        ev.simple(sender, "session_started"),
        _wechat(sender, "我的快递到哪了", intent="order_status", language="zh"),
        ev.bot(sender, "请提供订单号"),
        ev.user(other, "hello"),  # another sender's conversation takes nothing
    ]
    assert _ingest(api, events) == len(events)

    conversation = _conversations(db, sender)[0]
    assert conversation.customer_id == customer.id  # found by the plain OpenID on WeChat
    assert conversation.csat == 2 and conversation.csat_comment == "慢"
    for feedback_id in (csat["id"], helpful["id"]):
        row = db.get(Feedback, feedback_id)
        assert row.conversation_id == conversation.id and row.customer_id == customer.id
    escalation = db.get(Escalation, ticket["id"])
    assert escalation.conversation_id == conversation.id
    assert escalation.customer_id == customer.id
    rest = _conversations(db, other)[0]
    assert rest.csat is None and rest.customer_id is None  # REST links nobody

    # Replaying the events changes nothing; the linked rows stay where they are.
    assert _ingest(api, events) == 0
    assert len(_conversations(db, sender)) == 1


def test_feedback_and_escalation_after_ingestion_link_at_once(api, db):
    sender, _ = _follower()
    _ingest(api, [_wechat(sender, "hi"), ev.bot(sender, "Hello!")])
    conversation = _conversations(db, sender)[0]
    feedback = _post(api, "/api/v1/feedback", {"sender_id": sender, "kind": "csat", "rating": 5})
    ticket = _post(api, "/api/v1/escalations", {"reason": "complaint", "sender_id": sender})
    assert feedback["conversation_id"] == conversation.id
    assert ticket["conversation_id"] == conversation.id and ticket["sender_id"] == sender
    assert _conversations(db, sender)[0].csat == 5


def test_escalation_keeps_the_customer_the_message_proved(api, db):
    session_id = f"w_{uuid.uuid4().hex}"
    sender = f"socketio:{session_id}"
    user = f"shop-{_uid()}"
    proven = make_customer(db, identities=[("site", user, True)])
    channel_customer = make_customer(db, identities=[("socketio", session_id, True)])
    named = make_customer(db)
    db.commit()
    # The bot's ticket is the proven customer's (a customer_id in its body is ignored) ...
    ticket = _post(
        api,
        "/api/v1/escalations",
        {"reason": "complaint", "sender_id": sender, "customer_id": named.id},
        site_user=user,
    )
    # ... and the full key (an integration) may name the customer itself.
    response = api.client.post(
        "/api/v1/escalations",
        json={"reason": "complaint", "sender_id": sender, "customer_id": named.id},
        headers=api.as_("service"),
    )
    assert response.status_code == 201, response.text
    _ingest(api, [ev.user(sender, "还在吗", input_channel="socketio")])
    db.expire_all()
    conversation = _conversations(db, sender)[0]
    assert conversation.customer_id == channel_customer.id
    escalation = db.get(Escalation, ticket["id"])
    assert escalation.conversation_id == conversation.id
    assert escalation.customer_id == proven.id
    assert db.get(Escalation, response.json()["id"]).customer_id == named.id


def test_rows_go_to_the_conversation_they_were_sent_in(api, db):
    sender = f"rest:{_uid()}"
    feedback = _post(api, "/api/v1/feedback", {"sender_id": sender, "kind": "csat", "rating": 4})
    events = [
        ev.user(sender, "first session"),
        ev.simple(sender, "session_started"),
        ev.user(sender, "second session"),
    ]
    _ingest(api, events)
    first, second = _conversations(db, sender)
    # Both started before the rating was sent: the latest of them is the one it rated.
    assert db.get(Feedback, feedback["id"]).conversation_id == second.id
    assert second.csat == 4 and first.csat is None


def test_a_later_conversation_of_a_returning_sender_does_not_take_old_rows(api, db):
    sender = f"rest:{_uid()}"
    feedback = _post(api, "/api/v1/feedback", {"sender_id": sender, "kind": "csat", "rating": 1})
    # A conversation that starts an hour after the rating was sent is not the one it rated.
    _ingest(api, [ev.user(sender, "next week", timestamp=time.time() + 3600)])
    conversation = _conversations(db, sender)[0]
    db.expire_all()
    assert db.get(Feedback, feedback["id"]).conversation_id is None
    assert conversation.csat is None
