"""The built widget in headless chromium against a fake server speaking the session protocol.

The fake (python-socketio + Starlette in one ASGI app) plays Rasa's socket.io channel and the
bridge's history route as ``web_widget/CONTRACT.md`` describes them: it issues session tokens,
answers a token it does not know with a new one, serves history only for the
``X-Widget-Session`` header and refuses expired signed users with ``identity_refused``. So these
tests check what the unit tests cannot: the widget's state and effects (``useChat``) in a real
browser, in seconds. The real servers are tried by ``tests/e2e/test_widget.py``.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field

import pytest
import socketio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from devtools import frontend
from tests.utils.browser import chromium, require_chromium, serve

TOKEN = re.compile(r"^w_[0-9a-f]{32}\.[A-Za-z0-9_-]{43}$")
SITE = "proto"
STORAGE_KEY = f"csa:{SITE}:session"
PAST = 1_700_000_000  # 2023-11-14: an expired claim
HASH = "ab" * 32


@dataclass
class FakeServer:
    """What the fake server issued and was sent; the tests change its behaviour."""

    tokens: set[str] = field(default_factory=set)
    history: dict[str, list[dict]] = field(default_factory=dict)
    session_requests: list[object] = field(default_factory=list)
    uttered: list[dict] = field(default_factory=list)
    history_requests: list[dict] = field(default_factory=list)
    user: dict | None = None
    reissue: bool = False
    """Answer every session_request with a new token (as if the secret had just changed)."""
    hold: bool = False
    """Leave session_request unanswered while set (the widget stays unconfirmed)."""

    def issue(self) -> str:
        token = f"w_{uuid.uuid4().hex}.{secrets.token_urlsafe(32)}"
        self.tokens.add(token)
        return token

    def forget_all(self) -> None:
        """As if the session secret changed: no token issued so far is valid."""
        self.tokens.clear()


def _app(state: FakeServer):
    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*")

    @sio.on("session_request")
    async def session_request(sid, data):
        state.session_requests.append(data)
        while state.hold:
            await asyncio.sleep(0.05)
        asked = data.get("session_id") if isinstance(data, dict) else None
        token = asked if asked in state.tokens and not state.reissue else state.issue()
        await sio.enter_room(sid, token)
        await sio.emit("session_confirm", token, room=sid)

    @sio.on("user_uttered")
    async def user_uttered(sid, data):
        state.uttered.append(data)
        claim = data.get("customData")
        if claim and claim.get("user_expires", 0) < time.time():
            await sio.emit(
                "identity_refused",
                {"reason": "expired", "detail": "the signed user expired; sign a fresh one"},
                room=sid,
            )
        token = data["session_id"]
        text = f"echo: {data['message']}"
        state.history.setdefault(token, []).extend(
            [
                {"id": f"m{len(state.uttered)}a", "role": "customer", "text": data["message"]},
                {"id": f"m{len(state.uttered)}b", "role": "bot", "text": text},
            ]
        )
        await sio.emit("bot_uttered", {"text": text}, room=sid)
        return True  # the acknowledgement

    async def history(request: Request) -> Response:
        token = request.headers.get("x-widget-session")
        state.history_requests.append({"query": request.url.query, "token": token})
        if token not in state.tokens:
            return JSONResponse({"detail": "not a valid session"}, status_code=401)
        return JSONResponse({"data": state.history.get(token, [])})

    async def page(request: Request) -> HTMLResponse:
        base = f"{request.url.scheme}://{request.url.netloc}"
        config = {"rasaUrl": base, "bridgeUrl": base, "siteId": SITE, "language": "en"}
        if state.user is not None:
            config["user"] = state.user
        return HTMLResponse(
            "<!doctype html><html lang='en'><body><p>shop</p>"
            f"<script>window.CSAWidgetConfig = {json.dumps(config)};</script>"
            "<script src='/widget.js'></script></body></html>"
        )

    async def widget(request: Request) -> Response:
        body = (frontend.WIDGET.out_dir() / "widget.js").read_bytes()
        return Response(body, media_type="text/javascript")

    routes = [
        Route("/", page),
        Route("/widget.js", widget),
        Route("/api/v1/widget/history", history),
    ]
    return socketio.ASGIApp(sio, other_asgi_app=Starlette(routes=routes))


@pytest.fixture(scope="module")
def browser():
    require_chromium()
    if not (frontend.WIDGET.out_dir() / "widget.js").is_file():
        pytest.fail("run `make setup` first: it builds the widget")
    with chromium() as running:
        yield running


@pytest.fixture
def server():
    state = FakeServer()
    with serve(_app(state)) as base:
        yield state, base


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.warnings = []
    page.on("console", lambda m: m.type == "warning" and page.warnings.append(m.text))
    page.add_init_script(
        "window.__csaErrors = [];"
        "addEventListener('csa-widget:error', (e) => window.__csaErrors.push(e.detail));"
    )
    yield page
    context.close()


def _wait(predicate, what: str, timeout: float = 10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _lines(page) -> list[str]:
    return [t.strip() for t in page.locator('[data-testid="message-text"]').all_inner_texts()]


def _send(page, text: str) -> None:
    page.locator('[data-testid="input"]').fill(text)
    page.locator('[data-testid="input"]').press("Enter")
    _wait(lambda: f"echo: {text}" in _lines(page), f"the echo of {text!r}")


def _stored(page) -> str | None:
    return page.evaluate(f"() => localStorage.getItem({STORAGE_KEY!r})")


def _online(page) -> None:
    status = page.locator('[data-testid="connection-status"]')
    _wait(lambda: status.get_attribute("data-state") == "online", "online")


def test_a_first_visit_gets_its_token_from_the_server_and_keeps_it(server, page):
    state, base = server
    page.goto(base)
    time.sleep(0.5)
    assert state.session_requests == [], "an idle page view opens no socket"
    page.locator('[data-testid="launcher"]').click()
    _online(page)
    assert state.session_requests == [{"session_id": None}]
    token = _stored(page)
    assert token and TOKEN.match(token) and token in state.tokens
    assert state.history_requests == [], "no token yet: no history to ask for"
    _send(page, "hello")
    assert state.uttered == [{"message": "hello", "session_id": token}]

    # A reload continues: history with the token in a header (no query string), same token.
    page.reload()
    _wait(lambda: "echo: hello" in _lines(page), "the history")
    assert state.history_requests == [{"query": "", "token": token}]
    _wait(lambda: len(state.session_requests) == 2, "the second session_request")
    assert state.session_requests[1] == {"session_id": token}
    page.locator('[data-testid="launcher"]').click()
    _online(page)
    assert _lines(page) == ["hello", "echo: hello"], "the same token keeps the history shown"
    assert _stored(page) == token


def test_a_token_the_server_does_not_accept_starts_a_new_conversation(server, page):
    state, base = server
    page.goto(base)
    page.locator('[data-testid="launcher"]').click()
    _online(page)
    _send(page, "first conversation")
    old = _stored(page)

    # History is still served but the socket issues a new token (e.g. a secret rotated
    # between the two requests): what the history showed must go.
    state.reissue = True
    page.reload()
    page.locator('[data-testid="launcher"]').click()
    _online(page)
    assert state.history_requests[-1] == {"query": "", "token": old}  # served: shown, then dropped
    new = _wait(lambda: _stored(page) != old and _stored(page), "a new token stored")
    assert TOKEN.match(new) and new in state.tokens
    assert state.session_requests[-1] == {"session_id": old}
    _wait(lambda: _lines(page) == [], "the old conversation cleared")
    _send(page, "second conversation")
    assert state.uttered[-1] == {"message": "second conversation", "session_id": new}

    # 401 from the history (the token is not valid): no history and no error notice.
    state.reissue = False
    state.forget_all()
    page.reload()
    page.locator('[data-testid="launcher"]').click()
    _online(page)
    assert state.history_requests[-1] == {"query": "", "token": new}
    assert _lines(page) == []
    assert page.locator('[data-testid="notice"]').count() == 0
    assert _stored(page) not in (new, old)


def test_a_session_id_of_the_previous_build_is_sent_and_replaced(server, page):
    state, base = server
    legacy = "w_" + "0" * 32
    page.goto(base)
    page.evaluate(f"() => localStorage.setItem({STORAGE_KEY!r}, {legacy!r})")
    page.reload()
    _wait(lambda: state.session_requests, "a session_request at once (a stored session)")
    assert state.history_requests[0] == {"query": "", "token": legacy}
    assert state.session_requests[0] == {"session_id": legacy}
    _wait(lambda: _stored(page) != legacy, "a server-issued token")
    assert TOKEN.match(_stored(page))


def test_queued_messages_go_after_the_confirm_with_the_confirmed_token(server, page):
    state, base = server
    state.hold = True
    page.goto(base)
    page.locator('[data-testid="launcher"]').click()
    page.locator('[data-testid="input"]').fill("typed before the confirm")
    page.locator('[data-testid="input"]').press("Enter")
    _wait(lambda: state.session_requests, "the session_request")
    time.sleep(0.5)
    assert state.uttered == []
    assert page.locator('[data-testid="message"][data-pending="true"]').count() == 1
    state.hold = False
    _wait(lambda: state.uttered, "the queued message")
    token = _stored(page)
    assert state.uttered == [{"message": "typed before the confirm", "session_id": token}]


def test_signed_user_expiry_refusals_and_set_user(server, page):
    state, base = server
    state.user = {"id": "demo-user-1", "expires": PAST, "hash": HASH}
    page.goto(base)
    _wait(
        lambda: any("the signed user expired at 2023-11-14" in w for w in page.warnings),
        "the load-time warning",
    )
    page.locator('[data-testid="launcher"]').click()
    _online(page)
    _send(page, "one")
    _send(page, "two")
    claim = {"user_id": "demo-user-1", "user_expires": PAST, "user_hash": HASH}
    assert [u["customData"] for u in state.uttered] == [claim, claim]
    errors = _wait(
        lambda: (e := page.evaluate("() => window.__csaErrors")) and len(e) == 2 and e,
        "two csa-widget:error events",
    )
    refusal = {
        "kind": "identity_refused",
        "reason": "expired",
        "detail": "the signed user expired; sign a fresh one",
    }
    assert errors == [refusal, refusal]
    refused = [w for w in page.warnings if "signed user refused" in w]
    assert refused == [
        "[csa-widget] signed user refused: expired: the signed user expired; sign a fresh one"
    ], "warned once per reason"
    assert not any(line for line in _lines(page) if "refused" in line), "nothing for the customer"

    # A fresh claim from the page, then anonymous; bad arguments throw a TypeError.
    fresh = {"id": "demo-user-1", "expires": int(time.time()) + 3600, "hash": "cd" * 32}
    page.evaluate("(user) => CSAWidget.setUser(user)", fresh)
    _send(page, "three")
    assert state.uttered[-1]["customData"] == {
        "user_id": fresh["id"],
        "user_expires": fresh["expires"],
        "user_hash": fresh["hash"],
    }
    page.evaluate("() => CSAWidget.setUser(null)")
    _send(page, "four")
    assert "customData" not in state.uttered[-1]
    for bad in ('"demo-user-1"', '{id: "u", hash: "ab"}', '{id: "u", expires: 1.5, hash: "ab"}'):
        message = page.evaluate(
            f"() => {{ try {{ CSAWidget.setUser({bad}); return null; }}"
            " catch (e) { return `${e.name}: ${e.message}`; } }"
        )
        assert message and message.startswith("TypeError: CSAWidget.setUser: "), (bad, message)
