"""The project's socket.io channel (bot/channels/widget_socketio.py) against the real Rasa."""

from __future__ import annotations

import re

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
