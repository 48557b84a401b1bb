"""RasaApi against a local HTTP server: one kept-alive connection, clear errors, no token leak."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from crm_bridge.services.rasa_api import RasaApi, RasaUnavailable
from tests.utils.processes import free_port


class _Recorder(BaseHTTPRequestHandler):
    """Answers like Rasa's event endpoint; remembers each request and its client port."""

    protocol_version = "HTTP/1.1"  # keep-alive, as Sanic
    seen: list[tuple[int, str, dict, object]] = []
    status = 200
    connections: list[socket.socket] = []

    def setup(self) -> None:
        super().setup()
        self.connections.append(self.connection)

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        url = urlsplit(self.path)
        self.seen.append((self.client_address[1], url.path, parse_qs(url.query), body))
        payload = json.dumps({"sender_id": "x"}).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_args: object) -> None:
        pass


@contextmanager
def serving(port: int) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", port), _Recorder)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        # As when Rasa's process ends: its kept-alive connections close too.
        for connection in _Recorder.connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        _Recorder.connections = []


@pytest.fixture
def port() -> Iterator[int]:
    _Recorder.seen = []
    _Recorder.status = 200
    yield free_port()


def test_calls_share_one_connection_and_carry_the_token(port):
    api = RasaApi(f"http://127.0.0.1:{port}/", "secret-token")
    with serving(port):
        api.say("客户 1/2", "您好", {"agent": {"name": "Li"}}, output_channel="socketio")
        api.resume("客户 1/2")
        api.execute("客户 1/2", "action_handoff_ended", slots={"handoff": None})
    api.close()
    ports = {seen[0] for seen in _Recorder.seen}
    assert len(_Recorder.seen) == 4 and len(ports) == 1, _Recorder.seen
    paths = [seen[1] for seen in _Recorder.seen]
    assert paths == [
        "/conversations/%E5%AE%A2%E6%88%B7%201%2F2/tracker/events",
        "/conversations/%E5%AE%A2%E6%88%B7%201%2F2/tracker/events",
        "/conversations/%E5%AE%A2%E6%88%B7%201%2F2/tracker/events",
        "/conversations/%E5%AE%A2%E6%88%B7%201%2F2/execute",
    ]
    assert all(seen[2]["token"] == ["secret-token"] for seen in _Recorder.seen)
    assert _Recorder.seen[0][2]["output_channel"] == ["socketio"]
    assert _Recorder.seen[0][3][0]["text"] == "您好"
    assert _Recorder.seen[3][3]["name"] == "action_handoff_ended"


def test_a_restarted_rasa_is_reached_again(port):
    api = RasaApi(f"http://127.0.0.1:{port}", "secret-token")
    with serving(port):
        api.resume("a")
    with pytest.raises(RasaUnavailable, match="unreachable") as down:
        api.resume("a")
    with serving(port):
        api.resume("a")
    api.close()
    assert len(_Recorder.seen) == 2
    assert "secret-token" not in str(down.value)


def test_an_error_answer_names_the_status_not_the_token(port):
    _Recorder.status = 409
    api = RasaApi(f"http://127.0.0.1:{port}", "secret-token")
    with serving(port), pytest.raises(RasaUnavailable, match="Rasa answered 409") as refused:
        api.resume("a")
    api.close()
    assert "secret-token" not in str(refused.value)
