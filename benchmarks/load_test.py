"""Load test of the running system: concurrent website customers, agents answering handoffs.

Simulates ``--customers`` concurrent customers (default 60) who talk to Rasa exactly as the
website widget does (socket.io: ``session_request`` / ``session_confirm`` with the session token
the server issues, ``user_uttered`` with that token and ``customData``, ``bot_uttered``;
web_widget/CONTRACT.md), a share of them over Rasa's REST webhook instead (``--rest-share``;
REST customers are always anonymous: any REST client can name any sender). Each customer has a
seeded script of turns in Chinese or English mixing

- ``kb``: knowledge questions taken from the shipped demo knowledge base
  (knowledge_base/demo/faq.yml), each variant that Rasa's NLU sends to the knowledge base
  (asked once through ``/model/parse`` before the load; the others are listed in the report);
- ``order``: order look-ups — anonymous ones must be refused, signed-in ones (the widget's
  signed user of a demo customer from crm_bridge/services/demo_seed.py: ``user_id``,
  ``user_expires`` an hour ahead, ``user_hash`` = HMAC-SHA256 of ``"<user_id>:<expires>"``)
  must get the status;
- ``smalltalk``: greeting, "are you a bot?", thanks, goodbye (and the rating it may ask for);
- ``handoff``: a small share of conversations ask for a human ("转人工" / "I want to talk to a
  human"). Simulated agents, created through the bridge's admin API, work them through the
  console REST API (crm_bridge/console/API.md): online, accept, reply, see the customer's next
  message, resolve. The turns of the kind are the request, the rating the bot asks for when it
  is back, and the rating's follow-up; the agent's part is reported separately. The agents
  (``Load agent …``) stay in the CRM, offline, after the run.

The system may also hand a conversation to a human by itself (the bridge's sentiment and
keyword triggers). The customer then follows that handoff like one it asked for; such
handoffs are reported with the customer's latest message, not counted as errors.

When the customer leaves, a new one takes their place after a think time, so the number of
open conversations stays at about ``--customers`` after a ``--ramp-up``. Think times are
random (seeded): ``--think MIN MAX`` seconds, or paced for an offered rate (``--rate``
messages/s over all customers). After ``--duration`` seconds of steady load the customers
finish their turn (a handoff in progress finishes) and disconnect; every wait has a timeout,
and a hard deadline cancels whatever is left, so the run always ends by itself.

It measures, per customer message, the reply latency (message sent → first bot message of
that turn; the REST round trip for REST customers), per kind and overall: count, p50 / p95 /
p99 over the whole run, errors (no reply within ``--reply-timeout``, a wrong or refused
answer, a lost connection, a handoff step that did not happen); the answered messages per
second over the steady window (after the ramp-up); the peak number of open conversations;
sampled every second from /proc, CPU (% of one core) and RSS of the Rasa server, the action
server and the bridge (found by their listening ports, children included: RSS of the server's
process plus the private memory of its children, see ``tree_rss_bytes``), of this generator
and of the whole machine: idle before the load, mean and max under it; and, with the var dir
of the embedded default, how far the bridge's ingestion of Rasa's events lags behind.

Run from the repo root with the services env against a running system (``make run``: the
var dir is where the system keeps its secrets; without it there are no signed customers and
no agents, and handoffs become tickets):

    var/venvs/services/bin/python benchmarks/load_test.py \
        --rasa-url http://127.0.0.1:5005 --bridge-url http://127.0.0.1:8000 --var-dir var

**Rate limits.** Rasa's public doors limit messages and new widget sessions per client address
(``CSA_RATE_LIMITS``, default ``ip=120/60,conversation=30/60,session=20/60``), and every
simulated customer is this machine's address: start the system under test with limits the load
cannot reach, or its figures measure the limiter::

    CSA_RATE_LIMITS=ip=1000000/60,conversation=1000000/60,session=1000000/60 make run
    # the scale-out profile likewise: CSA_RATE_LIMITS=… make run-scaleout

Before the load, the generator reads the limits of the Rasa processes serving ``--rasa-url``
from their environment (same machine and user) and stops (exit 2) when they could refuse the
offered load; ``--allow-rate-limits`` runs anyway (to watch the limiter work). Refusals
(REST 429, the widget's "too quickly" text) count as ``rate_limited`` errors.

**Both profiles.** Rasa's HTTP API (``/model/parse``, trackers) and the bridge's ``/health``
are private in the scale-out profile: on nginx's listeners at the public ports + 30, which the
generator uses when the public port does not serve them (or give ``--rasa-api-url`` and
``--bridge-api-url``).

Exit code 0 when every message was answered correctly and p95 is within ``--max-p95-ms``
(when given); 1 otherwise; 2 when the system cannot be reached or set up at all.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import math
import os
import random
import re
import secrets
import sqlite3
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import socketio
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crm_bridge.services.demo_seed import CUSTOMERS as DEMO_CUSTOMERS  # noqa: E402
from devtools.ports import (  # noqa: E402
    pid_listening_on,  # noqa: F401 - re-exported for the tests
    process_ids,
    process_parents,
    process_tree,
)

KINDS = ("kb", "order", "smalltalk", "handoff")
PRIVATE_OFFSET = 30
"""The scale-out profile's private listeners (Rasa's API, the whole bridge): public port + 30."""
SIGNED_FOR_S = 3600
"""How long the simulated shop signs its users for (the widget refuses expired claims)."""
RATE_LIMITED = ("您发送得太快了", "sending messages too quickly")
"""Rasa's polite refusal past its rate limits (bot/channels/rate_limits.py), zh and en."""
DEFAULT_RATE_LIMITS = "ip=120/60,conversation=30/60,session=20/60"
"""Rasa's limits when ``CSA_RATE_LIMITS`` is empty (bot/channels/rate_limits.py)."""
UNLIMITED = "ip=1000000/60,conversation=1000000/60,session=1000000/60"
"""What to start the system under test with (``CSA_RATE_LIMITS``)."""
MAX_TURNS = 20
"""More than the messages of any one simulated conversation (its script, a handoff)."""
FAQ = ROOT / "knowledge_base" / "demo" / "faq.yml"
HAN = re.compile(r"[\u4e00-\u9fff]")
KB_INTENTS = frozenset({"ask_kb", "nlu_fallback", "out_of_scope"})
TICKET = re.compile(r"工单号 ?\d+|ticket \d+")

# What the simulated customers write and what the answers must contain, per language.
GREETINGS = {"zh": ["你好", "您好", "在吗"], "en": ["hello", "hi there", "good morning"]}
SMALL_TALK = {"zh": ["你是机器人吗", "你能做什么"], "en": ["are you a bot?", "what can you do?"]}
THANKS = {"zh": ["谢谢", "好的，谢谢"], "en": ["thanks a lot", "thank you"]}
GOODBYE = {"zh": ["再见", "拜拜"], "en": ["bye", "goodbye"]}
HUMAN = {"zh": ["转人工", "我要人工客服"], "en": ["I want to talk to a human", "talk to a person"]}
ORDER_NO_NUMBER = {"zh": "我的订单到哪了", "en": "where is my order?"}
ORDER_WITH_NUMBER = {"zh": "我的订单{number}到哪了", "en": "where is my order {number}?"}
ASKS_NUMBER = {"zh": "订单号", "en": "order number"}
REFUSED = {"zh": "验证身份", "en": "verified"}
ORDER_LINE = {"zh": "订单 {number}", "en": "Order {number}"}
ASSISTANT_BACK = {"zh": "智能助手回来了", "en": "the assistant is back"}
ASKS_COMMENT = {"zh": "还有什么想告诉我们", "en": "Anything you'd like to add"}
RATING_THANKS = {"zh": "感谢您的评价", "en": "Thanks for your rating"}
MESSAGE_LEFT = {"zh": "已收到您的留言", "en": "your message is on ticket"}
LEAVE_MESSAGE = {"zh": "请明天上午给我回电话", "en": "please call me back tomorrow morning"}
WHILE_PAUSED = {"zh": "好的，麻烦您帮我看一下", "en": "OK, please have a look for me"}
AGENT_REPLY = {
    "zh": "您好，我是{name}，我来帮您处理。",
    "en": "Hi, {name} here. Let me sort it out.",
}


class SetupError(RuntimeError):
    """The system cannot be loaded as asked (unreachable, no admin login, …)."""


# -- scripts ---------------------------------------------------------------------------------


Check = Callable[[list[dict[str, Any]], str], str | None]


@dataclass(frozen=True)
class Turn:
    """One customer message and what a correct answer looks like."""

    kind: str
    text: str
    check: Check
    metadata: dict[str, Any] | None = None
    expect_entry: str | None = None  # kb: the FAQ entry the question comes from


@dataclass(frozen=True)
class HandoffStep:
    """Ask for a human, then follow the handoff to its end."""

    text: str
    metadata: dict[str, Any] | None = None


def _texts(replies: list[dict[str, Any]]) -> str:
    return " ".join(r.get("text") or "" for r in replies)


def any_text(replies: list[dict[str, Any]], channel: str) -> str | None:
    """Some non-empty text."""
    return None if _texts(replies).strip() else "empty reply"


def in_language(language: str) -> Check:
    """Some text, in ``language`` (fixed small-talk answers)."""

    def check(replies: list[dict[str, Any]], channel: str) -> str | None:
        text = _texts(replies)
        if not text.strip():
            return "empty reply"
        if bool(HAN.search(text)) != (language == "zh"):
            return f"not in {language}"
        return None

    return check


def contains(*needles: str, absent: tuple[str, ...] = ()) -> Check:
    """Text containing every needle and none of ``absent``."""

    def check(replies: list[dict[str, Any]], channel: str) -> str | None:
        text = _texts(replies)
        missing = [n for n in needles if n not in text]
        present = [a for a in absent if a in text]
        if missing or present:
            return f"expected {missing or ''} {'without ' + str(present) if present else ''}"
        return None

    return check


def has_ticket(replies: list[dict[str, Any]], channel: str) -> str | None:
    """A handoff announcement: it always names the ticket."""
    return None if TICKET.search(_texts(replies)) else "no ticket number"


def kb_answer(replies: list[dict[str, Any]], channel: str) -> str | None:
    """The knowledge-base action answered (socket.io shows its decision in the metadata)."""
    if channel == "rest":
        return any_text(replies, channel)
    if any((r.get("metadata") or {}).get("kb_decision") for r in replies):
        return None
    return "no knowledge-base answer"


def load_kb_questions(path: Path = FAQ) -> dict[str, list[tuple[str, str]]]:
    """(question, entry id) per language: every question variant of the demo knowledge base."""
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))["entries"]
    questions: dict[str, list[tuple[str, str]]] = {"zh": [], "en": []}
    for entry in entries:
        for question in entry["questions"]:
            questions["zh" if HAN.search(question) else "en"].append((question, entry["id"]))
    return questions


async def routed_to_kb(
    settings: Settings, token: str, questions: dict[str, list[tuple[str, str]]]
) -> tuple[dict[str, list[tuple[str, str]]], list[str]]:
    """Keep the questions Rasa's NLU sends to the knowledge base (``/model/parse``).

    The bot's rules (bot/data/rules/kb.yml) answer ``ask_kb``, ``nlu_fallback`` and
    ``out_of_scope`` from the knowledge base.

    Some FAQ variants are, to the bot, something else: "我的包裹到哪了？" asks about the
    customer's own order, "人工客服工作时间" asks for a human. Asked as knowledge questions they
    would count as wrong answers, so they are left out (and listed in the report).
    """
    gate = asyncio.Semaphore(4)

    async def intent(client: httpx.AsyncClient, text: str) -> str:
        async with gate:
            response = await client.post(
                f"{rasa_api(settings)}/model/parse", params={"token": token}, json={"text": text}
            )
            response.raise_for_status()
            return response.json()["intent"]["name"]

    kept: dict[str, list[tuple[str, str]]] = {}
    left_out = []
    async with httpx.AsyncClient(timeout=settings.reply_timeout) as client:
        for language, pairs in questions.items():
            intents = await asyncio.gather(*(intent(client, q) for q, _ in pairs))
            kept[language] = [
                pair for pair, name in zip(pairs, intents, strict=True) if name in KB_INTENTS
            ]
            left_out += [
                f"{q} ({name})"
                for (q, _), name in zip(pairs, intents, strict=True)
                if name not in KB_INTENTS
            ]
    return kept, left_out


@dataclass(frozen=True)
class DemoCustomer:
    """A seeded customer who can sign in on the website, and their orders."""

    user_id: str
    orders: tuple[str, ...]


def demo_customers() -> list[DemoCustomer]:
    """Order numbers as demo_seed makes them: DS + customer + order index + days ago."""
    found = []
    for index, (_name, _lang, _tier, _points, user_id, history) in enumerate(DEMO_CUSTOMERS, 1):
        numbers = tuple(
            f"DS{index:02d}{n:02d}{days_ago:04d}" for n, (days_ago, _a, _s) in enumerate(history, 1)
        )
        if numbers:
            found.append(DemoCustomer(user_id, numbers))
    return found


def sign(secret: str, user_id: str, expires: int | None = None) -> dict[str, str | int]:
    """The widget's signed user (``customData``), as the shop's server signs it.

    ``user_hash`` = hex(HMAC-SHA256(secret, ``"<user_id>:<user_expires>"``)), valid until
    ``expires`` (Unix seconds; default :data:`SIGNED_FOR_S` from now).
    """
    expires = int(time.time()) + SIGNED_FOR_S if expires is None else expires
    message = f"{user_id}:{expires}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return {"user_id": user_id, "user_expires": expires, "user_hash": digest}


class Scripts:
    """Seeded conversation scripts."""

    def __init__(self, site_secret: str | None, handoff_share: float, kb_questions=None) -> None:
        self.site_secret = site_secret
        self.handoff_share = handoff_share
        self.kb = kb_questions or load_kb_questions()
        if not all(self.kb.get(language) for language in ("zh", "en")):
            raise SetupError("no knowledge question reaches the knowledge base in one language")
        self.customers = demo_customers()

    def conversation(self, rng: random.Random, channel: str) -> tuple[str, list[Any]]:
        """(language, steps) of one conversation.

        Half the widget's customers are signed in (when the site secret is known): like the
        widget, they send their signed user with every message. REST customers are anonymous
        (the REST channel believes no signed user).
        """
        lang = rng.choice(("zh", "en"))
        signed = None
        if self.site_secret and rng.random() < 0.5 and channel == "socketio":
            signed = rng.choice(self.customers)
        metadata = sign(self.site_secret, signed.user_id) if signed and self.site_secret else None
        steps: list[Any] = []
        if rng.random() < 0.7:
            steps.append(
                Turn("smalltalk", rng.choice(GREETINGS[lang]), in_language(lang), metadata)
            )
        for _ in range(rng.randint(2, 5)):
            roll = rng.random()
            if roll < 0.55:
                question, entry = rng.choice(self.kb[lang])
                steps.append(Turn("kb", question, kb_answer, metadata, expect_entry=entry))
            elif roll < 0.85:
                steps.extend(self._order(rng, lang, signed, metadata))
            else:
                text = rng.choice(SMALL_TALK[lang])
                steps.append(Turn("smalltalk", text, in_language(lang), metadata))
        if channel == "socketio" and rng.random() < self.handoff_share:
            steps.append(HandoffStep(rng.choice(HUMAN[lang]), metadata))
            return lang, steps  # the handoff ends with the rating
        if rng.random() < 0.5:
            steps.append(Turn("smalltalk", rng.choice(THANKS[lang]), in_language(lang), metadata))
        steps.append(Turn("smalltalk", rng.choice(GOODBYE[lang]), in_language(lang), metadata))
        return lang, steps

    def _order(self, rng, lang: str, signed: DemoCustomer | None, metadata) -> list[Turn]:
        if signed is None:
            # Anonymous: refused, whatever the number; no order data may leak.
            number = rng.choice(rng.choice(self.customers).orders)
            text = ORDER_WITH_NUMBER[lang].format(number=number)
            return [Turn("order", text, contains(REFUSED[lang], absent=(number,)))]
        number = rng.choice(signed.orders)
        answer = contains(ORDER_LINE[lang].format(number=number), absent=(REFUSED[lang],))
        if rng.random() < 0.5:
            text = ORDER_WITH_NUMBER[lang].format(number=number)
            return [Turn("order", text, answer, metadata)]
        return [
            Turn("order", ORDER_NO_NUMBER[lang], contains(ASKS_NUMBER[lang]), metadata),
            Turn("order", number, answer, metadata),
        ]


# -- measurements ----------------------------------------------------------------------------


@dataclass
class Sample:
    """One customer message."""

    kind: str
    channel: str
    sent: float  # seconds since the start of the load
    latency_ms: float | None
    error: str | None = None


@dataclass
class HandoffRecord:
    """One handoff, from the customer's and the agent's side (seconds since the start)."""

    sender: str  # the conversation key (socketio:w_…, rest:…), as the bridge's queue has it
    language: str
    channel: str
    requested: bool = True  # False: the system escalated by itself
    mode: str = ""  # assigned | queued | ticket
    asked: float | None = None
    agent_replied: float | None = None  # the agent's POST returned
    reply_seen: float | None = None  # the customer got it
    paused_sent: float | None = None  # the customer wrote while paused
    paused_seen: float | None = None  # the agent saw it in the transcript
    closed: float | None = None
    resumed: float | None = None  # the customer saw the assistant back
    bot_spoke_while_paused: int = 0


class Recorder:
    """Everything measured during one run."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.samples: list[Sample] = []
        self.errors: Counter[str] = Counter()
        self.examples: list[str] = []  # the first three of each category
        self.handoffs: dict[str, HandoffRecord] = {}
        self.open_conversations = 0
        self.peak_conversations = 0
        self.conversation_levels: list[tuple[float, int]] = []
        self.conversations_started = 0
        self.conversations_done = 0
        self.kb_hits: Counter[str] = Counter()
        self.unsolicited: list[str] = []  # handoffs the system started: the customer's last text
        self.agent_handled = 0
        self.kb_left_out: list[str] = []  # FAQ variants the NLU does not send to the KB

    def now(self) -> float:
        """Seconds since the start."""
        return time.perf_counter() - self.t0

    def error(self, category: str, detail: str) -> None:
        """Count an error (not tied to one message); keep a few examples."""
        self.errors[category] += 1
        if self.errors[category] <= 3:
            self.examples.append(f"{category}: {detail}"[:300])

    def sample(self, sample: Sample, detail: str = "") -> None:
        """One customer message."""
        self.samples.append(sample)
        if sample.error:
            self.error(f"{sample.kind}/{sample.error}", detail)

    @contextlib.contextmanager
    def conversation(self) -> Iterator[None]:
        """An open conversation (a connected, confirmed socket or a REST sender)."""
        self.conversations_started += 1
        self.open_conversations += 1
        self.peak_conversations = max(self.peak_conversations, self.open_conversations)
        self.conversation_levels.append((self.now(), self.open_conversations))
        try:
            yield
        finally:
            self.open_conversations -= 1
            self.conversations_done += 1
            self.conversation_levels.append((self.now(), self.open_conversations))


# -- customers -------------------------------------------------------------------------------


@dataclass
class Settings:
    """The run's parameters (from the command line)."""

    rasa_url: str
    bridge_url: str
    var_dir: Path | None = None
    actions_url: str | None = None
    customers: int = 60
    rest_share: float = 0.1
    handoff_share: float = 0.05
    duration: float = 60.0
    ramp_up: float = 10.0
    reply_timeout: float = 10.0
    handoff_timeout: float = 30.0
    think: tuple[float, float] = (1.5, 3.5)
    rate: float | None = None
    agents: int = 3
    agent_capacity: int = 4
    agent_think: tuple[float, float] = (1.0, 3.0)
    seed: int = 1
    idle: float = 3.0
    processes: tuple[tuple[str, int], ...] = ()
    """More processes to sample, by listening port (the instances behind nginx)."""
    rasa_api_url: str | None = None
    """Rasa's HTTP API (``/model/parse``, trackers); found by :func:`preflight` when None."""
    bridge_api_url: str | None = None
    """The bridge's ``/health``; found by :func:`preflight` when None."""
    allow_rate_limits: bool = False
    """Run even when Rasa's rate limits could refuse the load."""


class Pace:
    """Think time of one customer: uniform in a range, or paced for the offered rate."""

    def __init__(self, settings: Settings, rng: random.Random) -> None:
        self.rng = rng
        if settings.rate:
            interval = settings.customers / settings.rate
            self.low, self.high, self.paced = 0.5 * interval, 1.5 * interval, True
        else:
            self.low, self.high, self.paced = *settings.think, False

    def think(self, latency_s: float = 0.0) -> float:
        """Seconds to wait before the next message."""
        pause = self.rng.uniform(self.low, self.high)
        return max(0.05, pause - latency_s) if self.paced else pause


class RateLimitedError(RuntimeError):
    """Rasa refused a new widget session: past its rate limit of new sessions."""


class SocketConversation:
    """One widget session over Rasa's socket.io channel.

    The server issues the session: ``session_confirm`` gives the token ``w_<32 hex>.<secret>``
    that the widget keeps and sends back with every message. ``key`` is the conversation's
    key in Rasa and the CRM (``socketio:<session id>``).
    """

    def __init__(self, rasa_url: str, timeout: float) -> None:
        self.rasa_url = rasa_url
        self.timeout = timeout
        self.token: str | None = None
        self.session_id = "(unconfirmed)"
        self.identity: dict[str, Any] | None = None  # a signed customer's, sent every time
        self.inbox: asyncio.Queue[tuple[float, dict[str, Any]]] = asyncio.Queue()
        self.confirmed = asyncio.Event()
        self.refused: str | None = None  # what Rasa said instead of confirming a session
        self.client = socketio.AsyncClient(reconnection=False, request_timeout=timeout)
        self.client.on("bot_uttered", self._received)
        self.client.on("session_confirm", self._confirmed)

    @property
    def key(self) -> str:
        """Rasa's and the CRM's key of this conversation."""
        return f"socketio:{self.session_id}"

    async def _received(self, data: Any) -> None:
        message = data if isinstance(data, dict) else {}
        if not self.confirmed.is_set():
            # Refused before any session: said, then disconnected (rate limit, no key).
            self.refused = str(message.get("text") or "refused")
            self.confirmed.set()
            return
        self.inbox.put_nowait((time.perf_counter(), message))

    async def _confirmed(self, token: Any = None, *_args: Any) -> None:
        if isinstance(token, str) and "." in token:
            self.token = token
            self.session_id = token.split(".", 1)[0]
        self.confirmed.set()

    async def open(self) -> None:
        """Connect (websocket transport, as the widget) and ask the server for a session.

        Raises:
            RateLimitedError: Rasa refused a new session (its rate limit).
            RuntimeError: it answered something else than a session.
        """
        await asyncio.wait_for(
            self.client.connect(
                self.rasa_url,
                transports=["websocket"],
                socketio_path="/socket.io",
                wait_timeout=self.timeout,
            ),
            self.timeout + 1,
        )
        await self.client.emit("session_request", {"session_id": None})  # a new visitor
        await asyncio.wait_for(self.confirmed.wait(), self.timeout)
        if self.refused is not None:
            if any(phrase in self.refused for phrase in RATE_LIMITED):
                raise RateLimitedError(self.refused)
            raise RuntimeError(f"no session: {self.refused[:120]}")
        if self.token is None:
            raise RuntimeError("session_confirm without a session token")

    async def say(self, text: str, metadata: dict[str, Any] | None) -> float:
        """Emit ``user_uttered``; return when it was sent (perf_counter)."""
        custom = metadata or self.identity or {}
        body = {"message": text, "session_id": self.token, "customData": custom}
        sent = time.perf_counter()
        await asyncio.wait_for(self.client.emit("user_uttered", body), self.timeout)
        return sent

    async def next(self, deadline: float) -> tuple[float, dict[str, Any]] | None:
        """The next bot message before ``deadline`` (perf_counter), or None."""
        remaining = deadline - time.perf_counter()
        if remaining <= 0 and self.inbox.empty():
            return None
        try:
            return await asyncio.wait_for(self.inbox.get(), max(remaining, 0.001))
        except TimeoutError:
            return None

    def drain(self) -> list[dict[str, Any]]:
        """Messages that arrived since the last turn was checked."""
        left = []
        while not self.inbox.empty():
            left.append(self.inbox.get_nowait()[1])
        return left

    @property
    def connected(self) -> bool:
        """Whether the socket is still up."""
        return self.client.connected

    async def close(self) -> None:
        """Disconnect (bounded)."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.client.disconnect(), 5)


@dataclass
class TurnResult:
    """What one customer message got: the latency (s) and replies, or a handoff notice."""

    latency: float | None = None
    replies: list[dict[str, Any]] = field(default_factory=list)
    notice: dict[str, Any] | None = None  # the conversation was paused by a handoff instead
    ok: bool = False


def handoff_mode(text: str) -> str:
    """How the bot announced a handoff: assigned, queued or ticket (nobody to take it)."""
    if any(k in text for k in ("没有空闲", "no agent is available", "工作时间", "not working")):
        return "ticket"
    return "queued" if ("排在第" in text or "in the queue" in text) else "assigned"


class Customer:
    """One slot of the load: conversations one after another until the load ends."""

    def __init__(
        self,
        slot: int,
        settings: Settings,
        scripts: Scripts,
        rec: Recorder,
        http: httpx.AsyncClient,
        stop_at: float,
        rasa_token: str | None,
    ) -> None:
        self.settings = settings
        self.scripts = scripts
        self.rec = rec
        self.http = http
        self.stop_at = stop_at  # perf_counter
        self.rasa_token = rasa_token
        self.rng = random.Random(settings.seed * 100_003 + slot)
        self.pace = Pace(settings, self.rng)
        self.channel = "rest" if self.rng.random() < settings.rest_share else "socketio"
        self.last_text = ""  # the latest message answered (reported when a handoff follows)

    def _running(self) -> bool:
        return time.perf_counter() < self.stop_at

    async def run(self, start_delay: float) -> None:
        """Arrive after ``start_delay``; keep conversing until the end of the load."""
        await asyncio.sleep(start_delay)
        while self._running():
            language, steps = self.scripts.conversation(self.rng, self.channel)
            if self.channel == "rest":
                await self._rest_conversation(language, steps)
            else:
                await self._socket_conversation(language, steps)
            if self._running():
                await asyncio.sleep(self.pace.think())

    # REST ---------------------------------------------------------------------------------

    async def _rest_conversation(self, language: str, steps: list[Any]) -> None:
        sender = f"load-rest-{uuid.uuid4().hex[:12]}"  # Rasa keys it rest:<sender>
        with self.rec.conversation():
            for number, step in enumerate(steps):
                if number and not self._running():
                    break
                latency = await self._rest_turn(sender, language, step)
                if latency is None:
                    break  # broken or paused: this customer leaves, a new one comes
                await asyncio.sleep(self.pace.think(latency))

    async def _rest_turn(self, sender: str, language: str, turn: Turn) -> float | None:
        body: dict[str, Any] = {"sender": sender, "message": turn.text}
        if turn.metadata:
            body["metadata"] = turn.metadata
        at = self.rec.now()
        sent = time.perf_counter()
        try:
            response = await self.http.post(
                f"{self.settings.rasa_url}/webhooks/rest/webhook",
                json=body,
                timeout=self.settings.reply_timeout,
            )
            elapsed = time.perf_counter() - sent
            response.raise_for_status()
            replies = response.json()
        except httpx.TimeoutException:
            self.rec.sample(Sample(turn.kind, "rest", at, None, "timeout"), turn.text)
            return None
        except httpx.HTTPStatusError as err:
            limited = err.response.status_code == 429
            error = "rate_limited" if limited else "http"
            self.rec.sample(Sample(turn.kind, "rest", at, None, error), f"{turn.text}: {err!r}")
            return None
        except (httpx.HTTPError, ValueError) as err:
            self.rec.sample(Sample(turn.kind, "rest", at, None, "http"), f"{turn.text}: {err!r}")
            return None
        key = f"rest:{sender}"
        if not replies and await self._paused(key):
            # A trigger of the bridge handed the conversation to a human after the last turn.
            self.rec.handoffs[key] = HandoffRecord(key, language, "rest", False, "paused")
            self.rec.unsolicited.append(f"{key}: {self.last_text!r}")
            return None
        problem = turn.check(replies, "rest") if replies else "no reply"
        self.rec.sample(
            Sample(turn.kind, "rest", at, elapsed * 1000, "wrong" if problem else None),
            f"{turn.text!r} → {problem}: {_texts(replies)[:160]!r}",
        )
        self.last_text = turn.text
        return None if problem else elapsed

    async def _paused(self, key: str) -> bool:
        """Whether Rasa has paused conversation ``key`` (needs the API token of the var dir)."""
        if not self.rasa_token:
            return False
        with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
            response = await self.http.get(
                f"{rasa_api(self.settings)}/conversations/{quote(key, safe=':')}/tracker",
                params={"token": self.rasa_token, "include_events": "NONE"},
                timeout=self.settings.reply_timeout,
            )
            return bool(response.json()["paused"])
        return False

    # socket.io ----------------------------------------------------------------------------

    async def _socket_conversation(self, language: str, steps: list[Any]) -> None:
        conv = SocketConversation(self.settings.rasa_url, self.settings.reply_timeout)
        conv.identity = next((step.metadata for step in steps if step.metadata), None)
        try:
            try:
                await conv.open()
            except RateLimitedError as err:
                self.rec.error("connect/rate_limited", str(err))
                await asyncio.sleep(1.0)
                return
            except Exception as err:  # noqa: BLE001 - any failure to connect is one error
                self.rec.error("connect", f"{type(err).__name__}: {err}")
                await asyncio.sleep(1.0)  # do not hammer a server that refuses
                return
            with self.rec.conversation():
                for number, step in enumerate(steps):
                    if number and not self._running():
                        break
                    if isinstance(step, HandoffStep):
                        await self._ask_for_human(conv, language, step)
                        break
                    result = await self._socket_turn(conv, step)
                    notice = result.notice
                    if notice is None and result.ok:
                        notice = await self._think(conv, self.pace.think(result.latency or 0))
                    if notice is not None:  # the system escalated by itself
                        self.rec.unsolicited.append(f"{conv.key}: {self.last_text!r}")
                        await self._follow_handoff(conv, language, notice, requested=False)
                        break
                    if not result.ok:
                        break  # broken: this customer leaves, a new one comes
        finally:
            await conv.close()

    async def _think(self, conv: SocketConversation, seconds: float) -> dict[str, Any] | None:
        """Think for ``seconds``; a handoff notice arriving meanwhile ends it (returned)."""
        deadline = time.perf_counter() + seconds
        while (got := await conv.next(deadline)) is not None:
            if TICKET.search(got[1].get("text") or ""):
                return got[1]
        return None

    async def _socket_turn(self, conv: SocketConversation, turn: Turn) -> TurnResult:
        """Send one message and check the answer; record the sample."""
        for stale in conv.drain():
            if TICKET.search(stale.get("text") or ""):
                return TurnResult(notice=stale)
        if not conv.connected:
            self.rec.error("disconnected", conv.key)
            return TurnResult()
        at = self.rec.now()
        try:
            sent = await conv.say(turn.text, turn.metadata)
        except Exception as err:  # noqa: BLE001
            self.rec.sample(Sample(turn.kind, "socketio", at, None, "send"), repr(err))
            return TurnResult()
        deadline = sent + self.settings.reply_timeout
        first = await conv.next(deadline)
        if first is None:
            self.rec.sample(Sample(turn.kind, "socketio", at, None, "timeout"), turn.text)
            return TurnResult()
        if turn.kind != "handoff" and TICKET.search(first[1].get("text") or ""):
            return TurnResult(notice=first[1])  # sent into a conversation paused meanwhile
        latency = first[0] - sent
        replies = [first[1]]
        if any(phrase in (first[1].get("text") or "") for phrase in RATE_LIMITED):
            self.rec.sample(
                Sample(turn.kind, "socketio", at, None, "rate_limited"), f"{turn.text!r}"
            )
            return TurnResult()
        problem = turn.check(replies, "socketio")
        while problem and (more := await conv.next(deadline)) is not None:
            replies.append(more[1])
            problem = turn.check(replies, "socketio")
        self.rec.sample(
            Sample(turn.kind, "socketio", at, latency * 1000, "wrong" if problem else None),
            f"{turn.text!r} → {problem}: {_texts(replies)[:160]!r}",
        )
        self.last_text = turn.text
        if turn.kind == "kb" and not problem:
            meta = next((r["metadata"] for r in replies if r.get("metadata")), {})
            hit = (
                meta.get("kb_decision") == "answer" and meta.get("kb_entry_id") == turn.expect_entry
            )
            self.rec.kb_hits["expected entry" if hit else meta.get("kb_decision", "?")] += 1
        return TurnResult(latency, replies, ok=not problem)

    async def _ask_for_human(self, conv: SocketConversation, language: str, step: HandoffStep):
        """Ask for a human; follow the live handoff, or leave a message on the ticket."""
        ask = Turn("handoff", step.text, has_ticket, step.metadata)
        result = await self._socket_turn(conv, ask)
        if not result.ok:
            return
        text = _texts(result.replies)
        if handoff_mode(text) == "ticket":
            self.rec.handoffs[conv.key] = HandoffRecord(
                conv.key, language, "socketio", mode="ticket", asked=self.rec.now()
            )
            await self._think(conv, self.pace.think())
            leave = Turn("handoff", LEAVE_MESSAGE[language], contains(MESSAGE_LEFT[language]))
            await self._socket_turn(conv, leave)
            return
        await self._follow_handoff(conv, language, result.replies[0], requested=True)

    async def _follow_handoff(self, conv, language: str, notice: dict[str, Any], requested: bool):
        """Paused: wait for the agent, write once, wait for the bot to come back and rate it."""
        mode = handoff_mode(notice.get("text") or "")
        # Keyed as the bridge's queue names the conversation (its ``sender_id``).
        record = HandoffRecord(
            conv.key, language, "socketio", requested, mode, asked=self.rec.now()
        )
        self.rec.handoffs[conv.key] = record
        if mode == "ticket":
            return  # nobody will come: this customer leaves
        deadline = time.perf_counter() + self.settings.handoff_timeout
        if await self._wait(conv, deadline, lambda m: "agent" in (m.get("metadata") or {})) is None:
            self.rec.error("handoff/no_agent_reply", conv.key)
            return
        record.reply_seen = self.rec.now()
        await asyncio.sleep(self.pace.think())
        try:
            await conv.say(WHILE_PAUSED[language], None)
        except Exception as err:  # noqa: BLE001
            self.rec.error("handoff/send", repr(err))
            return
        record.paused_sent = self.rec.now()
        deadline = time.perf_counter() + self.settings.handoff_timeout
        back = ASSISTANT_BACK[language]
        if (
            await self._wait(conv, deadline, lambda m: back in (m.get("text") or ""), record)
            is None
        ):
            self.rec.error("handoff/not_resumed", conv.key)
            return
        record.resumed = self.rec.now()
        # The rating question came with the notice: rate, then skip the comment.
        await asyncio.sleep(self.pace.think())
        rate = Turn("handoff", '/rate{"rating":"5"}', contains(ASKS_COMMENT[language]))
        if (await self._socket_turn(conv, rate)).ok:
            await asyncio.sleep(self.pace.think())
            skip = Turn("handoff", "/deny", contains(RATING_THANKS[language]))
            await self._socket_turn(conv, skip)

    async def _wait(self, conv, deadline: float, wanted, record: HandoffRecord | None = None):
        """Skip messages until ``wanted``; with ``record``, count bot answers while paused."""
        while (got := await conv.next(deadline)) is not None:
            message = got[1]
            if wanted(message):
                return message
            meta = message.get("metadata") or {}
            if record is not None and "agent" not in meta and "handoff" not in meta:
                record.bot_spoke_while_paused += 1
                self.rec.error("handoff/bot_spoke_while_paused", repr(message.get("text"))[:120])
        return None


# -- agents ----------------------------------------------------------------------------------


@dataclass
class AgentAuth:
    """A simulated agent's log-in: access tokens are short-lived (15 minutes by default).

    It logs in again a minute before its token expires (the console renews through its refresh
    cookie instead; here every agent shares one HTTP client, so one cookie jar).
    """

    login: str
    password: str
    token: str
    renew_at: float


class Agents:
    """Simulated console agents: created by the demo admin, online during the load."""

    def __init__(self, settings: Settings, rec: Recorder) -> None:
        self.settings = settings
        self.rec = rec
        self.rng = random.Random(settings.seed)
        self.api = httpx.AsyncClient(base_url=f"{settings.bridge_url}/api/v1", timeout=15)
        self.tokens: list[tuple[int, str, AgentAuth]] = []  # id, name, log-in
        self.working: set[int] = set()
        self.tasks: set[asyncio.Task] = set()

    async def start(self) -> None:
        """Create the agents (unique logins), log them in, set them online."""
        admin = _demo_login(self.settings.var_dir, "admin")
        admin_auth = await self._login(*admin)
        run = secrets.token_hex(3)
        for n in range(self.settings.agents):
            login, password = f"load-{run}-{n + 1}", secrets.token_urlsafe(16)
            name = f"Load agent {run}-{n + 1}"
            created = await self.api.post(
                "/agents",
                headers={"Authorization": f"Bearer {await self._bearer(admin_auth)}"},
                json={
                    "name": name,
                    "login": login,
                    "password": password,
                    "languages": ["zh", "en"],
                    "max_concurrent": self.settings.agent_capacity,
                },
            )
            if created.status_code != 201:
                raise SetupError(f"could not create an agent: {created.status_code} {created.text}")
            agent_token = await self._login(login, password)
            await self._call(
                agent_token, "PUT", "/agents/me/availability", {"availability": "online"}
            )
            self.tokens.append((created.json()["id"], name, agent_token))

    async def _login(self, login: str, password: str) -> AgentAuth:
        response = await self.api.post(
            "/login/access-token", data={"username": login, "password": password}
        )
        if response.status_code != 200:
            raise SetupError(f"login {login!r} refused: {response.status_code}")
        body = response.json()
        lifetime = float(body.get("expires_in") or 900)
        renew_at = time.monotonic() + max(lifetime - 60, lifetime / 2)
        return AgentAuth(login, password, body["access_token"], renew_at)

    async def _bearer(self, auth: AgentAuth) -> str:
        """The agent's access token, renewed (by a new log-in) when it is about to expire."""
        if time.monotonic() >= auth.renew_at:
            fresh = await self._login(auth.login, auth.password)
            auth.token, auth.renew_at = fresh.token, fresh.renew_at
        return auth.token

    async def _call(self, auth: AgentAuth, method: str, path: str, body: dict | None = None):
        bearer = await self._bearer(auth)
        response = await self.api.request(
            method, path, json=body, headers={"Authorization": f"Bearer {bearer}"}
        )
        if response.status_code >= 300:
            raise httpx.HTTPStatusError(
                f"{method} {path}: {response.status_code} {response.text[:200]}",
                request=response.request,
                response=response,
            )
        return response.json()

    async def work(self, stop: asyncio.Event) -> None:
        """Poll the queue as the console would; handle each handoff once; until ``stop``."""
        while not stop.is_set():
            for agent_id, name, token in self.tokens:
                try:
                    queue = (await self._call(token, "GET", "/handoff/queue"))["data"]
                except httpx.HTTPError as err:
                    self.rec.error("agent/queue", str(err))
                    continue
                for item in queue:
                    if item["id"] in self.working:
                        continue
                    if item["status"] == "open":
                        with contextlib.suppress(httpx.HTTPStatusError):  # 409: taken
                            item = await self._call(token, "POST", f"/handoff/{item['id']}/accept")
                    if item["status"] == "assigned" and item["agent_id"] == agent_id:
                        self.working.add(item["id"])
                        task = asyncio.create_task(self._serve(token, name, item))
                        self.tasks.add(task)
                        task.add_done_callback(self.tasks.discard)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)

    async def _serve(self, token: AgentAuth, name: str, item: dict[str, Any]) -> None:
        """Reply; when a simulated customer follows it, wait for their answer; resolve."""
        hid = item["id"]
        sender = item.get("sender_id") or ""  # the conversation key: socketio:w_…, rest:…
        language = "en" if item.get("language") == "en" else "zh"
        self.rec.agent_handled += 1
        try:
            await asyncio.sleep(self.rng.uniform(*self.settings.agent_think))
            # A customer notices a handoff the system started when the notice arrives.
            deadline = time.perf_counter() + 5
            while (record := self.rec.handoffs.get(sender)) is None:
                if time.perf_counter() > deadline:
                    break
                await asyncio.sleep(0.5)
            text = AGENT_REPLY[language].format(name=name)
            mine = await self._call(token, "POST", f"/handoff/{hid}/messages", {"text": text})
            if record is not None:
                record.agent_replied = self.rec.now()
            if record is not None and record.channel == "socketio":
                if await self._customer_answered(token, hid, mine):
                    record.paused_seen = self.rec.now()
                else:
                    self.rec.error("handoff/customer_message_not_in_console", f"handoff {hid}")
                await asyncio.sleep(self.rng.uniform(*self.settings.agent_think))
            closing = self.rec.now()
            await self._call(token, "POST", f"/handoff/{hid}/close", {"mode": "resolve"})
            if record is not None:
                record.closed = closing
        except (httpx.HTTPError, KeyError, ValueError) as err:
            self.rec.error("agent/serve", f"handoff {hid}: {err}")

    async def _customer_answered(self, token: AgentAuth, hid: int, mine: dict[str, Any]) -> bool:
        """Whether a customer line follows the agent's reply in the transcript (polled)."""
        deadline = time.perf_counter() + self.settings.handoff_timeout
        while time.perf_counter() < deadline:
            await asyncio.sleep(0.5)
            transcript = (await self._call(token, "GET", f"/handoff/{hid}"))["transcript"]
            ids = [line["id"] for line in transcript]
            if mine["id"] in ids:
                later = transcript[ids.index(mine["id"]) + 1 :]
            else:
                later = [line for line in transcript if line["at"] > mine["at"]]
            if any(line["role"] == "customer" for line in later):
                return True
        return False

    async def stop(self, grace: float) -> None:
        """Let started handoffs finish (``grace`` s), hand back the rest, go offline."""
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=grace)
        for task in list(self.tasks):
            task.cancel()
        for agent_id, _name, token in self.tokens:
            with contextlib.suppress(httpx.HTTPError, KeyError):
                for item in (await self._call(token, "GET", "/handoff/queue"))["data"]:
                    if item["status"] == "assigned" and item["agent_id"] == agent_id:
                        self.rec.error("handoff/left_open", f"handoff {item['id']}")
                        await self._call(
                            token, "POST", f"/handoff/{item['id']}/close", {"mode": "hand_back"}
                        )
            with contextlib.suppress(httpx.HTTPError):
                await self._call(
                    token, "PUT", "/agents/me/availability", {"availability": "offline"}
                )
        await self.api.aclose()


def _demo_login(var_dir: Path | None, login: str) -> tuple[str, str]:
    path = (var_dir or Path("var")) / "secrets" / "demo_agents.txt"
    try:
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == login:
                return parts[0], parts[1]
    except OSError as err:
        raise SetupError(f"no demo logins ({path}): {err}") from err
    raise SetupError(f"no {login!r} in {path}")


# -- server processes ------------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, int] | None:
    """(ppid, utime + stime ticks)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), int(fields[11]) + int(fields[12])


def _statm(pid: int) -> tuple[int, int]:
    """(resident, shared) bytes of ``pid``; shared = file-backed and shared-memory pages."""
    with contextlib.suppress(OSError, IndexError, ValueError):
        fields = Path(f"/proc/{pid}/statm").read_text().split()
        page = os.sysconf("SC_PAGE_SIZE")
        return int(fields[1]) * page, int(fields[2]) * page
    return 0, 0


def tree_rss_bytes(tree: list[int]) -> int:
    """RSS of the tree's first process plus the private resident memory of the others.

    Summing every process's RSS counts the pages they share once per process: PostgreSQL's
    backends map its shared buffers, so that sum grew by 89 % over a 30-minute soak while
    each backend only touched more of the same buffers. A child's shared pages (libraries,
    shared memory) are the parent's as well; its private pages are what it alone holds.
    """
    if not tree:
        return 0
    total = _statm(tree[0])[0]
    for pid in tree[1:]:
        resident, shared = _statm(pid)
        total += max(resident - shared, 0)
    return total


def find_servers(settings: Settings) -> dict[str, int]:
    """PIDs of rasa, actions and bridge by their ports (actions: Rasa's sibling otherwise)."""
    servers: dict[str, int] = {}
    for name, url in (
        ("rasa", settings.rasa_url),
        ("actions", settings.actions_url),
        ("bridge", settings.bridge_url),
    ):
        if url is None:
            continue
        parts = urlsplit(url)
        if parts.hostname not in {"127.0.0.1", "localhost", "::1"}:
            continue
        pid = pid_listening_on(parts.port or (443 if parts.scheme == "https" else 80))
        if pid is not None:
            servers[name] = pid
    if "actions" not in servers and "rasa" in servers:
        # The launcher gives every process the ports (Procfile): the action server's is in
        # Rasa's environment.
        with contextlib.suppress(OSError, ValueError, KeyError):
            environ = Path(f"/proc/{servers['rasa']}/environ").read_bytes().split(b"\0")
            port = dict(v.decode().split("=", 1) for v in environ if b"=" in v)["CSA_ACTIONS_PORT"]
            if (pid := pid_listening_on(int(port))) is not None:
                servers["actions"] = pid
    for name, port in settings.processes:
        if (pid := pid_listening_on(port)) is not None:
            servers[name] = pid
    return label_shared(servers)


def label_shared(servers: dict[str, int]) -> dict[str, int]:
    """One row per process, named after it where several URLs lead to it.

    In the scale-out profile nginx serves the Rasa and the bridge URL: ``nginx (rasa, bridge)``.
    """
    names: dict[int, list[str]] = {}
    for name, pid in servers.items():
        names.setdefault(pid, []).append(name)
    labelled: dict[str, int] = {}
    for pid, shared in names.items():
        if len(shared) == 1:
            labelled[shared[0]] = pid
            continue
        try:
            command = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            command = "shared"
        labelled[f"{command} ({', '.join(shared)})"] = pid
    return labelled


GENERATOR = "load generator"  # this process, sampled beside the servers


class ResourceSampler:
    """CPU (% of one core) and RSS of each server's process tree, every second.

    With the var dir of the embedded default it also samples the bridge's ingestion: Rasa's
    SQL event broker table (``rasa/events.db``) against the bridge's cursor in ``crm.db`` —
    how many events wait and since when the oldest one waits.
    """

    def __init__(self, servers: dict[str, int], rec: Recorder, var_dir: Path | None = None):
        self.servers = {**servers, GENERATOR: os.getpid()}
        self.rec = rec
        self.var_dir = var_dir
        self.outbox: list[tuple[float, int, float]] = []  # t, events waiting, oldest's age s
        self.tick = os.sysconf("SC_CLK_TCK")
        self.samples: list[tuple[float, str, float, float]] = []  # t, name, cpu %, rss MB
        self._last: dict[str, tuple[float, int]] = {}
        self._machine: tuple[float, int, int] | None = None

    def _machine_busy(self) -> tuple[int, int]:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = values[3] + values[4]
        return sum(values) - idle, sum(values)

    def sample(self) -> None:
        """Take one sample of every process tree and of the machine (at most one a 0.5 s)."""
        now = time.perf_counter()
        if self._machine is not None and now - self._machine[0] < 0.5:
            return  # CPU ticks are 10 ms: a shorter interval would be noise
        t = self.rec.now()
        parents = process_parents()
        for name, root in self.servers.items():
            if root not in parents:
                tree = []
            elif name == GENERATOR:
                tree = [root]  # not its children: under pytest they are the system itself
            else:
                tree = process_tree(root, parents)
            ticks = sum((_stat(pid) or (0, 0))[1] for pid in tree)
            rss = tree_rss_bytes(tree) / 2**20
            last = self._last.get(name)
            self._last[name] = (now, ticks)
            if last and now > last[0] and tree:
                cpu = (ticks - last[1]) / self.tick / (now - last[0]) * 100
                self.samples.append((t, name, cpu, rss))
        busy, total = self._machine_busy()
        if self._machine and total > self._machine[2]:
            share = (busy - self._machine[1]) / (total - self._machine[2]) * 100
            self.samples.append((t, "machine (all cores)", share, 0.0))
        self._machine = (now, busy, total)
        self._sample_outbox(t)

    def _sample_outbox(self, t: float) -> None:
        if self.var_dir is None:
            return
        events, crm = self.var_dir / "rasa" / "events.db", self.var_dir / "crm.db"
        if not (events.exists() and crm.exists()):
            return
        try:
            with contextlib.closing(sqlite3.connect(f"file:{crm}?mode=ro", uri=True)) as db:
                position = db.execute("SELECT max(position) FROM ingest_cursors").fetchone()[0]
            with contextlib.closing(sqlite3.connect(f"file:{events}?mode=ro", uri=True)) as db:
                highest = db.execute("SELECT max(id) FROM events").fetchone()[0] or 0
                oldest = db.execute(
                    "SELECT data FROM events WHERE id > ? ORDER BY id LIMIT 1", (position or 0,)
                ).fetchone()
        except (sqlite3.Error, TypeError):
            return
        age = 0.0
        if oldest is not None:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                age = max(0.0, time.time() - float(json.loads(oldest[0])["timestamp"]))
        self.outbox.append((t, highest - (position or 0), age))

    async def run(self, stop: asyncio.Event) -> None:
        """Sample every second until ``stop``."""
        while not stop.is_set():
            self.sample()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)

    def summary(self, idle: tuple[float, float], load: tuple[float, float]) -> dict[str, dict]:
        """Per process: idle mean, load mean and max of CPU % and RSS MB."""
        out = {}
        for name in [*self.servers, "machine (all cores)"]:
            rows = [s for s in self.samples if s[1] == name]
            quiet = [s for s in rows if idle[0] <= s[0] <= idle[1]]
            busy = [s for s in rows if load[0] <= s[0] <= load[1]]
            if not rows:
                continue
            out[name] = {
                "pid": self.servers.get(name),
                "cpu_idle": _mean([s[2] for s in quiet]),
                "cpu_mean": _mean([s[2] for s in busy]),
                "cpu_max": max((s[2] for s in busy), default=None),
                "rss_idle_mb": _mean([s[3] for s in quiet]),
                "rss_mean_mb": _mean([s[3] for s in busy]),
                "rss_max_mb": max((s[3] for s in busy), default=None),
                **rss_growth([(s[0], s[3]) for s in busy]),
            }
        return out

    def outbox_summary(self, load: tuple[float, float]) -> dict[str, float | None] | None:
        """Events waiting for the bridge and the oldest one's age, under load."""
        rows = [row for row in self.outbox if load[0] <= row[0] <= load[1]]
        if not rows:
            return None
        return {
            "waiting_mean": _mean([float(r[1]) for r in rows]),
            "waiting_max": max(r[1] for r in rows),
            "oldest_age_s_mean": _mean([r[2] for r in rows]),
            "oldest_age_s_max": max(r[2] for r in rows),
        }


# -- the run ---------------------------------------------------------------------------------


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def rasa_api(settings: Settings) -> str:
    """Where Rasa's HTTP API answers (the public URL until :func:`preflight` found another)."""
    return settings.rasa_api_url or settings.rasa_url


def bridge_api(settings: Settings) -> str:
    """Where the bridge's ``/health`` answers."""
    return settings.bridge_api_url or settings.bridge_url


def private_url(url: str, offset: int = PRIVATE_OFFSET) -> str:
    """``url`` at its port + ``offset`` (the scale-out profile's private listener)."""
    parts = urlsplit(url)
    port = (parts.port or (443 if parts.scheme == "https" else 80)) + offset
    return urlunsplit(parts._replace(netloc=f"{parts.hostname}:{port}"))


async def _first_answering(
    client: httpx.AsyncClient, name: str, path: str, urls: list[str], accept: Callable[[str], bool]
) -> str:
    """The first of ``urls`` where ``path`` answers 200 with an accepted body (SetupError)."""
    problems = []
    for url in urls:
        try:
            response = await client.get(url + path)
        except httpx.HTTPError as err:
            problems.append(f"{url}{path}: {type(err).__name__}")
            continue
        if response.status_code == 200 and accept(response.text):
            return url
        problems.append(f"{url}{path}: {response.status_code} {response.text[:60]!r}")
    raise SetupError(f"{name} does not answer: {'; '.join(problems)}")


async def preflight(settings: Settings) -> None:
    """Fail fast (SetupError) when Rasa or the bridge do not answer; find their private APIs.

    The public Rasa URL must serve the REST channel. Rasa's HTTP API and the bridge's health
    are on the public URLs in the embedded profile, on the private listeners (public port +
    :data:`PRIVATE_OFFSET`) in the scale-out profile, unless ``--rasa-api-url`` /
    ``--bridge-api-url`` say where.
    """
    async with httpx.AsyncClient(timeout=5) as client:
        await _first_answering(
            client, "Rasa's REST channel", "/webhooks/rest/", [settings.rasa_url], lambda _: True
        )

        def candidates(public: str, given: str | None) -> list[str]:
            return [given] if given else [public, private_url(public)]

        settings.rasa_api_url = await _first_answering(
            client,
            "Rasa's HTTP API",
            "/",
            candidates(settings.rasa_url, settings.rasa_api_url),
            lambda body: "Rasa" in body,  # "Hello from Rasa: 3.6.21"
        )
        settings.bridge_api_url = await _first_answering(
            client,
            "the bridge",
            "/health",
            candidates(settings.bridge_url, settings.bridge_api_url),
            lambda body: '"status"' in body,
        )
        # The public bridge URL serves the console's API (the agents log in there).
        try:
            login = await client.post(f"{settings.bridge_url}/api/v1/login/access-token")
        except httpx.HTTPError as err:
            raise SetupError(f"the bridge's API does not answer: {type(err).__name__}") from err
        if login.status_code == 404:
            raise SetupError(f"{settings.bridge_url} does not serve the console's API")


def parse_rate_limits(text: str) -> dict[str, tuple[int, int]]:
    """``{"ip": (120, 60), …}`` from ``CSA_RATE_LIMITS`` (empty: Rasa's defaults).

    The format of bot/channels/rate_limits.py (``kind=limit/seconds``, comma-separated); a
    limit of 0 means no limit there.
    """
    rules = {}
    for part in filter(None, (p.strip() for p in (text.strip() or DEFAULT_RATE_LIMITS).split(","))):
        kind, _, spec = part.partition("=")
        limit, _, period = spec.partition("/")
        if limit.isdigit() and period.isdigit() and int(period):
            rules[kind.strip()] = (int(limit), int(period))
    return rules


def rate_limit_needs(settings: Settings) -> dict[str, float]:
    """Upper bounds of what the load may send per second, per kind of rate limit.

    ``ip``: every customer writing after the shortest think time (all from this machine);
    ``session``: every customer arriving within the ramp-up, or a new conversation every two
    messages; ``conversation``: at most :data:`MAX_TURNS` messages in all.
    """
    low = Pace(settings, random.Random(0)).low
    messages = settings.customers / max(low, 0.05)
    return {
        "ip": messages,
        "session": max(settings.customers / max(settings.ramp_up, 1.0), messages / 2),
        "conversation": 1 / max(low, 0.05),
    }


def rate_limit_problems(text: str, settings: Settings) -> list[str]:
    """Rules of ``text`` (``CSA_RATE_LIMITS``) the load could run into."""
    needs = rate_limit_needs(settings)
    problems = []
    for kind, (limit, period) in parse_rate_limits(text).items():
        if limit == 0 or kind not in needs:
            continue
        wanted = math.ceil(needs[kind] * period)
        if kind == "conversation":
            wanted = min(wanted, MAX_TURNS)
        if limit < wanted:
            problems.append(f"{kind}={limit}/{period} (this load may need {wanted})")
    return problems


def rasa_rate_limits(settings: Settings) -> list[str]:
    """``CSA_RATE_LIMITS`` of the Rasa processes behind ``--rasa-url`` (read from /proc).

    The launchers give every process of a system its public Rasa port (``CSA_RASA_PORT``),
    the instances of the scale-out profile too; empty when none can be read here (another
    machine, another user).
    """
    port = str(urlsplit(settings.rasa_url).port or 80)
    found = []
    for pid in process_ids():
        with contextlib.suppress(OSError):
            if b"rasa_server" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                continue
            raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            environ = dict(v.decode(errors="replace").split("=", 1) for v in raw if b"=" in v)
            if environ.get("CSA_RASA_PORT") == port:
                found.append(environ.get("CSA_RATE_LIMITS", ""))
    return found


def check_rate_limits(settings: Settings) -> None:
    """SetupError when Rasa's rate limits could refuse this load (unless allowed)."""
    seen = rasa_rate_limits(settings)
    if not seen:
        print(
            "load test: could not read Rasa's rate limits (CSA_RATE_LIMITS) here; if they are"
            f" the defaults ({DEFAULT_RATE_LIMITS}) refusals show as rate_limited errors",
            file=sys.stderr,
        )
        return
    problems = sorted({problem for text in seen for problem in rate_limit_problems(text, settings)})
    if problems and not settings.allow_rate_limits:
        raise SetupError(
            f"Rasa's rate limits could refuse this load: {', '.join(problems)}. Every simulated"
            f" customer is this machine: start the system with CSA_RATE_LIMITS={UNLIMITED}"
            " (or pass --allow-rate-limits to run into them)"
        )


async def run_load(settings: Settings) -> dict[str, Any]:
    """Run the load; return the report (see :func:`report`)."""
    await preflight(settings)
    check_rate_limits(settings)
    rasa_token = _secret(settings.var_dir, "rasa_token")
    questions, left_out = load_kb_questions(), []
    if rasa_token:
        try:
            questions, left_out = await routed_to_kb(settings, rasa_token, questions)
        except httpx.HTTPStatusError as err:  # the message would show the token: not shown
            raise SetupError(f"Rasa's /model/parse answered {err.response.status_code}") from err
        except httpx.HTTPError as err:
            raise SetupError(f"Rasa's /model/parse failed: {type(err).__name__}") from err
    rec = Recorder()
    rec.kb_left_out = left_out
    site_secret = _secret(settings.var_dir, "site_identity_secret")
    scripts = Scripts(site_secret, settings.handoff_share, questions)
    sampler = ResourceSampler(find_servers(settings), rec, settings.var_dir)
    sampling_stopped = asyncio.Event()
    sampling = asyncio.create_task(sampler.run(sampling_stopped))
    load_before = os.getloadavg()
    agents = None
    agents_stopped = asyncio.Event()
    agent_loop = None
    try:
        await asyncio.sleep(settings.idle)  # idle figures before anything else
        sampler.sample()
        idle_window = (0.0, rec.now())
        if settings.var_dir is not None and settings.agents > 0:
            agents = Agents(settings, rec)
            try:
                await agents.start()
            except httpx.HTTPError as err:
                raise SetupError(f"agents: {err!r}") from err
            agent_loop = asyncio.create_task(agents.work(agents_stopped))
        load_start = rec.now()
        steady = (load_start + settings.ramp_up, load_start + settings.ramp_up + settings.duration)
        await _customers(settings, scripts, rec, rasa_token)
        load_end = rec.now()
    finally:
        if agents is not None:
            agents_stopped.set()
            if agent_loop is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(agent_loop, 30)
            await agents.stop(grace=settings.handoff_timeout)
        sampling_stopped.set()
        await sampling
    return report(settings, rec, sampler, idle_window, steady, (load_start, load_end), load_before)


async def _customers(settings: Settings, scripts: Scripts, rec: Recorder, token: str | None):
    """All customer slots, from the ramp-up to the last disconnect (hard deadline)."""
    stop_at = time.perf_counter() + settings.ramp_up + settings.duration
    limits = httpx.Limits(max_connections=settings.customers + 10)
    async with httpx.AsyncClient(limits=limits) as http:
        tasks = [
            asyncio.create_task(
                Customer(slot, settings, scripts, rec, http, stop_at, token).run(
                    settings.ramp_up * slot / max(1, settings.customers)
                )
            )
            for slot in range(settings.customers)
        ]
        # A turn, a whole handoff (agent, pause, resume, rating) and disconnecting fit in here.
        drain = 3 * settings.handoff_timeout + 3 * settings.reply_timeout + 15
        done, pending = await asyncio.wait(
            tasks, timeout=settings.ramp_up + settings.duration + drain
        )
        for task in pending:
            task.cancel()
        if pending:
            rec.error("cut_off", f"{len(pending)} customers still busy at the hard deadline")
            await asyncio.wait(pending, timeout=10)
        for task in done:
            if task.exception() is not None:
                rec.error("crash", repr(task.exception()))


def _secret(var_dir: Path | None, name: str) -> str | None:
    """The current value of a secret file (its first line: a rotated file holds several)."""
    if var_dir is None:
        return None
    try:
        lines = (var_dir / "secrets" / name).read_text().split()
    except OSError:
        return None
    return lines[0] if lines else None


def report(settings, rec: Recorder, sampler, idle, steady, load, load_before) -> dict[str, Any]:
    """Everything measured, as one JSON-able dict."""

    def stats(samples: list[Sample]) -> dict[str, Any]:
        latencies = [s.latency_ms for s in samples if s.latency_ms is not None and not s.error]
        errors = sum(1 for s in samples if s.error)
        return {
            "sent": len(samples),
            "answered": len(latencies),
            "errors": errors,
            "error_rate": errors / len(samples) if samples else 0.0,
            "p50_ms": percentile(latencies, 50),
            "p95_ms": percentile(latencies, 95),
            "p99_ms": percentile(latencies, 99),
            "max_ms": max(latencies, default=None),
        }

    window = steady[1] - steady[0]
    in_window = [s for s in rec.samples if steady[0] <= s.sent < steady[1]]
    answered = [s for s in in_window if s.latency_ms is not None and not s.error]
    levels = [n for t, n in rec.conversation_levels if steady[0] <= t <= steady[1]]
    handoffs = list(rec.handoffs.values())

    def waits(start: str, end: str) -> list[float]:
        return [
            getattr(h, end) - getattr(h, start)
            for h in handoffs
            if getattr(h, start) is not None and getattr(h, end) is not None
        ]

    total_errors = sum(rec.errors.values())
    return {
        "settings": {
            **{k: v for k, v in asdict(settings).items() if k != "var_dir"},
            "var_dir": str(settings.var_dir) if settings.var_dir else None,
        },
        "kinds": {kind: stats([s for s in rec.samples if s.kind == kind]) for kind in KINDS},
        "channels": {
            ch: stats([s for s in rec.samples if s.channel == ch]) for ch in ("socketio", "rest")
        },
        "overall": stats(rec.samples),
        "steady_window_s": window,
        "offered_msgs_per_s": len(in_window) / window if window > 0 else None,
        "sustained_msgs_per_s": len(answered) / window if window > 0 else None,
        "conversations": {
            "started": rec.conversations_started,
            "peak_concurrent": rec.peak_conversations,
            "mean_concurrent_steady": _mean([float(n) for n in levels]),
        },
        "kb_outcomes": dict(rec.kb_hits),
        "kb_questions_left_out": rec.kb_left_out,
        "handoffs": {
            "count": len(handoffs),
            "requested": sum(h.requested for h in handoffs),
            "unsolicited": sum(not h.requested for h in handoffs),
            "modes": dict(Counter(h.mode for h in handoffs)),
            "served_by_agent": sum(h.reply_seen is not None for h in handoffs),
            "resolved": sum(h.resumed is not None for h in handoffs),
            "agent_reply_after_request_s": _spread(waits("asked", "reply_seen")),
            "agent_reply_delivery_s": _spread(waits("agent_replied", "reply_seen")),
            "customer_to_console_s": _spread(waits("paused_sent", "paused_seen")),
            "resume_after_close_s": _spread(waits("closed", "resumed")),
            "handled_by_agents": rec.agent_handled,
            "unsolicited_after": rec.unsolicited,
        },
        "errors": {"total": total_errors, "by_category": dict(rec.errors)},
        "error_examples": rec.examples,
        "resources": sampler.summary(idle, steady),
        "bridge_ingestion": sampler.outbox_summary(steady),
        "servers": sampler.servers,
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "duration_s": load[1] - load[0],
    }


def rss_growth(samples: list[tuple[float, float]]) -> dict[str, float | None]:
    """RSS at the start and at the end of the steady load, and the growth in %.

    Start: the mean over the first 20 % of the window after its first 10 % (caches, pools and
    lazily loaded models fill up first); end: the mean over its last 20 %. A process that leaks
    grows from one to the other whatever the noise of single samples.
    """
    if len(samples) < 10:
        return {"rss_start_mb": None, "rss_end_mb": None, "rss_growth_pct": None}
    first, last = samples[0][0], samples[-1][0]
    span = last - first
    start = _mean([r for t, r in samples if first + 0.1 * span <= t <= first + 0.3 * span])
    end = _mean([r for t, r in samples if t >= last - 0.2 * span])
    growth = None if not start or end is None else 100.0 * (end - start) / start
    return {"rss_start_mb": start, "rss_end_mb": end, "rss_growth_pct": growth}


def _spread(values: list[float]) -> dict[str, float | None]:
    return {"n": len(values), "p50": percentile(values, 50), "max": max(values, default=None)}


# -- output ----------------------------------------------------------------------------------


def _fmt(value: float | None, spec: str = ".0f") -> str:
    return "-" if value is None else format(value, spec)


def print_report(data: dict[str, Any]) -> None:
    """The tables."""
    s = data["settings"]
    print(
        f"\n{s['customers']} customers ({s['rest_share']:.0%} REST), ramp-up {s['ramp_up']:.0f} s,"
        f" steady {s['duration']:.0f} s, reply timeout {s['reply_timeout']:.0f} s, seed {s['seed']}"
    )
    print(
        f"\n{'kind':<12}{'sent':>7}{'answered':>10}{'errors':>8}{'err %':>7}"
        f"{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}"
    )
    rows = [*data["kinds"].items(), ("overall", data["overall"])]
    for name, row in rows:
        print(
            f"{name:<12}{row['sent']:>7}{row['answered']:>10}{row['errors']:>8}"
            f"{row['error_rate'] * 100:>7.1f}{_fmt(row['p50_ms']):>9}{_fmt(row['p95_ms']):>9}"
            f"{_fmt(row['p99_ms']):>9}{_fmt(row['max_ms']):>9}"
        )
    conv = data["conversations"]
    print(
        f"\nsustained {_fmt(data['sustained_msgs_per_s'], '.1f')} answered msgs/s"
        f" (offered {_fmt(data['offered_msgs_per_s'], '.1f')}) over the steady"
        f" {data['steady_window_s']:.0f} s; conversations: {conv['started']} started, peak"
        f" {conv['peak_concurrent']} concurrent, mean {_fmt(conv['mean_concurrent_steady'], '.1f')}"
    )
    h = data["handoffs"]
    print(
        f"handoffs: {h['count']} ({h['unsolicited']} by the system), modes {h['modes']},"
        f" served by an agent {h['served_by_agent']}, resolved {h['resolved']};"
        f" agent reply p50 {_fmt(h['agent_reply_after_request_s']['p50'], '.1f')} s after the"
        f" request, customer→console p50 {_fmt(h['customer_to_console_s']['p50'], '.1f')} s,"
        f" back to the bot p50 {_fmt(h['resume_after_close_s']['p50'], '.2f')} s after close"
    )
    for line in h["unsolicited_after"]:
        print(f"  handoff started by the system after: {line}")
    if data["kb_outcomes"]:
        print(
            f"knowledge answers: {data['kb_outcomes']}; FAQ variants left out (the NLU routes"
            f" them elsewhere): {len(data['kb_questions_left_out'])}"
        )
    if data["resources"]:
        print(
            f"\n{'process':<21}{'pid':>8}{'CPU% idle':>11}{'mean':>7}{'max':>7}"
            f"{'RSS MB idle':>13}{'mean':>7}{'max':>7}"
        )
        for name, r in data["resources"].items():
            rss = ("-", "-", "-") if name.startswith("machine") else (
                _fmt(r["rss_idle_mb"]), _fmt(r["rss_mean_mb"]), _fmt(r["rss_max_mb"])
            )  # fmt: skip
            print(
                f"{name:<21}{r['pid'] or '':>8}{_fmt(r['cpu_idle']):>11}{_fmt(r['cpu_mean']):>7}"
                f"{_fmt(r['cpu_max']):>7}{rss[0]:>13}{rss[1]:>7}{rss[2]:>7}"
            )
        print("(CPU in % of one core; machine: % of all cores busy)")
        for name, r in data["resources"].items():
            if r.get("rss_growth_pct") is not None:
                print(
                    f"RSS {name}: {r['rss_start_mb']:.0f} MB early in the load,"
                    f" {r['rss_end_mb']:.0f} MB at its end ({r['rss_growth_pct']:+.1f} %)"
                )
    if outbox := data["bridge_ingestion"]:
        print(
            f"bridge ingestion under load: {outbox['waiting_mean']:.0f} Rasa events waiting on"
            f" average (max {outbox['waiting_max']}), the oldest waiting"
            f" {outbox['oldest_age_s_mean']:.1f} s on average"
            f" (max {outbox['oldest_age_s_max']:.1f} s)"
        )
    before, after = data["load_average"]["before"], data["load_average"]["after"]
    print(
        f"load average before {before[0]:.2f} {before[1]:.2f} {before[2]:.2f},"
        f" after {after[0]:.2f} {after[1]:.2f} {after[2]:.2f}"
    )
    errors = data["errors"]
    print(f"\nerrors: {errors['total']} {errors['by_category'] or ''}")
    for example in data["error_examples"]:
        print(f"  {example}")


def parse_args(argv: list[str] | None) -> tuple[Settings, argparse.Namespace]:
    """Settings from the command line."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rasa-url", required=True)
    parser.add_argument("--bridge-url", required=True)
    parser.add_argument("--actions-url", help="for its CPU/RSS (default: found next to Rasa)")
    parser.add_argument("--var-dir", type=Path, help="the system's var dir (secrets, logins)")
    parser.add_argument("--customers", type=int, default=60, help="concurrent customers")
    parser.add_argument("--rest-share", type=float, default=0.1, help="share over REST")
    parser.add_argument("--handoff-share", type=float, default=0.05, help="conversations")
    parser.add_argument("--duration", type=float, default=60, help="steady load, seconds")
    parser.add_argument("--ramp-up", type=float, default=10, help="seconds to reach all")
    parser.add_argument("--reply-timeout", type=float, default=10, help="seconds per reply")
    parser.add_argument("--handoff-timeout", type=float, default=30, help="seconds per step")
    parser.add_argument("--think", type=float, nargs=2, default=(1.5, 3.5), metavar=("MIN", "MAX"))
    parser.add_argument("--rate", type=float, help="target offered msgs/s (paces think times)")
    parser.add_argument("--agents", type=int, default=3, help="simulated agents")
    parser.add_argument("--agent-capacity", type=int, default=4, help="handoffs per agent")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--idle", type=float, default=3, help="seconds of idle sampling first")
    parser.add_argument("--max-p95-ms", type=float, help="fail when the overall p95 is above")
    parser.add_argument(
        "--max-rss-growth",
        type=float,
        metavar="PCT",
        help="fail when a process of the system grew its RSS by more than PCT %% over the load"
        " (a soak: a long --duration)",
    )
    parser.add_argument("--json", type=Path, help="also write the report here")
    parser.add_argument(
        "--rasa-api-url",
        help="Rasa's HTTP API (default: --rasa-url, or its port + 30: the scale-out profile's)",
    )
    parser.add_argument(
        "--bridge-api-url",
        help="the bridge's /health (default: --bridge-url, or its port + 30 as in scale-out)",
    )
    parser.add_argument(
        "--allow-rate-limits",
        action="store_true",
        help="run even when Rasa's rate limits (CSA_RATE_LIMITS) could refuse the load",
    )
    parser.add_argument(
        "--process",
        action="append",
        default=[],
        metavar="NAME=PORT",
        help="also sample the process listening on PORT (e.g. rasa1=5015 in the scale-out "
        "profile, where the public ports are nginx's)",
    )
    args = parser.parse_args(argv)
    settings = Settings(
        rasa_url=args.rasa_url.rstrip("/"),
        bridge_url=args.bridge_url.rstrip("/"),
        actions_url=args.actions_url,
        var_dir=args.var_dir,
        customers=args.customers,
        rest_share=args.rest_share,
        handoff_share=args.handoff_share,
        duration=args.duration,
        ramp_up=args.ramp_up,
        reply_timeout=args.reply_timeout,
        handoff_timeout=args.handoff_timeout,
        think=tuple(args.think),
        rate=args.rate,
        agents=args.agents,
        agent_capacity=args.agent_capacity,
        seed=args.seed,
        idle=args.idle,
        processes=tuple(_named_port(spec, parser) for spec in args.process),
        rasa_api_url=args.rasa_api_url.rstrip("/") if args.rasa_api_url else None,
        bridge_api_url=args.bridge_api_url.rstrip("/") if args.bridge_api_url else None,
        allow_rate_limits=args.allow_rate_limits,
    )
    return settings, args


def _named_port(spec: str, parser: argparse.ArgumentParser) -> tuple[str, int]:
    name, _, port = spec.partition("=")
    if not name or not port.isdigit():
        parser.error(f"--process takes NAME=PORT, not {spec!r}")
    return name, int(port)


def main(argv: list[str] | None = None) -> int:
    """Run, print, write JSON; the exit code says whether the run met its budget."""
    settings, args = parse_args(argv)
    try:
        data = asyncio.run(run_load(settings))
    except SetupError as err:
        print(f"load test not run: {err}", file=sys.stderr)
        return 2
    print_report(data)
    failures = []
    if data["errors"]["total"]:
        failures.append(f"{data['errors']['total']} errors")
    p95 = data["overall"]["p95_ms"]
    if args.max_p95_ms is not None and (p95 is None or p95 > args.max_p95_ms):
        failures.append(f"p95 {_fmt(p95)} ms above the budget of {args.max_p95_ms:.0f} ms")
    if args.max_rss_growth is not None:
        for name, r in data["resources"].items():
            growth = r.get("rss_growth_pct")
            if name == GENERATOR:
                continue  # reported, not judged: it keeps every sample it takes
            if growth is not None and growth > args.max_rss_growth:
                failures.append(
                    f"RSS of {name} grew {growth:.1f} % (budget {args.max_rss_growth:.0f} %)"
                )
    data["failures"] = failures
    if args.json:
        args.json.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    print("FAILED: " + "; ".join(failures) if failures else "OK")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
