"""Shop pages of other origins chatting with the bot: CORS, long-polling, a third-party client.

rasa-webchat 1.0.1 (the best-known client of Rasa's socket.io channel, its own published
bundle from npm) runs in chromium on a shop page of another origin than Rasa's, with
WebSockets blocked as a proxy would: everything goes over HTTP long-polling, which the browser
allows only with the server's CORS answers. Our own widget is tried the same way. A second
system with ``CSA_WIDGET_ORIGINS`` set shows that only the listed origins get in.
"""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import FileResponse, HTMLResponse
from starlette.routing import Route
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.e2e.conftest import running_stack
from tests.e2e.test_live_handoff import ConsoleAgent, _clear_queue, _handoff_of
from tests.utils.browser import chromium, require_chromium, serve
from tests.utils.npm_package import npm_package

pytestmark = pytest.mark.slow

RASA_WEBCHAT = ("rasa-webchat", "1.0.1")
RASA_WEBCHAT_INTEGRITY = (  # the registry's dist.integrity of that version
    "sha512-Ld1zVJvTAaTrs6A5p8t70agNNrKYRyXlvqXZRgBoDvKKUXbA0jhJKECi5bdPGlaR6jsmqWtVylHS+YqIq"
    "o0x8w=="
)
WEBSOCKETS_BLOCKED = """
(() => {
  const Real = window.WebSocket;
  const Blocked = function (url, protocols) { return new Real("ws://127.0.0.1:9/", protocols); };
  Object.assign(Blocked, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
  Blocked.prototype = Real.prototype;
  window.WebSocket = Blocked;
})();
"""
"""Run before any page script: every WebSocket the page opens fails to connect, as behind a
proxy that blocks them (a real socket to a port the browser refuses, failing asynchronously).
Removing ``WebSocket`` altogether would not do: engine.io-client then fails synchronously and
never tries its next transport, which no real network does."""
OUTAGE_APOLOGY = "系统暂时出了点问题"


def _shop_page(rasa_url: str) -> str:
    """A shop's page embedding rasa-webchat as its README shows (the standalone bundle)."""
    props = {
        "socketUrl": rasa_url,
        "socketPath": "/socket.io/",
        "customData": {"language": "zh"},
        "title": "小店客服",
        "embedded": True,
        "params": {"storage": "local"},
    }
    return (
        "<!doctype html><html lang='zh'><head><meta charset='utf-8'><title>Shop</title></head>"
        "<body><div id='webchat' style='height:600px'></div>"
        "<script src='/rasa-webchat.js'></script>"
        f"<script>WebChat.default({json.dumps(props)}, document.getElementById('webchat'));"
        "</script></body></html>"
    )


@pytest.fixture(scope="module")
def shop(stack):
    """The shop's site on an origin of its own, serving rasa-webchat's published bundle."""
    package = npm_package(*RASA_WEBCHAT, RASA_WEBCHAT_INTEGRITY)
    page = _shop_page(stack.rasa_url)
    app = Starlette(
        routes=[
            Route("/", lambda request: HTMLResponse(page)),
            Route("/rasa-webchat.js", lambda request: FileResponse(package / "lib" / "index.js")),
        ]
    )
    with serve(app) as url:
        assert url != stack.rasa_url
        yield url


@pytest.fixture(scope="module")
def browser():
    require_chromium()
    with chromium() as running:
        yield running


def _bot_lines(page) -> list[str]:
    return [t.strip() for t in page.locator(".rw-response").all_inner_texts()]


def _wait_for_bot(page, needle: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in _bot_lines(page):
            if needle in line:
                return line
        time.sleep(0.2)
    raise AssertionError(f"{needle!r} not shown; the bot said: {_bot_lines(page)}")


def _say(page, text: str) -> None:
    page.locator(".rw-new-message").fill(text)
    page.locator(".rw-new-message").press("Enter")


def _stored_session(page) -> str:
    """The session token rasa-webchat keeps (``chat_session`` in localStorage)."""
    stored = json.loads(page.evaluate("() => localStorage.getItem('chat_session')") or "{}")
    token = stored.get("session_id") or ""
    assert token.startswith("w_") and "." in token, stored
    return token


def test_rasa_webchat_from_another_origin_over_polling(stack, shop, browser):
    _clear_queue(stack)
    agent = ConsoleAgent(stack, f"林悦{uuid.uuid4().hex[:4]}", ["zh", "en"])
    agent.presence("online")
    context = browser.new_context(locale="zh-CN")
    context.add_init_script(WEBSOCKETS_BLOCKED)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if "transport=polling" in r.url else None)
    try:
        page.goto(shop)
        page.locator(".rw-new-message").wait_for(timeout=20_000)
        _say(page, "退货的运费是谁出？")
        _wait_for_bot(page, "运费")
        token = _stored_session(page)
        key = f"socketio:{token.split('.')[0]}"
        assert polls and all(url.startswith(stack.rasa_url) for url in polls)
        # buttons: the bot's menu, one of them clicked
        _say(page, "你能做什么")
        _wait_for_bot(page, "智能客服")
        page.locator(".rw-reply", has_text="怎么退货").first.click()
        _wait_for_bot(page, "退货")
        # a reload goes on with the same conversation
        page.reload()
        page.locator(".rw-new-message").wait_for(timeout=20_000)
        _say(page, "How long does delivery take?")
        _wait_for_bot(page, "day")
        assert _stored_session(page) == token
        texts = [e.get("text") for e in stack.tracker(key)["events"] if e["event"] == "user"]
        assert "退货的运费是谁出？" in texts and "How long does delivery take?" in texts
        # a handoff: the notice and the agent's reply read well without metadata
        _say(page, "转人工")
        _wait_for_bot(page, agent.name)
        handoff = _handoff_of([agent], key)
        agent.call("POST", f"/handoff/{handoff['id']}/messages", json={"text": "您好，我来帮您"})
        assert _wait_for_bot(page, "我来帮您") == f"{agent.name}：您好，我来帮您"
        # the CRM keeps the agent's words as written, not the signed text clients get
        transcript = agent.call("GET", f"/handoff/{handoff['id']}")["transcript"]
        assert "您好，我来帮您" in [m["text"] for m in transcript if m["role"] == "agent"]
        agent.call("POST", f"/handoff/{handoff['id']}/close", json={"mode": "resolve"})
        # no false outage apology, for the empty message rasa-webchat sends on open either
        assert not [line for line in _bot_lines(page) if OUTAGE_APOLOGY in line]
        assert not errors, errors
    finally:
        agent.presence("offline")
        context.close()


def test_our_widget_falls_back_to_polling_where_websockets_are_blocked(stack, browser):
    context = browser.new_context(locale="zh-CN")
    context.add_init_script(WEBSOCKETS_BLOCKED)
    page = context.new_page()
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if "transport=polling" in r.url else None)
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    try:
        page.goto(f"{stack.bridge_url}/")
        page.locator('[data-testid="launcher"]').click()
        page.locator('[data-testid="input"]').fill("退货的运费是谁出？")
        page.locator('[data-testid="input"]').press("Enter")
        bot = page.locator('[data-testid="message"][data-role="bot"]', has_text="运费")
        bot.first.wait_for(timeout=30_000)
        assert polls and sockets and set(sockets) == {"ws://127.0.0.1:9/"}  # it tried, then polled
    finally:
        context.close()


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("OPTIONS", "/webhooks/rest/webhook", {"Access-Control-Request-Method": "POST"}),
        ("POST", "/webhooks/rest/webhook", {"Content-Type": "application/json"}),
        ("GET", "/socket.io/?EIO=4&transport=polling", {}),
    ],
)
def test_browser_doors_answer_cors_once_and_the_api_not_at_all(stack, method, path, headers):
    origin = "https://shop.example"
    body = json.dumps({"sender": f"cors-{uuid.uuid4().hex[:6]}", "message": "你好"})
    response = httpx.request(
        method,
        f"{stack.rasa_url}{path}",
        headers={"Origin": origin, **headers},
        content=body if method == "POST" else None,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.headers.get_list("access-control-allow-origin") == [origin]
    assert "access-control-allow-credentials" not in response.headers
    api = httpx.get(f"{stack.rasa_url}/version", headers={"Origin": origin}, timeout=30)
    assert "access-control-allow-origin" not in api.headers


SHOP = "https://shop.example"


@pytest.fixture(scope="module")
def listed_stack(tmp_path_factory):
    """The system with one allowed origin, as a shop sets it up."""
    with running_stack(tmp_path_factory.mktemp("var"), WIDGET_ORIGINS=f"{SHOP}/") as running:
        yield running


def _preflight(url: str, origin: str, headers: str = "content-type") -> httpx.Response:
    return httpx.options(
        url,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST" if "webhook" in url else "GET",
            "Access-Control-Request-Headers": headers,
        },
        timeout=30,
    )


def test_only_the_listed_origins_get_in(listed_stack):
    rasa, bridge = listed_stack.rasa_url, listed_stack.bridge_url
    poll = f"{rasa}/socket.io/?EIO=4&transport=polling"
    let_in = httpx.get(poll, headers={"Origin": SHOP}, timeout=30)
    assert let_in.status_code == 200
    assert let_in.headers.get_list("access-control-allow-origin") == [SHOP]
    kept_out = httpx.get(poll, headers={"Origin": "https://evil.example"}, timeout=30)
    assert kept_out.status_code == 400 and "access-control-allow-origin" not in kept_out.headers
    socket = rasa.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
    with connect(socket, origin=SHOP, open_timeout=30) as ws:
        assert ws.recv(timeout=10).startswith("0{")  # Engine.IO's open packet
    with pytest.raises(InvalidStatus):
        connect(socket, origin="https://evil.example", open_timeout=30)
    webhook = f"{rasa}/webhooks/rest/webhook"
    history = f"{bridge}/api/v1/widget/history"
    for url, headers in ((webhook, "content-type"), (history, "x-widget-session")):
        allowed = _preflight(url, SHOP, headers)
        assert allowed.headers.get_list("access-control-allow-origin") == [SHOP], url
        refused = _preflight(url, "https://evil.example", headers)
        assert "access-control-allow-origin" not in refused.headers, url
