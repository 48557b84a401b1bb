"""WeCom customer service (企业微信 · 微信客服) channel for Rasa.

WeCom's callback does not carry the customer's message: it only announces that messages are
waiting (``MsgType=event``, ``Event=kf_msg_or_event``, with a ``Token`` and the ``OpenKfId`` of
the customer-service account). The channel then pulls them with ``kf/sync_msg`` and answers
with ``kf/send_msg``.

- ``GET /webhooks/wecom/webhook``: the URL check (``msg_signature`` over the encrypted
  ``echostr``; the answer is the decrypted echo).
- ``POST /webhooks/wecom/webhook``: the callback, always encrypted (receive id = the CorpID).
  The signature and the timestamp window are checked (a forged or replayed request gets 403,
  logged without secrets), DOCTYPEs and entities are refused, and the answer is "success" at
  once. The pull runs in a background task, one at a time per account (``state.lock``, across
  instances with Redis); callbacks arriving meanwhile are folded into one more pull.
- The cursor per account survives a restart (a file under the var dir, or Redis). Messages are
  taken once by ``msgid`` (three days, as long as the platform keeps them), and customer
  messages older than ``max_age`` seconds are skipped, so a lost cursor never replays history.
- Text goes to the bot, ``enter_session`` greets (the first reply uses the event's
  ``welcome_code`` when there is one), images, voice and other types get a polite answer,
  messages of human servicers in WeCom's desk (origin 5) and other events are ignored.
- Buttons are ``msgmenu`` items with short click ids; the click comes back as a text message
  with that ``menu_id``, mapped to the Rasa payload through the channel state. A typed number
  picks the item too.
- The account of each customer is remembered, so messages sent through Rasa's API (agent
  replies during a handoff, ``output_channel=wecom``) reach them.

Configured in ``credentials.yml`` from environment variables (``CSA_WECOM_*``); with no token
the channel answers 503 and stays out of the way.
"""

from __future__ import annotations

import asyncio
import logging
import os
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
from channels.wechat import UNSUPPORTED, Menus, parse_xml, post_with_token, xml_text
from channels.wechat_crypto import WeChatCrypto, WeChatCryptoError, check_timestamp
from channels.wecom_kf import (
    CursorStore,
    FileCursors,
    Incoming,
    MenuIds,
    StateCursors,
    chunks,
    clip,
    cursor_file,
    incoming,
    too_old,
)

logger = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://qyapi.weixin.qq.com"
DEFAULT_MAX_AGE = 600.0  # seconds: older customer messages are skipped (lost cursor)
DEDUP_WINDOW = 3 * 86_400.0  # sync_msg may return a message again while it keeps it (3 days)
ACCOUNT_TTL = 7 * 86_400.0  # how long a customer's open_kfid is remembered for agent replies
PULL_LIMIT = 1000  # messages per sync_msg call (the platform's maximum)
MAX_PAGES = 50  # per pull; the next callback continues from the saved cursor
TEXT_BYTES = 2048  # a text message's content
HEAD_BYTES = 1024  # a menu's head_content
ITEM_BYTES = 128  # a menu item's content (and its click id)
MENU_ITEMS = 10  # items of one menu


class WeComApi:
    """The customer-service API: shared access token, ``sync_msg``, ``send_msg``."""

    def __init__(self, base_url: str, corp_id: str, secret: str, state: ChannelState) -> None:
        self.base_url = base_url.rstrip("/")
        self.corp_id, self._secret = corp_id, secret
        self.tokens = AccessTokens(state, f"wecom:{corp_id}:token", self._fetch_token)
        self._timeout = aiohttp.ClientTimeout(total=10)

    async def _fetch_token(self) -> tuple[str, float]:
        params = {"corpid": self.corp_id, "corpsecret": self._secret}
        async with aiohttp.ClientSession(timeout=self._timeout) as session:
            async with session.get(f"{self.base_url}/cgi-bin/gettoken", params=params) as r:
                body = await r.json(content_type=None)
        if not body.get("access_token"):
            raise RuntimeError(f"WeCom token refused (errcode {body.get('errcode')})")
        return str(body["access_token"]), float(body.get("expires_in", 7200))

    async def call(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST ``payload`` to ``path``; a refused token is replaced and the call retried once.

        Network trouble and refused token fetches come back as ``errcode`` -1 (logged).
        """
        try:
            body = await post_with_token(
                self.tokens, f"{self.base_url}{path}", payload, self._timeout
            )
        except (aiohttp.ClientError, asyncio.TimeoutError, RuntimeError, ValueError) as err:
            logger.error("WeCom %s failed: %s", path, err)
            return {"errcode": -1}
        return body if isinstance(body, dict) else {"errcode": -1}

    async def sync_msg(self, open_kfid: str, token: str, cursor: str) -> dict[str, Any]:
        """One page of messages after ``cursor`` (``token``: from the callback)."""
        payload = {"cursor": cursor, "token": token, "limit": PULL_LIMIT, "open_kfid": open_kfid}
        return await self.call("/cgi-bin/kf/sync_msg", payload)

    async def send(self, user_id: str, open_kfid: str, message: dict[str, Any]) -> bool:
        """Send one message (``{"msgtype": …, <msgtype>: …}``) to a customer."""
        payload = {"touser": user_id, "open_kfid": open_kfid, **message}
        body = await self.call("/cgi-bin/kf/send_msg", payload)
        if body.get("errcode", 0) != 0:
            logger.error(
                "WeCom refused a %s message (errcode %s)", message["msgtype"], body["errcode"]
            )
            return False
        return True

    async def send_on_event(self, code: str, message: dict[str, Any]) -> bool:
        """Send the one message an event code allows (the welcome of ``enter_session``)."""
        body = await self.call("/cgi-bin/kf/send_msg_on_event", {"code": code, **message})
        if body.get("errcode", 0) != 0:
            logger.info(
                "WeCom welcome code not usable (errcode %s); sending normally", body["errcode"]
            )
            return False
        return True


class WeComOutput(OutputChannel):
    """Sends the bot's (and agents') messages to one customer through ``kf/send_msg``."""

    @classmethod
    def name(cls) -> str:
        """The channel's name."""
        return "wecom"

    def __init__(
        self, channel: WeComInput, open_kfid: str | None = None, welcome_code: str = ""
    ) -> None:
        self.channel = channel
        self.open_kfid = open_kfid
        self.welcome_code = welcome_code

    async def _deliver(self, recipient_id: str, message: dict[str, Any]) -> None:
        if self.welcome_code:  # usable once, within 20 s of enter_session
            code, self.welcome_code = self.welcome_code, ""
            if await self.channel.api.send_on_event(code, message):
                return
        open_kfid = self.open_kfid or await self.channel.account_of(recipient_id)
        if not open_kfid:
            logger.error("WeCom: no customer-service account known for a customer; not sent")
            return
        await self.channel.api.send(recipient_id, open_kfid, message)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        """Plain text (split at the platform's 2048 bytes)."""
        for part in chunks(text, TEXT_BYTES):
            await self._deliver(recipient_id, {"msgtype": "text", "text": {"content": part}})

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        """A ``msgmenu``: clickable items with short ids (a typed number picks one too)."""
        buttons = buttons[:MENU_ITEMS]
        if not buttons:
            await self.send_text_message(recipient_id, text)
            return
        payloads = [str(b.get("payload", "")) for b in buttons]
        await self.channel.menus.remember(recipient_id, payloads)
        ids = await self.channel.menu_ids.register(recipient_id, payloads)
        head = text or ""
        if len(head.encode()) > HEAD_BYTES:
            await self.send_text_message(recipient_id, head)
            head = ""
        items = [
            {
                "type": "click",
                "click": {
                    "id": menu_id,
                    "content": clip(str(b.get("title") or payload or "…"), ITEM_BYTES),
                },
            }
            for menu_id, b, payload in zip(ids, buttons, payloads, strict=True)
        ]
        menu: dict[str, Any] = {"list": items}
        if head:
            menu["head_content"] = head
        await self._deliver(recipient_id, {"msgtype": "msgmenu", "msgmenu": menu})


class WeComInput(InputChannel):
    """The customer-service callback and the pull loop behind it."""

    @classmethod
    def name(cls) -> str:
        """The channel's name (sender ids are the customers' external_userid)."""
        return "wecom"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        """From ``credentials.yml`` (values from ``CSA_WECOM_*`` variables)."""
        credentials = credentials or {}
        raw_age = credentials.get("max_age")
        try:
            max_age = DEFAULT_MAX_AGE if raw_age in (None, "") else float(raw_age)
        except (TypeError, ValueError):
            raise ValueError("CSA_WECOM_MAX_AGE must be a number of seconds") from None
        return cls(
            token=str(credentials.get("token") or ""),
            encoding_aes_key=str(credentials.get("encoding_aes_key") or ""),
            corp_id=str(credentials.get("corp_id") or ""),
            secret=str(credentials.get("secret") or ""),
            api_base=str(credentials.get("api_base") or DEFAULT_API_BASE),
            state=state_from_url(str(credentials.get("state_url") or "")),
            max_age=max_age,
        )

    def __init__(
        self,
        token: str,
        encoding_aes_key: str,
        corp_id: str,
        secret: str,
        api_base: str = DEFAULT_API_BASE,
        state: ChannelState | None = None,
        max_age: float = DEFAULT_MAX_AGE,
        var_dir: str | None = None,
    ) -> None:
        self.token = token
        self.crypto = (
            WeChatCrypto(token, encoding_aes_key, corp_id) if token and encoding_aes_key else None
        )
        if token and (self.crypto is None or not corp_id):
            logger.error("WeCom: CSA_WECOM_ENCODING_AES_KEY or _CORP_ID empty; the channel is off")
        self.corp_id = corp_id
        self.state = state or MemoryState()
        self.api = WeComApi(api_base, corp_id, secret, self.state)
        self.namespace = f"wecom:{corp_id}"
        self.menus = Menus(self.state, self.namespace)
        self.menu_ids = MenuIds(self.state, self.namespace)
        self.max_age = max_age
        path = cursor_file(
            os.environ.get("CSA_VAR_DIR", "") if var_dir is None else var_dir, corp_id
        )
        self.cursors: CursorStore = (
            FileCursors(path)
            if path is not None and isinstance(self.state, MemoryState)
            else StateCursors(self.state, self.namespace)
        )
        self._on_new_message: Callable[[UserMessage], Awaitable[Any]] | None = None
        self._pending: dict[str, str] = {}  # open_kfid -> the latest callback token
        self._pullers: dict[str, asyncio.Task[Any]] = {}
        self._turns: dict[str, tuple[asyncio.Lock, int]] = {}  # per customer, in order
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def configured(self) -> bool:
        """A token, an EncodingAESKey and the CorpID are set."""
        return bool(self.token and self.corp_id) and self.crypto is not None

    def get_output_channel(self) -> OutputChannel | None:
        """For messages sent through Rasa's API (agent replies during a handoff)."""
        return WeComOutput(self)

    async def account_of(self, user_id: str) -> str | None:
        """The customer-service account (open_kfid) a customer last wrote to."""
        value = await self.state.get(f"{self.namespace}:account:{user_id}")
        return str(value) if value else None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """The callback routes."""
        self._on_new_message = answering(on_new_message)
        webhook = Blueprint("wecom_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok", "configured": self.configured})

        @webhook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            if not self.configured or self.crypto is None:
                return response.text("wecom channel not configured", status=503)
            args = request.args
            try:
                check_timestamp(args.get("timestamp", ""))
                echo = self.crypto.verify_url(
                    args.get("msg_signature", ""),
                    args.get("timestamp", ""),
                    args.get("nonce", ""),
                    args.get("echostr", ""),
                )
            except WeChatCryptoError as err:
                logger.warning("wecom URL check refused: %s", err)
                return response.text("forbidden", status=403)
            return response.text(echo)

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self.configured or self.crypto is None:
                return response.text("wecom channel not configured", status=503)
            args = request.args
            try:
                encrypted = xml_text(parse_xml(request.body or b""), "Encrypt")
                if not encrypted:
                    raise ValueError("no Encrypt field")
                check_timestamp(args.get("timestamp", ""))
                plain = self.crypto.decrypt_message(
                    args.get("msg_signature", ""),
                    args.get("timestamp", ""),
                    args.get("nonce", ""),
                    encrypted,
                )
                document = parse_xml(plain.encode())
            except WeChatCryptoError as err:
                logger.warning("wecom callback refused: %s", err)
                return response.text("forbidden", status=403)
            except (ValueError, ElementTree.ParseError):
                return response.text("bad request", status=400)
            kind, event = xml_text(document, "MsgType"), xml_text(document, "Event")
            open_kfid, token = xml_text(document, "OpenKfId"), xml_text(document, "Token")
            if kind == "event" and event == "kf_msg_or_event" and 0 < len(open_kfid) <= 128:
                self._announce(open_kfid, token[:256])
            return response.text("success")

        return webhook

    # -- the pull loop ------------------------------------------------------------------------

    def _announce(self, open_kfid: str, token: str) -> None:
        """Messages wait for ``open_kfid``: pull, or pull once more after the running pull."""
        self._pending[open_kfid] = token
        if open_kfid not in self._pullers:
            self._pullers[open_kfid] = self._spawn(self._puller(open_kfid))

    async def _puller(self, open_kfid: str) -> None:
        try:
            while open_kfid in self._pending:
                token = self._pending.pop(open_kfid)
                try:
                    async with self.state.lock(f"{self.namespace}:pull:{open_kfid}"):
                        await self._pull(open_kfid, token)
                except Exception:  # noqa: BLE001 - keep pulling on the next callback
                    logger.exception("WeCom pull for an account failed")
        finally:
            self._pullers.pop(open_kfid, None)

    async def _pull(self, open_kfid: str, token: str) -> None:
        cursor = await self.cursors.get(open_kfid)
        stale = 0
        try:
            for _ in range(MAX_PAGES):
                body = await self.api.sync_msg(open_kfid, token, cursor)
                if body.get("errcode", 0) != 0:
                    logger.error("WeCom sync_msg refused (errcode %s)", body.get("errcode"))
                    return
                for item in body.get("msg_list") or []:
                    stale += not await self._take(item, open_kfid)
                next_cursor = str(body.get("next_cursor") or "")
                if next_cursor and next_cursor != cursor:
                    cursor = next_cursor
                    await self.cursors.put(open_kfid, cursor)
                if not body.get("has_more"):
                    return
            logger.warning("WeCom: over %d pages waiting; the next callback goes on", MAX_PAGES)
        finally:
            if stale:
                logger.info(
                    "WeCom: skipped %d customer message(s) older than %.0f s (replayed history)",
                    stale,
                    self.max_age,
                )

    async def _take(self, item: Any, open_kfid: str) -> bool:
        """One pulled item: claimed once by msgid, then handled in the customer's order.

        False when it was skipped for its age.
        """
        message = incoming(item, open_kfid)
        if message.kind == "ignore":
            return True
        if too_old(message.send_time, self.max_age):
            return False
        if not await self.state.claim(f"{self.namespace}:msg:{message.key}", DEDUP_WINDOW):
            return True  # already taken (a repeated page, or another instance)
        await self.state.put(
            f"{self.namespace}:account:{message.user_id}", message.open_kfid, ACCOUNT_TTL
        )
        self._spawn(self._in_order(message.user_id, lambda: self._handle(message)))
        return True

    async def _handle(self, message: Incoming) -> None:
        output = WeComOutput(self, message.open_kfid, message.welcome_code)
        if message.kind == "unsupported":
            await output.send_text_message(message.user_id, UNSUPPORTED)
            return
        if message.kind == "greet":
            text = "/greet"
        else:
            text = await self._text_of(message)
        if not text or self._on_new_message is None:
            return
        await self._on_new_message(
            UserMessage(
                text, output, message.user_id, input_channel=self.name(), message_id=message.key
            )
        )

    async def _text_of(self, message: Incoming) -> str:
        """The Rasa text of a customer message: a clicked item's payload, a picked number."""
        if message.menu_id:
            payload = await self.menu_ids.payload(message.user_id, message.menu_id)
            if payload:
                return payload
        return await self.menus.picked(message.user_id, message.text)

    async def _in_order(self, user_id: str, work: Callable[[], Awaitable[Any]]) -> None:
        """Run ``work`` after the customer's earlier messages (FIFO per customer)."""
        lock, waiting = self._turns.get(user_id, (asyncio.Lock(), 0))
        self._turns[user_id] = (lock, waiting + 1)
        try:
            async with lock:
                await work()
        except Exception:  # noqa: BLE001 - one failed message must not stop the others
            logger.exception("WeCom: handling a customer message failed")
        finally:
            lock, waiting = self._turns[user_id]
            if waiting <= 1:
                del self._turns[user_id]
            else:
                self._turns[user_id] = (lock, waiting - 1)

    def _spawn(self, work: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
