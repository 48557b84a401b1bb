"""A local stand-in for WeCom's customer-service API (微信客服; the platform's cloud, outside us).

It implements the documented endpoints the channel uses, at their HTTP boundary:

- ``GET /cgi-bin/gettoken?corpid=…&corpsecret=…``; the first token it hands out is reported
  expired (errcode 42001) once, so the channel's refresh path runs in every test run;
- ``POST /cgi-bin/kf/sync_msg``: the messages of each customer-service account (``open_kfid``)
  in arrival order, paged by an opaque ``next_cursor`` with ``has_more`` (a small page size,
  so paging runs); the callback's ``token`` is required, as is a known cursor;
- ``POST /cgi-bin/kf/send_msg`` (``text`` and ``msgmenu``, checked against the documented
  limits) and ``POST /cgi-bin/kf/send_msg_on_event`` (the ``welcome_code`` of
  ``enter_session``: once, within 20 s); what was sent is recorded.

Tests push customer messages (``push_text``, ``push_image``, ``push_enter_session``, …), then
announce them with the encrypted, signed callback WeCom would POST (``callback``). Error codes
for malformed requests are the fake's own choice (40058, "invalid parameter").
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from channels.wechat_crypto import WeChatCrypto, signature

from tests.utils.fake_http import FakePlatform, JsonHandler

CORP_ID = "ww0123456789abcdef"
SECRET = "test-kf-secret"
CALLBACK_TOKEN = "e2e-wecom-token"
AES_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"
OPEN_KFID = "wkE2ETEST0000000000000001"
CRYPTO = WeChatCrypto(CALLBACK_TOKEN, AES_KEY, CORP_ID)
INVALID = 40058  # the fake's code for a malformed request


@dataclass(frozen=True)
class Sent:
    """One message the channel sent (``text`` is the head of a menu)."""

    touser: str
    open_kfid: str
    msgtype: str
    text: str
    menu: list[tuple[str, str]] = field(default_factory=list)  # (click id, content)
    via: str = "send_msg"


def _size_ok(value: Any, low: int, high: int) -> bool:
    return isinstance(value, str) and low <= len(value.encode()) <= high


def _valid_message(body: dict) -> bool:
    """A text or msgmenu message within the documented limits."""
    if body.get("msgtype") == "text":
        return _size_ok((body.get("text") or {}).get("content"), 1, 2048)
    if body.get("msgtype") == "msgmenu":
        menu = body.get("msgmenu") or {}
        items = menu.get("list") or []
        if not 1 <= len(items) <= 10 or not _size_ok(menu.get("head_content", ""), 0, 1024):
            return False
        return all(
            item.get("type") == "click"
            and _size_ok(item["click"].get("id"), 1, 128)
            and _size_ok(item["click"].get("content"), 1, 128)
            for item in items
        )
    return False


class FakeWeCom(FakePlatform):
    """Runs the fake API in a thread; ``sent`` lists what the channel sent, in arrival order."""

    def __init__(self, page_size: int = 3) -> None:
        self.page_size = page_size
        self.sent: list[Sent] = []
        self.refused: list[dict] = []  # malformed send requests (tests expect none)
        self.sync_calls = 0
        self.tokens_issued = 0
        self._expired_once = False
        self._log: dict[str, list[dict]] = {}  # open_kfid -> every message, in order
        self._cursors: dict[str, tuple[str, int]] = {}  # cursor -> (open_kfid, position)
        self._msg_tokens: dict[str, float] = {}  # callback token -> expiry
        self._welcome: dict[str, tuple[str, float]] = {}  # code -> (external_userid, expiry)
        self._lock = threading.Lock()
        fake = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:  # noqa: N802
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                if (
                    url.path != "/cgi-bin/gettoken"
                    or query.get("corpid") != [CORP_ID]
                    or query.get("corpsecret") != [SECRET]
                ):
                    self._json({"errcode": 40013, "errmsg": "invalid corpid or secret"})
                    return
                with fake._lock:
                    fake.tokens_issued += 1
                    token = f"token-{fake.tokens_issued}"
                self._json(
                    {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}
                )

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
                        self._json({"errcode": 40014, "errmsg": "invalid access_token"})
                        return
                    handler = {
                        "/cgi-bin/kf/sync_msg": fake._sync_msg,
                        "/cgi-bin/kf/send_msg": fake._send_msg,
                        "/cgi-bin/kf/send_msg_on_event": fake._send_msg_on_event,
                    }.get(url.path)
                    answer = handler(body) if handler else {"errcode": 404, "errmsg": "no such"}
                self._json(answer)

        self._serve(Handler)

    # -- the endpoints (called with the lock held) ---------------------------------------------

    def _sync_msg(self, body: dict) -> dict:
        self.sync_calls += 1
        if self._msg_tokens.get(body.get("token") or "", 0) < time.time():
            return {"errcode": 95007, "errmsg": "invalid msg token"}
        open_kfid, cursor = body.get("open_kfid") or "", body.get("cursor") or ""
        limit = body.get("limit") or 1000
        if not isinstance(limit, int) or not 1 <= limit <= 1000:
            return {"errcode": INVALID, "errmsg": "invalid limit"}
        start = 0
        if cursor:
            if cursor not in self._cursors or self._cursors[cursor][0] != open_kfid:
                return {"errcode": INVALID, "errmsg": "invalid cursor"}
            start = self._cursors[cursor][1]
        log = self._log.get(open_kfid, [])
        page = log[start : start + min(limit, self.page_size)]
        next_cursor = uuid.uuid4().hex[:20]
        self._cursors[next_cursor] = (open_kfid, start + len(page))
        return {
            "errcode": 0,
            "errmsg": "ok",
            "next_cursor": next_cursor,
            "has_more": int(start + len(page) < len(log)),
            "msg_list": page,
        }

    def _knows(self, open_kfid: str, user: str) -> bool:
        return any(
            user in (m.get("external_userid"), (m.get("event") or {}).get("external_userid"))
            for m in self._log.get(open_kfid, [])
        )

    def _send_msg(self, body: dict) -> dict:
        touser, open_kfid = body.get("touser") or "", body.get("open_kfid") or ""
        if not _valid_message(body) or not self._knows(open_kfid, touser):
            self.refused.append(body)
            return {"errcode": INVALID, "errmsg": "invalid message or recipient"}
        self.sent.append(self._record(touser, open_kfid, body, "send_msg"))
        return {"errcode": 0, "errmsg": "ok", "msgid": uuid.uuid4().hex}

    def _send_msg_on_event(self, body: dict) -> dict:
        user, expires = self._welcome.pop(body.get("code") or "", ("", 0.0))
        if not _valid_message(body) or expires < time.time():
            self.refused.append(body)
            return {"errcode": INVALID, "errmsg": "invalid code or message"}
        self.sent.append(self._record(user, "", body, "send_msg_on_event"))
        return {"errcode": 0, "errmsg": "ok", "msgid": uuid.uuid4().hex}

    @staticmethod
    def _record(touser: str, open_kfid: str, body: dict, via: str) -> Sent:
        if body["msgtype"] == "text":
            return Sent(touser, open_kfid, "text", body["text"]["content"], via=via)
        menu = body["msgmenu"]
        items = [(i["click"]["id"], i["click"]["content"]) for i in menu["list"]]
        return Sent(touser, open_kfid, "msgmenu", menu.get("head_content", ""), items, via)

    # -- what tests do -------------------------------------------------------------------------

    def push(self, item: dict, open_kfid: str = OPEN_KFID, twice: bool = False) -> dict:
        """Append one ``msg_list`` item (``twice``: sync_msg returns it a second time too)."""
        item = {"open_kfid": open_kfid, "send_time": int(time.time()), **item}
        item.setdefault("msgid", uuid.uuid4().hex)
        with self._lock:
            log = self._log.setdefault(open_kfid, [])
            log.extend([item, dict(item)] if twice else [item])
        return item

    def push_text(
        self,
        user: str,
        content: str,
        open_kfid: str = OPEN_KFID,
        menu_id: str | None = None,
        twice: bool = False,
        **extra: Any,
    ) -> dict:
        """A customer's text (``menu_id``: the click of a menu item)."""
        text = {"content": content, **({"menu_id": menu_id} if menu_id else {})}
        item = {"external_userid": user, "origin": 3, "msgtype": "text", "text": text, **extra}
        return self.push(item, open_kfid, twice)

    def push_image(self, user: str, open_kfid: str = OPEN_KFID) -> dict:
        """A customer's picture."""
        item = {"external_userid": user, "origin": 3, "msgtype": "image"}
        return self.push({**item, "image": {"media_id": "MEDIA_ID"}}, open_kfid)

    def push_enter_session(self, user: str, open_kfid: str = OPEN_KFID) -> str:
        """The customer opens the chat; returns the event's ``welcome_code``."""
        code = uuid.uuid4().hex
        with self._lock:
            self._welcome[code] = (user, time.time() + 20)
        event = {
            "event_type": "enter_session",
            "open_kfid": open_kfid,
            "external_userid": user,
            "scene": "e2e",
            "welcome_code": code,
        }
        self.push({"origin": 4, "msgtype": "event", "event": event}, open_kfid)
        return code

    def replay(self, item: dict) -> None:
        """Return an already delivered item again (as after a lost cursor)."""
        with self._lock:
            self._log[item["open_kfid"]].append(dict(item))

    def announce(self) -> str:
        """A fresh callback token (valid for 10 minutes, like WeCom's)."""
        token = "tok" + uuid.uuid4().hex
        with self._lock:
            self._msg_tokens[token] = time.time() + 600
        return token

    def signed_callback(
        self,
        open_kfid: str = OPEN_KFID,
        token: str | None = None,
        timestamp: int | None = None,
        nonce: str | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """The query and body of the callback WeCom POSTs (encrypted, signed)."""
        ts = str(timestamp or int(time.time()))
        nonce = nonce or str(uuid.uuid4().int % 10**9)
        plain = (
            f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><CreateTime>{ts}</CreateTime>"
            "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event>"
            f"<Token><![CDATA[{token or self.announce()}]]></Token>"
            f"<OpenKfId><![CDATA[{open_kfid}]]></OpenKfId></xml>"
        )
        encrypted = CRYPTO.encrypt(plain)
        params = {
            "msg_signature": signature(CALLBACK_TOKEN, ts, nonce, encrypted),
            "timestamp": ts,
            "nonce": nonce,
        }
        body = (
            f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt><AgentID><![CDATA[]]></AgentID></xml>"
        )
        return params, body.encode()

    def callback(self, rasa_url: str, open_kfid: str = OPEN_KFID, **kwargs: Any) -> httpx.Response:
        """POST the callback announcing new messages of ``open_kfid`` to the channel."""
        params, body = self.signed_callback(open_kfid, **kwargs)
        return post_callback(rasa_url, params, body)

    def messages_to(self, user: str) -> list[Sent]:
        """What was sent to one customer."""
        with self._lock:
            return [s for s in self.sent if s.touser == user]


def post_callback(rasa_url: str, params: dict[str, str], body: bytes) -> httpx.Response:
    """POST a callback to the channel's webhook."""
    return httpx.post(f"{rasa_url}/webhooks/wecom/webhook", params=params, content=body, timeout=10)
