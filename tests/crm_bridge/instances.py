"""Helpers for tests of several bridge instances: fake Rasa, broker rows, console readers."""

from __future__ import annotations

import json
import os
import queue
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from crm_bridge.core.config import Settings
from crm_bridge.main import create_app
from crm_bridge.migrations import upgrade
from crm_bridge.models import AgentRole
from tests.utils.databases import postgres_database
from tests.utils.factories import PASSWORD, make_agent
from tests.utils.proofs import bot_headers

REDIS_URL = os.environ.get("CSA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class FakeRasa:
    """Takes what the bridge says to Rasa (no bot server in these tests)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls: list[tuple[Any, ...]] = []
        self._lock = threading.Lock()

    def _record(self, *call: Any) -> None:
        time.sleep(self.delay)
        with self._lock:
            self.calls.append(call)

    def say(self, sender_id, text, metadata, output_channel=None, timestamp=None) -> dict:
        self._record("say", sender_id, text)
        return {
            "event": "bot",
            "text": text,
            "timestamp": timestamp if timestamp is not None else time.time(),
            "data": {},
            "metadata": metadata,
        }

    def resume(self, sender_id) -> None:
        self._record("resume", sender_id)

    def execute(self, sender_id, action, slots=None, output_channel=None) -> None:
        self._record("execute", sender_id, action)


def write_broker_rows(events_db: Path, events: Iterable[dict]) -> None:
    """Append events to a Rasa SQL-broker table (what Rasa's SQL event broker writes)."""
    with sqlite3.connect(events_db) as db:
        db.execute(
            "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, sender_id TEXT, data TEXT)"
        )
        db.executemany(
            "INSERT INTO events (sender_id, data) VALUES (?, ?)",
            [(e["sender_id"], json.dumps(e)) for e in events],
        )


@dataclass
class Bridges:
    """Two bridge apps on one PostgreSQL CRM and one Redis channel."""

    a: TestClient
    b: TestClient
    url: str
    events_db: Path
    rasa: FakeRasa = field(default_factory=FakeRasa)

    def agent(self, role: AgentRole = AgentRole.AGENT, **fields: Any) -> dict[str, Any]:
        """A new console user; ``{"id", "login", "headers", "token"}``."""
        with self.a.app.state.session_factory() as session:
            agent = make_agent(session, role, **fields)
            session.commit()
            login, agent_id = agent.login, agent.id
        response = self.b.post(
            "/api/v1/login/access-token", data={"username": login, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        token = response.json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        return {"id": agent_id, "login": login, "token": token, "headers": headers}

    @property
    def service(self) -> dict[str, str]:
        return {"X-API-Key": self.a.app.state.settings.api_key.get_secret_value()}

    def bot(self, conversation: str) -> dict[str, str]:
        """The bot's key and a proof for ``conversation`` (the instances share their secrets,
        so either accepts what the action server sends)."""
        return bot_headers(self.a.app.state.settings, conversation)

    def open(self, client: TestClient, sender: str, language: str = "zh") -> dict[str, Any]:
        """The bot hands over the conversation ``sender`` (a key: ``socketio:…``)."""
        body = {
            "sender_id": sender,
            "reason": "asked_for_human",
            "language": language,
            "channel": sender.split(":", 1)[0],
            "transcript": [{"role": "customer", "text": "转人工", "intent": "human_handoff"}],
        }
        response = client.post("/api/v1/handoff", json=body, headers=self.bot(sender))
        assert response.status_code == 201, response.text
        return response.json()


@contextmanager
def two_bridges(tmp_path: Path, **overrides: Any) -> Iterator[Bridges]:
    """Instances A and B of the bridge: same PostgreSQL CRM, same secrets, same Redis channel."""
    events_db = tmp_path / "events.db"
    with postgres_database() as url, ExitStack() as stack:
        upgrade(url)
        options: dict[str, Any] = {
            "VAR_DIR": tmp_path / "var",  # shared secrets, as a deployment shares them
            "DATABASE_URL": url,
            "EVENTS_SOURCE": "none",
            "EVENTS_DB_URL": f"sqlite:///{events_db}",
            "FANOUT_URL": REDIS_URL,
            "FANOUT_CHANNEL": f"csa-test-console:{uuid.uuid4().hex}",
            "INGEST_LEADER_RETRY_SECONDS": 0.5,
            "RASA_TIMEOUT": 0.5,
            **overrides,
        }
        clients = []
        for _ in "ab":
            app = create_app(Settings(**options))
            clients.append(stack.enter_context(TestClient(app)))
            assert app.state.relay is None or app.state.relay.wait_subscribed(10)
        bridges = Bridges(a=clients[0], b=clients[1], url=url, events_db=events_db)
        for client in clients:
            client.app.state.desk.rasa = bridges.rasa
        yield bridges


def console_socket(client: TestClient, token: str) -> Any:
    """A console WebSocket (context manager) that sends its auth frame once open."""

    @contextmanager
    def connect() -> Iterator[Any]:
        with client.websocket_connect("/api/v1/console/ws") as socket:
            socket.send_json({"type": "auth", "token": token})
            yield socket

    return connect()


def closed_within(socket: Any, timeout: float = 5.0) -> tuple[int, str]:
    """Read a console socket until the server closes it; the close code and reason.

    Fails the test when it is still open after ``timeout`` seconds.
    """
    got: queue.Queue = queue.Queue()

    def read() -> None:
        try:
            while True:
                socket.receive_json()
        except WebSocketDisconnect as closed:
            got.put((closed.code, closed.reason))
        except BaseException as err:  # noqa: BLE001 - handed to the test thread
            got.put(err)

    threading.Thread(target=read, daemon=True).start()
    try:
        result = got.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError(f"the console socket is still open after {timeout} s") from None
    if isinstance(result, BaseException):
        raise result
    return result


class Console:
    """An agent console's WebSocket, read with a ping as a barrier."""

    def __init__(self, client: TestClient, token: str, stack: ExitStack) -> None:
        self.socket = stack.enter_context(console_socket(client, token))
        self.received: list[dict[str, Any]] = []

    def drain(self, settle: float = 0.3) -> list[dict[str, Any]]:
        """What arrived since the last call (after ``settle`` seconds for relayed events)."""
        time.sleep(settle)
        self.socket.send_json({"type": "ping"})
        got = []
        while (message := self.socket.receive_json())["type"] != "pong":
            got.append(message)
        self.received += got
        return got

    def until(
        self, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """Read until ``done(what arrived)``, then one more second for anything extra."""
        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while not done(got):
            assert time.monotonic() < deadline, f"timed out; got {got}"
            got += self.drain()
        return got + self.drain(settle=1.0)


def of_type(messages: list[dict[str, Any]], kind: str, **match: Any) -> list[dict[str, Any]]:
    """Messages of ``kind`` whose data (or the message itself) match ``match``."""

    def matches(message: dict[str, Any]) -> bool:
        data = message.get("data") if isinstance(message.get("data"), dict) else {}
        return all(message.get(k, data.get(k)) == v for k, v in match.items())

    return [m for m in messages if m["type"] == kind and matches(m)]
