"""A local stand-in for the WeChat Official Account API (the platform's cloud, outside us).

It implements the two documented endpoints the channel uses: ``GET /cgi-bin/token`` and
``POST /cgi-bin/message/custom/send``, and records what was sent. The first token it hands out
is reported expired (errcode 42001) once, so the channel's refresh path runs in every test run.
"""

from __future__ import annotations

import json
import threading
from urllib.parse import parse_qs, urlsplit

from tests.utils.fake_http import FakePlatform, JsonHandler

APP_ID = "wx0123456789abcdef"
APP_SECRET = "test-app-secret"


class FakeWeChat(FakePlatform):
    """Runs the fake API in a thread; ``sent`` lists ``(open_id, text)`` in arrival order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.tokens_issued = 0
        self._expired_once = False
        self._lock = threading.Lock()
        fake = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:  # noqa: N802
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                if url.path != "/cgi-bin/token" or query.get("secret") != [APP_SECRET]:
                    self._json({"errcode": 40125, "errmsg": "invalid appsecret"})
                    return
                with fake._lock:
                    fake.tokens_issued += 1
                    token = f"token-{fake.tokens_issued}"
                self._json({"access_token": token, "expires_in": 7200})

            def do_POST(self) -> None:  # noqa: N802
                url = urlsplit(self.path)
                token = parse_qs(url.query).get("access_token", [""])[0]
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake._lock:
                    if token == "token-1" and not fake._expired_once:
                        fake._expired_once = True
                        self._json({"errcode": 42001, "errmsg": "access_token expired"})
                        return
                    if not token.startswith("token-"):
                        self._json({"errcode": 40001, "errmsg": "invalid credential"})
                        return
                    fake.sent.append((body["touser"], body["text"]["content"]))
                self._json({"errcode": 0, "errmsg": "ok"})

        self._serve(Handler)

    def messages_to(self, open_id: str) -> list[str]:
        """What was sent to one follower."""
        with self._lock:
            return [text for who, text in self.sent if who == open_id]
