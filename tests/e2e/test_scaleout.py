"""The scale-out profile (``make run-scaleout``) end to end: two Rasa servers and two bridges
behind nginx, on the local PostgreSQL, Redis and RabbitMQ.

The profile is started by its own launcher (``devtools/scaleout.py``) on PostgreSQL, Redis and
RabbitMQ servers of the tests' own (``scaleout_stack`` in conftest.py, shared with
test_scaleout_faults.py, which runs after this module and kills them). Its public ports
serve only the public doors (docs/security.md); Rasa's HTTP API and the bridge's health and
bot routes are on nginx's private listeners (``Stack.rasa_api_url``, ``Stack.bridge_api_url``).
"""

from __future__ import annotations

import threading
import uuid

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.e2e.conftest import Stack
from tests.e2e.test_live_handoff import ConsoleAgent, _clear_queue, _handoff_of
from tests.utils.customers import SocketCustomer
from tests.utils.processes import listening_addresses

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scaleout(scaleout_stack: Stack) -> Stack:
    """The scale-out profile on private PostgreSQL, Redis and RabbitMQ servers (shared with
    test_scaleout_faults.py, which runs after this module)."""
    return scaleout_stack


def _instance_url(stack: Stack, offset: int) -> str:
    """A Rasa instance behind nginx (the profile puts them at the public port + 10 / + 20)."""
    port = int(stack.rasa_url.rsplit(":", 1)[1])
    return f"http://127.0.0.1:{port + offset}"


def _say(url: str, sender: str, message: str, metadata: dict | None = None) -> str:
    body = {"sender": sender, "message": message, "metadata": metadata or {}}
    response = httpx.post(f"{url}/webhooks/rest/webhook", json=body, timeout=30)
    response.raise_for_status()
    return " ".join(r.get("text") or "" for r in response.json())


def _crm(stack: Stack, query: str, **params) -> list[tuple]:
    engine = create_engine(stack.crm_url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(query), params)]
    finally:
        engine.dispose()


def _texts(replies: list[dict]) -> str:
    return " ".join(r.get("text") or "" for r in replies)


def test_a_conversation_moves_between_rasa_instances(scaleout):
    # A signed-in website customer (王芳): her page reconnects to the other instance with the
    # session token it keeps, and that instance continues the order form.
    signed = scaleout.signed("demo-user-1")
    with SocketCustomer(_instance_url(scaleout, 10)) as first:
        assert "订单号" in _texts(first.ask("我的订单到哪了？", signed))
        token = first.token
    with SocketCustomer(_instance_url(scaleout, 20), token=token) as second:
        assert second.key == first.key
        answered = _texts(second.ask("DS01010003", signed))
    assert "DS01010003" in answered and "已发货" in answered, answered


def test_concurrent_customers_through_nginx_are_stored_exactly_once(scaleout):
    senders = [f"so-many-{n}-{uuid.uuid4().hex[:6]}" for n in range(16)]
    failures: list[BaseException] = []

    def customer(sender: str) -> None:
        try:
            for message in ("你好", "怎么退货？", "谢谢"):
                assert _say(scaleout.rasa_url, sender, message)
        except BaseException as err:  # noqa: BLE001 - reported below
            failures.append(err)

    threads = [threading.Thread(target=customer, args=(s,)) for s in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures

    def stored() -> dict[str, int]:
        rows = _crm(
            scaleout,
            "SELECT c.sender_id, count(*) FROM messages m JOIN conversations c "
            "ON c.id = m.conversation_id WHERE m.role = 'customer' "
            "AND c.sender_id LIKE 'rest:so-many-%' GROUP BY c.sender_id",
        )
        return dict(rows)

    deadline_ok = False
    for _ in range(60):
        counts = stored()
        if len(counts) == len(senders) and all(v >= 3 for v in counts.values()):
            deadline_ok = True
            break
        threading.Event().wait(0.5)
    assert deadline_ok, stored()
    assert set(stored().values()) == {3}  # none lost, none twice


def test_an_agent_reply_reaches_a_socket_held_by_the_other_instance(scaleout):
    # The customer's socket is on instance 1; a reply injected through instance 2's API must
    # reach it (socket.io emits relayed through Redis).
    customer = SocketCustomer(_instance_url(scaleout, 10))
    try:
        customer.say("你好")
        customer.next()
        event = {"event": "bot", "text": "来自另一实例的消息", "metadata": {}}
        response = httpx.post(
            f"{_instance_url(scaleout, 20)}/conversations/{customer.key}/tracker/events",
            params={
                "token": scaleout.rasa_token,
                "output_channel": "socketio",
                "execute_side_effects": "true",
            },
            json=[event],
            timeout=30,
        )
        assert response.status_code == 200, response.text
        assert customer.wait_for("来自另一实例的消息")["text"] == "来自另一实例的消息"
    finally:
        customer.close()


def test_long_polling_customers_through_nginx_keep_their_session(scaleout):
    # Each polling request of one Engine.IO session must reach the instance holding it; a
    # round-robin nginx sent every other one to the other instance ("Invalid session").
    customers = [SocketCustomer(scaleout.rasa_url, transports=("polling",)) for _ in range(2)]
    try:
        for turn in ("你好", "退货的运费是谁出？"):
            for customer in customers:
                customer.say(turn)
            for customer in customers:
                assert customer.next()["text"]
        assert all(customer.client.connected for customer in customers)
        assert all(customer.client.transport() == "polling" for customer in customers)
    finally:
        for customer in customers:
            customer.close()


def test_live_handoff_across_instances(scaleout):
    _clear_queue(scaleout)
    agent = ConsoleAgent(scaleout, f"赵敏{uuid.uuid4().hex[:4]}", ["zh"])
    agent.presence("online")
    customer = SocketCustomer(_instance_url(scaleout, 10))
    try:
        customer.say("你好")
        customer.next()
        customer.say("转人工")
        handoff = _handoff_of([agent], customer.key)
        if handoff["status"] != "assigned":
            agent.call("POST", f"/handoff/{handoff['id']}/accept")
        # replies go through nginx to either bridge, and from there to either Rasa instance
        for n in range(4):
            agent.call("POST", f"/handoff/{handoff['id']}/messages", json={"text": f"回复{n}"})
        for n in range(4):
            customer.wait_for(f"回复{n}")
        customer.say("好的，谢谢")
        texts: list[str] = []
        for _ in range(60):  # ingested from RabbitMQ by the leading bridge, seen through either
            transcript = agent.call("GET", f"/handoff/{handoff['id']}")["transcript"]
            texts = [line["text"] for line in transcript]
            if "好的，谢谢" in texts:
                break
            threading.Event().wait(0.25)
        assert texts.count("好的，谢谢") == 1, texts
        assert all(texts.count(f"回复{n}") == 1 for n in range(4)), texts
        agent.call(
            "POST",
            f"/handoff/{handoff['id']}/close",
            json={"mode": "resolve", "resolution_code": "order_fixed"},
        )
        customer.wait_for("智能助手回来了")
    finally:
        customer.close()
        agent.presence("offline")


def test_scaleout_publishes_only_the_public_doors(scaleout):
    """nginx's public ports serve the channels, the widget and the console; nothing else."""
    rasa, bridge = scaleout.rasa_url, scaleout.bridge_url
    token = {"token": scaleout.rasa_token}
    with httpx.Client(timeout=30) as client:
        # Public: the channels, the widget's bundle and history, the console and its API.
        hello = client.post(f"{rasa}/webhooks/rest/webhook", json={"sender": "d", "message": "hi"})
        assert hello.status_code == 200 and hello.json(), hello.text
        assert client.get(f"{rasa}/socket.io/", params={"EIO": 4}).status_code < 404
        assert client.get(f"{bridge}/widget.js").status_code == 200
        assert client.get(f"{bridge}/api/v1/widget/history").status_code == 401  # no token
        assert client.get(f"{bridge}/console/").status_code == 200
        assert client.post(f"{bridge}/api/v1/login/access-token").status_code == 422
        # Private: Rasa's HTTP API (even with its token), the bridge's bot routes, health, docs.
        for path in ("/", "/status", "/version", "/conversations/rest:d/tracker", "/model/parse"):
            assert client.get(rasa + path, params=token).status_code == 404, path
        parse = client.post(f"{rasa}/model/parse", params=token, json={"text": "hi"})
        assert parse.status_code == 404
        for path in ("/health", "/docs", "/openapi.json", "/api/v1/bot/identify"):
            assert client.get(bridge + path).status_code == 404, path
        assert client.post(f"{bridge}/api/v1/bot/identify", json={}).status_code == 404
        # The system's own calls use the private listeners, where all of it answers.
        status = client.get(f"{scaleout.rasa_api_url}/status", params=token)
        assert status.status_code == 200 and status.json()["model_file"]
        assert client.get(f"{scaleout.bridge_api_url}/health").json()["status"] == "ok"
        assert client.post(f"{scaleout.bridge_api_url}/api/v1/bot/identify").status_code == 401


def test_scaleout_keeps_the_action_server_and_every_listener_private(scaleout):
    """Both profiles: the action server wants Rasa's token; nothing listens on every address."""
    call = {"next_action": "action_membership_status", "sender_id": "wechat:o1", "tracker": {}}
    for headers in ({}, {"Authorization": "Bearer guessed"}):
        refused = httpx.post(f"{scaleout.actions_url}/webhook", json=call, headers=headers)
        assert refused.status_code == 401, refused.text
    addresses = listening_addresses(scaleout.log.read_text())
    # two Rasa, two bridges, the action server, nginx's two public and two private ports
    assert len(addresses) >= 9, addresses
    assert all(a.startswith(("127.0.0.1:", "[::1]:")) for a in addresses), addresses
