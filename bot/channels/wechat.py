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
- The retry filter, the access token and the button menus live in ``platform_state``: memory for
  one Rasa process, Redis (``CSA_CHANNEL_STATE_URL``) when several instances share the account.

Configured in ``credentials.yml`` from environment variables (``CSA_WECHAT_*``); with no token
the channel answers 503 and stays out of the way.
"""

from __future__ import annotations

import asyncio
import logging
import xml.etree.ElementTree as ElementTree
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.outage import answering
from channels.platform_state import AccessTokens, ChannelState, MemoryState, state_from_url
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
RETRY_WINDOW = 300.0  # seconds; the platform retries a message 3 times within 15 s


class WeChatApi:
    """The platform's access token (shared, refreshed early) and customer-service messages."""

    def __init__(self, base_url: str, app_id: str, app_secret: str, state: ChannelState) -> None:
        self.base_url = base_url.rstrip("/")
        self.app_id, self._secret = app_id, app_secret
        self.tokens = AccessTokens(state, f"wechat:{app_id}:token", self._fetch_token)

    async def _fetch_token(self) -> tuple[str, float]:
        params = {"grant_type": "client_credential", "appid": self.app_id, "secret": self._secret}
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(f"{self.base_url}/cgi-bin/token", params=params) as r:
                body = await r.json(content_type=None)
        if "access_token" not in body:
            raise RuntimeError(f"WeChat token refused (errcode {body.get('errcode')})")
        return body["access_token"], float(body.get("expires_in", 7200))

    async def send_text(self, open_id: str, text: str) -> None:
        """Send one text message to a follower (retried once with a fresh token)."""
        payload = {"touser": open_id, "msgtype": "text", "text": {"content": text}}
        url = f"{self.base_url}/cgi-bin/message/custom/send"
        body = await post_with_token(self.tokens, url, payload, aiohttp.ClientTimeout(total=10))
        code = body.get("errcode", 0) if isinstance(body, dict) else -1
        if code != 0:
            logger.error("WeChat refused a customer-service message (errcode %s)", code)


async def post_with_token(
    tokens: AccessTokens, url: str, payload: dict[str, Any], timeout: aiohttp.ClientTimeout
) -> Any:
    """POST ``payload`` to a WeChat / WeCom API with the access token; the platform's answer.

    A token the platform calls invalid or expired (``TOKEN_ERRORS``) is replaced and the call
    retried once. Network errors are the caller's to handle.
    """
    refused: str | None = None
    body: Any = {}
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for _ in range(2):
            token = await tokens.token(refresh_from=refused)
            async with session.post(url, params={"access_token": token}, json=payload) as r:
                body = await r.json(content_type=None)
            if not isinstance(body, dict) or body.get("errcode", 0) not in TOKEN_ERRORS:
                return body
            refused = token
    return body


class Menus:
    """The numbered buttons last sent to each follower (a reply with a number picks one)."""

    def __init__(self, state: ChannelState, namespace: str) -> None:
        self.state, self.namespace = state, namespace

    async def remember(self, user_id: str, payloads: list[str]) -> None:
        """The payloads of the buttons just sent, for a day."""
        await self.state.put(f"{self.namespace}:menu:{user_id}", payloads, 86_400)

    async def picked(self, user_id: str, text: str) -> str:
        """The payload of button number ``text``, or ``text`` itself."""
        if not (text.isdigit() and len(text) <= 2):
            return text
        menu = await self.state.get(f"{self.namespace}:menu:{user_id}") or []
        if 1 <= int(text) <= len(menu):
            return str(menu[int(text) - 1])
        return text


class WeChatOutput(OutputChannel):
    """Sends the bot's (and agents') messages through the customer-service API."""

    @classmethod
    def name(cls) -> str:
        """The channel's name."""
        return "wechat"

    def __init__(self, api: WeChatApi, menus: Menus) -> None:
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
        await self.menus.remember(recipient_id, [str(b.get("payload", "")) for b in buttons])
        await self.api.send_text(recipient_id, "\n".join([text, *lines]))


def xml_text(node: ElementTree.Element, tag: str) -> str:
    """The stripped text of ``node``'s child ``tag``, or "" when it has none."""
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
            state=state_from_url(str(credentials.get("state_url") or "")),
        )

    def __init__(
        self,
        token: str,
        encoding_aes_key: str,
        app_id: str,
        app_secret: str,
        api_base: str,
        state: ChannelState | None = None,
    ) -> None:
        self.token = token
        self.crypto = WeChatCrypto(token, encoding_aes_key, app_id) if encoding_aes_key else None
        self.state = state or MemoryState()
        self.api = WeChatApi(api_base, app_id, app_secret, self.state)
        self.menus = Menus(self.state, f"wechat:{app_id}")
        self._tasks: set[asyncio.Task[Any]] = set()

    def get_output_channel(self) -> OutputChannel | None:
        """For messages sent through Rasa's API (agent replies during a handoff)."""
        return WeChatOutput(self.api, self.menus)

    def _msg_key(self, message_id: str) -> str:
        return f"wechat:{self.api.app_id}:msg:{message_id}"

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
                encrypted = xml_text(document, "Encrypt")
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
            open_id = xml_text(document, "FromUserName")
            kind = xml_text(document, "MsgType")
            key = (
                xml_text(document, "MsgId")
                or f"{open_id}:{xml_text(document, 'CreateTime')}:{kind}"
            )
            if not open_id or not await self.state.claim(self._msg_key(key), RETRY_WINDOW):
                return response.text("success")  # a retry of a message we already have
            output = WeChatOutput(self.api, self.menus)
            if kind == "text":
                text = await self.menus.picked(open_id, xml_text(document, "Content")[:2000])
            elif kind == "event" and xml_text(document, "Event").lower() == "subscribe":
                text = "/greet"
            elif kind == "event":
                return response.text("success")
            else:
                self._spawn(output.send_text_message(open_id, UNSUPPORTED))
                return response.text("success")
            message = UserMessage(text, output, open_id, input_channel=self.name(), message_id=key)
            self._spawn(answering(on_new_message)(message))
            return response.text("success")

        return webhook

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
