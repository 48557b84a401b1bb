"""What the local stand-ins for platform APIs share: a quiet handler that answers JSON."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class JsonHandler(BaseHTTPRequestHandler):
    """Logs nothing; ``_json`` sends a JSON body."""

    def log_message(self, *args) -> None:  # quiet
        pass

    def _json(self, body: dict, status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class FakePlatform:
    """A platform API stand-in served in a thread; subclasses say what each recipient got."""

    def _serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def messages_to(self, recipient: str) -> list[Any]:
        """What was sent to ``recipient``, in order."""
        raise NotImplementedError

    def wait_for(self, recipient: str, count: int = 1, timeout: float = 20.0) -> list[Any]:
        """At least ``count`` messages to ``recipient``, or AssertionError."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.messages_to(recipient)
            if len(got) >= count:
                return got
            time.sleep(0.1)
        raise AssertionError(f"{recipient} got {self.messages_to(recipient)}, wanted {count}")

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
