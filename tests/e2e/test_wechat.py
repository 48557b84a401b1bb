"""The WeChat Official Account channel inside the real Rasa, with the platform API stubbed.

Requests are signed (and, in safe mode, encrypted) the way the platform does it
(bot/channels/wechat_crypto.py, checked against Tencent's vectors in tests/bot/).
"""

from __future__ import annotations

import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from channels.wechat_crypto import WeChatCrypto, signature

from tests.e2e.conftest import WECHAT_AES_KEY, WECHAT_TOKEN
from tests.e2e.test_live_handoff import ConsoleAgent, _clear_queue, _handoff_of
from tests.utils.fake_wechat import APP_ID

pytestmark = pytest.mark.slow
CRYPTO = WeChatCrypto(WECHAT_TOKEN, WECHAT_AES_KEY, APP_ID)


def _open_id() -> str:
    return "o" + uuid.uuid4().hex[:27]


def _xml(open_id: str, kind: str = "text", content: str = "", msg_id: str | None = None) -> str:
    body = (
        f"<xml><ToUserName><![CDATA[gh_shop]]></ToUserName>"
        f"<FromUserName><![CDATA[{open_id}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[{kind}]]></MsgType>"
    )
    if kind == "text":
        body += f"<Content><![CDATA[{content}]]></Content>"
    if kind == "event":
        body += f"<Event><![CDATA[{content}]]></Event>"
    if kind != "event":
        body += f"<MsgId>{msg_id or uuid.uuid4().int % 10**18}</MsgId>"
    return body + "</xml>"


def _post(stack, xml: str, safe: bool = False, timestamp: int | None = None) -> httpx.Response:
    ts, nonce = str(timestamp or int(time.time())), str(uuid.uuid4().int % 10**9)
    params = {"timestamp": ts, "nonce": nonce, "signature": signature(WECHAT_TOKEN, ts, nonce)}
    if safe:
        encrypted = CRYPTO.encrypt(xml)
        params |= {
            "encrypt_type": "aes",
            "msg_signature": signature(WECHAT_TOKEN, ts, nonce, encrypted),
        }
        xml = (
            "<xml><ToUserName><![CDATA[gh_shop]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        )
    return httpx.post(
        f"{stack.rasa_url}/webhooks/wechat/webhook", params=params, content=xml.encode(), timeout=10
    )


def _key(open_id: str) -> str:
    """Rasa's (and the CRM's) key of a follower's conversation."""
    return f"wechat:{open_id}"


def _user_turns(stack, open_id: str) -> list[str]:
    return [e["text"] for e in stack.tracker(_key(open_id))["events"] if e["event"] == "user"]


def test_url_checks_plain_and_safe_mode(stack):
    url = f"{stack.rasa_url}/webhooks/wechat/webhook"
    ts, nonce = str(int(time.time())), "1234"
    plain = {"timestamp": ts, "nonce": nonce, "echostr": "hello-echo"}
    ok = httpx.get(url, params={**plain, "signature": signature(WECHAT_TOKEN, ts, nonce)})
    assert ok.status_code == 200 and ok.text == "hello-echo"
    forged = httpx.get(url, params={**plain, "signature": "0" * 40})
    assert forged.status_code == 403
    echo = CRYPTO.encrypt("987654321")
    safe = {"timestamp": ts, "nonce": nonce, "echostr": echo}
    safe["msg_signature"] = signature(WECHAT_TOKEN, ts, nonce, echo)
    assert httpx.get(url, params=safe).text == "987654321"
    assert WECHAT_TOKEN not in stack.log.read_text()


def test_messages_in_both_modes_answered_asynchronously(stack, fake_wechat):
    zh, en = _open_id(), _open_id()
    started = time.monotonic()
    assert _post(stack, _xml(zh, content="退货的运费是谁出？")).text == "success"
    assert time.monotonic() - started < 5  # "success" at once; the answer follows
    assert (
        _post(stack, _xml(en, content="How long does delivery take?"), safe=True).text == "success"
    )
    assert re.search(r"[\u4e00-\u9fff]", fake_wechat.wait_for(zh)[0])
    assert "day" in fake_wechat.wait_for(en)[0]
    image = _open_id()
    _post(stack, _xml(image, kind="image"))
    assert "文字" in fake_wechat.wait_for(image)[0]
    follower = _open_id()
    _post(stack, _xml(follower, kind="event", content="subscribe"))
    assert fake_wechat.wait_for(follower)[0]


def test_retries_forgeries_and_replays(stack, fake_wechat):
    open_id = _open_id()
    message = _xml(open_id, content="发票怎么开？", msg_id="880001")
    for _ in range(3):  # the platform retries when it gets no answer in 5 s
        assert _post(stack, message).text == "success"
    fake_wechat.wait_for(open_id)
    time.sleep(1.0)
    assert _user_turns(stack, open_id) == ["发票怎么开？"]
    replayed = _post(stack, _xml(_open_id(), content="hi"), timestamp=int(time.time()) - 3600)
    assert replayed.status_code == 403
    ts = str(int(time.time()))
    forged = httpx.post(
        f"{stack.rasa_url}/webhooks/wechat/webhook",
        params={"timestamp": ts, "nonce": "1", "signature": "f" * 40},
        content=_xml(_open_id(), content="hi").encode(),
    )
    assert forged.status_code == 403
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml>&a;</xml>'
    assert _post(stack, bomb).status_code == 400


def test_fifty_concurrent_followers_none_lost_or_duplicated(stack, fake_wechat):
    followers = [_open_id() for _ in range(50)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda o: _post(stack, _xml(o, content="你好")).text, followers))
    assert answers == ["success"] * 50
    for open_id in followers:
        fake_wechat.wait_for(open_id, timeout=60)
    time.sleep(1.0)
    assert all(len(fake_wechat.messages_to(o)) == 1 for o in followers)
    assert all(_user_turns(stack, o) == ["你好"] for o in followers)


def test_a_handoff_over_wechat(stack, fake_wechat):
    _clear_queue(stack)
    agent = ConsoleAgent(stack, f"微信客服{uuid.uuid4().hex[:4]}", ["zh"])
    agent.presence("online")
    try:
        open_id = _open_id()
        _post(stack, _xml(open_id, content="转人工"))
        assert agent.name in fake_wechat.wait_for(open_id)[0]
        handoff = _handoff_of([agent], _key(open_id))
        assert handoff["channel"] == "wechat"
        _post(stack, _xml(open_id, content="我的快递一直没到"))
        agent.call("POST", f"/handoff/{handoff['id']}/messages", json={"text": "我来帮您催一下"})
        # signed with the agent's name: WeChat shows every message as the account's
        assert f"{agent.name}：我来帮您催一下" in fake_wechat.wait_for(open_id, count=2)
        agent.call("POST", f"/handoff/{handoff['id']}/close", json={"mode": "resolve"})
        menu = fake_wechat.wait_for(open_id, count=4)[-1]
        assert "1." in menu and "5." in menu  # the rating as numbered choices
        _post(stack, _xml(open_id, content="5"))  # picks "5"
        assert "还有什么想告诉我们" in fake_wechat.wait_for(open_id, count=5)[-1]
    finally:
        agent.presence("offline")


def test_a_linked_wechat_account_is_the_same_customer(stack, fake_wechat):
    agent = ConsoleAgent(stack, f"Linker{uuid.uuid4().hex[:4]}", ["zh"])
    wang = agent.call("GET", "/customers/by-identity/site/demo-user-1")  # 王芳, diamond
    open_id = _open_id()
    _post(stack, _xml(open_id, content="我的订单DS01010003到哪了"))
    assert "验证" in fake_wechat.wait_for(open_id)[0]  # not yet known: no personal data
    body = {"channel": "wechat", "external_id": open_id, "verified": True}
    agent.call("POST", f"/customers/{wang['id']}/identities", json=body)
    _post(stack, _xml(open_id, content="我的订单DS01010003到哪了"))
    assert "SF001010000003" in fake_wechat.wait_for(open_id, count=2)[-1]
    view = agent.call("GET", f"/customers/{wang['id']}")
    channels = {c["channel"] for c in view["conversations"]}
    assert "wechat" in channels, channels


def test_the_callback_channel_posts_replies_to_the_integrator(stack, callback_receiver):
    sender = f"cb-{uuid.uuid4().hex[:8]}"
    response = httpx.post(
        f"{stack.rasa_url}/webhooks/callback/webhook",
        json={"sender": sender, "message": "退货的运费是谁出？"},
        timeout=30,
    )
    assert response.status_code == 200
    replies = callback_receiver.wait_for(sender)
    assert re.search(r"[\u4e00-\u9fff]", replies[0]["text"]), replies
