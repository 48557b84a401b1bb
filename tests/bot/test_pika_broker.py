"""bot/components/pika_broker.py against the RabbitMQ server on this machine, in Rasa's env.

A saved turn (``publish_many``) arrives as one persistent message holding a JSON array of the
events in order; a single event stays a JSON object; ``publish`` is Rasa's. Turns published
while a (private) RabbitMQ node is down are kept and arrive, each once, when it is back.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading

import pika
import pytest

from devtools.config import ROOT, LauncherSettings
from tests.bot.in_rasa_env import run_check
from tests.utils.private_servers import PrivateRabbitMQ
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
    # A turn saved before the exchange is declared is kept, then published, not dropped.
    broker = TurnPikaEventBroker(config.url, **config.kwargs)
    broker.publish_many([{"event": "user", "sender_id": "s", "text": "early"}])
    while broker._background_tasks:
        await asyncio.sleep(0.05)
    assert len(broker._unpublished_events) == 1, broker._unpublished_events
    await broker.connect()
    while broker._unpublished_events:
        await asyncio.sleep(0.05)
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
        {"event": "user", "sender_id": "s", "text": "early"},
        [{"event": "user", "sender_id": "s", "text": f"m{i}"} for i in range(3)],
        {"event": "bot", "sender_id": "s", "text": "one"},
        {"event": "bot", "sender_id": "s", "text": "plain"},
    ]


RETRY_CHECK = r"""
import asyncio, os, sys
from rasa.utils.endpoints import EndpointConfig
from components.pika_broker import TurnPikaEventBroker


def say(line):
    print(line, flush=True)


async def heard(expected):
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    assert line.strip() == expected, line


async def settled(broker):
    while broker._background_tasks:
        await asyncio.sleep(0.05)


def turn(text):
    return [{"event": "user", "sender_id": "s", "text": text},
            {"event": "bot", "sender_id": "s", "text": "re " + text}]


async def main():
    config = EndpointConfig(
        url="127.0.0.1", port=int(os.environ["CHECK_PORT"]),
        type="components.pika_broker.TurnPikaEventBroker", username="guest", password="guest",
        queues=[os.environ["CHECK_QUEUE"]], exchange_name="csa-retry-test",
    )
    broker = await TurnPikaEventBroker.from_endpoint_config(config)
    say("connected")
    await heard("killed")
    for n in range(3):
        broker.publish_many(turn(f"down {n}"))
    await settled(broker)
    assert len(broker._unpublished_events) == 3, broker._unpublished_events
    say("kept")
    await heard("restarted")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 90
    while broker._unpublished_events and loop.time() < deadline:
        await asyncio.sleep(0.2)
    assert not broker._unpublished_events, broker._unpublished_events
    broker.publish_many(turn("after"))
    await settled(broker)
    await broker.close()
    say("drained")


asyncio.run(main())
"""


def _expect(process: subprocess.Popen, line: str) -> None:
    for got in process.stdout:
        if got.strip() == line:
            return
    raise AssertionError(f"the check ended before saying {line!r}")


@pytest.mark.slow
def test_turns_published_while_rabbitmq_is_down_arrive_once_it_is_back(tmp_path):
    (tmp_path / "rabbitmq").mkdir()
    node = PrivateRabbitMQ(tmp_path / "rabbitmq")
    node.start()
    errors = (tmp_path / "check.err").open("w")
    check = subprocess.Popen(
        [str(LauncherSettings().bot_python), "-c", RETRY_CHECK],
        cwd=ROOT / "bot",
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
        env={**os.environ, "CHECK_PORT": str(node.port), "CHECK_QUEUE": "csa-retry"},
    )
    watchdog = threading.Timer(300, check.kill)
    watchdog.start()
    try:
        _expect(check, "connected")
        node.kill()
        check.stdin.write("killed\n")
        check.stdin.flush()
        _expect(check, "kept")
        node.start()
        check.stdin.write("restarted\n")
        check.stdin.flush()
        _expect(check, "drained")
        assert check.wait(30) == 0
        connection = pika.BlockingConnection(pika.URLParameters(node.url))
        try:
            channel = connection.channel()
            bodies = []
            while (got := channel.basic_get("csa-retry", auto_ack=True))[0] is not None:
                bodies.append(json.loads(got[2]))
        finally:
            connection.close()
    except AssertionError as err:
        check.kill()
        raise AssertionError(f"{err}\n{(tmp_path / 'check.err').read_text()[-3000:]}") from err
    finally:
        watchdog.cancel()
        check.kill()
        errors.close()
        node.stop()
    # Each turn once and whole; the kept turns go out in the order their publishes failed
    # (concurrent publish tasks), which need not be the order they were sent in.
    texts = sorted([event["text"] for event in body] for body in bodies)
    assert texts == [[text, "re " + text] for text in ("after", "down 0", "down 1", "down 2")]
