"""Rasa events become conversations and messages, each exactly once (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from channels.proofs import issue
from sqlalchemy import func, select

from crm_bridge.models import Conversation, ConversationStatus, Message, MessageRole
from crm_bridge.services.ingest import EventIngestor, RasaEvent
from tests.utils import rasa_events as ev
from tests.utils.factories import make_customer


def _ingest(sessions, payloads, scorer=None, idle_minutes=30.0) -> int:
    ingestor = EventIngestor(scorer=scorer, idle_timeout=timedelta(minutes=idle_minutes))
    with sessions() as session, session.begin():
        return ingestor.apply(session, [RasaEvent(p["sender_id"], p) for p in payloads])


def test_a_conversation_with_turns_language_and_sentiment(sessions, sentiment_scorer):
    events = [
        ev.simple("rest:s1", "action", name="action_session_start"),
        ev.simple("rest:s1", "session_started"),
        ev.user("rest:s1", "你好", language="zh"),
        ev.bot("rest:s1", "您好！", utter_action="utter_greet"),
        ev.user("rest:s1", "太差了，我要投诉", intent="complain", language="zh"),
        ev.bot("rest:s1", "非常抱歉", kb_entry_id="complaints", kb_confidence=0.81),
        ev.user("rest:s1", "谢谢", intent="thank", language="zh"),
    ]
    assert _ingest(sessions, events, scorer=sentiment_scorer) == len(events)
    with sessions() as session:
        conversation = session.scalars(select(Conversation)).one()
        assert conversation.language == "zh"
        assert conversation.channel == "rest"
        assert conversation.customer_messages == 3
        messages = conversation.messages
        scores = [m.sentiment_score for m in messages if m.role == MessageRole.CUSTOMER]
        assert all(-1 <= score <= 1 for score in scores)
        assert conversation.sentiment_min == min(scores) == scores[1] < -0.5
        assert abs(conversation.sentiment_mean - sum(scores) / 3) < 1e-6
        assert conversation.sentiment_trend is not None
        assert [m.role for m in messages] == [
            MessageRole.CUSTOMER,
            MessageRole.BOT,
            MessageRole.CUSTOMER,
            MessageRole.BOT,
            MessageRole.CUSTOMER,
        ]
        assert messages[2].intent == "complain" and messages[2].sentiment_label == "negative"
        assert messages[3].kb_entry_id == "complaints" and messages[3].kb_score == 0.81
        assert messages[0].at.tzinfo is not None


def test_replayed_events_are_not_stored_twice(sessions):
    events = [ev.user("rest:s2", "hello", language="en"), ev.bot("rest:s2", "Hi!")]
    assert _ingest(sessions, events) == 2
    assert _ingest(sessions, events) == 0
    assert _ingest(sessions, [*events, ev.user("rest:s2", "thanks", language="en")]) == 1
    with sessions() as session:
        assert session.scalar(select(func.count(Message.id))) == 3
        assert session.scalar(select(func.count(Conversation.id))) == 1


def test_new_session_and_idle_gap_start_new_conversations(sessions):
    first = ev.user("rest:s3", "hello")
    events = [
        first,
        ev.bot("rest:s3", "Hi!"),
        ev.simple("rest:s3", "session_started"),
        ev.user("rest:s3", "back again"),
    ]
    late = ev.user("rest:s3", "still there?")
    late["timestamp"] = events[-1]["timestamp"] + 31 * 60
    _ingest(sessions, [*events, late])
    with sessions() as session:
        conversations = session.scalars(select(Conversation).order_by(Conversation.id)).all()
        assert len(conversations) == 3
        assert conversations[0].status == ConversationStatus.RESOLVED_BY_BOT
        assert conversations[0].ended_at is not None
        assert conversations[1].ended_at is not None
        assert conversations[2].ended_at is None


def test_pause_agent_reply_and_resume(sessions):
    events = [
        ev.user("rest:s4", "转人工", intent="human_handoff", language="zh"),
        ev.simple("rest:s4", "pause"),
    ]
    _ingest(sessions, events)
    with sessions() as session:
        assert (
            session.scalars(select(Conversation)).one().status
            == ConversationStatus.WAITING_FOR_AGENT
        )
    _ingest(sessions, [ev.bot("rest:s4", "您好，我是客服小王", agent="小王")])
    with sessions() as session:
        conversation = session.scalars(select(Conversation)).one()
        assert conversation.status == ConversationStatus.WITH_AGENT
        assert conversation.messages[-1].role == MessageRole.AGENT
    _ingest(sessions, [ev.simple("rest:s4", "resume"), ev.simple("rest:s4", "restart")])
    with sessions() as session:
        conversation = session.scalars(select(Conversation)).one()
        assert conversation.ended_at is not None
        assert conversation.status == ConversationStatus.RESOLVED_BY_BOT


def test_button_payloads_are_not_scored(sessions, sentiment_scorer):
    _ingest(sessions, [ev.user("rest:s5", "/affirm", intent="affirm")], scorer=sentiment_scorer)
    with sessions() as session:
        message = session.scalars(select(Message)).one()
        assert message.sentiment_score is None


def test_malformed_payloads_are_rejected():
    for raw in ("[]", '{"no": "event"}', '{"event": "user"}', "not json"):
        try:
            RasaEvent.from_json(raw)
        except ValueError:
            continue
        raise AssertionError(f"accepted {raw!r}")


def test_transcripts_can_be_stored_masked(sessions):
    ingestor = EventIngestor(scorer=None, idle_timeout=timedelta(minutes=30), mask_transcripts=True)
    events = [
        ev.user("rest:s6", "我的手机是13800138000"),
        ev.bot("rest:s6", "已记录 li@example.com"),
    ]
    with sessions() as session, session.begin():
        ingestor.apply(session, [RasaEvent(p["sender_id"], p) for p in events])
    with sessions() as session:
        texts = session.scalars(select(Message.text).order_by(Message.id)).all()
    assert texts == ["我的手机是[phone]", "已记录 [email]"]


def test_a_recreated_broker_table_is_read_from_the_start(sessions, tmp_path):
    import json as json_lib
    import sqlite3

    from crm_bridge.services.event_sources import SqlBrokerTail

    events_db = tmp_path / "events.db"

    def write(rows):
        with sqlite3.connect(events_db) as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, sender_id TEXT,"
                " data TEXT)"
            )
            db.executemany(
                "INSERT INTO events (sender_id, data) VALUES (?, ?)",
                [(r["sender_id"], json_lib.dumps(r)) for r in rows],
            )

    write(
        [
            ev.user("rest:r1", "hello", language="en"),
            ev.bot("rest:r1", "Hi!"),
            ev.user("rest:r1", "ok"),
        ]
    )
    tail = SqlBrokerTail(
        f"sqlite:///{events_db}", sessions, EventIngestor(None, timedelta(minutes=30))
    )
    assert tail.poll_once() == 3
    events_db.unlink()  # Rasa's broker database deleted; the CRM keeps its position (3)
    write([ev.user("rest:r2", "你好", language="zh")])
    assert tail.poll_once() == 0  # notices the reset
    assert tail.poll_once() == 1
    with sessions() as session:
        senders = set(session.scalars(select(Conversation.sender_id)))
    assert senders == {"rest:r1", "rest:r2"}
    tail.engine.dispose()


def test_chat_accounts_are_found_by_their_plain_id_on_their_own_channel(sessions):
    # Rasa keys conversations "<channel>:<sender>"; the CRM knows the account by its OpenID.
    with sessions() as session, session.begin():
        follower = make_customer(session, identities=[("wechat", "oFollower1", True)]).id
        visitor = make_customer(session, identities=[("socketio", "w_visitor", True)]).id
    events = [
        ev.user("wechat:oFollower1", "你好", input_channel="wechat"),
        ev.user("socketio:w_visitor", "hello", input_channel="socketio"),
        # A REST client naming the follower's id, or the visitor's key as its sender, is
        # another conversation and nobody's.
        ev.user("rest:oFollower1", "我是他", input_channel="rest"),
        ev.user("rest:socketio:w_visitor", "me too", input_channel="rest"),
    ]
    _ingest(sessions, events)
    with sessions() as session:
        owners = dict(
            session.execute(select(Conversation.sender_id, Conversation.customer_id)).all()
        )
    assert owners == {
        "wechat:oFollower1": follower,
        "socketio:w_visitor": visitor,
        "rest:oFollower1": None,
        "rest:socketio:w_visitor": None,
    }


def test_the_identity_proof_is_not_stored(sessions):
    token = issue("k" * 32, conversation="socketio:w_p", channel="socketio", site_user="shop-1")
    metadata = {"csa_proof": token, "language": "zh", "page": "/checkout"}
    _ingest(
        sessions, [ev.user("socketio:w_p", "我的积分", input_channel="socketio", metadata=metadata)]
    )
    with sessions() as session:
        message = session.scalars(select(Message)).one()
        dumped = repr(message.extra)
    assert message.extra["metadata"] == {"language": "zh", "page": "/checkout"}
    assert token not in dumped and "csa_proof" not in dumped
