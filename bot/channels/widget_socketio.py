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

Sessions are the server's (:mod:`channels.widget_sessions`): ``session_request`` with a
valid token rejoins that session; anything else (no token, someone else's session id without
its secret, an old client-made id) gets a new session and its token in ``session_confirm``.
Each socket is bound to the session it was confirmed, and its messages go to that
conversation whatever ``session_id`` they name.

Each ``user_uttered`` is checked before Rasa sees it (:mod:`channels.edge`): a message over
2,000 characters, one that is no string, or ``customData`` that is no small JSON object is
answered with a polite text (in the customer's language: shorten it, or reload the page) and
goes no further. Text is cleaned of control characters and lone surrogates. Frames over 1 MB
are refused by python-engineio itself (``max_http_buffer_size``): the socket is closed.
Messages and new sessions are rate-limited per client address and per conversation
(:mod:`channels.rate_limits`). The shop's signed user in ``customData`` is checked on every
message (:mod:`channels.site_identity`); a refused claim is reported to the page as an
``identity_refused`` event (reason and what to do) and the customer goes on anonymously.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import rasa.core.channels.socketio as rasa_socketio
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint
from socketio import AsyncRedisManager

from channels import site_identity, widget_sessions
from channels.cors import parse_origins, socketio_options
from channels.edge import UNREADABLE, Refusal, check_message
from channels.engineio_sanic import install as _quiet_websocket_close
from channels.keys import qualify, vouch_site_user
from channels.outage import answering
from channels.rate_limits import TOO_MANY, RateLimits, client_address, trusted_proxies_from
from components.language import detect_language

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
        if isinstance(agent.get("text"), str):  # the words alone; ``text`` is signed
            metadata["agent"]["text"] = agent["text"]
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

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        """Send a custom payload as ``{"custom": …}`` on the bot message event.

        Rasa's own passes the payload as keyword arguments of ``emit`` (``emit(evt, **json)``),
        which raises ``TypeError`` for any key ``emit`` does not know, such as the outage
        apology's ``kind``: the marker never reached the browser.
        """
        await self._send_message(recipient_id, {"custom": json_message})

    async def _send_message(self, socket_id: str, response: Any) -> None:
        if self._metadata and isinstance(response, dict):
            response = {**response, "metadata": self._metadata}
        await super()._send_message(socket_id, response)


IDENTITY_REFUSED = "identity_refused"
"""Event telling the page that its signed user was refused, and why."""
SITE_CLAIM_KEYS = ("user_id", "user_expires", "user_hash")


def _in_language(texts: dict[str, str], text: Any) -> str:
    language = detect_language(text[:2000]) if isinstance(text, str) else None
    return texts[language] if language in texts else f"{texts['zh']}\n{texts['en']}"


class WidgetSocketIOInput(SocketIOInput):
    """Rasa's socket.io input with server-issued sessions, checked messages and site users."""

    client_manager_url: str = ""
    session_keys: list[str]
    site_secrets: list[str]
    site_max_ttl: int = site_identity.DEFAULT_MAX_TTL
    allowed_origins: list[str]
    trusted_proxies: frozenset[str] = frozenset()
    limits: RateLimits

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        """Rasa's settings plus the project's (see ``credentials.yml``).

        ``client_manager_url`` (empty: this process only), ``session_keys`` (signs the
        widget's sessions), ``site_identity_secrets``, ``site_identity_max_ttl``,
        ``allowed_origins`` (shop pages allowed to connect; empty: any), ``rate_limits`` and
        ``trusted_proxies``. Several keys or secrets are comma-separated, the first current.
        """
        credentials = credentials or {}
        channel = super().from_credentials(credentials)
        assert isinstance(channel, WidgetSocketIOInput)
        channel.client_manager_url = str(credentials.get("client_manager_url") or "")
        channel.session_keys = widget_sessions.keys_from(str(credentials.get("session_keys") or ""))
        channel.site_secrets = widget_sessions.keys_from(
            str(credentials.get("site_identity_secrets") or "")
        )
        max_ttl = str(credentials.get("site_identity_max_ttl") or "").strip()
        channel.site_max_ttl = int(max_ttl) if max_ttl else site_identity.DEFAULT_MAX_TTL
        channel.allowed_origins = parse_origins(credentials.get("allowed_origins"))
        channel.trusted_proxies = trusted_proxies_from(credentials.get("trusted_proxies"))
        channel.limits = RateLimits.from_settings(
            str(credentials.get("rate_limits") or ""), channel.client_manager_url
        )
        if not channel.session_keys:
            logger.error(
                "socketio: no session key (CSA_WIDGET_SESSION_KEY): every widget message is "
                "refused; the launchers set it from var/secrets/widget_session_key"
            )
        return channel

    def get_output_channel(self) -> WidgetSocketIOOutput | None:
        """The output for messages sent through Rasa's API (agent replies, notices)."""
        if self.sio is None:
            return None
        return WidgetSocketIOOutput(self.sio, self.bot_message_evt)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Rasa's blueprint; sessions and messages handled by this channel."""

        async def answer_with_metadata(message: UserMessage) -> Any:
            if self.sio is not None:
                message.output_channel = WidgetSocketIOOutput(self.sio, self.bot_message_evt)
            return await answering(on_new_message)(message)

        # Rasa builds its AsyncServer inside blueprint() with no way to pass options: hand it a
        # factory that adds ours (client manager, allowed origins) for this one call.
        server = rasa_socketio.AsyncServer
        options: dict[str, Any] = {}
        if self.client_manager_url:
            options["client_manager"] = AsyncRedisManager(
                self.client_manager_url, channel="csa-socketio"
            )
        # Rasa passes cors_allowed_origins=[] (no CORS at all): polling from a shop's page failed
        options.update(socketio_options(self.allowed_origins))
        rasa_socketio.AsyncServer = lambda *args, **kwargs: server(*args, **{**kwargs, **options})
        try:
            webhook = super().blueprint(answer_with_metadata)
        finally:
            rasa_socketio.AsyncServer = server
        self._handle_sessions()
        self._check_messages(answer_with_metadata)
        return webhook

    def _address(self, sid: str) -> str:
        environ = self.sio.get_environ(sid, namespace=self.namespace) or {}
        return client_address(
            str(environ.get("REMOTE_ADDR") or ""),
            str(environ.get("HTTP_X_FORWARDED_FOR") or ""),
            self.trusted_proxies,
        )

    async def _say(self, sid: str, text: str) -> None:
        await self.sio.emit(
            self.bot_message_evt, {"text": text}, room=sid, namespace=self.namespace
        )

    def _handle_sessions(self) -> None:
        """Put the server's session handling in place of Rasa's ``session_request``."""
        sio = self.sio

        async def session_request(sid: str, data: Any) -> None:
            data = data if isinstance(data, dict) else {}
            token = data.get("session_id")
            address = self._address(sid)
            session_id = widget_sessions.verify(self.session_keys, token)
            if session_id is None:
                refusal = None
                if not self.session_keys:
                    refusal = UNREADABLE
                elif not await self.limits.allow("session", address):
                    logger.info("socketio: new session refused (rate limit)")
                    refusal = TOO_MANY
                if refusal is not None:
                    # Said, then disconnected: the client reconnects (with its back-off) and asks
                    # again, instead of waiting for a confirmation that never comes.
                    await self._say(sid, _in_language(refusal, None))
                    await sio.disconnect(sid, namespace=self.namespace)
                    return
                session_id, token = widget_sessions.issue(self.session_keys[0])
            previous = (await sio.get_session(sid, namespace=self.namespace)).get("session_id")
            if previous and previous != session_id:
                sio.leave_room(sid, previous, namespace=self.namespace)
            await sio.save_session(
                sid, {"session_id": session_id, "address": address}, namespace=self.namespace
            )
            sio.enter_room(sid, session_id, namespace=self.namespace)
            await sio.emit("session_confirm", token, room=sid, namespace=self.namespace)

        sio.on("session_request", session_request, namespace=self.namespace)

    def _check_messages(self, handle: Callable[[UserMessage], Awaitable[Any]]) -> None:
        """Put a handler that checks each message first in place of Rasa's ``user_uttered``."""
        sio = self.sio

        async def handle_message(sid: str, data: Any) -> None:
            data = data if isinstance(data, dict) else {}
            bound = await sio.get_session(sid, namespace=self.namespace)
            session_id = bound.get("session_id")
            if not session_id:
                # No session_request answered on this socket: its client must start over.
                logger.info("widget message refused (no session on this socket)")
                await self._say(sid, _in_language(UNREADABLE, data.get("message")))
                return
            try:
                checked = check_message(
                    session_id, data.get("message"), data.get(self.metadata_key)
                )
            except Refusal as refusal:
                logger.info("widget message refused (%s)", refusal.detail)
                await self._say(sid, refusal.reply(data.get("message")))
                return
            address = bound.get("address") or self._address(sid)
            conversation = qualify(self.name(), session_id)
            if not (
                await self.limits.allow("ip", address)
                and await self.limits.allow("conversation", conversation)
            ):
                logger.info("widget message refused (rate limit)")
                await self._say(sid, _in_language(TOO_MANY, checked.text))
                return
            metadata = dict(checked.metadata or {})
            claim = site_identity.check(self.site_secrets, metadata, max_ttl=self.site_max_ttl)
            for key in SITE_CLAIM_KEYS:
                metadata.pop(key, None)
            if claim.reason:
                logger.warning("widget: signed user refused (%s)", claim.reason)
                await sio.emit(
                    IDENTITY_REFUSED,
                    {"reason": claim.reason, "detail": claim.detail},
                    room=sid,
                    namespace=self.namespace,
                )
            message = UserMessage(
                checked.text,
                WidgetSocketIOOutput(sio, self.bot_message_evt),
                session_id,
                input_channel=self.name(),
                metadata=metadata or None,
            )
            if claim.user_id:
                vouch_site_user(message, claim.user_id)
            await handle(message)

        sio.on(self.user_message_evt, handle_message, namespace=self.namespace)
