"""Asking for a human opens an escalation in the CRM, in the customer's language."""

from __future__ import annotations

import json
import re
import sqlite3
import uuid

import pytest

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("message", "expected"),
    [("转人工", r"工单号 (\d+)"), ("I want to speak to a human", r"\(ticket (\d+)\)")],
)
def test_asking_for_a_human_opens_an_escalation(stack, message, expected):
    sender = f"handoff-{uuid.uuid4().hex[:8]}"
    replies = stack.say(sender, message)
    assert len(replies) == 1, replies
    match = re.search(expected, replies[0]["text"])
    assert match, replies
    with sqlite3.connect(stack.var_dir / "crm.db") as db:
        row = db.execute(
            "SELECT reason, status, context FROM escalations WHERE id = ?", (int(match.group(1)),)
        ).fetchone()
    assert row[0] == "asked_for_human" and row[1] == "open"
    context = json.loads(row[2])
    assert context["sender_id"] == stack.rest_key(sender)  # the channel-qualified key
    assert context["last_message"] == message


def test_help_offers_buttons_in_both_languages(stack):
    zh = stack.say(f"help-{uuid.uuid4().hex[:8]}", "你能做什么")[0]
    en = stack.say(f"help-{uuid.uuid4().hex[:8]}", "what can you do")[0]
    payloads = ["/order_status", "/check_membership", "/complain", "/human_handoff"]
    for reply in (zh, en):
        assert set(payloads) <= {b["payload"] for b in reply["buttons"]}, reply
    assert zh["buttons"][-1]["title"] == "转人工客服"
    assert en["buttons"][-1]["title"] == "Talk to a person"
    # A question button asks the knowledge base in the button's language.
    zh_question = stack.say(f"help-{uuid.uuid4().hex[:8]}", zh["buttons"][2]["payload"])[0]
    assert re.search(r"[\u4e00-\u9fff]", zh_question["text"]), zh_question


def test_a_button_payload_keeps_the_language(stack):
    sender = f"button-{uuid.uuid4().hex[:8]}"
    stack.say(sender, "你好")
    reply = stack.say(sender, "/human_handoff")[0]["text"]
    assert "工单号" in reply
