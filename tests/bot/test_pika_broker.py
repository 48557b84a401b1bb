"""bot/components/pika_broker.py against the RabbitMQ server on this machine, in Rasa's env.

A saved turn (``publish_many``) arrives as one persistent message holding a JSON array of the
events in order; a single event stays a JSON object; ``publish`` is Rasa's.
"""

from __future__ import annotations

import json

import pika

from tests.bot.in_rasa_env import run_check
from tests.utils.rabbit import RABBIT_URL, test_broker

CHECK = r"""
import asyncio, os
from rasa.utils.endpoints import EndpointConfig
from components.pika_broker import TurnPikaEventBroker


async def main():
    config = EndpointConfig(
        url="127.0.0.1", type="components.pika_broker.TurnPikaEventBroker",
        username="guest", password="guest", queues=[os.environ["CHECK_QUEUE"]],
        exchange_name=os.environ["CHECK_EXCHANGE"],
    )
    broker = await TurnPikaEventBroker.from_endpoint_config(config)
    turn = [{"event": "user", "sender_id": "s", "text": f"m{i}"} for i in range(3)]
    broker.publish_many(turn)
    broker.publish_many([{"event": "bot", "sender_id": "s", "text": "one"}])
    broker.publish_many([])
    broker.publish({"event": "bot", "sender_id": "s", "text": "plain"})
    while broker._background_tasks:
        await asyncio.sleep(0.05)
    await broker.close()
    print("published")


asyncio.run(main())
"""


def test_a_turn_is_one_message_and_single_events_stay_objects(monkeypatch):
    with test_broker() as made:
        monkeypatch.setenv("CHECK_QUEUE", made.queue)
        monkeypatch.setenv("CHECK_EXCHANGE", made.exchange)
        run_check(CHECK, "published")
        connection = pika.BlockingConnection(pika.URLParameters(RABBIT_URL))
        try:
            channel = connection.channel()
            bodies = []
            while (got := channel.basic_get(made.queue, auto_ack=True))[0] is not None:
                method, properties, body = got
                assert properties.delivery_mode == 2  # persistent, as Rasa's
                bodies.append(json.loads(body))
        finally:
            connection.close()
    assert bodies == [
        [{"event": "user", "sender_id": "s", "text": f"m{i}"} for i in range(3)],
        {"event": "bot", "sender_id": "s", "text": "one"},
        {"event": "bot", "sender_id": "s", "text": "plain"},
    ]
