"""A throw-away RabbitMQ topology like the one Rasa's Pika event broker declares."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pika

RABBIT_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


@dataclass
class TestBroker:
    """A fanout exchange and a durable queue bound to it, with a way to publish events."""

    __test__ = False  # not a pytest test class

    queue: str
    exchange: str
    channel: Any

    def publish(self, events: list[dict]) -> None:
        """Publish Rasa events (JSON, persistent) to the exchange."""
        for event in events:
            self.channel.basic_publish(
                self.exchange,
                "",
                json.dumps(event).encode(),
                pika.BasicProperties(delivery_mode=2),
            )

    def consumers(self) -> int:
        """How many consumers the queue has."""
        return self.channel.queue_declare(self.queue, passive=True).method.consumer_count


@contextmanager
def test_broker(prefix: str = "csa-test") -> Iterator[TestBroker]:
    """Declare a unique exchange and queue on the local RabbitMQ; delete them afterwards."""
    suffix = uuid.uuid4().hex[:8]
    queue, exchange = f"{prefix}-{suffix}", f"{prefix}-exchange-{suffix}"
    connection = pika.BlockingConnection(pika.URLParameters(RABBIT_URL))
    channel = connection.channel()
    channel.exchange_declare(exchange, exchange_type="fanout", durable=False)
    channel.queue_declare(queue, durable=True)
    channel.queue_bind(queue, exchange)
    try:
        yield TestBroker(queue, exchange, channel)
    finally:
        channel.queue_delete(queue)
        channel.exchange_delete(exchange)
        connection.close()


test_broker.__test__ = False  # a helper, not a test
