"""The scale-out profile while its PostgreSQL, Redis and RabbitMQ are killed (SIGKILL) in turn.

The profile runs on servers of this test's own (tests/utils/private_servers.py) so that
killing them leaves the machine's servers alone. Customers keep talking through nginx the
whole time. Then:

- no customer turn hangs or goes unanswered: the bot answers (with PostgreSQL down, Rasa's
  fail-safe tracker store keeps the conversation in memory) or apologises in the customer's
  language (with Redis down, Rasa cannot lock the conversation); with RabbitMQ down, Rasa
  keeps the events it could not publish and publishes them when the broker is back;
- everything is back by itself once the servers are: every conversation goes on;
- every customer message the bot answered is in the CRM exactly once, none twice.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.e2e.conftest import ScaleoutServers, Stack
from tests.utils.customers import keep_talking
from tests.utils.processes import healthy

pytestmark = pytest.mark.slow

MESSAGES = {"zh": ["你好", "退货的运费是谁出？"], "en": ["hello", "Who pays for return shipping?"]}
APOLOGIES = ("系统暂时出了点问题", "something went wrong on our side", "our system has a problem")
TURN_TIMEOUT_S = 30.0


@pytest.fixture(scope="module")
def servers(scaleout_servers: ScaleoutServers) -> ScaleoutServers:
    return scaleout_servers


@pytest.fixture(scope="module")
def stack(scaleout_stack: Stack) -> Stack:
    return scaleout_stack


@dataclass
class Customer:
    """Talks through nginx; each of its messages is unique: the CRM is checked one by one."""

    language: str
    sender: str = field(default_factory=lambda: f"sofault-{uuid.uuid4().hex[:10]}")
    sent: dict[str, str] = field(default_factory=dict)
    """message → what the customer got: answer, apology, error, silence, hang."""

    def turn(self, stack: Stack) -> str:
        number = len(self.sent)
        message = f"{MESSAGES[self.language][number % 2]} {number}"
        try:
            response = httpx.post(
                f"{stack.rasa_url}/webhooks/rest/webhook",
                json={"sender": self.sender, "message": message},
                timeout=TURN_TIMEOUT_S,
            )
        except httpx.TimeoutException:
            outcome = "hang"
        except httpx.TransportError:
            outcome = "error"
        else:
            replies = response.json() if response.status_code == 200 else None
            texts = " ".join(r.get("text") or "" for r in replies or [])
            if replies is None:
                outcome = f"error {response.status_code}"
            elif not texts:
                outcome = "silence"
            elif any(apology in texts for apology in APOLOGIES):
                outcome = "apology"
            else:
                outcome = "answer"
        self.sent[message] = outcome
        return outcome


def _wait(predicate, timeout: float, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {timeout:.0f} s")
        time.sleep(0.5)


def _stored(stack: Stack, senders: list[str]) -> Counter:
    """(sender, text) of the customer messages the CRM holds for these REST senders."""
    keys = {stack.rest_key(sender): sender for sender in senders}
    engine = create_engine(stack.crm_url)
    try:
        with engine.connect() as db:
            rows = db.execute(
                text(
                    "SELECT c.sender_id, m.text FROM messages m JOIN conversations c"
                    " ON c.id = m.conversation_id"
                    " WHERE c.sender_id = ANY(:senders) AND m.role = 'customer'"
                ),
                {"senders": list(keys)},
            ).all()
    finally:
        engine.dispose()
    return Counter((keys[key], body) for key, body in rows)


def test_postgres_redis_and_rabbitmq_killed_under_traffic(stack: Stack, servers: ScaleoutServers):
    customers = [Customer("zh"), Customer("en"), Customer("zh"), Customer("en")]
    stop = threading.Event()
    threads = keep_talking([lambda _n, c=c: c.turn(stack) for c in customers], stop, 0.5)
    try:
        time.sleep(5)
        assert all("answer" in c.sent.values() for c in customers), [c.sent for c in customers]

        servers.postgres.kill()
        time.sleep(2)
        # The console's API says what is wrong instead of failing with a 500.
        login = httpx.post(
            f"{stack.bridge_url}/api/v1/login/access-token",
            data={"username": "nobody", "password": "wrong"},
            timeout=30,
        )
        assert login.status_code == 503, login.text
        assert "retry" in login.json()["detail"] and login.headers["retry-after"]
        time.sleep(6)
        servers.postgres.start()
        _wait(lambda: healthy(f"{stack.bridge_api_url}/health"), 60, "bridges healthy")

        servers.redis.kill()
        probe = Customer("en")
        assert probe.turn(stack) == "apology", probe.sent
        time.sleep(4)
        servers.redis.start()
        _wait(lambda: probe.turn(stack) == "answer", 60, "answers after Redis is back")
        time.sleep(3)

        servers.rabbitmq.kill()
        time.sleep(5)
        servers.rabbitmq.start()
        time.sleep(10)
    finally:
        stop.set()
        for thread in threads:
            thread.join(TURN_TIMEOUT_S + 5)

    outcomes = Counter(o for c in customers for o in c.sent.values())
    bad = [f"{c.sender} {m!r}: {o}" for c in customers for m, o in c.sent.items()]
    bad = [line for line in bad if not line.endswith((": answer", ": apology"))]
    assert not bad, f"{outcomes}: {'; '.join(bad)}"
    assert outcomes["apology"], outcomes  # Redis was down for seconds: someone was told
    for customer in customers:
        assert customer.turn(stack) == "answer", customer.sent

    everyone = customers + [probe]
    senders = [c.sender for c in everyone]
    answered = Counter((c.sender, m) for c in everyone for m, o in c.sent.items() if o == "answer")
    deadline = time.monotonic() + 90
    while (missing := answered - _stored(stack, senders)) and time.monotonic() < deadline:
        time.sleep(1)
    timeline = {c.sender: list(c.sent.items()) for c in everyone}
    assert not missing, (sorted(missing), timeline)
    stored = _stored(stack, senders)
    assert max(stored.values()) == 1, [m for m, n in stored.items() if n > 1]
    sent = {(c.sender, m) for c in everyone for m in c.sent}
    assert set(stored) <= sent, set(stored) - sent
