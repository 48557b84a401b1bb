"""Who the customer is, and whether the bot may show them personal data.

Two ways to be verified (checked by the bridge, which holds the secrets):
- signed site identity: the shop's website signs the logged-in user's id (HMAC with the
  per-site secret) and the widget sends ``user_id`` + ``user_hash`` as message metadata;
- channel identity: the chat account (input channel + sender id) is linked to a customer in
  the CRM and marked verified (by an agent, or by a verified phone / e-mail).
Anything else is anonymous: orders, points and addresses stay hidden.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rasa_sdk import Tracker

from actions.clients.bridge import BridgeClient


@dataclass(frozen=True)
class Identity:
    """A verified customer, as the bridge confirmed them."""

    customer_id: int
    channel: str
    external_id: str
    name: str | None
    tier: str | None
    method: str


def signed_identity(tracker: Tracker) -> tuple[str | None, str | None]:
    """The latest ``user_id``/``user_hash`` pair the channel sent as message metadata."""
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        metadata: Any = event.get("metadata") or {}
        if isinstance(metadata, dict) and metadata.get("user_id") and metadata.get("user_hash"):
            return str(metadata["user_id"])[:255], str(metadata["user_hash"])[:128]
    return None, None


async def identify(tracker: Tracker, client: BridgeClient | None = None) -> Identity | None:
    """The verified customer behind this conversation, or ``None``.

    Raises:
        BridgeError: the bridge could not be asked.
    """
    user_id, user_hash = signed_identity(tracker)
    answer = await (client or BridgeClient()).identify(
        channel=tracker.get_latest_input_channel() or "rest",
        sender_id=tracker.sender_id,
        user_id=user_id,
        user_hash=user_hash,
    )
    if not answer.get("verified"):
        return None
    return Identity(
        customer_id=int(answer["customer_id"]),
        channel=str(answer["channel"]),
        external_id=str(answer["external_id"]),
        name=answer.get("name"),
        tier=answer.get("tier"),
        method=str(answer.get("method")),
    )
