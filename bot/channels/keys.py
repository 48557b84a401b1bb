"""Channel-qualified conversation keys, and the proof each message carries of its sender.

Rasa keys a conversation by the sender id a channel passes in. Left as it is, the REST
channel (where a client names any sender it likes) could write into a WeChat follower's or a
website visitor's conversation just by reusing their id, and everything that trusted "the
conversation of this sender" trusted the client. So every message is re-keyed here, for all
channels at once, before Rasa sees it:

- its conversation key becomes ``<channel>:<sender>`` (``rest:alice``, ``socketio:w_…``,
  ``wechat:o6_b…``): no channel can name another channel's conversation;
- metadata keys that only the server may set (:data:`RESERVED_METADATA`, and the site
  identity's hash, which must never be stored) are dropped from what the client sent;
- a short-lived signed *proof* (:mod:`channels.proofs`) is attached as message metadata: it
  names the conversation, the channel, the platform identity when the channel authenticates
  its senders (:data:`PROVING_CHANNELS`), and the website user when the widget channel
  checked the shop's signature on this very message. The CRM bridge reveals customer data
  to the bot only for what a proof names.

Replies go back through the channel's own output with the plain sender id: every output
channel's ``send_response`` is given the unqualified id (``rest:alice`` → ``alice``), so
platform APIs and socket.io rooms see the ids they know. What Rasa's API sends (agents'
replies) is also signed with the agent's name on the way out (:mod:`channels.agent_text`).

Installed when the ``channels`` package is imported (Rasa imports it from ``credentials.yml``
before it registers the channels).
"""

from __future__ import annotations

import functools
import logging
import os
from typing import Any
from urllib.parse import urljoin

from channels import proofs
from channels.agent_text import signed_output

logger = logging.getLogger(__name__)

SEPARATOR = ":"
PROVING_CHANNELS = frozenset({"socketio", "wechat", "wecom"})
"""Channels that authenticate their senders: the widget by its server-issued session secret,
WeChat and WeCom by the platform's signed webhook. Other channels' senders stay anonymous."""
RESERVED_METADATA = frozenset({proofs.METADATA_KEY, "user_id", "user_hash", "user_expires"})
"""Metadata a client may not set (the proof), or that must not be stored: the site identity's
hash, and its user id and expiry (the proof names the user once the channel checked them)."""
SITE_USER_ATTRIBUTE = "csa_site_user"
"""Attribute a channel sets on a ``UserMessage`` once it checked the shop's signed user."""
PROOF_KEY_VARIABLE = "CSA_IDENTITY_PROOF_KEY"


def qualify(channel: str, sender: str) -> str:
    """The conversation key of ``sender`` on ``channel``."""
    return f"{channel}{SEPARATOR}{sender}"


def split(key: str) -> tuple[str, str]:
    """``(channel, sender)`` of a conversation key (``("", key)`` when it has no channel)."""
    channel, separator, sender = key.partition(SEPARATOR)
    return (channel, sender) if separator else ("", key)


def sender_of(key: str, channel: str | None = None) -> str:
    """The plain sender id of ``key`` (of ``channel``'s keys only, when ``channel`` is given)."""
    prefix, sender = split(key)
    if prefix and (channel is None or prefix == channel):
        return sender
    return key


def vouch_site_user(message: Any, user_id: str) -> None:
    """Mark ``message`` as sent by the shop's signed-in user ``user_id`` (checked already)."""
    setattr(message, SITE_USER_ATTRIBUTE, user_id)


@functools.lru_cache(maxsize=1)
def _proof_key() -> str:
    key = os.environ.get(PROOF_KEY_VARIABLE, "").split(",")[0].strip()
    if not key:
        logger.error(
            "%s is empty: messages carry no identity proof, so the bot treats every customer "
            "as anonymous (the launchers set it from var/secrets/identity_proof_key)",
            PROOF_KEY_VARIABLE,
        )
    return key


def prepare(message: Any) -> None:
    """Re-key ``message``, clean its metadata and attach its proof (in place)."""
    channel = str(message.input_channel or "unknown")
    sender = str(message.sender_id)
    key = qualify(channel, sender)
    message.sender_id = key
    metadata = {k: v for k, v in (message.metadata or {}).items() if k not in RESERVED_METADATA}
    site_user = getattr(message, SITE_USER_ATTRIBUTE, None)
    if channel != "socketio":
        site_user = None  # only the widget channel can check the shop's signature
    if signing_key := _proof_key():
        metadata[proofs.METADATA_KEY] = proofs.issue(
            signing_key,
            conversation=key,
            channel=channel,
            platform_id=sender if channel in PROVING_CHANNELS else None,
            site_user=site_user,
        )
    message.metadata = metadata
    if message.output_channel is not None:
        keyed_output(message.output_channel)


def keyed_output(output: Any) -> Any:
    """``output`` whose ``send_response`` takes conversation keys (idempotent, in place)."""
    if getattr(output, "_csa_keyed", False):
        return output
    send = output.send_response

    async def send_response(recipient_id: str, message: dict[str, Any]) -> None:
        await send(sender_of(recipient_id), message)

    output.send_response = send_response
    output._csa_keyed = True
    return output


def install() -> None:
    """Re-key every channel's messages, and unkey the outputs of Rasa's HTTP API (once)."""
    import rasa.core.channels.channel as rasa_channel
    import rasa.server as rasa_server

    if getattr(rasa_channel.register, "_csa_keyed", False):
        return

    def register(input_channels: list[Any], app: Any, route: str | None) -> None:
        async def handler(message: Any) -> None:
            prepare(message)
            await app.ctx.agent.handle_message(message)

        for channel in input_channels:
            prefix = urljoin(route, channel.url_prefix()) if route else None
            app.blueprint(channel.blueprint(handler), url_prefix=prefix)
        app.ctx.input_channels = input_channels

    register._csa_keyed = True  # type: ignore[attr-defined]
    rasa_channel.register = register

    output_for_api = rasa_server._get_output_channel

    def get_output_channel(request: Any, tracker: Any) -> Any:
        # what the API sends is also where agents' replies go out: signed with their name
        return keyed_output(signed_output(output_for_api(request, tracker)))

    rasa_server._get_output_channel = get_output_channel
