"""Scale-out event path: Rasa's Pika broker -> RabbitMQ on this machine -> the bridge."""

from __future__ import annotations

import sqlite3
import time
import uuid

import pika
import pytest

from tests.e2e.conftest import running_stack

pytestmark = pytest.mark.slow
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


@pytest.fixture(scope="module")
def pika_stack(tmp_path_factory):
    suffix = uuid.uuid4().hex[:8]
    queue, exchange = f"csa-test-{suffix}", f"csa-test-exchange-{suffix}"
    try:
        with running_stack(
            tmp_path_factory.mktemp("var-pika"),
            EVENT_BROKER="pika",
            RABBITMQ_URL=RABBITMQ_URL,
            RABBITMQ_QUEUE=queue,
            RABBITMQ_EXCHANGE=exchange,
        ) as stack:
            yield stack
    finally:
        connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
        channel = connection.channel()
        channel.queue_delete(queue)
        channel.exchange_delete(exchange)
        connection.close()


def test_turns_arrive_through_rabbitmq_exactly_once(pika_stack):
    senders = []
    for i in range(10):
        sender = f"pika-{i}-{uuid.uuid4().hex[:6]}"
        for text in ["你好", "谢谢"] if i % 2 == 0 else ["hello", "thanks"]:
            assert pika_stack.say(sender, text)
        senders.append(pika_stack.rest_key(sender))  # the CRM keys conversations as Rasa does
    assert not (pika_stack.var_dir / "rasa" / "events.db").exists()  # no SQL outbox in use
    crm = pika_stack.var_dir / "crm.db"

    def stored() -> int:
        with sqlite3.connect(crm) as db:
            return db.execute(
                "SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id "
                f"WHERE c.sender_id IN ({','.join('?' * len(senders))})",
                senders,
            ).fetchone()[0]

    deadline = time.monotonic() + 60
    while stored() < 40 and time.monotonic() < deadline:
        time.sleep(0.25)
    time.sleep(1)
    assert stored() == 40
    with sqlite3.connect(crm) as db:
        languages = dict(db.execute("SELECT sender_id, language FROM conversations").fetchall())
    assert [languages[s] for s in senders] == ["zh", "en"] * 5
