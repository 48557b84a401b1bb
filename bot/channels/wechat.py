"""WeChat Official Account (公众号) customer-service channel for Rasa.

- ``GET /webhooks/wechat/webhook``: the platform's URL check (plain signature, or the
  ``msg_signature`` of safe mode with an encrypted ``echostr``).
- ``POST /webhooks/wechat/webhook``: a message or event. The signature and the timestamp window
  are checked (a forged or replayed request gets 403, logged without secrets), safe-mode
  messages are decrypted, the platform's retries are dropped by ``MsgId``, and the answer is
  "success" at once: the bot's replies go out asynchronously through the customer-service
  message API, so a slow answer never meets the platform's 5-second limit.
- Text messages go to the bot; "subscribe" greets; images, voice and other types get a polite
  text answer. Buttons are sent as numbered lines, and a reply with a number picks that button.
- The platform API base URL is a setting, so tests and sandboxes point it at a local server.

Configured in ``credentials.yml`` from environment variables (``CSA_WECHAT_*``); with no token
the channel answers 503 and stays out of the way.
"""

from __future__ import annotations

import asyncio
import logging
import time
import xml.etree.ElementTree as ElementTree
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.wechat_crypto import (
    WeChatCrypto,
    WeChatCryptoError,
    check_signature,
    check_timestamp,
)

logger = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
UNSUPPORTED = (
    "抱歉，我暂时只能看懂文字消息，请用文字描述您的问题。"
    "\nSorry, I can only read text messages for now; please type your question."
)
TOKEN_ERRORS = {40001, 40014, 42001}  # invalid or expired access token: refresh and retry once


class RecentIds:
    """Message ids seen in the last ``ttl`` seconds (the platform retries up to 3 times)."""

    def __init__(self, ttl: float = 300.0, limit: int = 10_000) -> None:
        self.ttl, self.limit = ttl, limit
        self._seen: OrderedDict[str, float] = OrderedDict()

    def first_time(self, key: str) -> bool:
        """True the first time ``key`` is seen within the window."""
        now = time.monotonic()
        while self._seen and (
            len(self._seen) > self.limit or next(iter(self._seen.values())) < now - self.ttl
        ):
            self._seen.popitem(last=False)
        if key in self._seen:
            return False
        self._seen[key] = now
        return True


class WeChatApi:
    """The platform's access token (cached, refreshed early) and customer-service messages."""

    def __init__(self, base_url: str, app_id: str, app_secret: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.app_id, self._secret = app_id, app_secret
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def access_token(self, session: aiohttp.ClientSession, refresh: bool = False) -> str:
        """A valid access token, fetched when missing, expiring within 5 minutes, or refused."""
        async with self._lock:
            if refresh or self._token is None or time.time() > self._expires - 300:
                params = {
                    "grant_type": "client_credential",
                    "appid": self.app_id,
                    "secret": self._secret,
                }
                async with session.get(f"{self.base_url}/cgi-bin/token", params=params) as r:
                    body = await r.json(content_type=None)
                if "access_token" not in body:
                    raise RuntimeError(f"WeChat token refused (errcode {body.get('errcode')})")
                self._token = body["access_token"]
                self._expires = time.time() + float(body.get("expires_in", 7200))
            return self._token

    async def send_text(self, open_id: str, text: str) -> None:
        """Send one text message to a follower (retried once with a fresh token)."""
        payload = {"touser": open_id, "msgtype": "text", "text": {"content": text}}
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for attempt in range(2):
                token = await self.access_token(session, refresh=attempt > 0)
                url = f"{self.base_url}/cgi-bin/message/custom/send"
                async with session.post(url, params={"access_token": token}, json=payload) as r:
                    body = await r.json(content_type=None)
                code = body.get("errcode", 0)
                if code == 0:
                    return
                if code not in TOKEN_ERRORS:
                    break
        logger.error("WeChat refused a customer-service message (errcode %s)", code)


class WeChatOutput(OutputChannel):
    """Sends the bot's (and agents') messages through the customer-service API."""

    @classmethod
    def name(cls) -> str:
        """The channel's name."""
        return "wechat"

    def __init__(self, api: WeChatApi, menus: dict[str, list[str]]) -> None:
        self.api = api
        self.menus = menus

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        """Plain text."""
        await self.api.send_text(recipient_id, text)

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        """Buttons as numbered lines; the follower answers with the number."""
        lines = [f"{n}. {b.get('title', '')}" for n, b in enumerate(buttons, start=1)]
        self.menus[recipient_id] = [str(b.get("payload", "")) for b in buttons]
        await self.api.send_text(recipient_id, "\n".join([text, *lines]))


def _text(node: ElementTree.Element, tag: str) -> str:
    child = node.find(tag)
    return (child.text or "").strip() if child is not None else ""


def parse_xml(body: bytes) -> ElementTree.Element:
    """A platform XML document; entities and DOCTYPEs are refused (no expansion attacks)."""
    if len(body) > MAX_BODY or b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise ValueError("refused XML")
    return ElementTree.fromstring(body)


class WeChatInput(InputChannel):
    """The Official Account webhook."""

    @classmethod
    def name(cls) -> str:
        """The channel's name (sender ids are follower OpenIDs)."""
        return "wechat"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        """From ``credentials.yml`` (values from ``CSA_WECHAT_*`` variables)."""
        credentials = credentials or {}
        return cls(
            token=str(credentials.get("token") or ""),
            encoding_aes_key=str(credentials.get("encoding_aes_key") or ""),
            app_id=str(credentials.get("app_id") or ""),
            app_secret=str(credentials.get("app_secret") or ""),
            api_base=str(credentials.get("api_base") or "https://api.weixin.qq.com"),
        )

    def __init__(
        self, token: str, encoding_aes_key: str, app_id: str, app_secret: str, api_base: str
    ) -> None:
        self.token = token
        self.crypto = WeChatCrypto(token, encoding_aes_key, app_id) if encoding_aes_key else None
        self.api = WeChatApi(api_base, app_id, app_secret)
        self.seen = RecentIds()
        self.menus: dict[str, list[str]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def get_output_channel(self) -> OutputChannel | None:
        """For messages sent through Rasa's API (agent replies during a handoff)."""
        return WeChatOutput(self.api, self.menus)

    def _picked(self, open_id: str, text: str) -> str:
        menu = self.menus.get(open_id) or []
        if text.isdigit() and 1 <= int(text) <= len(menu):
            return menu[int(text) - 1]
        return text

    def _verify(self, request: Request, encrypted: str = "") -> None:
        args = request.args
        timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
        check_timestamp(timestamp)
        if encrypted:
            check_signature(self.token, args.get("msg_signature", ""), timestamp, nonce, encrypted)
        else:
            check_signature(self.token, args.get("signature", ""), timestamp, nonce)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """The webhook routes."""
        webhook = Blueprint("wechat_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok", "configured": bool(self.token)})

        @webhook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            if not self.token:
                return response.text("wechat channel not configured", status=503)
            echo = request.args.get("echostr", "")
            try:
                if "msg_signature" in request.args and self.crypto is not None:
                    check_timestamp(request.args.get("timestamp", ""))
                    echo = self.crypto.verify_url(
                        request.args.get("msg_signature", ""),
                        request.args.get("timestamp", ""),
                        request.args.get("nonce", ""),
                        echo,
                    )
                else:
                    self._verify(request)
            except WeChatCryptoError as err:
                logger.warning("wechat URL check refused: %s", err)
                return response.text("forbidden", status=403)
            return response.text(echo)

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self.token:
                return response.text("wechat channel not configured", status=503)
            try:
                document = parse_xml(request.body or b"")
                encrypted = _text(document, "Encrypt")
                self._verify(
                    request, encrypted if request.args.get("encrypt_type") == "aes" else ""
                )
                if encrypted and request.args.get("encrypt_type") == "aes":
                    if self.crypto is None:
                        raise WeChatCryptoError("safe mode without an EncodingAESKey")
                    document = parse_xml(self.crypto.decrypt(encrypted).encode())
            except WeChatCryptoError as err:
                logger.warning("wechat message refused: %s", err)
                return response.text("forbidden", status=403)
            except (ValueError, ElementTree.ParseError):
                return response.text("bad request", status=400)
            open_id = _text(document, "FromUserName")
            kind = _text(document, "MsgType")
            key = _text(document, "MsgId") or f"{open_id}:{_text(document, 'CreateTime')}:{kind}"
            if not open_id or not self.seen.first_time(key):
                return response.text("success")  # a retry of a message we already have
            output = WeChatOutput(self.api, self.menus)
            if kind == "text":
                text = self._picked(open_id, _text(document, "Content")[:2000])
            elif kind == "event" and _text(document, "Event").lower() == "subscribe":
                text = "/greet"
            elif kind == "event":
                return response.text("success")
            else:
                self._spawn(output.send_text_message(open_id, UNSUPPORTED))
                return response.text("success")
            message = UserMessage(text, output, open_id, input_channel=self.name(), message_id=key)
            self._spawn(on_new_message(message))
            return response.text("success")

        return webhook

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
