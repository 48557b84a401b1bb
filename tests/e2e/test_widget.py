"""The website widget in headless chromium against the running system.

The demo shop page served by the bridge embeds ``/widget.js``; the widget talks to Rasa's
socket.io channel and reads its history from the bridge. Agents answer through the bridge API
as the console does. Screenshots (desktop and phone) go to ``var/artifacts/screenshots``.
"""

from __future__ import annotations

import sqlite3
import time
import uuid

import pytest

from devtools.config import ROOT
from tests.e2e.test_live_handoff import ConsoleAgent, _clear_queue, _handoff_of
from tests.utils.browser import chromium, require_chromium

pytestmark = pytest.mark.slow
SHOTS = ROOT / "var" / "artifacts" / "screenshots"


def _open_widget(page, url: str) -> None:
    page.goto(url)
    page.locator('[data-testid="launcher"]').click()
    page.locator('[data-testid="input"]').wait_for()


def _send(page, text: str) -> None:
    page.locator('[data-testid="input"]').fill(text)
    page.locator('[data-testid="input"]').press("Enter")


def _lines(page, role: str | None = None) -> list[str]:
    selector = '[data-testid="message"]' + (f'[data-role="{role}"]' if role else "")
    return [t.strip() for t in page.locator(selector).all_inner_texts()]


def _wait_for_line(page, needle: str, role: str = "bot", timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in _lines(page, role):
            if needle in line:
                return line
        time.sleep(0.2)
    raise AssertionError(f"{needle!r} not shown as {role}; shown: {_lines(page)}")


def _conversation_key(page) -> str:
    """Rasa's key of the page's conversation, from the session token the widget stored.

    The server issues ``w_<32 hex>.<secret>`` (``csa:<siteId>:session`` in localStorage); the
    conversation is keyed by the part before the dot.
    """
    token = page.evaluate(
        "() => Object.entries(localStorage).find(([k]) => k.endsWith(':session'))[1]"
    ).strip('"')
    session_id, dot, secret = token.partition(".")
    assert session_id.startswith("w_") and dot and secret, "not a server-issued session"
    return f"socketio:{session_id}"


@pytest.fixture
def browser():
    require_chromium()
    with chromium() as running:
        yield running


def test_knowledge_questions_quick_replies_history_and_feedback(stack, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    _open_widget(page, f"{stack.bridge_url}/")
    _send(page, "退货的运费是谁出？")
    answer = _wait_for_line(page, "运费")
    assert answer
    page.locator('[data-testid="kb-helpful"]').last.click()
    _send(page, "How long does delivery take?")
    _wait_for_line(page, "day")
    _send(page, "你能做什么")
    _wait_for_line(page, "智能客服")
    page.locator('[data-testid="quick-reply"]', has_text="怎么退货").click()
    _wait_for_line(page, "退货", role="customer")
    time.sleep(1.5)  # the bridge stores messages a moment after Rasa
    before = _lines(page)
    page.screenshot(path=str(SHOTS / "widget-desktop.png"))
    # A reload and a new tab continue the same conversation, with its history.
    page.reload()
    page.locator('[data-testid="launcher"]').click()
    page.locator('[data-testid="message"]').first.wait_for(timeout=10_000)
    assert _lines(page)[: len(before)] == before
    other = context.new_page()
    other.goto(f"{stack.bridge_url}/")
    other.locator('[data-testid="launcher"]').click()
    other.locator('[data-testid="message"]').first.wait_for(timeout=10_000)
    assert "退货的运费是谁出？" in _lines(other, "customer")
    assert not errors, errors
    key = _conversation_key(page)
    assert _conversation_key(other) == key  # the other tab continued the same session
    with sqlite3.connect(stack.var_dir / "crm.db") as db:
        votes = db.execute(
            "SELECT rating, kb_entry_id FROM feedback WHERE sender_id = ? AND kind = 'kb_answer'",
            (key,),
        ).fetchall()
    assert votes and votes[0][0] == 1 and votes[0][1], votes
    context.close()


def test_offline_messages_are_queued_and_sent_once(stack, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    page = context.new_page()
    _open_widget(page, f"{stack.bridge_url}/")
    _send(page, "How long does delivery take?")
    _wait_for_line(page, "working days")
    context.set_offline(True)
    page.locator('[data-testid="connection-status"]').wait_for(timeout=30_000)
    marker = f"Can I pay in instalments {uuid.uuid4().hex[:4]}?"
    _send(page, marker)
    page.locator('[data-testid="message"][data-pending]').first.wait_for(timeout=5_000)
    context.set_offline(False)
    _wait_for_line(page, "instalment", timeout=40)
    time.sleep(2)
    assert _lines(page, "customer").count(marker) == 1
    events = [e for e in stack.tracker(_conversation_key(page))["events"] if e["event"] == "user"]
    assert [e["text"] for e in events].count(marker) == 1
    context.close()


def test_handoff_agent_messages_escaping_and_rating_on_a_phone(stack, browser):
    _clear_queue(stack)
    agent = ConsoleAgent(stack, f"林悦{uuid.uuid4().hex[:4]}", ["zh", "en"])
    agent.presence("online")
    try:
        context = browser.new_context(
            viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True, has_touch=True
        )
        page = context.new_page()
        _open_widget(page, f"{stack.bridge_url}/demo/signed")
        xss = "<img src=x onerror=\"window.__xss='customer'\">"
        _send(page, "转人工")
        _wait_for_line(page, agent.name)
        _send(page, xss)
        _send(page, "请帮我看看订单")  # the bot answers in the language of the latest message
        key = _conversation_key(page)
        handoff = _handoff_of([agent], key)
        assert handoff["customer"]["name"] == "王芳"  # the page's signed identity reached the bot
        agent.call(
            "POST",
            f"/handoff/{handoff['id']}/messages",
            json={"text": "<script>window.__xss='agent'</script>您好，我是林悦"},
        )
        line = _wait_for_line(page, "您好，我是林悦", role="agent")
        assert (
            "<script>" in line
            and agent.name
            in page.locator('[data-testid="message"][data-role="agent"]').last.inner_text()
        )
        assert xss in _lines(page, "customer")
        assert page.evaluate("() => window.__xss") is None
        page.screenshot(path=str(SHOTS / "widget-phone.png"))
        agent.call("POST", f"/handoff/{handoff['id']}/close", json={"mode": "resolve"})
        _wait_for_line(page, "智能助手回来了")
        page.locator('[data-testid="rating"]').nth(4).click()
        _wait_for_line(page, "还有什么想告诉我们", timeout=20)  # the comment question
        _send(page, "很好")
        _wait_for_line(page, "感谢您的评价")
        with sqlite3.connect(stack.var_dir / "crm.db") as db:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                rows = db.execute(
                    "SELECT rating FROM feedback WHERE sender_id = ? AND kind = 'csat'",
                    (key,),
                ).fetchall()
                if rows:
                    break
                time.sleep(0.3)
        assert rows == [(5,)]
        context.close()
    finally:
        agent.presence("offline")
