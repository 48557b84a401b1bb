"""Who the customer is, and whether the bot may show them personal data.

Decided by the CRM bridge from the identity proof of the customer's current message, which
Rasa's channel signed (``bot/channels/keys.py``); nothing the tracker says about channels,
senders or earlier messages counts. Two ways to be verified:

- signed site user: the shop's website signed the logged-in user and an expiry, and the
  widget channel checked that signature on this message;
- chat account: the channel authenticates its senders (WeChat, WeCom, the widget's session)
  and the account is linked to a customer in the CRM and marked verified (by an agent, or by a
  one-time code sent to the phone / e-mail on the account).

Anything else is anonymous (the REST channel always): orders, points and addresses stay
hidden.
"""

from __future__ import annotations

from dataclasses import dataclass

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


async def identify(tracker: Tracker, client: BridgeClient | None = None) -> Identity | None:
    """The verified customer the current message proved, or ``None``.

    Raises:
        BridgeError: the bridge could not be asked.
    """
    answer = await (client or BridgeClient.for_tracker(tracker)).identify()
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
