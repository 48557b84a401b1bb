"""The platform-independent parts of the WeCom customer-service (微信客服) channel.

Kept apart from ``wecom.py`` (the Rasa glue) so they are unit-tested without Rasa:

- ``FileCursors`` / ``StateCursors``: where the ``kf/sync_msg`` cursor of each customer-service
  account survives a restart (a small JSON file under the var dir for one Rasa, the shared
  channel state when several instances use Redis);
- ``MenuIds``: the short click ids of ``msgmenu`` buttons, mapped back to Rasa payloads of any
  length through the channel state;
- ``incoming`` and ``too_old``: what one ``msg_list`` item means for the bot, and the max-age
  filter that keeps a lost cursor from replaying days of history;
- ``clip`` and ``chunks``: the platform's limits are in UTF-8 bytes, not characters.

Standard library only (Python 3.10, like the rest of ``bot/channels``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from channels.edge import clean_text
from channels.platform_state import ChannelState

logger = logging.getLogger(__name__)

CURSOR_TTL = 30 * 86_400.0  # a cursor unused for a month is stale anyway (history is 3 days)
MENU_TTL = 86_400.0  # a click on a menu older than a day falls back to the item's text
MAX_TEXT = 2000  # characters of a customer message passed to the bot

ORIGIN_CUSTOMER = 3  # a WeChat customer wrote it
ORIGIN_EVENT = 4  # a system event (enter_session, msg_send_fail, …)
ORIGIN_SERVICER = 5  # a human servicer in WeCom's own desk wrote it


class CursorStore(Protocol):
    """The ``next_cursor`` of each customer-service account (``open_kfid``)."""

    async def get(self, open_kfid: str) -> str:
        """The stored cursor, or "" (pull from the oldest message the platform keeps)."""

    async def put(self, open_kfid: str, cursor: str) -> None:
        """Remember ``cursor`` for the next pull."""


class StateCursors:
    """Cursors in the channel state (Redis when several Rasa instances share the account)."""

    def __init__(self, state: ChannelState, namespace: str) -> None:
        self.state, self.namespace = state, namespace

    async def get(self, open_kfid: str) -> str:
        """The cursor stored for ``open_kfid``."""
        return str(await self.state.get(f"{self.namespace}:cursor:{open_kfid}") or "")

    async def put(self, open_kfid: str, cursor: str) -> None:
        """Store the cursor (for a month)."""
        await self.state.put(f"{self.namespace}:cursor:{open_kfid}", cursor, CURSOR_TTL)


class FileCursors:
    """Cursors in a small JSON file, replaced atomically (one Rasa process owns it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._cursors: dict[str, str] | None = None

    def _load(self) -> dict[str, str]:
        if self._cursors is None:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                self._cursors = {str(k): str(v) for k, v in data.items()}
            except FileNotFoundError:
                self._cursors = {}
            except (OSError, ValueError, AttributeError) as err:
                logger.warning(
                    "wecom cursor file %s unreadable (%s); starting over", self.path, err
                )
                self._cursors = {}
        return self._cursors

    async def get(self, open_kfid: str) -> str:
        """The cursor stored for ``open_kfid``."""
        return self._load().get(open_kfid, "")

    async def put(self, open_kfid: str, cursor: str) -> None:
        """Store the cursor: write a temporary file next to the old one, then rename it over."""
        cursors = self._load()
        if cursors.get(open_kfid) == cursor:
            return
        cursors[open_kfid] = cursor
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".cursors-", dir=self.path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(cursors, out, sort_keys=True)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except OSError as err:
            logger.error("wecom cursor not saved to %s: %s", self.path, err)
            try:
                os.unlink(temporary)
            except OSError:
                pass


def cursor_file(var_dir: str, corp_id: str) -> Path | None:
    """Where the cursors of ``corp_id`` live under the var dir (None without a var dir)."""
    if not var_dir:
        return None
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", corp_id) or "corp"
    return Path(var_dir) / "channels" / f"wecom-{safe}-cursors.json"


class MenuIds:
    """Short click ids for ``msgmenu`` items; the payloads stay in the channel state.

    A click arrives as a text message whose ``menu_id`` is the item's id (at most 128 bytes on
    the platform), so ids are ``<menu>-<n>`` with a random menu key: a click on an older menu
    still picks its own payload, and an id is only looked up among the customer's own menus.
    """

    _ID = re.compile(r"^([0-9a-f]{8})-(\d{1,2})$")

    def __init__(self, state: ChannelState, namespace: str) -> None:
        self.state, self.namespace = state, namespace

    def _key(self, user_id: str, menu: str) -> str:
        return f"{self.namespace}:menuid:{user_id}:{menu}"

    async def register(self, user_id: str, payloads: list[str]) -> list[str]:
        """The click ids of a menu sent to ``user_id`` (one per payload, in order)."""
        menu = secrets.token_hex(4)
        await self.state.put(self._key(user_id, menu), list(payloads), MENU_TTL)
        return [f"{menu}-{n}" for n in range(1, len(payloads) + 1)]

    async def payload(self, user_id: str, menu_id: str) -> str | None:
        """The payload behind ``menu_id``, or None (unknown, expired or someone else's)."""
        match = self._ID.match(menu_id or "")
        if not match:
            return None
        payloads = await self.state.get(self._key(user_id, match.group(1))) or []
        number = int(match.group(2))
        if 1 <= number <= len(payloads):
            return str(payloads[number - 1])
        return None


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, on a character boundary."""
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", "ignore")


def chunks(text: str, limit: int) -> list[str]:
    """``text`` in pieces of at most ``limit`` UTF-8 bytes (the platform counts bytes)."""
    parts: list[str] = []
    while text:
        part = clip(text, limit)
        parts.append(part)
        text = text[len(part) :]
    return parts


def too_old(send_time: Any, max_age: float, now: float | None = None) -> bool:
    """True for a message sent more than ``max_age`` seconds ago (0 or less: no limit)."""
    if max_age <= 0:
        return False
    try:
        sent = float(send_time)
    except (TypeError, ValueError):
        return False  # no time given: better answered than lost
    return (time.time() if now is None else now) - sent > max_age


@dataclass(frozen=True)
class Incoming:
    """What one ``msg_list`` item asks of the bot.

    ``kind`` is "text" (``text`` and maybe ``menu_id``), "greet" (``enter_session``, maybe
    with a ``welcome_code``), "unsupported" (image, voice, …: a polite answer) or "ignore".
    """

    kind: str
    user_id: str
    open_kfid: str
    key: str
    send_time: Any = None
    text: str = ""
    menu_id: str = ""
    welcome_code: str = ""


def _str(value: Any, limit: int = 256) -> str:
    return clean_text(value[:limit]) if isinstance(value, str) else ""


def incoming(item: dict[str, Any], open_kfid: str) -> Incoming:
    """Classify one ``kf/sync_msg`` item (``open_kfid``: the account the pull was for)."""
    if not isinstance(item, dict):
        return Incoming("ignore", "", open_kfid, "")
    event = item.get("event") if isinstance(item.get("event"), dict) else {}
    user_id = _str(item.get("external_userid")) or _str(event.get("external_userid"))
    account = _str(item.get("open_kfid")) or _str(event.get("open_kfid")) or open_kfid
    msgtype = _str(item.get("msgtype"), 64)
    origin = item.get("origin")
    send_time = item.get("send_time")
    kind = msgtype if msgtype != "event" else f"event:{_str(event.get('event_type'), 64)}"
    key = _str(item.get("msgid")) or f"{user_id}:{send_time}:{kind}"
    if not user_id:
        return Incoming("ignore", "", account, key, send_time)
    if msgtype == "event":
        if event.get("event_type") == "enter_session":
            code = _str(event.get("welcome_code"))
            return Incoming("greet", user_id, account, key, send_time, welcome_code=code)
        return Incoming("ignore", user_id, account, key, send_time)
    if origin != ORIGIN_CUSTOMER:
        return Incoming("ignore", user_id, account, key, send_time)
    if msgtype == "text":
        text = item.get("text") if isinstance(item.get("text"), dict) else {}
        content = _str(text.get("content"), MAX_TEXT).strip()
        menu_id = _str(text.get("menu_id"), 128)
        if not content and not menu_id:
            return Incoming("ignore", user_id, account, key, send_time)
        return Incoming("text", user_id, account, key, send_time, text=content, menu_id=menu_id)
    return Incoming("unsupported", user_id, account, key, send_time)
