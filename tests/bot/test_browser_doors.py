"""Allowed origins (bot/channels/cors.py) and agents' signed replies (agent_text.py), in Rasa's env.

The servers themselves are tried in tests/e2e/test_cross_origin.py; here the rules, quickly.
"""

from __future__ import annotations

from tests.bot.in_rasa_env import run_check

ORIGINS = r"""
import os

import rasa.server

import rasa_server
from channels.cors import OriginError, parse_origins, socketio_options

assert parse_origins("") == parse_origins(None) == []
assert parse_origins(" https://Shop.Example/ , http://localhost:3000,") == [
    "https://shop.example",
    "http://localhost:3000",
]
for bad in ("*", "shop.example", "https://shop.example/cart", "ftp://shop.example", "https://"):
    try:
        parse_origins(bad)
    except OriginError as err:
        assert "CSA_WIDGET_ORIGINS" in str(err), err
    else:
        raise AssertionError(f"{bad!r} accepted")
# socket.io: any origin when none is listed, never with credentials (Rasa's [] meant no CORS)
assert socketio_options([]) == {"cors_allowed_origins": "*", "cors_credentials": False}
assert socketio_options(["https://a.example"])["cors_allowed_origins"] == ["https://a.example"]

# A wrong setting stops Rasa at once with what to write; a good one replaces Rasa's CORS.
os.environ["CSA_WIDGET_ORIGINS"] = "shop.example"
try:
    rasa_server.use_project_cors()
except SystemExit as stop:
    assert "write the scheme, host and port only" in str(stop), stop
else:
    raise AssertionError("a wrong origin was accepted")
os.environ["CSA_WIDGET_ORIGINS"] = "https://shop.example"
rasa_server.use_project_cors()
assert rasa.server.configure_cors.__module__ == "channels.cors"
print("ORIGINS OK")
"""

SIGNED = r"""
import asyncio

import components  # noqa: F401 - Rasa patches, as in the servers
from channels.agent_text import signed_output, standalone


reply = {"text": "您好，我来查", "agent": {"id": 3, "name": "李娜"}}
assert standalone(reply) == {
    "text": "李娜：您好，我来查",
    "agent": {"id": 3, "name": "李娜", "text": "您好，我来查"},
}
assert standalone({"text": "I'm here", "agent": {"name": "Tom"}})["text"] == "Tom: I'm here"
assert standalone(reply)["agent"]["text"] == reply["text"]  # the original is not changed
for unsigned in (
    {"text": "退货运费由我们承担"},  # the bot's own answer
    {"text": "李娜 已接入", "handoff": {"event": "agent_joined", "agent": "李娜"}},  # a notice
    {"text": "", "agent": {"name": "李娜"}},
    {"text": "hi", "agent": {"name": "  "}},
    {"text": "hi", "agent": "李娜"},
):
    assert standalone(unsigned) == unsigned, unsigned


class Output:
    def __init__(self):
        self.sent = []

    async def send_response(self, recipient_id, message):
        self.sent.append((recipient_id, message["text"]))


output = Output()
assert signed_output(signed_output(output)) is output  # wrapped once
asyncio.run(output.send_response("w_1", reply))
assert output.sent == [("w_1", "李娜：您好，我来查")], output.sent
assert signed_output(None) is None
print("SIGNED OK")
"""


def test_allowed_origins_are_checked_and_replace_rasas_cors():
    run_check(ORIGINS, "ORIGINS OK")


def test_agents_replies_are_signed_with_their_name():
    run_check(SIGNED, "SIGNED OK")
