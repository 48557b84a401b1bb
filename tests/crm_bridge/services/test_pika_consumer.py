"""The Pika consumer against the RabbitMQ server on this machine: at-least-once, stored once."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select

from crm_bridge.models import IngestedEvent, Message
from crm_bridge.services.event_sources import PikaConsumer
from crm_bridge.services.ingest import EventIngestor, RasaEvent
from tests.utils import rasa_events as ev
from tests.utils.rabbit import RABBIT_URL, test_broker

URL = RABBIT_URL


@pytest.fixture
def broker():
    with test_broker() as made:
        yield made.queue, made.exchange, made.publish


def _consume_until(consumer: PikaConsumer, sessions, expected: int, timeout: float = 30) -> int:
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,))
    thread.start()
    deadline = time.monotonic() + timeout
    count = 0
    try:
        while time.monotonic() < deadline:
            with sessions() as session:
                count = session.scalar(select(func.count(Message.id)))
            if count >= expected:
                break
            time.sleep(0.1)
        time.sleep(0.5)  # anything extra would show up now
    finally:
        stop.set()
        thread.join(10)
    with sessions() as session:
        return session.scalar(select(func.count(Message.id)))


def test_redelivered_and_replayed_events_are_stored_once(sessions, broker):
    queue, exchange, publish = broker
    events = []
    for i in range(30):
        sender = f"rest:pika-{i}"
        events += [ev.user(sender, "你好" if i % 2 else "hello"), ev.bot(sender, "hi")]
    consumer = PikaConsumer(
        URL, queue, exchange, sessions, EventIngestor(None, timedelta(minutes=30)), batch_size=7
    )
    publish(events[:40])
    assert _consume_until(consumer, sessions, 40) == 40
    # The broker delivers again what it already delivered (at-least-once), plus the rest.
    publish(events)
    assert _consume_until(consumer, sessions, 60) == 60


def test_malformed_messages_are_skipped(sessions, broker):
    queue, exchange, publish = broker
    publish([{"not": "an event"}, ev.user("rest:ok-sender", "hello")])
    consumer = PikaConsumer(
        URL, queue, exchange, sessions, EventIngestor(None, timedelta(minutes=30))
    )
    assert _consume_until(consumer, sessions, 1) == 1


def test_a_turn_published_as_one_message_is_stored_whole(sessions, broker):
    # bot/components/pika_broker.py publishes a saved turn as a JSON array of its events.
    queue, exchange, publish = broker
    sender = "rest:turn-sender"
    turn = [ev.user(sender, "我的订单呢"), {"not": "an event"}, ev.bot(sender, "好的")]
    publish([turn, ev.user("rest:single-sender", "hello")])
    consumer = PikaConsumer(
        URL, queue, exchange, sessions, EventIngestor(None, timedelta(minutes=30))
    )
    assert _consume_until(consumer, sessions, 3) == 3
    with sessions() as session:
        texts = session.scalars(select(Message.text).order_by(Message.id)).all()
    assert texts == ["我的订单呢", "好的", "hello"]


def test_steady_traffic_is_stored_while_it_lasts(sessions, broker):
    # The queue never pauses for the consumer's interval; a batch must not wait until it is full.
    queue, exchange, publish = broker
    consumer = PikaConsumer(
        URL, queue, exchange, sessions, EventIngestor(None, timedelta(minutes=30)), batch_size=500
    )
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,))
    thread.start()
    stored_meanwhile = 0
    try:
        for i in range(120):  # 0.025 s apart: 3 s of traffic, never a 0.2 s pause
            publish([ev.user(f"rest:steady-{i}", "hello")])
            time.sleep(0.025)
            if i == 100:
                with sessions() as session:
                    stored_meanwhile = session.scalar(select(func.count(Message.id)))
    finally:
        stop.set()
        thread.join(10)
    assert stored_meanwhile > 0


def test_an_event_the_bridge_stored_meanwhile_does_not_fail_its_batch(sessions, caplog):
    # An agent's reply is stored by the bridge itself (services/handoff.py) under the key its
    # event gets when Rasa publishes it. That commit can land between the batch's check of
    # seen keys and its insert: the batch failed on the unique key (an ERROR with a traceback,
    # the consumer reconnected and got the batch again a second later).
    sender = "rest:race-sender"
    reply = ev.bot(sender, "an agent's reply")
    turn = [ev.user(sender, "hello"), reply, ev.user(sender, "thanks")]
    engine = sessions.kw["bind"]
    checks = []

    def store_the_reply_meanwhile(_conn, _cursor, statement, *_args) -> None:
        if statement.lstrip().startswith("SELECT") and "FROM ingested_events" in statement:
            checks.append(statement)
            if len(checks) == 1:
                with sessions() as other, other.begin():
                    other.add(
                        IngestedEvent(key=RasaEvent.from_data(reply).key, at=datetime.now(UTC))
                    )

    event.listen(engine, "after_cursor_execute", store_the_reply_meanwhile)
    consumer = PikaConsumer(
        URL, "unused", "unused", sessions, EventIngestor(None, timedelta(minutes=30))
    )
    with caplog.at_level(logging.INFO, logger="crm_bridge.services.event_sources"):
        consumer._store([json.dumps(turn).encode()])
    event.remove(engine, "after_cursor_execute", store_the_reply_meanwhile)
    assert len(checks) == 2  # applied once more
    with sessions() as session:
        texts = session.scalars(select(Message.text).order_by(Message.at)).all()
        keys = session.scalar(select(func.count()).select_from(IngestedEvent))
    assert texts == ["hello", "thanks"]  # the reply is the bridge's to store (here: its key only)
    assert keys == 3
    assert "stored meanwhile by the bridge itself" in caplog.text
