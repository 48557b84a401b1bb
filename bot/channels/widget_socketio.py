"""Rasa's socket.io channel, with the message metadata the website widget needs.

Rasa's own ``SocketIOOutput`` sends only the text and the buttons of a bot message. The widget
also needs to know that a message is a knowledge answer (to offer "was this helpful?"), that an
agent wrote it (to show the name), or that it is a handoff notice. This channel keeps Rasa's
behaviour and adds a ``metadata`` object with those keys only; nothing else of the tracker
leaves the server. Its name stays ``socketio``, so replies injected through Rasa's API with
``output_channel=socketio`` use it too.

With several Rasa instances behind a load balancer (scale-out profile), a customer's socket is
connected to one instance while an agent's reply may be injected through another. With
``client_manager_url`` (``redis://…``, from ``CSA_CHANNEL_STATE_URL``) the socket.io server
uses python-socketio's Redis manager: an emit on any instance reaches the room's sockets on
every instance.

Each ``user_uttered`` is checked before Rasa sees it (:mod:`channels.edge`): a message over
2,000 characters, one that is no string, a session id that is no short string, or
``customData`` that is no small JSON object is answered with a polite text (in the customer's
language: shorten it, or reload the page) and goes no further. Text is cleaned of control
characters and lone surrogates. Frames over 1 MB are refused by python-engineio itself
(``max_http_buffer_size``): the socket is closed.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import rasa.core.channels.socketio as rasa_socketio
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint
from socketio import AsyncRedisManager

from channels.edge import Refusal, check_message
from channels.engineio_sanic import install as _quiet_websocket_close
from channels.outage import answering

logger = logging.getLogger(__name__)

_quiet_websocket_close()

PUBLIC_KEYS = ("kb_entry_id", "kb_decision")


def public_metadata(message: dict[str, Any]) -> dict[str, Any]:
    """The part of a bot message's metadata a browser may see."""
    metadata: dict[str, Any] = {
        key: message[key] for key in PUBLIC_KEYS if isinstance(message.get(key), str)
    }
    agent = message.get("agent")
    if isinstance(agent, dict) and isinstance(agent.get("name"), str):
        metadata["agent"] = {"name": agent["name"]}
    handoff = message.get("handoff")
    if isinstance(handoff, dict) and isinstance(handoff.get("event"), str):
        metadata["handoff"] = {
            "event": handoff["event"],
            "agent": handoff.get("agent") if isinstance(handoff.get("agent"), str) else None,
        }
    return metadata


class WidgetSocketIOOutput(SocketIOOutput):
    """Emits bot messages with their public metadata."""

    def __init__(self, sio: Any, bot_message_evt: str) -> None:
        super().__init__(sio, bot_message_evt)
        self._metadata: dict[str, Any] = {}

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        """Remember the metadata of this message while Rasa's code sends its parts."""
        self._metadata = public_metadata(message)
        try:
            await super().send_response(recipient_id, message)
        finally:
            self._metadata = {}

    async def _send_message(self, socket_id: str, response: Any) -> None:
        if self._metadata and isinstance(response, dict):
            response = {**response, "metadata": self._metadata}
        await super()._send_message(socket_id, response)


class WidgetSocketIOInput(SocketIOInput):
    """Rasa's socket.io input whose replies go out through :class:`WidgetSocketIOOutput`."""

    client_manager_url: str = ""

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        """Rasa's settings plus ``client_manager_url`` (empty: this process only)."""
        channel = super().from_credentials(credentials)
        assert isinstance(channel, WidgetSocketIOInput)
        channel.client_manager_url = str((credentials or {}).get("client_manager_url") or "")
        return channel

    def get_output_channel(self) -> WidgetSocketIOOutput | None:
        """The output for messages sent through Rasa's API (agent replies, notices)."""
        if self.sio is None:
            return None
        return WidgetSocketIOOutput(self.sio, self.bot_message_evt)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Rasa's blueprint; each customer message answers through the widget output."""

        async def answer_with_metadata(message: UserMessage) -> Any:
            if self.sio is not None:
                message.output_channel = WidgetSocketIOOutput(self.sio, self.bot_message_evt)
            return await answering(on_new_message)(message)

        if not self.client_manager_url:
            webhook = super().blueprint(answer_with_metadata)
        else:
            # Rasa builds its AsyncServer inside blueprint() with no way to pass a client
            # manager: hand it a server factory that adds ours, for this one call.
            server = rasa_socketio.AsyncServer
            manager = AsyncRedisManager(self.client_manager_url, channel="csa-socketio")
            rasa_socketio.AsyncServer = functools.partial(server, client_manager=manager)
            try:
                webhook = super().blueprint(answer_with_metadata)
            finally:
                rasa_socketio.AsyncServer = server
        self._check_messages(answer_with_metadata)
        return webhook

    def _check_messages(self, handle: Callable[[UserMessage], Awaitable[Any]]) -> None:
        """Put a handler that checks each message first in place of Rasa's ``user_uttered``."""
        sio = self.sio

        async def handle_message(sid: str, data: Any) -> None:
            data = data if isinstance(data, dict) else {}
            try:
                checked = check_message(
                    data.get("session_id") if self.session_persistence else sid,
                    data.get("message", ""),
                    data.get(self.metadata_key),
                )
            except Refusal as refusal:
                logger.info("widget message refused (%s)", refusal.detail)
                reply = refusal.reply(data.get("message"))
                await sio.emit(self.bot_message_evt, {"text": reply}, room=sid)
                return
            output = WidgetSocketIOOutput(sio, self.bot_message_evt)
            await handle(
                UserMessage(
                    checked.text,
                    output,
                    checked.sender,
                    input_channel=self.name(),
                    metadata=checked.metadata,
                )
            )

        sio.on(self.user_message_evt, handle_message, namespace=self.namespace)
