"""Kill each server with SIGKILL while customers talk: it comes back, nothing is lost or doubled.

A stack of its own (the shared one stays undisturbed), started by the real launcher, which
restarts a process that dies once the system is up (devtools/restart.py). Customers keep
asking over REST in both languages while the action server, the bridge and the Rasa server
are killed in turn. Then:

- while the action server is down the customer is told so, in their language, at once;
- no request hangs: every turn gets an answer, the outage notice, or (Rasa itself down) a
  refused connection that a client can show as "reconnecting";
- each process is back, under a new PID, and every conversation goes on;
- the CRM holds each customer and bot message of every conversation exactly once, the same
  ones Rasa's tracker holds.

And when Rasa cannot write its tracker store (the SQLite file locked by another process),
Rasa's fail-safe store keeps the turn in memory: the customer is answered and the CRM, fed
by the event broker's own file, keeps the turn.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import create_engine, text

from benchmarks.load_test import pid_listening_on
from tests.e2e.conftest import UNLIMITED, Stack, running_stack
from tests.utils.customers import keep_talking
from tests.utils.processes import healthy

pytestmark = pytest.mark.slow

QUESTIONS = {"zh": "退货的运费是谁出？", "en": "Who pays for return shipping?"}
GREETINGS = {"zh": "你好", "en": "hello"}
OUTAGE = {"zh": "系统暂时出了点问题", "en": "something went wrong on our side"}
TURN_TIMEOUT_S = 30.0
BACK_WITHIN_S = 180.0


@pytest.fixture(scope="module")
def fault_stack(tmp_path_factory: pytest.TempPathFactory):
    # Customers here write every 0.4 s, far above the per-conversation limit of a person.
    with running_stack(tmp_path_factory.mktemp("faults"), RATE_LIMITS=UNLIMITED) as running:
        yield running


@dataclass
class Customer:
    """One customer asking again and again; remembers what each turn got."""

    language: str
    sender: str = field(default_factory=lambda: f"fault-{uuid.uuid4().hex[:10]}")
    outcomes: Counter = field(default_factory=Counter)
    slowest_s: float = 0.0

    def turn(self, stack: Stack, number: int) -> str:
        message = QUESTIONS[self.language] if number % 2 else GREETINGS[self.language]
        started = time.monotonic()
        try:
            response = httpx.post(
                f"{stack.rasa_url}/webhooks/rest/webhook",
                json={"sender": self.sender, "message": message},
                timeout=TURN_TIMEOUT_S,
            )
            replies = response.json() if response.status_code == 200 else None
        except httpx.TimeoutException:
            replies, outcome = None, "hang"
        except httpx.TransportError:
            replies, outcome = None, "rasa down"
        else:
            outcome = "error" if replies is None else "silence"
        self.slowest_s = max(self.slowest_s, time.monotonic() - started)
        if replies:
            texts = " ".join(r.get("text", "") for r in replies)
            outcome = "outage notice" if OUTAGE[self.language] in texts else "answer"
        self.outcomes[outcome] += 1
        return outcome


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _kill(url: str) -> int:
    pid = pid_listening_on(_port(url))
    assert pid, f"nothing listens on {url}"
    os.kill(pid, signal.SIGKILL)
    return pid


def _back(url: str, old_pid: int, health: str, **params: str) -> int:
    deadline = time.monotonic() + BACK_WITHIN_S
    while time.monotonic() < deadline:
        pid = pid_listening_on(_port(url))
        if pid and pid != old_pid and healthy(url + health, **params):
            return pid
        time.sleep(0.5)
    raise AssertionError(f"{url} not back within {BACK_WITHIN_S:.0f} s")


def _tracker_turns(stack: Stack, sender: str) -> list[tuple[str, str]]:
    events = stack.tracker(stack.rest_key(sender))["events"]
    return [
        ("customer" if e["event"] == "user" else "bot", e.get("text") or "")
        for e in events
        if e["event"] in ("user", "bot")
    ]


def _crm_turns(stack: Stack, sender: str) -> list[tuple[str, str]]:
    engine = create_engine(stack.crm_url)
    try:
        with engine.connect() as db:
            rows = db.execute(
                text(
                    "SELECT m.role, m.text FROM messages m JOIN conversations c"
                    " ON c.id = m.conversation_id WHERE c.sender_id = :s ORDER BY m.at, m.id"
                ),
                {"s": stack.rest_key(sender)},
            ).all()
    finally:
        engine.dispose()
    return [(role, body or "") for role, body in rows]


def test_killed_servers_come_back_and_nothing_is_lost_or_doubled(fault_stack: Stack):
    stack = fault_stack
    customers = [Customer("zh"), Customer("en"), Customer("zh"), Customer("en")]
    stop = threading.Event()
    threads = keep_talking([lambda n, c=c: c.turn(stack, n) for c in customers], stop, 0.4)
    try:
        time.sleep(5)
        assert all(c.outcomes["answer"] for c in customers), [c.outcomes for c in customers]

        # The action server: the customer hears about it at once, in their language.
        old = _kill(stack.actions_url)
        probe = Customer("en")
        told = [probe.turn(stack, 1), Customer("zh").turn(stack, 1)]
        assert told == ["outage notice", "outage notice"], told
        _back(stack.actions_url, old, "/health")
        assert probe.turn(stack, 1) == "answer"

        # The bridge: the bot goes on answering; the CRM catches up when it is back.
        old = _kill(stack.bridge_url)
        time.sleep(3)
        _back(stack.bridge_url, old, "/health")

        # The Rasa server: clients are refused (never left hanging) until it is back.
        old = _kill(stack.rasa_url)
        _back(stack.rasa_url, old, "/status", token=stack.rasa_token)
        time.sleep(5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(TURN_TIMEOUT_S + 5)

    for customer in customers:
        assert not customer.outcomes["hang"], customer
        assert not customer.outcomes["silence"] and not customer.outcomes["error"], customer
        assert customer.slowest_s < TURN_TIMEOUT_S, customer
        # Every conversation goes on after the last restart.
        assert customer.turn(stack, 1) == "answer", customer
    assert any(c.outcomes["outage notice"] for c in customers + [probe])

    # Exactly once: the CRM holds what Rasa holds, turn for turn, once the bridge caught up.
    # Rasa publishes a turn's events before it saves the tracker, so a turn in flight when
    # Rasa was killed may be in the CRM (the customer did send it) but not in Rasa's memory:
    # at most that one turn per conversation, and only where the customer saw Rasa go down.
    for customer in customers + [probe]:
        expected = _tracker_turns(stack, customer.sender)
        assert expected, customer
        deadline = time.monotonic() + 60
        stored = _crm_turns(stack, customer.sender)
        while not _in_order_within(expected, stored) and time.monotonic() < deadline:
            time.sleep(1)
            stored = _crm_turns(stack, customer.sender)
        assert _in_order_within(expected, stored), (customer.sender, len(stored), len(expected))
        extra = Counter(stored) - Counter(expected)
        extra_customer_lines = sum(n for (role, _), n in extra.items() if role == "customer")
        assert extra_customer_lines <= min(1, customer.outcomes["rasa down"]), extra
        assert sum(extra.values()) <= 4, extra  # one turn: the message and its replies


def _in_order_within(expected: list, stored: list) -> bool:
    """``expected`` is ``stored`` with at most some lines left out (order kept)."""
    rest = iter(stored)
    return all(any(line == seen for seen in rest) for line in expected)


def test_a_locked_tracker_store_still_answers_and_the_crm_keeps_the_turn(fault_stack: Stack):
    stack = fault_stack
    sender = f"locked-{uuid.uuid4().hex[:8]}"
    blocker = sqlite3.connect(stack.var_dir / "rasa" / "tracker.db", isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        # Rasa's fail-safe tracker store keeps the turn in memory and answers.
        replies = stack.say(sender, QUESTIONS["zh"])
        assert replies and OUTAGE["zh"] not in replies[0]["text"], replies
    finally:
        if blocker.in_transaction:
            blocker.execute("ROLLBACK")
        blocker.close()
    assert Customer("en", sender=sender).turn(stack, 1) == "answer"
    # The event broker is another file: the CRM has both turns, Rasa's file the second one.
    deadline = time.monotonic() + 60
    while len(_crm_turns(stack, sender)) < 4 and time.monotonic() < deadline:
        time.sleep(1)
    stored = _crm_turns(stack, sender)
    assert [role for role, _ in stored] == ["customer", "bot", "customer", "bot"], stored
    assert stored[0] == ("customer", QUESTIONS["zh"])
