"""POST/GET /feedback: CSAT and KB-answer ratings, linked to the sender's conversation."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from crm_bridge.core.config import Settings
from crm_bridge.core.proofs import PROOF_HEADER
from crm_bridge.main import create_app
from crm_bridge.models import Conversation, ConversationStatus, Feedback, utcnow
from tests.utils.factories import make_customer
from tests.utils.proofs import EXPIRED, FORGED_KEY, bot_headers, proof

URL = "/api/v1/feedback"


def _uid() -> str:
    """A widget conversation's key, as Rasa names it."""
    return f"socketio:w_{uuid.uuid4().hex}"


def _conversation(db, sender, customer_id=None, started_ago=timedelta(minutes=5)):
    at = utcnow() - started_ago
    conversation = Conversation(
        sender_id=sender,
        channel="socketio",
        customer_id=customer_id,
        status=ConversationStatus.BOT,
        started_at=at,
        last_event_at=at,
        customer_messages=1,
    )
    db.add(conversation)
    db.flush()
    return conversation


def _post(api, **body):
    """The bot rates its conversation, with the proof of that conversation's message."""
    response = api.client.post(URL, json=body, headers=api.bot(body["sender_id"]))
    assert response.status_code == 201, response.text
    return response.json()


def test_csat_links_the_latest_conversation_and_sets_its_csat(api, db):
    sender = _uid()
    customer = make_customer(db)
    older = _conversation(db, sender, customer.id, started_ago=timedelta(days=2))
    latest = _conversation(db, sender, customer.id)
    db.commit()
    body = _post(
        api,
        sender_id=sender,
        kind="csat",
        rating=4,
        comment="很好，谢谢 quick answer",
        language="zh",
        channel="socketio",
    )
    assert set(body) == {
        "id",
        "sender_id",
        "conversation_id",
        "customer_id",
        "kind",
        "rating",
        "comment",
        "kb_entry_id",
        "language",
        "channel",
        "created_at",
    }
    assert body["sender_id"] == sender and body["kind"] == "csat" and body["rating"] == 4
    assert body["conversation_id"] == latest.id and body["customer_id"] == customer.id
    assert body["comment"] == "很好，谢谢 quick answer" and body["kb_entry_id"] is None
    assert (body["language"], body["channel"]) == ("zh", "socketio")
    db.expire_all()
    assert (db.get(Conversation, latest.id).csat, db.get(Conversation, latest.id).csat_comment) == (
        4,
        "很好，谢谢 quick answer",
    )
    assert db.get(Conversation, older.id).csat is None
    # A second answer replaces the conversation's CSAT; both rows are kept.
    _post(api, sender_id=sender, kind="csat", rating=2)
    db.expire_all()
    assert db.get(Conversation, latest.id).csat == 2
    assert db.get(Conversation, latest.id).csat_comment is None


def test_kb_answer_rating_does_not_touch_csat(api, db):
    sender = _uid()
    conversation = _conversation(db, sender)
    db.commit()
    body = _post(api, sender_id=sender, kind="kb_answer", rating=0, kb_entry_id="returns-policy")
    passage = _post(api, sender_id=sender, kind="kb_answer", rating=1, kb_entry_id="Shop_Guide#3")
    assert passage["kb_entry_id"] == "Shop_Guide#3"
    assert body["conversation_id"] == conversation.id and body["customer_id"] is None
    assert body["rating"] == 0 and body["kb_entry_id"] == "returns-policy"
    db.expire_all()
    assert db.get(Conversation, conversation.id).csat is None


def test_feedback_without_conversation_waits_unlinked(api):
    body = _post(api, sender_id=_uid(), kind="csat", rating=5)
    assert body["conversation_id"] is None and body["customer_id"] is None


def test_list_and_filters(api, db):
    entry = f"kb-{uuid.uuid4().hex[:10]}"
    sender = _uid()
    first = _post(api, sender_id=sender, kind="kb_answer", rating=1, kb_entry_id=entry)
    second = _post(api, sender_id=sender, kind="kb_answer", rating=0, kb_entry_id=entry)
    csat = _post(api, sender_id=sender, kind="csat", rating=3)
    for who in ("agent", "supervisor", "admin"):
        page = api.client.get(URL, params={"kb_entry_id": entry}, headers=api.as_(who)).json()
        assert page["count"] == 2
        assert [f["id"] for f in page["data"]] == [second["id"], first["id"]]  # newest first
    kinds = api.client.get(URL, params={"kind": "csat"}, headers=api.as_("agent")).json()
    assert csat["id"] in [f["id"] for f in kinds["data"]]
    assert all(f["kind"] == "csat" for f in kinds["data"])
    paged = api.client.get(
        URL, params={"kb_entry_id": entry, "limit": 1, "offset": 1}, headers=api.as_("agent")
    ).json()
    assert paged["count"] == 2 and [f["id"] for f in paged["data"]] == [first["id"]]
    since = api.client.get(
        URL, params={"since": csat["created_at"]}, headers=api.as_("agent")
    ).json()
    assert csat["id"] in [f["id"] for f in since["data"]]
    future = (utcnow() + timedelta(days=1)).isoformat()
    assert api.client.get(URL, params={"since": future}, headers=api.as_("agent")).json() == {
        "data": [],
        "count": 0,
    }
    # Far-away times with offsets are a 4xx or an answer, never a 500.
    for edge in ("0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "2024-01-01"):
        response = api.client.get(URL, params={"since": edge}, headers=api.as_("agent"))
        assert response.status_code in (200, 422), response.text


def test_comment_is_masked_when_transcripts_are(api, db):
    settings = Settings(
        VAR_DIR=api.settings.VAR_DIR,
        DATABASE_URL=api.settings.DATABASE_URL,
        EVENTS_SOURCE="none",
        MASK_STORED_TRANSCRIPTS=True,
    )
    sender = _uid()
    conversation = _conversation(db, sender)
    db.commit()
    with TestClient(create_app(settings)) as client:
        response = client.post(
            URL,
            json={
                "sender_id": sender,
                "kind": "csat",
                "rating": 1,
                "comment": "call me on 13800138000 or li@example.com",
            },
            headers=bot_headers(settings, sender),
        )
    assert response.status_code == 201, response.text
    assert response.json()["comment"] == "call me on [phone] or [email]"
    db.expire_all()
    assert db.get(Feedback, response.json()["id"]).comment == "call me on [phone] or [email]"
    assert db.get(Conversation, conversation.id).csat_comment == "call me on [phone] or [email]"


def test_the_bot_rates_only_its_proofs_conversation(api, db):
    sender, victim = _uid(), _uid()
    conversation = _conversation(db, victim)
    db.commit()
    body = {"sender_id": victim, "kind": "csat", "rating": 1, "comment": "terrible"}
    for headers, code in (
        (api.bot(sender), 403),  # a proof of another conversation
        (api.as_("bot"), 401),  # no proof
        ({**api.as_("bot"), PROOF_HEADER: proof(api.settings, victim, key=FORGED_KEY)}, 401),
        (api.as_("agent"), 403),  # staff read ratings, they do not give them
    ):
        response = api.client.post(URL, json=body, headers=headers)
        assert response.status_code == code, response.text
    db.expire_all()
    assert db.get(Conversation, conversation.id).csat is None
    assert db.scalars(select(Feedback).where(Feedback.sender_id == victim)).all() == []
    # A rating after the proof expired (the customer rated when an agent closed the chat
    # long after their last message) is taken for its own conversation.
    late = api.client.post(URL, json=body, headers=api.bot(victim, age=EXPIRED))
    assert late.status_code == 201, late.text
    db.expire_all()
    assert db.get(Conversation, conversation.id).csat == 1
    # The full key may rate any conversation; the bot may not list ratings.
    full = api.client.post(URL, json={**body, "rating": 3}, headers=api.as_("service"))
    assert full.status_code == 201
    assert api.client.get(URL, headers=api.bot(victim)).status_code == 403
