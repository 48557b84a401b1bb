from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

from crm_bridge.models import (
    Conversation,
    ConversationStatus,
    Escalation,
    EscalationStatus,
    Feedback,
    FeedbackKind,
)

DAY = datetime(2024, 3, 5, 10, tzinfo=UTC)  # a day no other test writes to


def _conversation(db, channel, language, status, sentiment, csat=None, nps=None, at=DAY):
    conversation = Conversation(
        sender_id=f"{channel}:{uuid.uuid4().hex}",  # Rasa's conversation key
        channel=channel,
        language=language,
        status=status,
        started_at=at,
        last_event_at=at,
        ended_at=at + timedelta(minutes=5),
        customer_messages=2,
        sentiment_mean=sentiment,
        sentiment_min=sentiment - 0.2,
        csat=csat,
        nps=nps,
    )
    db.add(conversation)
    db.flush()
    return conversation


def test_kpis_by_channel(api, db):
    _conversation(db, "rest", "zh", ConversationStatus.RESOLVED_BY_BOT, 0.4, csat=5, nps=10)
    _conversation(db, "rest", "en", ConversationStatus.RESOLVED_BY_BOT, 0.2, csat=4, nps=9)
    handed = _conversation(
        db, "telegram", "zh", ConversationStatus.RESOLVED_BY_AGENT, -0.6, csat=2, nps=3
    )
    db.add(
        Escalation(
            conversation_id=handed.id,
            reason="asked_for_human",
            status=EscalationStatus.RESOLVED,
            created_at=DAY,
            first_response_at=DAY + timedelta(seconds=30),
            resolved_at=DAY + timedelta(minutes=10),
        )
    )
    db.commit()
    params = {"start": "2024-03-05T00:00:00Z", "end": "2024-03-06T00:00:00Z"}
    rows = api.client.get(
        "/api/v1/kpis", params={**params, "group_by": "channel"}, headers=api.as_("supervisor")
    ).json()
    by = {r["group"]: r for r in rows}
    assert by["rest"]["conversations"] == 2 and by["rest"]["automation_rate"] == 1.0
    assert by["rest"]["nps"] == 100.0 and by["rest"]["csat"] == 4.5
    assert by["telegram"]["escalation_rate"] == 1.0 and by["telegram"]["automation_rate"] == 0.0
    assert by["telegram"]["first_response_seconds"] == 30.0
    assert by["telegram"]["resolution_seconds"] == 600.0
    total = api.client.get(
        "/api/v1/kpis", params={**params, "group_by": "all"}, headers=api.as_("admin")
    ).json()[0]
    assert total["conversations"] == 3
    assert abs(total["automation_rate"] - 2 / 3) < 1e-3
    assert total["nps"] == round(100 * (2 - 1) / 3, 1)
    assert total["sentiment_worst"] == -0.8


def test_export_csv(api, db):
    _conversation(
        db, "socketio", "zh", ConversationStatus.ABANDONED, 0.0, at=DAY + timedelta(days=1)
    )
    db.commit()
    response = api.client.get(
        "/api/v1/export/conversations.csv",
        params={"start": "2024-03-06T00:00:00Z", "end": "2024-03-07T00:00:00Z"},
        headers=api.as_("admin"),
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert len(rows) == 1 and rows[0]["status"] == "abandoned" and rows[0]["channel"] == "socketio"
    assert rows[0]["sender_id"].startswith("socketio:")  # the conversation key, as stored


def test_bad_range_is_rejected(api):
    response = api.client.get(
        "/api/v1/kpis",
        params={"start": "2024-03-06T00:00:00Z", "end": "2024-03-05T00:00:00Z"},
        headers=api.as_("admin"),
    )
    assert response.status_code == 422


def test_kb_helpfulness_rate(api, db):
    at = DAY + timedelta(days=3)
    zh = _conversation(db, "kbtest", "zh", ConversationStatus.RESOLVED_BY_BOT, 0.1, at=at)
    en = _conversation(db, "kbtest", "en", ConversationStatus.RESOLVED_BY_BOT, 0.1, at=at)
    _conversation(db, "kbtest", "en", ConversationStatus.RESOLVED_BY_BOT, 0.1, at=at)
    for conversation, kind, rating in [
        (zh, FeedbackKind.KB_ANSWER, 1),
        (zh, FeedbackKind.KB_ANSWER, 1),
        (zh, FeedbackKind.KB_ANSWER, 0),
        (zh, FeedbackKind.CSAT, 1),  # not a KB rating
        (en, FeedbackKind.KB_ANSWER, 0),
    ]:
        db.add(
            Feedback(
                sender_id=conversation.sender_id,
                conversation_id=conversation.id,
                kind=kind,
                rating=rating,
                kb_entry_id="returns" if kind == FeedbackKind.KB_ANSWER else None,
            )
        )
    db.commit()
    params = {"start": "2024-03-08T00:00:00Z", "end": "2024-03-09T00:00:00Z"}
    rows = api.client.get(
        "/api/v1/kpis", params={**params, "group_by": "language"}, headers=api.as_("supervisor")
    ).json()
    by = {r["group"]: r for r in rows}
    assert by["zh"]["kb_helpful_rate"] == round(2 / 3, 4) and by["zh"]["kb_ratings"] == 3
    assert by["en"]["kb_helpful_rate"] == 0.0 and by["en"]["kb_ratings"] == 1
    empty = api.client.get(
        "/api/v1/kpis",
        params={"start": "2024-03-05T00:00:00Z", "end": "2024-03-06T00:00:00Z", "group_by": "all"},
        headers=api.as_("admin"),
    ).json()[0]
    assert empty["kb_helpful_rate"] is None and empty["kb_ratings"] == 0
