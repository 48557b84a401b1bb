"""Live handoff end to end: a socket.io customer, agents over the bridge API and WebSocket.

Everything is real: Rasa pauses the conversation, customer messages reach the agent's console
through the broker and the bridge, agent replies reach the customer's socket through Rasa's
API, and closing resumes the bot, which asks for a rating.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from websockets.sync.client import connect

from crm_bridge.models import AgentRole
from devtools.config import ROOT
from tests.utils.customers import SocketCustomer
from tests.utils.factories import PASSWORD, make_agent

pytestmark = pytest.mark.slow


class ConsoleAgent:
    """An agent using the bridge API the way the console does."""

    def __init__(self, stack, name: str, languages: list[str], role=AgentRole.AGENT) -> None:
        engine = create_engine(stack.crm_url)
        with Session(engine) as session:
            agent = make_agent(session, role, name=name, languages=languages)
            session.commit()
            self.id, self.login = agent.id, agent.login
        engine.dispose()
        self.name = name
        self.api = httpx.Client(base_url=f"{stack.bridge_url}/api/v1", timeout=30)
        token = self.api.post(
            "/login/access-token", data={"username": self.login, "password": PASSWORD}
        ).json()["access_token"]
        self.token = token
        self.api.headers["Authorization"] = f"Bearer {token}"
        self.ws_url = stack.bridge_url.replace("http", "ws") + "/api/v1/console/ws"

    @contextmanager
    def console(self) -> Iterator:
        """The console's WebSocket, authenticated by its first frame (never the URL)."""
        with connect(self.ws_url) as ws:
            ws.send(json.dumps({"type": "auth", "token": self.token}))
            yield ws

    def presence(self, availability: str) -> None:
        response = self.api.put("/agents/me/availability", json={"availability": availability})
        response.raise_for_status()

    def call(self, method: str, path: str, **kwargs) -> dict:
        response = self.api.request(method, path, **kwargs)
        assert response.status_code < 300, (path, response.status_code, response.text)
        return response.json()


def _clear_queue(stack) -> None:
    """A supervisor hands every open live handoff back to the bot: each test starts clean."""
    supervisor = ConsoleAgent(stack, f"Supervisor {uuid.uuid4().hex[:4]}", [], AgentRole.SUPERVISOR)
    for item in supervisor.call("GET", "/handoff/queue")["data"]:
        supervisor.call("POST", f"/handoff/{item['id']}/close", json={"mode": "hand_back"})


@contextmanager
def agents(stack, *specs) -> Iterator[list[ConsoleAgent]]:
    """Agents online for one test (after clearing the queue); offline afterwards."""
    _clear_queue(stack)
    made = [ConsoleAgent(stack, name, langs) for name, langs in specs]
    for agent in made:
        agent.presence("online")
    try:
        yield made
    finally:
        for agent in made:
            agent.presence("offline")


def _handoff_of(team: list[ConsoleAgent], key: str, timeout: float = 15) -> dict:
    """The handoff of conversation ``key`` (``socketio:w_…``, ``wechat:o6_…``) as any of
    ``team`` sees it (agents see waiting ones and theirs)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for agent in team:
            for item in agent.call("GET", "/handoff/queue")["data"]:
                if item["sender_id"] == key:
                    return item
        time.sleep(0.2)
    raise AssertionError(f"no handoff for {key}")


def _next_event(ws, kind: str, timeout: float = 10.0, where=lambda e: True) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = json.loads(ws.recv(timeout=max(0.05, deadline - time.monotonic())))
        if event["type"] == kind and where(event):
            return event
    raise AssertionError(f"no {kind} event")


def test_chinese_customer_asks_for_a_human_and_is_served_end_to_end(stack):
    tag = uuid.uuid4().hex[:4]
    with agents(stack, (f"李娜{tag}", ["zh"]), (f"王强{tag}", ["zh"])) as (li, wang):
        customer = SocketCustomer(stack.rasa_url)
        try:
            customer.say("你好")
            customer.next()
            customer.say("转人工")
            joined = customer.wait_for("已为您接通人工客服")
            assert li.name in joined["text"] or wang.name in joined["text"], joined
            handoff = _handoff_of([li, wang], customer.key)
            assert handoff["status"] == "assigned" and handoff["language"] == "zh"
            mine, other = (li, wang) if handoff["agent_id"] == li.id else (wang, li)
            hid = handoff["id"]

            with mine.console() as ws:
                queue_event = _next_event(ws, "queue")
                assert hid in [i["id"] for i in queue_event["data"]]
                # Paused: the bot stays silent, the message reaches the console in time.
                sent = time.monotonic()
                customer.say("我的快递三天没动了，单号 DS01010003")
                event = _next_event(ws, "message", where=lambda e: e["data"]["role"] == "customer")
                latency = time.monotonic() - sent
                assert event["handoff_id"] == hid and event["data"]["role"] == "customer"
                assert latency < 1.5, latency  # a generous bound; the budget is 1 s
                assert customer.silent_for(1.5)

                # Two replies in a row both reach the socket (Rasa issue #5486).
                first = mine.call("POST", f"/handoff/{hid}/messages", json={"text": "您好，我来查"})
                mine.call("POST", f"/handoff/{hid}/messages", json={"text": "<b>马上</b>就好"})
                reply = customer.wait_for("您好，我来查")
                # signed for clients that ignore metadata; the words alone for those that don't
                assert reply["text"] == f"{mine.name}：您好，我来查"
                assert reply["metadata"] == {"agent": {"name": mine.name, "text": "您好，我来查"}}
                assert customer.wait_for("马上")["metadata"]["agent"]["text"] == "<b>马上</b>就好"
                pushed = _next_event(ws, "message", where=lambda e: e["data"]["role"] == "agent")
                assert pushed["data"]["id"] == first["id"]  # one id: no double in the console
                mine.call("POST", f"/handoff/{hid}/notes", json={"text": "内部备注：已联系快递"})

            # Transfer, then the new agent resolves; the bot is back and asks for a rating.
            mine.call("POST", f"/handoff/{hid}/transfer", json={"agent_id": other.id})
            customer.wait_for(other.name)
            other.call("POST", f"/handoff/{hid}/messages", json={"text": "已经为您催件了"})
            customer.wait_for("已经为您催件了")
            other.call(
                "POST",
                f"/handoff/{hid}/close",
                json={"mode": "resolve", "resolution_code": "order_fixed"},
            )
            customer.wait_for("智能助手回来了")
            ask = customer.next()
            # Rasa's socket.io channel sends buttons as quick replies.
            assert [b["payload"] for b in ask["quick_replies"]][4] == '/rate{"rating":"5"}', ask
            customer.say('/rate{"rating":"5"}')
            customer.next()  # the comment question
            customer.say("客服很耐心")
            customer.wait_for("感谢您的评价")

            detail = (
                li.call("GET", f"/handoff/{hid}")
                if li is other
                else other.call("GET", f"/handoff/{hid}")
            )
            roles = [line["role"] for line in detail["transcript"]]
            assert {"customer", "bot", "agent", "system"} <= set(roles), roles
            texts = [line["text"] for line in detail["transcript"]]
            assert texts.count("您好，我来查") == 1, texts
            assert any(line["internal"] for line in detail["transcript"])
            assert detail["context"]["reason"] == "asked_for_human"
            assert "三天没动" in detail["context"]["summary"], detail["context"]
        finally:
            customer.close()

    with sqlite3.connect(stack.var_dir / "crm.db") as db:
        row = db.execute(
            "SELECT status, resolution_code, first_response_at, resolved_at, agent_id"
            " FROM escalations WHERE id = ?",
            (hid,),
        ).fetchone()
        assert row[0] == "resolved" and row[1] == "order_fixed" and row[2] and row[3]
        assert row[4] == other.id
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            csat = db.execute(
                "SELECT rating FROM feedback WHERE sender_id = ? AND kind = 'csat'",
                (customer.key,),
            ).fetchall()
            if csat:
                break
            time.sleep(0.3)
        assert csat == [(5,)]
        stored = [
            r[0]
            for r in db.execute(
                "SELECT m.role FROM messages m JOIN conversations c ON c.id = m.conversation_id"
                " WHERE c.sender_id = ? ORDER BY m.at, m.id",
                (customer.key,),
            )
        ]
        assert stored.count("agent") == 3 and "customer" in stored, stored


def test_a_furious_english_customer_is_handed_to_an_english_agent(stack):
    tag = uuid.uuid4().hex[:4]
    with agents(stack, (f"Tom{tag}", ["en"])) as (tom,):
        customer = SocketCustomer(stack.rasa_url)
        try:
            customer.say("hello")
            customer.next()
            customer.say("I will talk to my lawyer about this, you people are useless")
            joined = customer.wait_for("will take it from here", timeout=30)
            assert tom.name in joined["text"]
            handoff = _handoff_of([tom], customer.key)
            assert handoff["reason"] == "legal_threat" and handoff["priority"] == "urgent"
            tom.call("POST", f"/handoff/{handoff['id']}/messages", json={"text": "I'm here"})
            customer.wait_for("I'm here")
            tom.call("POST", f"/handoff/{handoff['id']}/close", json={"mode": "hand_back"})
            customer.wait_for("handed you back")
            customer.say("hi")
            assert customer.next()["text"]  # the bot answers again
        finally:
            customer.close()


def test_an_agent_going_offline_returns_the_conversation_to_the_queue(stack):
    tag = uuid.uuid4().hex[:4]
    with agents(stack, (f"Amy{tag}", ["en"])) as (amy,):
        customer = SocketCustomer(stack.rasa_url)
        try:
            customer.say("I want to talk to a real person")
            customer.wait_for("will take it from here")
            hid = _handoff_of([amy], customer.key)["id"]
            amy.presence("offline")
            customer.wait_for("back in the queue")
            item = _handoff_of([amy], customer.key)
            assert item["id"] == hid and item["status"] == "open" and item["agent_id"] is None
            amy.presence("online")  # free capacity again: assigned back automatically
            customer.wait_for("has joined")
            amy.call("POST", f"/handoff/{hid}/close", json={"mode": "hand_back"})
        finally:
            customer.close()


def test_without_agents_the_customer_leaves_a_message_on_a_ticket(stack):
    sender = f"ticket-{uuid.uuid4().hex[:8]}"
    replies = stack.say(sender, "转人工")
    assert "工单号" in replies[0]["text"], replies
    reply = stack.say(sender, "请明天上午给我回电话，谢谢")
    assert "已收到您的留言" in reply[0]["text"], reply
    with sqlite3.connect(stack.var_dir / "crm.db") as db:
        live, notes = db.execute(
            "SELECT live, notes FROM escalations WHERE sender_id = ?", (stack.rest_key(sender),)
        ).fetchone()
    assert live == 0 and "明天上午" in notes


def _console(browser, stack, agent: ConsoleAgent):
    """A laptop-sized page of the console, logged in as ``agent``."""
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.goto(f"{stack.bridge_url}/console/")
    page.get_by_test_id("login-username").fill(agent.login)
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    return page


def test_an_agent_works_a_handoff_in_the_console_in_chromium(stack, tmp_path):
    from tests.utils.browser import chromium, require_chromium

    require_chromium()
    shots = ROOT / "var" / "artifacts" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    _clear_queue(stack)
    agent = ConsoleAgent(stack, f"周敏{uuid.uuid4().hex[:4]}", ["zh", "en"])
    customer = SocketCustomer(stack.rasa_url)
    try:
        with chromium() as browser:
            page = _console(browser, stack, agent)
            page.get_by_test_id("availability-select").select_option("online")
            page.wait_for_timeout(500)
            customer.say("转人工", stack.signed("demo-user-1"))  # 王芳, a diamond member
            hid = re.search(r"工单号 (\d+)", customer.wait_for("工单号")["text"]).group(1)
            customer.say("<script>alert(1)</script>")
            item = page.locator(f'[data-testid="queue-item"][data-handoff-id="{hid}"]')
            item.wait_for(timeout=10_000)
            item.click()
            if _handoff_of([agent], customer.key)["status"] == "open":
                # Left in the queue behind older handoffs: take it by hand.
                page.get_by_test_id("accept-button").click()
                customer.wait_for(agent.name)
            page.get_by_test_id("line").last.wait_for(timeout=10_000)
            # The customer's markup is shown as text, never run.
            panel = page.get_by_test_id("customer-panel")
            panel.get_by_text("王芳").wait_for(timeout=5_000)
            assert "DS01010003" in panel.inner_text()  # the last orders of the customer 360
            transcript = page.get_by_test_id("transcript")
            transcript.get_by_text("<script>alert(1)</script>").wait_for()
            late = f"订单 DS01010003 一直没发货 {uuid.uuid4().hex[:4]}"
            customer.say(late)
            transcript.get_by_text(late).wait_for(timeout=5_000)
            page.screenshot(path=str(shots / "console-conversation.png"))
            page.get_by_test_id("composer").fill("您好，我马上为您查询")
            page.keyboard.press("Control+Enter")
            sent = customer.wait_for("我马上为您查询")
            assert sent["metadata"]["agent"]["text"] == "您好，我马上为您查询"
            # A knowledge-base answer and a canned reply, inserted and sent.
            page.get_by_test_id("kb-search-input").fill("退货运费谁出")
            page.get_by_test_id("kb-search-button").click()
            page.get_by_test_id("kb-insert").first.click()
            inserted = page.get_by_test_id("composer").input_value()
            assert "运费" in inserted, inserted
            page.get_by_test_id("send-button").click()
            assert "运费" in customer.wait_for("运费")["text"]
            page.get_by_test_id("canned-picker").select_option("anything_else")
            assert "其他" in page.get_by_test_id("composer").input_value()
            page.get_by_test_id("composer").press("Control+Enter")
            customer.wait_for("还有其他可以帮您的吗")
            page.get_by_test_id("resolution-select").select_option("answered")
            page.get_by_test_id("resolve-button").click()
            customer.wait_for("智能助手回来了")
            page.screenshot(path=str(shots / "console-queue.png"))
    finally:
        customer.close()
        agent.presence("offline")


def _drain(ws, seconds: float) -> list[dict]:
    events = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            events.append(json.loads(ws.recv(timeout=max(0.05, deadline - time.monotonic()))))
        except TimeoutError:
            break
    return events


def test_two_agents_two_customers_and_a_page_reload_lose_and_double_nothing(stack):
    tag = uuid.uuid4().hex[:4]
    with agents(stack, (f"陈静{tag}", ["zh"]), (f"Kate{tag}", ["en"])) as (chen, kate):
        zh = SocketCustomer(stack.rasa_url)
        en = SocketCustomer(stack.rasa_url)
        try:
            zh.say("转人工")
            en.say("can I talk to a real person please")
            assert chen.name in zh.wait_for("已为您接通")["text"]
            assert kate.name in en.wait_for("will take it from here")["text"]
            zh_id = _handoff_of([chen], zh.key)["id"]
            en_id = _handoff_of([kate], en.key)["id"]
            with chen.console() as chen_ws, kate.console() as kate_ws:
                _drain(chen_ws, 0.5), _drain(kate_ws, 0.5)
                # The customer reloads the page: a new socket, the same session (its token).
                zh.close()
                reloaded = SocketCustomer(stack.rasa_url, token=zh.token)
                assert reloaded.key == zh.key
                zh = reloaded
                marker = f"刷新后的消息{tag}"
                zh.say(marker)
                en.say(f"english only {tag}")
                chen.call("POST", f"/handoff/{zh_id}/messages", json={"text": f"收到{tag}"})
                kate.call("POST", f"/handoff/{en_id}/messages", json={"text": f"got it {tag}"})
                assert zh.wait_for(f"收到{tag}")
                assert en.wait_for(f"got it {tag}")
                assert zh.silent_for(1.0) and en.silent_for(0.1)  # nothing twice, no cross-talk
                chen_events = _drain(chen_ws, 1.5)
                kate_events = _drain(kate_ws, 0.5)
            chen_lines = [e["data"]["text"] for e in chen_events if e["type"] == "message"]
            kate_lines = [e["data"]["text"] for e in kate_events if e["type"] == "message"]
            assert chen_lines.count(marker) == 1 and f"english only {tag}" not in chen_lines
            assert kate_lines.count(f"english only {tag}") == 1 and marker not in kate_lines
            transcript = chen.call("GET", f"/handoff/{zh_id}")["transcript"]
            texts = [line["text"] for line in transcript]
            assert texts.count(marker) == 1 and texts.count(f"收到{tag}") == 1, texts
            assert len({line["id"] for line in transcript}) == len(transcript)
            # Agents see their own conversation, not each other's.
            assert kate.api.get(f"/handoff/{zh_id}").status_code == 404
            for agent, hid in ((chen, zh_id), (kate, en_id)):
                agent.call("POST", f"/handoff/{hid}/close", json={"mode": "hand_back"})
        finally:
            zh.close()
            en.close()


def test_a_furious_complaint_goes_to_a_human_by_sentiment(stack):
    tag = uuid.uuid4().hex[:4]
    with agents(stack, (f"Ben{tag}", ["en"])) as (ben,):
        customer = SocketCustomer(stack.rasa_url)
        try:
            customer.say("I want to make a complaint")
            customer.wait_for("what happened")
            customer.say(
                "The parcel arrived smashed, worst and most useless shop ever, I am furious"
            )
            customer.next()  # which order?
            customer.say("/deny")
            joined = customer.wait_for("will take it from here", timeout=30)
            assert ben.name in joined["text"]
            handoff = _handoff_of([ben], customer.key)
            assert handoff["reason"] == "negative_sentiment" and handoff["priority"] == "urgent"
            detail = ben.call("GET", f"/handoff/{handoff['id']}")
            assert min(detail["context"]["sentiment"]["per_turn"]) < -0.6
            assert "smashed" in detail["context"]["summary"]
            ben.call("POST", f"/handoff/{handoff['id']}/close", json={"mode": "hand_back"})
        finally:
            customer.close()


def test_an_agent_links_an_anonymous_chat_to_a_customer_in_the_console(stack):
    from tests.utils.browser import chromium, require_chromium

    require_chromium()
    _clear_queue(stack)
    agent = ConsoleAgent(stack, f"郑洁{uuid.uuid4().hex[:4]}", ["zh", "en"])
    agent.presence("online")
    customer = SocketCustomer(stack.rasa_url)
    try:
        customer.say("I'd like to talk to a human")
        customer.wait_for("will take it from here")
        hid = _handoff_of([agent], customer.key)["id"]
        with chromium() as browser:
            page = _console(browser, stack, agent)
            page.locator(f'[data-testid="queue-item"][data-handoff-id="{hid}"]').click()
            page.get_by_test_id("link-search-input").fill("Emily")
            page.get_by_test_id("link-search-button").click()
            page.get_by_test_id("link-button").first.click()
            panel = page.get_by_test_id("customer-panel")
            panel.get_by_test_id("customer-tier").wait_for(timeout=10_000)
            assert "Emily" in panel.inner_text() and "DS02010001" in panel.inner_text()
        emily = agent.call("GET", "/customers/by-identity/site/demo-user-2")
        view = agent.call("GET", f"/customers/{emily['id']}")
        assert {"channel": "socketio", "external_id": customer.session_id, "verified": True} in (
            view["customer"]["identities"]
        )
        agent.call("POST", f"/handoff/{hid}/close", json={"mode": "hand_back"})
    finally:
        customer.close()
        agent.presence("offline")
