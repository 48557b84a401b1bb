"""The WeCom customer-service channel (微信客服) inside the real Rasa, with WeCom's API stubbed.

Callbacks are encrypted and signed the way WeCom does it (bot/channels/wechat_crypto.py,
checked against Tencent's vectors in tests/bot/); the messages themselves are pulled from the
fake's ``kf/sync_msg`` and the answers land in its ``kf/send_msg`` (tests/utils/fake_wecom.py).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from channels.wechat_crypto import WeChatCrypto, signature

from tests.e2e.test_live_handoff import ConsoleAgent, _clear_queue, _handoff_of
from tests.utils.fake_wecom import (
    AES_KEY,
    CALLBACK_TOKEN,
    CORP_ID,
    CRYPTO,
    OPEN_KFID,
    SECRET,
    FakeWeCom,
    Sent,
    post_callback,
)

pytestmark = pytest.mark.slow
SECOND_KFID = "wkE2ETEST0000000000000002"


def _customer() -> str:
    return "wm" + uuid.uuid4().hex[:26]


def _key(user: str) -> str:
    """Rasa's (and the CRM's) key of a WeCom customer's conversation."""
    return f"wecom:{user}"


def _user_turns(stack, user: str) -> list[str]:
    return [e["text"] for e in stack.tracker(_key(user))["events"] if e["event"] == "user"]


def _say(stack, fake: FakeWeCom, user: str, text: str, **kwargs) -> None:
    """The customer writes; WeCom announces it with a callback."""
    fake.push_text(user, text, **kwargs)
    assert fake.callback(stack.rasa_url).text == "success"


def _wait_until(predicate, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_url_verification(stack):
    url = f"{stack.rasa_url}/webhooks/wecom/webhook"
    ts, nonce = str(int(time.time())), "5678"
    echo = CRYPTO.encrypt("1616140317555161061")
    params = {"timestamp": ts, "nonce": nonce, "echostr": echo}
    params["msg_signature"] = signature(CALLBACK_TOKEN, ts, nonce, echo)
    ok = httpx.get(url, params=params)
    assert ok.status_code == 200 and ok.text == "1616140317555161061"
    assert httpx.get(url, params={**params, "msg_signature": "0" * 40}).status_code == 403
    old = str(int(time.time()) - 3600)
    replayed = {**params, "timestamp": old}
    replayed["msg_signature"] = signature(CALLBACK_TOKEN, old, nonce, echo)
    assert httpx.get(url, params=replayed).status_code == 403
    log = stack.log.read_text()
    assert CALLBACK_TOKEN not in log and AES_KEY not in log and SECRET not in log


def test_questions_in_both_languages_are_pulled_and_answered(stack, fake_wecom):
    zh, en = _customer(), _customer()
    fake_wecom.push_text(zh, "退货的运费是谁出？")
    fake_wecom.push_text(en, "How long does delivery take?")
    started = time.monotonic()
    assert fake_wecom.callback(stack.rasa_url).text == "success"
    assert time.monotonic() - started < 5  # "success" at once; the pull and answers follow
    answer = fake_wecom.wait_for(zh)[0]
    assert re.search(r"[\u4e00-\u9fff]", answer.text)
    assert (answer.open_kfid, answer.via) == (OPEN_KFID, "send_msg")
    assert "day" in fake_wecom.wait_for(en)[0].text
    assert fake_wecom.tokens_issued >= 2  # the first token was reported expired and replaced
    assert fake_wecom.refused == []


def test_a_menu_is_clicked_by_its_id_or_picked_by_number(stack, fake_wecom):
    user = _customer()
    _say(stack, fake_wecom, user, "你能做什么")
    menu = fake_wecom.wait_for(user)[0]
    assert menu.msgtype == "msgmenu" and len(menu.menu) == 5, menu
    assert all(len(click_id.encode()) <= 128 for click_id, _ in menu.menu)
    _say(stack, fake_wecom, user, "2")  # typed: the second item, "我的积分和等级"
    count = len(fake_wecom.wait_for(user, count=2))
    click_id = dict((content, i) for i, content in menu.menu)["查订单"]
    _say(stack, fake_wecom, user, "查订单", menu_id=click_id)  # clicked (an older menu too)
    fake_wecom.wait_for(user, count=count + 1)
    assert _user_turns(stack, user) == ["你能做什么", "/check_membership", "/order_status"]
    assert fake_wecom.refused == []


def test_greeting_polite_answer_and_ignored_items(stack, fake_wecom):
    newcomer, picture, servicer = _customer(), _customer(), _customer()
    fake_wecom.push_enter_session(newcomer)
    fake_wecom.push_image(picture)
    # a human servicer answering in WeCom's own desk, and a system event: not for the bot
    fake_wecom.push(
        {"external_userid": servicer, "origin": 5, "msgtype": "text", "text": {"content": "您好"}}
    )
    event = {"event_type": "msg_send_fail", "external_userid": servicer, "fail_type": 0}
    fake_wecom.push({"origin": 4, "msgtype": "event", "event": event})
    assert fake_wecom.callback(stack.rasa_url).text == "success"
    greeting = fake_wecom.wait_for(newcomer)[0]
    assert greeting.via == "send_msg_on_event"  # the enter_session welcome_code was used
    assert _user_turns(stack, newcomer) == ["/greet"]
    polite = fake_wecom.wait_for(picture)[0]
    assert "文字" in polite.text and "text" in polite.text
    time.sleep(1.0)
    assert fake_wecom.messages_to(servicer) == []
    assert _user_turns(stack, servicer) == []


def test_repeated_callbacks_and_messages_are_answered_once(stack, fake_wecom):
    user = _customer()
    item = fake_wecom.push_text(user, "发票怎么开？", twice=True)  # sync_msg returns it twice
    params, body = fake_wecom.signed_callback()
    for _ in range(2):  # the same callback twice (WeCom retries when it is unsure)
        assert post_callback(stack.rasa_url, params, body).text == "success"
    fake_wecom.wait_for(user)
    time.sleep(1.0)
    answered = len(fake_wecom.messages_to(user))
    fake_wecom.replay(item)  # returned once more later, as after a lost cursor
    marker = _customer()
    _say(stack, fake_wecom, marker, "你好")  # pulled after the replayed copy
    fake_wecom.wait_for(marker)
    time.sleep(1.0)
    assert _user_turns(stack, user) == ["发票怎么开？"]
    assert len(fake_wecom.messages_to(user)) == answered


def test_old_messages_are_skipped(stack, fake_wecom):
    stale, fresh = _customer(), _customer()
    fake_wecom.push_text(stale, "你好", send_time=int(time.time()) - 3600)
    _say(stack, fake_wecom, fresh, "你好")
    fake_wecom.wait_for(fresh)
    time.sleep(1.0)
    assert fake_wecom.messages_to(stale) == []
    assert _user_turns(stack, stale) == []
    # (an info line counts them; Rasa shows its own loggers only at INFO by default)


def test_forged_replayed_and_malformed_callbacks_are_refused(stack, fake_wecom):
    params, body = fake_wecom.signed_callback()
    forged = {**params, "msg_signature": "f" * 40}
    assert post_callback(stack.rasa_url, forged, body).status_code == 403
    old_params, old_body = fake_wecom.signed_callback(timestamp=int(time.time()) - 3600)
    assert post_callback(stack.rasa_url, old_params, old_body).status_code == 403
    # properly signed, but encrypted for another company
    other = WeChatCrypto(CALLBACK_TOKEN, AES_KEY, "ww9999999999999999")
    encrypted = other.encrypt("<xml><MsgType>event</MsgType></xml>")
    ts, nonce = str(int(time.time())), "42"
    signed = {
        "timestamp": ts,
        "nonce": nonce,
        "msg_signature": signature(CALLBACK_TOKEN, ts, nonce, encrypted),
    }
    envelope = f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>".encode()
    assert post_callback(stack.rasa_url, signed, envelope).status_code == 403
    assert post_callback(stack.rasa_url, params, b"not xml at all").status_code == 400
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml>&a;</xml>'
    assert post_callback(stack.rasa_url, params, bomb).status_code == 400
    assert post_callback(stack.rasa_url, params, b"<xml/>").status_code == 400  # no Encrypt
    big = b"<xml><Encrypt>" + b"A" * 70_000 + b"</Encrypt></xml>"
    assert post_callback(stack.rasa_url, params, big).status_code == 400
    log = stack.log.read_text()
    assert "wecom callback refused" in log
    assert CALLBACK_TOKEN not in log and AES_KEY not in log


def test_thirty_concurrent_customers_each_answered_once(stack, fake_wecom):
    customers = [_customer() for _ in range(30)]
    pulls_before = fake_wecom.sync_calls

    def write(n_user: tuple[int, str]) -> str:
        n, user = n_user
        account = (OPEN_KFID, SECOND_KFID)[n % 2]
        fake_wecom.push_text(user, "你好", open_kfid=account)
        return fake_wecom.callback(stack.rasa_url, open_kfid=account).text

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(write, enumerate(customers)))
    assert answers == ["success"] * 30
    for user in customers:
        fake_wecom.wait_for(user, timeout=60)
    time.sleep(1.0)
    assert all(len(fake_wecom.messages_to(u)) == 1 for u in customers)
    assert all(_user_turns(stack, u) == ["你好"] for u in customers)
    assert {fake_wecom.messages_to(u)[0].open_kfid for u in customers[1::2]} == {SECOND_KFID}
    assert fake_wecom.sync_calls - pulls_before >= 10  # three messages a page: paging ran
    cursors = json.loads((stack.var_dir / "channels" / f"wecom-{CORP_ID}-cursors.json").read_text())
    assert set(cursors) >= {OPEN_KFID, SECOND_KFID}  # kept for a restart


def test_a_handoff_over_wecom(stack, fake_wecom):
    _clear_queue(stack)
    agent = ConsoleAgent(stack, f"企微客服{uuid.uuid4().hex[:4]}", ["zh"])
    agent.presence("online")
    try:
        user = _customer()
        _say(stack, fake_wecom, user, "转人工")
        assert agent.name in fake_wecom.wait_for(user)[0].text
        handoff = _handoff_of([agent], _key(user))
        assert handoff["channel"] == "wecom"
        _say(stack, fake_wecom, user, "我的快递一直没到")
        agent.call("POST", f"/handoff/{handoff['id']}/messages", json={"text": "我来帮您催一下"})
        reply = _wait_until(
            lambda: [
                s for s in fake_wecom.messages_to(user) if s.text == f"{agent.name}：我来帮您催一下"
            ],
            what="the agent's reply",
        )[0]
        assert (reply.open_kfid, reply.via) == (OPEN_KFID, "send_msg")  # through Rasa's API
        agent.call("POST", f"/handoff/{handoff['id']}/close", json={"mode": "resolve"})

        def rating() -> Sent | None:
            menus = [s for s in fake_wecom.messages_to(user) if len(s.menu) == 5]
            return menus[-1] if menus else None

        menu = _wait_until(rating, what="the rating menu")
        five = dict((content, i) for i, content in menu.menu)["5 非常满意"]
        before = len(fake_wecom.messages_to(user))
        _say(stack, fake_wecom, user, "5 非常满意", menu_id=five)
        assert "还有什么想告诉我们" in fake_wecom.wait_for(user, count=before + 1)[-1].text
        assert '/rate{"rating":"5"}' in _user_turns(stack, user)
        assert fake_wecom.refused == []
    finally:
        agent.presence("offline")


def test_the_account_of_a_customer_is_needed_to_send(stack, fake_wecom):
    """An injected reply for a customer who never wrote over WeCom is dropped, not misrouted."""
    stranger = _customer()
    response = httpx.post(
        f"{stack.rasa_api_url or stack.rasa_url}/conversations/{_key(stranger)}/tracker/events",
        params={
            "token": stack.rasa_token,
            "output_channel": "wecom",
            "execute_side_effects": "true",
        },
        json=[{"event": "bot", "text": "hello?"}],
        timeout=30,
    )
    assert response.status_code == 200
    time.sleep(1.0)
    assert fake_wecom.messages_to(stranger) == []
    assert "no customer-service account known" in stack.log.read_text()
