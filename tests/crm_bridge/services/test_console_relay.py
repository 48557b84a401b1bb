"""The Redis relay of console events between bridge instances, Redis outages included.

Two hubs (two instances) relay through the Redis server on this machine, reached through a
small TCP proxy that the test can cut: while Redis is unreachable each instance still serves
its own consoles; afterwards the relay reconnects by itself and the consoles refresh.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import suppress
from urllib.parse import urlsplit

import pytest

from crm_bridge.services.console_hub import Audience, ConsoleClient, ConsoleHub
from crm_bridge.services.console_relay import RedisRelay
from tests.crm_bridge.instances import REDIS_URL


class Proxy:
    """A TCP forwarder to Redis that can be taken down and brought back on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._server: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self.up()

    def up(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen()
        self.port = server.getsockname()[1]
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def down(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, []
            server, self._server = self._server, None
        for sock in [*sockets, server]:
            if sock is not None:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


class Loop:
    """An event loop in a thread, as the server's; consoles register on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)

    def console(self, hub: ConsoleHub, agent_id: int | None, role: str) -> ConsoleClient:
        async def register() -> ConsoleClient:
            client = hub.register(agent_id, role)
            client.queue_dirty.clear()
            return client

        return self.run(register())

    def events(self, client: ConsoleClient, settle: float = 0.5) -> list[dict]:
        time.sleep(settle)

        async def take() -> list[dict]:
            items = []
            while not client.outbox.empty():
                items.append(client.outbox.get_nowait())
            return items

        return self.run(take())

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


def _wait(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def loop() -> Iterator[Loop]:
    loop = Loop()
    yield loop
    loop.stop()


def _relays(url: str, count: int = 2) -> list[tuple[ConsoleHub, RedisRelay]]:
    channel = f"csa-test-relay:{uuid.uuid4().hex}"
    pairs = []
    for _ in range(count):
        hub = ConsoleHub()
        relay = RedisRelay(hub, url, channel, max_backoff=0.5)
        relay.start()
        pairs.append((hub, relay))
    for _, relay in pairs:
        assert relay.wait_subscribed(10)
    return pairs


def test_events_reach_every_instance_once_with_their_audience(loop):
    (hub_a, relay_a), (hub_b, relay_b) = _relays(REDIS_URL)
    try:
        agent_a = loop.console(hub_a, 1, "agent")
        agent_b = loop.console(hub_b, 1, "agent")
        other_b = loop.console(hub_b, 2, "agent")
        boss_b = loop.console(hub_b, 3, "supervisor")
        hub_a.publish({"type": "handoff", "n": 1}, Audience(agent_id=1))
        hub_a.publish({"type": "agent", "n": 2}, Audience(agent_id=2, supervisors=False))
        hub_a.publish({"type": "message", "n": 3}, Audience(everyone=True))
        hub_a.publish({"type": "broadcast", "n": 4})
        assert [e["n"] for e in loop.events(agent_a)] == [1, 3, 4]  # local: once, not echoed
        assert [e["n"] for e in loop.events(agent_b)] == [1, 3, 4]
        assert [e["n"] for e in loop.events(other_b)] == [2, 3, 4]
        assert [e["n"] for e in loop.events(boss_b)] == [1, 3, 4]
        hub_a.queue_changed()
        _wait(lambda: all(c.queue_dirty.is_set() for c in (agent_a, agent_b, other_b, boss_b)))
    finally:
        relay_a.stop()
        relay_b.stop()


def test_redis_going_away_and_coming_back(loop, caplog):
    caplog.set_level(logging.INFO, logger="crm_bridge.services.console_relay")
    target = urlsplit(REDIS_URL)
    proxy = Proxy((target.hostname or "127.0.0.1", target.port or 6379))
    url = f"redis://127.0.0.1:{proxy.port}{target.path}"
    (hub_a, relay_a), (hub_b, relay_b) = _relays(url)
    try:
        here = loop.console(hub_a, 1, "agent")
        there = loop.console(hub_b, 1, "agent")
        hub_a.publish({"type": "message", "n": 1}, Audience(agent_id=1))
        assert len(loop.events(there)) == 1 and len(loop.events(here)) == 1

        proxy.down()
        _wait(lambda: not relay_a.connected and not relay_b.connected)
        assert "unreachable" in caplog.text
        hub_a.publish({"type": "message", "n": 2}, Audience(agent_id=1))
        assert [e["n"] for e in loop.events(here)] == [2]  # local delivery goes on
        assert loop.events(there) == []

        proxy.up()
        _wait(lambda: relay_a.connected and relay_b.connected)
        assert "Redis is back" in caplog.text
        assert there.queue_dirty.is_set()  # it may have missed something: refresh the queue
        _wait(lambda: _delivered(hub_a, loop, there, n=3))
        assert len(loop.events(here)) >= 1
    finally:
        relay_a.stop()
        relay_b.stop()
        proxy.down()


def _delivered(hub: ConsoleHub, loop: Loop, client: ConsoleClient, n: int) -> bool:
    """Publish ``n`` until it arrives (the publisher may still be backing off)."""
    hub.publish({"type": "message", "n": n}, Audience(agent_id=1))
    return any(e["n"] == n for e in loop.events(client, settle=0.3))
