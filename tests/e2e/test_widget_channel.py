"""The project's socket.io channel (bot/channels/widget_socketio.py) against the real Rasa."""

from __future__ import annotations

import re
import time

import pytest

from tests.utils.customers import SocketCustomer

pytestmark = pytest.mark.slow


def test_socket_messages_carry_only_the_public_metadata(stack):
    customer = SocketCustomer(stack.rasa_url)
    try:
        customer.say("How long does delivery take?")
        answer = customer.next()
        assert answer["text"] and answer["metadata"]["kb_decision"] == "answer", answer
        assert set(answer["metadata"]) == {"kb_entry_id", "kb_decision"}
        customer.say("你好")
        greeting = customer.next()
        assert "metadata" not in greeting and re.search(r"[\u4e00-\u9fff]", greeting["text"])
        customer.say("你能做什么")
        menu = customer.next()
        assert {b["payload"] for b in menu["quick_replies"]} >= {"/human_handoff"}
    finally:
        customer.close()


def test_a_closed_websocket_logs_no_error(stack):
    before = stack.log.read_text(errors="replace").count("Invalid response type None")
    customer = SocketCustomer(stack.rasa_url)
    try:
        customer.say("hello")
        assert customer.next()["text"]
    finally:
        customer.close()
    time.sleep(1.5)
    log = stack.log.read_text(errors="replace")
    assert log.count("Invalid response type None") == before
    assert "Traceback" not in log[-3000:], log[-3000:]
