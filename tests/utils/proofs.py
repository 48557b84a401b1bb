"""What the action server sends the bridge: the bot key and Rasa's identity proof of a message.

Proofs are made by Rasa's own code (``bot/channels/proofs.py``), with the key the bridge under
test reads (its ``identity_proof_keys``), so the tests hold both sides to one contract.
"""

from __future__ import annotations

import time

from channels.proofs import TTL_SECONDS, issue

from crm_bridge.core.config import Settings
from crm_bridge.core.proofs import PROOF_HEADER

EXPIRED = TTL_SECONDS + 120
"""Seconds ago a proof was issued that has expired by now."""
FORGED_KEY = "an-attacker-s-own-proof-key-0123456789"
"""A well-formed key that is not the bridge's (as long as real keys: no weak-key warning)."""


def proof(
    settings: Settings,
    conversation: str,
    *,
    platform_id: str | None = None,
    site_user: str | None = None,
    age: float = 0,
    key: str | None = None,
    channel: str | None = None,
) -> str:
    """A proof for ``conversation`` (``<channel>:<sender>``) issued ``age`` seconds ago."""
    return issue(
        settings.identity_proof_keys[0] if key is None else key,
        conversation=conversation,
        channel=conversation.split(":", 1)[0] if channel is None else channel,
        platform_id=platform_id,
        site_user=site_user,
        now=time.time() - age,
    )


def bot_key(settings: Settings) -> dict[str, str]:
    """The bot's key alone (no proof)."""
    return {"X-API-Key": settings.bot_api_key.get_secret_value()}


def bot_headers(settings: Settings, conversation: str, **claims) -> dict[str, str]:
    """The bot's key and a proof for ``conversation`` (``claims`` as :func:`proof` takes)."""
    return {**bot_key(settings), PROOF_HEADER: proof(settings, conversation, **claims)}


def platform(conversation: str) -> dict[str, str]:
    """``platform_id`` of a conversation key on a channel that authenticates its senders."""
    return {"platform_id": conversation.split(":", 1)[1]}
