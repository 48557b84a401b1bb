"""The handler every channel of ours wraps Rasa's with (bot/channels/outage.py), in Rasa's env."""

from __future__ import annotations

from tests.bot.in_rasa_env import run_check

CHECK = r"""
import asyncio

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

import components  # noqa: F401 - Rasa patches, as in the servers
from channels.outage import OUTAGE_MARKER, answering
from channels.widget_socketio import WidgetSocketIOOutput

reached = []


async def rasa(message):
    reached.append(message.text)
    if message.text == "boom":
        raise RuntimeError("tracker store down")
    await message.output_channel.send_text_message(message.sender_id, "answer")


async def main():
    handle = answering(rasa)
    for blank in ("", "   ", "\u3000\n\t", None):
        out = CollectingOutputChannel()
        await handle(UserMessage(blank, out, "s1", input_channel="rest"))
        assert out.messages == [], (blank, out.messages)
    assert reached == [], reached  # Rasa never saw a blank message
    out = CollectingOutputChannel()
    await handle(UserMessage("hello", out, "s1", input_channel="rest"))
    assert [m["text"] for m in out.messages] == ["answer"], out.messages
    out = CollectingOutputChannel()
    await handle(UserMessage("boom", out, "s1", input_channel="rest"))
    assert "text" in out.messages[0], out.messages  # the apology, then its marker
    assert out.messages[-1].get("custom") == {"kind": OUTAGE_MARKER}, out.messages

    class Server:  # python-socketio's AsyncServer.emit, recorded
        def __init__(self):
            self.emitted = []

        async def emit(self, event, data=None, room=None, **kwargs):
            assert not kwargs, kwargs  # emit has no other arguments a payload may fill
            self.emitted.append((event, data, room))

    server = Server()
    widget = WidgetSocketIOOutput(server, "bot_uttered")
    await handle(UserMessage("boom", widget, "sid-1", input_channel="socketio"))
    events = [e for e, _, _ in server.emitted]
    payloads = [d for _, d, _ in server.emitted]
    assert events == ["bot_uttered", "bot_uttered"], server.emitted
    assert "text" in payloads[0] and payloads[1] == {"custom": {"kind": OUTAGE_MARKER}}, payloads
    assert all(room == "sid-1" for _, _, room in server.emitted)
    print("outage ok")


asyncio.run(main())
"""


def test_blank_messages_never_reach_rasa_and_the_outage_marker_reaches_socketio():
    run_check(CHECK, "outage ok")
