"""An HTTP endpoint that collects what Rasa's callback channel posts (the integrator's server)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class CallbackReceiver:
    """Serves in a thread; ``received`` holds the JSON bodies in arrival order."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    receiver.received.append(body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/bot"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, recipient: str, timeout: float = 20.0) -> list[dict]:
        """The messages posted for ``recipient`` (at least one), or AssertionError."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = [m for m in self.received if m.get("recipient_id") == recipient]
            if got:
                return got
            time.sleep(0.1)
        raise AssertionError(f"nothing posted for {recipient}")

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
