"""Issue 19's attacks, against the real embedded system: each one now gets no personal data.

Every attack is paired with the legitimate path it imitates (the real WeChat follower, the
signed-in widget visitor …) so a test cannot pass because nothing answers at all. The last
tests scan what the system logged during the attacks and what it listens on. Agents' sessions
are attacked here through the real bridge too (more cases, in process, in
tests/crm_bridge/api/test_sessions.py); the scale-out profile's public surface in
tests/e2e/test_scaleout.py.
"""

from __future__ import annotations

import re
import time
import uuid

import httpx
import pytest
from channels.wechat_crypto import signature
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from crm_bridge.models import Customer
from crm_bridge.services.customers import find_by_identity, link_identity
from tests.e2e.conftest import WECHAT_TOKEN, Stack
from tests.utils.customers import SocketCustomer
from tests.utils.processes import listening_addresses

pytestmark = pytest.mark.slow

WANG_FANG = "demo-user-1"  # 王芳, diamond member, 58,200 points, order DS01010003 (shipped)
WANG_ORDER = "DS01010003"
PERSONAL = ("王芳", "58,200", "钻石", "SF", "已发货", "Wang Fang")
"""Strings that give 王芳's account away (name, points, tier, carrier, order state)."""
SEEN: set[str] = set()
"""Identifiers and credentials the attacks used; no log line may contain any of them."""


def _texts(replies: list[dict]) -> str:
    return " ".join(r.get("text") or "" for r in replies)


def _leaks(text: str) -> list[str]:
    return [s for s in PERSONAL if s in text]


def _secret(stack: Stack, name: str) -> str:
    return (stack.var_dir / "secrets" / name).read_text().split()[0]


def _link_follower(stack: Stack) -> str:
    """A WeChat OpenID an agent linked to 王芳 and verified (as the issue's attacker found)."""
    open_id = "o" + uuid.uuid4().hex[:27]
    engine = create_engine(stack.crm_url)
    with Session(engine) as session:
        customer = find_by_identity(session, "site", WANG_FANG)
        assert customer is not None
        link_identity(session, customer, "wechat", open_id, verified=True)
        session.commit()
    engine.dispose()
    SEEN.add(open_id)
    return open_id


def _wechat(stack: Stack, open_id: str, text: str) -> None:
    """A message from the platform, signed as WeChat signs it (the OpenID in the URL too)."""
    ts, nonce = str(int(time.time())), str(uuid.uuid4().int % 10**9)
    xml = (
        f"<xml><ToUserName><![CDATA[gh_shop]]></ToUserName>"
        f"<FromUserName><![CDATA[{open_id}]]></FromUserName>"
        f"<CreateTime>{ts}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{text}]]></Content><MsgId>{uuid.uuid4().int % 10**18}</MsgId></xml>"
    )
    params = {
        "timestamp": ts,
        "nonce": nonce,
        "signature": signature(WECHAT_TOKEN, ts, nonce),
        "openid": open_id,
    }
    response = httpx.post(
        f"{stack.rasa_url}/webhooks/wechat/webhook", params=params, content=xml.encode()
    )
    assert response.status_code == 200, response.text


def _wechat_replies(fake_wechat, open_id: str, count: int, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(sent := fake_wechat.messages_to(open_id)) >= count:
            return " ".join(sent)
        time.sleep(0.2)
    raise AssertionError(f"WeChat got {fake_wechat.messages_to(open_id)}")


def _action_call(action: str, sender: str, channel: str, intent: str, text: str, **slots) -> dict:
    """A tracker made up by an attacker, in rasa_sdk's wire format."""
    user = {
        "event": "user",
        "text": text,
        "input_channel": channel,
        "parse_data": {"intent": {"name": intent, "confidence": 1.0}, "entities": []},
        "metadata": {},
    }
    return {
        "next_action": action,
        "sender_id": sender,
        "version": "3.6.21",
        "domain": {"slots": {}, "responses": {}, "intents": [intent]},
        "tracker": {
            "sender_id": sender,
            "slots": {"language": "zh", **slots},
            "latest_message": {**user["parse_data"], "text": text, "metadata": {}},
            "latest_input_channel": channel,
            "latest_event_time": time.time(),
            "latest_action_name": "action_listen",
            "events": [user],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
        },
    }


def _reveals(answer: httpx.Response) -> list[str]:
    texts = " ".join(r.get("text") or "" for r in answer.json().get("responses") or [])
    return _leaks(texts)


def test_a_forged_action_call_gets_no_personal_data(stack, fake_wechat):
    open_id = _link_follower(stack)
    # The real follower, through WeChat's signed webhook, is served: the link works.
    _wechat(stack, open_id, "我的积分还有多少？")
    assert "58,200" in _wechat_replies(fake_wechat, open_id, 1)

    url = f"{stack.actions_url}/webhook"
    membership = _action_call(
        "action_membership_status", f"wechat:{open_id}", "wechat", "check_membership", "我的积分"
    )
    order = _action_call(
        "action_order_status",
        open_id,
        "wechat",
        "order_status",
        WANG_ORDER,
        order_number=WANG_ORDER,
    )
    for call in (membership, order):
        for headers in ({}, {"Authorization": "Bearer guessed"}, {"Authorization": "guessed"}):
            refused = httpx.post(url, json=call, headers=headers, timeout=30)
            assert refused.status_code == 401, refused.text
            assert not _leaks(refused.text)
    assert httpx.get(f"{stack.actions_url}/actions", timeout=10).status_code == 401
    # Even with Rasa's own token (leaked), a made-up tracker proves nothing: no proof, no data.
    token = {"Authorization": f"Bearer {_secret(stack, 'actions_token')}"}
    for call in (membership, order):
        answered = httpx.post(url, json=call, headers=token, timeout=30)
        assert answered.status_code == 200, answered.text
        assert not _reveals(answered), answered.text
    SEEN.add(_secret(stack, "actions_token"))


def test_the_bot_key_reads_only_what_a_message_proved(stack):
    bot = {"X-API-Key": _secret(stack, "bridge_bot_key")}
    api = f"{stack.bridge_url}/api/v1"
    engine = create_engine(stack.crm_url)
    with Session(engine) as session:
        wang = session.scalars(select(Customer).where(Customer.name == "王芳")).one()
    engine.dispose()
    # The routes the bot has no business with.
    for path in ("/customers", f"/customers/{wang.id}", "/conversations", "/escalations"):
        assert httpx.get(api + path, headers=bot).status_code == 403, path
    # Its own routes without the message's proof, or with a made-up one.
    assert httpx.get(f"{api}/customers/{wang.id}/loyalty", headers=bot).status_code == 401
    assert httpx.get(f"{api}/orders/{WANG_ORDER}", headers=bot).status_code == 401
    forged = {**bot, "X-Identity-Proof": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"}
    assert httpx.post(f"{api}/bot/identify", json={}, headers=forged).status_code == 401
    SEEN.add(bot["X-API-Key"])


def test_rest_reuse_of_a_widget_sender_gets_no_personal_data(stack):
    visitor = SocketCustomer(stack.rasa_url)
    try:
        signed = stack.signed(WANG_FANG)
        visitor.say("我的积分", signed)
        assert "58,200" in visitor.wait_for("积分")["text"]  # the signed-in visitor is served
        SEEN.update({visitor.token, str(signed["user_hash"])})
        for sender in (visitor.session_id, visitor.key, visitor.token):
            # The visitor's id, with and without the claim the page had sent (a replay).
            for metadata in (None, signed):
                replies = stack.say(sender, "我的积分", metadata)
                assert replies and not _leaks(_texts(replies)), replies
            replies = stack.say(sender, f"我的订单 {WANG_ORDER} 到哪了")
            assert not _leaks(_texts(replies)), replies
        # Nothing the REST client sent reached the visitor's conversation.
        visitor_turns = [e for e in stack.tracker(visitor.key)["events"] if e["event"] == "user"]
        assert len(visitor_turns) == 1
    finally:
        visitor.close()


def test_a_socketio_session_cannot_be_joined_or_read_by_its_id(stack):
    victim = SocketCustomer(stack.rasa_url)
    intruder = SocketCustomer(stack.rasa_url, token=victim.session_id)
    forged = SocketCustomer(stack.rasa_url, token=f"{victim.session_id}.{'A' * 43}")
    try:
        assert intruder.session_id != victim.session_id
        assert forged.session_id != victim.session_id
        victim.say("我的积分", stack.signed(WANG_FANG))
        assert "58,200" in victim.wait_for("积分")["text"]
        assert intruder.silent_for(3) and forged.silent_for(0.5)
        # A message naming the victim's session goes to the intruder's own conversation.
        intruder.client.emit(
            "user_uttered", {"message": "hello", "session_id": victim.token, "customData": {}}
        )
        intruder.wait_for("", timeout=20)
        assert victim.silent_for(2)
        turns = [e["text"] for e in stack.tracker(victim.key)["events"] if e["event"] == "user"]
        assert turns == ["我的积分"]
        # The history needs the token, never the bare id; a token shows only its own session.
        history = f"{stack.bridge_url}/api/v1/widget/history"
        time.sleep(1.5)  # the bridge stores messages a moment after Rasa
        for credential in (victim.session_id, f"{victim.session_id}.{'A' * 43}", ""):
            assert httpx.get(history, headers={"X-Widget-Session": credential}).status_code == 401
        assert httpx.get(history, params={"session_id": victim.session_id}).status_code == 401
        own = httpx.get(history, headers={"X-Widget-Session": intruder.token}).json()["data"]
        assert "58,200" not in str(own) and "我的积分" not in str(own)
        theirs = httpx.get(history, headers={"X-Widget-Session": victim.token}).json()["data"]
        assert "58,200" in str(theirs)
        SEEN.update({victim.token, intruder.token})
    finally:
        for customer in (victim, intruder, forged):
            customer.close()


@pytest.mark.parametrize(
    ("claim", "reason"),
    [
        (lambda stack: stack.signed(WANG_FANG, expires=int(time.time()) - 600), "expired"),
        (
            lambda stack: stack.signed(WANG_FANG, expires=int(time.time()) + 30 * 86400),
            "expiry_too_far",
        ),
        (lambda stack: {**stack.signed(WANG_FANG), "user_id": "demo-user-2"}, "bad_signature"),
        (lambda stack: {"user_id": WANG_FANG, "user_hash": "0" * 64}, "incomplete"),
    ],
    ids=["expired", "too-far-ahead", "someone-elses-hash", "old-format-without-expiry"],
)
def test_bad_signed_claims_are_refused_with_a_reason(stack, claim, reason):
    customer = SocketCustomer(stack.rasa_url)
    try:
        customer.say("我的积分", claim(stack))
        answer = customer.wait_for("验证")["text"]
        assert not _leaks(answer)
        refusal = customer.refusals.get(timeout=5)
        assert refusal["reason"] == reason and refusal["detail"]
    finally:
        customer.close()


def test_a_claim_captured_while_valid_is_refused_once_it_expired(stack):
    # Signed to have expired 50 s ago: still within the 60 s allowed for clock skew, so good.
    expires = int(time.time()) - 50
    captured = stack.signed(WANG_FANG, expires=expires)
    first = SocketCustomer(stack.rasa_url)
    try:
        first.say("我的积分", captured)
        assert "58,200" in first.wait_for("积分")["text"]
    finally:
        first.close()
    time.sleep(max(0.0, expires + 62 - time.time()))  # now past its expiry and the skew
    replay = SocketCustomer(stack.rasa_url)
    try:
        replay.say("我的积分", captured)
        assert not _leaks(replay.wait_for("验证")["text"])
        assert replay.refusals.get(timeout=5)["reason"] == "expired"
    finally:
        replay.close()
    SEEN.add(str(captured["user_hash"]))


def test_the_site_hash_is_never_stored(stack):
    customer = SocketCustomer(stack.rasa_url)
    signed = stack.signed(WANG_FANG)
    try:
        customer.say("我的积分", signed)
        customer.wait_for("积分")
    finally:
        customer.close()
    time.sleep(2)  # the bridge ingests a moment later
    digest = str(signed["user_hash"]).encode()
    stores = [p for p in stack.var_dir.rglob("*") if p.is_file() and p.suffix != ".log"]
    assert stores, "no stores found"
    for path in stores:
        if path.name.endswith(("-wal", ".db", "-shm")) or path.suffix in (".json", ".yml"):
            assert digest not in path.read_bytes(), path
    tracker = str(stack.tracker(customer.key))
    assert digest.decode() not in tracker and "user_expires" not in tracker


def test_rest_cannot_verify_a_chat_account(stack):
    outbox = stack.var_dir / "outbox"
    codes_before = len(list(outbox.glob("*.json")))
    sender = f"sec-{uuid.uuid4().hex[:8]}"
    stack.say(sender, "/verify_identity")
    replies = stack.say(sender, "+86 139 0000 0001")  # 王芳's phone
    assert "无法验证您的身份" in _texts(replies), replies
    english = f"sec-en-{uuid.uuid4().hex[:8]}"
    stack.say(english, "/verify_identity")
    replies = stack.say(english, "my email is demo1@example.com")
    assert "can't verify who you are on this channel" in _texts(replies), replies
    assert len(list(outbox.glob("*.json"))) == codes_before  # no code was sent


@pytest.mark.parametrize(
    ("text", "expected"),
    [("你好", "您发送得太快了"), ("hello", "You are sending messages too quickly")],
)
def test_a_flooding_conversation_is_told_to_slow_down_in_its_language(stack, text, expected):
    # The default allows 30 messages a minute per conversation, counted in fixed windows:
    # 65 messages put more than 30 into one window even if a new window starts meanwhile.
    customer = SocketCustomer(stack.rasa_url)
    try:
        for _ in range(65):
            customer.say(text)
        customer.wait_for(expected, timeout=120)
    finally:
        customer.close()
    sender = f"flood-{uuid.uuid4().hex[:8]}"
    answers = [
        httpx.post(
            f"{stack.rasa_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": "/greet"},
            timeout=30,
        )
        for _ in range(65)
    ]
    refused = [a for a in answers if a.status_code == 429]
    assert answers[0].status_code == 200 and len(refused) >= 3
    assert refused[0].headers["retry-after"] and "wait" in refused[0].json()["error"]


def _log_in(stack: Stack, login: str, password: str) -> str:
    answer = httpx.post(
        f"{stack.bridge_url}/api/v1/login/access-token",
        data={"username": login, "password": password},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    SEEN.add(answer.json()["access_token"])
    return answer.json()["access_token"]


def _console_socket(stack: Stack, token: str):  # noqa: ANN202 - websockets' connection
    socket = connect(stack.bridge_url.replace("http", "ws") + "/api/v1/console/ws")
    socket.send(f'{{"type": "auth", "token": "{token}"}}')
    assert "queue" in socket.recv(timeout=10)
    return socket


def _closed_with(socket, timeout: float = 10) -> int | None:  # noqa: ANN001
    try:
        while True:
            socket.recv(timeout=timeout)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    except TimeoutError:
        return None


def test_a_console_token_is_dead_after_logout_and_after_deactivation(stack):
    logins = dict(
        line.split()
        for line in (stack.var_dir / "secrets" / "demo_agents.txt").read_text().splitlines()
        if line.strip()
    )
    admin = {"Authorization": f"Bearer {_log_in(stack, 'admin', logins['admin'])}"}
    api = f"{stack.bridge_url}/api/v1"
    login, password = f"sec-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    created = httpx.post(
        f"{api}/agents",
        headers=admin,
        json={"name": "Sec Test", "login": login, "password": password, "role": "agent"},
    )
    assert created.status_code == 201, created.text
    agent_id = created.json()["id"]

    # Logout: the same token, replayed, is refused; its console socket is closed.
    token = _log_in(stack, login, password)
    me = {"Authorization": f"Bearer {token}"}
    socket = _console_socket(stack, token)
    assert httpx.get(f"{api}/agents/me", headers=me).status_code == 200
    assert httpx.post(f"{api}/login/logout", headers=me).status_code == 204
    assert _closed_with(socket) == 1008
    assert httpx.get(f"{api}/agents/me", headers=me).status_code == 401
    assert httpx.get(f"{api}/customers", headers=me).status_code == 401

    # Deactivation: every session of the agent ends at once, and no new log-in works.
    token = _log_in(stack, login, password)
    me = {"Authorization": f"Bearer {token}"}
    socket = _console_socket(stack, token)
    done = httpx.post(f"{api}/agents/{agent_id}/deactivate", headers=admin)
    assert done.status_code in (200, 204), done.text
    assert _closed_with(socket) == 1008
    assert httpx.get(f"{api}/handoff/queue", headers=me).status_code == 401
    refused = httpx.post(
        f"{api}/login/access-token", data={"username": login, "password": password}
    )
    assert refused.status_code == 401
    # The token in the URL, as before, is refused outright.
    legacy = connect(stack.bridge_url.replace("http", "ws") + f"/api/v1/console/ws?token={token}")
    assert _closed_with(legacy) == 1008


def test_no_token_or_chat_id_in_any_log_line(stack, fake_wechat):
    # Traffic of every kind, so this test stands on its own too.
    open_id = _link_follower(stack)
    _wechat(stack, open_id, "你好")
    _wechat_replies(fake_wechat, open_id, 1)
    customer = SocketCustomer(stack.rasa_url)
    try:
        customer.say("hello", stack.signed(WANG_FANG))
        customer.next()
        httpx.get(
            f"{stack.bridge_url}/api/v1/widget/history",
            headers={"X-Widget-Session": customer.token},
        )
        SEEN.update({customer.token, customer.session_id})
    finally:
        customer.close()
    SEEN.update(
        _secret(stack, name)
        for name in (
            "rasa_token",
            "actions_token",
            "bridge_api_key",
            "bridge_bot_key",
            "identity_proof_key",
            "widget_session_key",
            "site_identity_secret",
            "jwt_secret",
        )
        if (stack.var_dir / "secrets" / name).exists()
    )
    time.sleep(1)
    log = stack.log.read_text(errors="replace")
    found = {value[:12] + "…": n for value in SEEN if (n := log.count(value))}
    assert not found, f"logged: {found}"
    # Access lines carry paths only.
    assert not re.search(r'"(GET|POST|PUT|DELETE) [^" ]*\?', log)


def test_no_process_listens_on_a_wildcard_address(stack):
    addresses = listening_addresses(stack.log.read_text())
    assert len(addresses) >= 3, addresses  # Rasa, the action server, the bridge at least
    for address in addresses:
        assert address.startswith(("127.0.0.1:", "[::1]:")), addresses


def test_forged_request_to_rasa_api_needs_the_token(stack):
    key = "rest:anyone"
    for params in ({}, {"token": "guessed"}):
        response = httpx.get(f"{stack.rasa_url}/conversations/{key}/tracker", params=params)
        assert response.status_code == 401, response.text
