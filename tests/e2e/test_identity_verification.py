"""A customer verifies a chat account with a one-time code, against the real system.

Only an account its channel authenticates can be verified: a widget session (its secret is
the server's), a WeChat follower, a WeCom customer. The flows run on the widget; on REST,
where any client can name any sender, the bot says it cannot verify on this channel.

The embedded system writes codes to ``var/outbox`` (the development delivery of
``crm_bridge/services/code_delivery.py``); the test reads them there, as a customer reads
their phone. Demo data: 王芳 is +86 139 0000 0001 / demo1@example.com with order DS01010003
(shipped, tracking number); Emily Carter is demo2@example.com.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
import uuid

import pytest

from actions.messages import MESSAGES
from tests.utils.customers import SocketCustomer

pytestmark = pytest.mark.slow


def _sender(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _texts(replies: list[dict]) -> str:
    return " ".join(r.get("text") or "" for r in replies)


def _payloads(replies: list[dict]) -> list[str]:
    """Button payloads (the widget's channel sends buttons as quick replies)."""
    return [b["payload"] for r in replies for b in r.get("quick_replies") or r.get("buttons") or []]


def _outbox(stack) -> list[dict]:
    folder = stack.var_dir / "outbox"
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def _code_for(stack, to: str, already: int, timeout: float = 10.0) -> str:
    """The newest code sent to ``to`` after ``already`` earlier ones."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sent = [m for m in _outbox(stack) if m["to"] == to]
        if len(sent) > already:
            return re.search(r"\d{6}", sent[-1]["text"]).group()
        time.sleep(0.1)
    raise AssertionError(f"no code sent to {to}")


def _crm(stack, query: str, *args) -> list[tuple]:
    with sqlite3.connect(stack.var_dir / "crm.db") as db:
        return db.execute(query, args).fetchall()


def test_order_question_then_code_by_phone_answers_the_order(stack):
    phone = "+86 139 0000 0001"
    with SocketCustomer(stack.rasa_url) as customer:
        refused = customer.ask("我的订单 DS01010003 到哪了？")
        assert "验证身份" in _texts(refused)
        assert "/verify_identity" in _payloads(refused)
        assert "SF" not in _texts(refused)  # no tracking number before verification

        asked = customer.ask("/verify_identity")
        assert "手机号或邮箱" in _texts(asked)
        before = len([m for m in _outbox(stack) if m["to"] == phone])
        sent = customer.ask("139-0000-0001")
        assert "139****0001" in _texts(sent) and "验证码" in _texts(sent)
        code = _code_for(stack, phone, before)

        wrong = f"{(int(code) + 1) % 10**6:06d}"
        assert "还可以再试 4 次" in _texts(customer.ask(wrong))
        done = _texts(customer.ask(code))
        assert "验证成功，王芳" in done
        assert "DS01010003" in done and "已发货" in done  # the pending question, answered at once

        points = _texts(customer.ask("我还有多少积分"))
        assert "积分" in points and "验证身份" not in points
    rows = _crm(
        stack,
        "SELECT c.name, i.verified FROM customer_identities i JOIN customers c "
        "ON c.id = i.customer_id WHERE i.channel = 'socketio' AND i.external_id = ?",
        customer.session_id,
    )
    assert rows == [("王芳", 1)]
    assert code not in stack.log.read_text()  # never logged by any process


def test_a_verified_session_is_recognised_when_the_page_comes_back(stack):
    """The widget keeps its session token: a reload (a new socket) is still the verified one."""
    with SocketCustomer(stack.rasa_url) as customer:
        customer.ask("/verify_identity")
        before = len([m for m in _outbox(stack) if m["to"] == "demo2@example.com"])
        customer.ask("demo2@example.com")
        code = _code_for(stack, "demo2@example.com", before)
        assert "Emily Carter" in _texts(customer.ask(code))
        token = customer.token
    with SocketCustomer(stack.rasa_url, token=token) as again:
        assert again.session_id == customer.session_id
        points = _texts(again.ask("how many points do I have?"))
    assert "21,450" in points or "21450" in points, points
    with SocketCustomer(stack.rasa_url) as stranger:  # another visitor: not Emily
        assert "21,450" not in _texts(stranger.ask("how many points do I have?"))


def test_english_request_and_code_by_email(stack):
    with SocketCustomer(stack.rasa_url) as customer:
        asked = customer.ask("I want to verify my account")
        assert "phone number or e-mail" in _texts(asked)
        before = len([m for m in _outbox(stack) if m["to"] == "demo2@example.com"])
        sent = _texts(customer.ask("Demo2@Example.com"))
        assert "d***@example.com" in sent
        code = _code_for(stack, "demo2@example.com", before)
        done = _texts(customer.ask(f"the code is {code[:3]} {code[3:]}"))
        assert "Thanks, Emily Carter, you're verified" in done
        points = _texts(customer.ask("how many points do I have?"))
    assert "21,450" in points or "21450" in points


def test_unknown_contact_gets_the_same_answer_and_cancel_leaves(stack):
    with SocketCustomer(stack.rasa_url) as customer:
        customer.ask("/verify_identity")
        count = len(_outbox(stack))
        sent = _texts(customer.ask("nobody.at.all@example.org"))
        assert "n***@example.org" in sent and "验证码" in sent
        assert len(_outbox(stack)) == count  # nothing was sent
        assert "不正确" in _texts(customer.ask("123456"))
        left = customer.ask("/deny")
        assert "验证成功" not in _texts(left)
        refused = _texts(customer.ask("我的订单 DS01010003 到哪了？"))
    assert "验证身份" in refused  # still anonymous


@pytest.mark.parametrize(
    ("contact", "language"), [("139-0000-0001", "zh"), ("my email is demo1@example.com", "en")]
)
def test_rest_says_it_cannot_verify_on_this_channel(stack, contact, language):
    # Any REST client can name any sender: a code confirmed there would hand 王芳's account to
    # whoever uses that sender id next. No code is sent; the customer is told where it works.
    sender = _sender(f"otp-rest-{language}")
    count = len(_outbox(stack))
    stack.say(sender, "/verify_identity" if language == "zh" else "I want to verify my account")
    replies = stack.say(sender, contact)
    assert MESSAGES["verify_not_provable"][language] in [r.get("text") for r in replies]
    assert "/human_handoff" in _payloads(replies)
    assert len(_outbox(stack)) == count
    refused = _texts(stack.say(sender, "我的订单 DS01010003 到哪了？"))
    assert "验证身份" in refused and "SF" not in refused
