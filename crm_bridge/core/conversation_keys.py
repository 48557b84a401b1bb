"""Rasa's conversation keys: ``<channel>:<sender>`` (``bot/channels/keys.py`` makes them).

Every channel's conversations are keyed by channel and sender, so no channel can name another
channel's conversation; the CRM stores the key as ``conversations.sender_id`` and finds chat
accounts (``customer_identities``) by the plain sender id on that channel.
"""

from __future__ import annotations

SEPARATOR = ":"
PROOF_METADATA_KEY = "csa_proof"
"""Message metadata holding the identity proof: checked in flight, never stored by the CRM."""


def qualify(channel: str, sender: str) -> str:
    """The conversation key of ``sender`` on ``channel``."""
    return f"{channel}{SEPARATOR}{sender}"


def split_key(key: str) -> tuple[str, str]:
    """``(channel, sender)`` of a conversation key (``("", key)`` for an unqualified one)."""
    channel, separator, sender = key.partition(SEPARATOR)
    return (channel, sender) if separator else ("", key)


def sender_on(key: str, channel: str | None) -> str:
    """The plain sender id of ``key`` when it is ``channel``'s, else ``key`` unchanged."""
    prefix, sender = split_key(key)
    return sender if prefix and prefix == channel else key
