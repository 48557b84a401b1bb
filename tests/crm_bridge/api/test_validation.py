"""Malformed input gets a clear 4xx, never a 500."""

from __future__ import annotations

import pytest

BAD_REQUESTS = [
    ("POST", "/api/v1/customers", {"name": "x", "unknown_field": 1}),
    ("POST", "/api/v1/customers", {"email": "not-an-email"}),
    ("POST", "/api/v1/customers", {"phone": "call me maybe"}),
    ("POST", "/api/v1/customers", {"language": "fr"}),
    ("POST", "/api/v1/customers", {"name": "x" * 201}),
    ("POST", "/api/v1/customers", {"points_balance": -5}),
    ("POST", "/api/v1/customers", {"identities": [{"channel": "Tele gram", "external_id": "1"}]}),
    ("POST", "/api/v1/customers", [1, 2, 3]),
    ("POST", "/api/v1/customers", "just a string"),
    ("PATCH", "/api/v1/customers/abc", {"name": "x"}),
    ("POST", "/api/v1/customers/1/merge", {"source_id": "many"}),
    ("POST", "/api/v1/escalations", {"reason": "DROP TABLE;"}),
    ("POST", "/api/v1/escalations", {"reason": "complaint", "priority": "asap"}),
    ("POST", "/api/v1/escalations", {"reason": "complaint", "notes": "x" * 5001}),
    ("GET", "/api/v1/customers?limit=100000", None),
    ("GET", "/api/v1/customers?offset=-1", None),
    ("GET", "/api/v1/conversations?language=klingon", None),
    ("GET", "/api/v1/orders/%27%3B--", None),
    ("GET", "/api/v1/customers/0/loyalty", None),
    ("GET", "/api/v1/customers/abc/loyalty", None),
    ("GET", "/api/v1/feedback?kind=nps", None),
    ("GET", "/api/v1/feedback?kb_entry_id=not%20an%20id", None),
    ("GET", "/api/v1/feedback?since=yesterday", None),
    ("GET", "/api/v1/feedback?limit=0", None),
]

# The bot's routes, called as the bot does: its key and a genuine proof of the message (so
# what is refused is the body). Nothing in a body names a chat account any more.
START, CONFIRM = "/api/v1/bot/verification", "/api/v1/bot/verification/confirm"
BAD_BOT_REQUESTS = [
    (START, {"contact": ""}),
    (START, {"contact": "   "}),
    (START, {"contact": "a" * 321}),
    (START, {"contact": 13800138000}),
    (START, {"contact": "a@b.cn", "language": "fr"}),
    (START, {"contact": "a@b.cn", "channel": "wechat", "sender_id": "o-victim"}),
    (START, {"contact": "a@b.cn", "extra": 1}),
    (START, {}),
    (START, [1, 2]),
    (CONFIRM, {"code": ""}),
    (CONFIRM, {"code": "1" * 21}),
    (CONFIRM, {"code": "123456", "sender_id": "o-victim"}),
    (CONFIRM, {}),
    ("/api/v1/feedback", {"sender_id": "s", "kind": "csat", "rating": 0}),
    ("/api/v1/feedback", {"sender_id": "s", "kind": "csat", "rating": 6}),
    ("/api/v1/feedback", {"sender_id": "s", "kind": "csat", "rating": "five"}),
    ("/api/v1/feedback", {"sender_id": "s", "kind": "nps", "rating": 9}),
    ("/api/v1/feedback", {"sender_id": "s", "kind": "kb_answer", "rating": 1}),
    ("/api/v1/feedback", {"sender_id": "s", "kind": "kb_answer", "rating": 2, "kb_entry_id": "a"}),
    ("/api/v1/feedback", {"sender_id": "s", "kind": "kb_answer", "rating": -1, "kb_entry_id": "a"}),
    (
        "/api/v1/feedback",
        {"sender_id": "s", "kind": "kb_answer", "rating": 1, "kb_entry_id": "../etc/passwd"},
    ),
    ("/api/v1/feedback", {"sender_id": "s", "kind": "kb_answer", "rating": 1, "kb_entry_id": ""}),
    ("/api/v1/feedback", {"sender_id": "s", "kind": "csat", "rating": 5, "comment": "x" * 2001}),
    ("/api/v1/feedback", {"sender_id": "s", "kind": "csat", "rating": 5, "language": "fr"}),
    ("/api/v1/feedback", {"sender_id": "s", "kind": "csat", "rating": 5, "channel": "c" * 33}),
    ("/api/v1/feedback", {"sender_id": "s", "kind": "csat", "rating": 5, "score": 5}),
    ("/api/v1/feedback", {"sender_id": "", "kind": "csat", "rating": 5}),
    ("/api/v1/feedback", {"kind": "csat", "rating": 5}),
]


@pytest.mark.parametrize(("method", "path", "body"), BAD_REQUESTS)
def test_malformed_input_is_a_4xx(api, method, path, body):
    response = api.client.request(method, path, json=body, headers=api.as_("admin"))
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert response.json()["detail"]


@pytest.mark.parametrize(("path", "body"), BAD_BOT_REQUESTS)
def test_malformed_bot_input_is_a_422(api, path, body):
    open_id = "o-validation-1"
    headers = api.bot(f"wechat:{open_id}", platform_id=open_id)
    response = api.client.post(path, json=body, headers=headers)
    assert response.status_code == 422, (response.status_code, response.text)
    assert response.json()["detail"]


def test_invalid_json_body(api):
    response = api.client.post(
        "/api/v1/customers",
        content=b"{not json",
        headers={**api.as_("admin"), "Content-Type": "application/json"},
    )
    assert response.status_code == 422
