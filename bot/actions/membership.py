"""Membership: points balance, tier, what the next tier needs, points expiring soon."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.clients.bridge import BridgeClient, BridgeError
from actions.identity import identify
from actions.messages import (
    TIERS,
    ZH,
    handoff_button,
    label,
    language_of,
    local_date,
    say,
    text,
    verify_button,
)


def _money(value: str | None) -> str:
    return f"{Decimal(value or 0):,.0f}"


class ActionMembershipStatus(Action):
    """Tells a verified customer their tier, points and what comes next."""

    def name(self) -> str:
        """Name in the domain."""
        return "action_membership_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """One message with tier and points, the next tier, and expiring points."""
        language = language_of(tracker)
        client = BridgeClient.for_tracker(tracker)
        try:
            customer = await identify(tracker, client)
            if customer is None:
                dispatcher.utter_message(
                    text=text("not_verified", language),
                    buttons=[verify_button(language), handoff_button(language)],
                )
                return [SlotSet("verify_then", "membership")]
            loyalty = await client.loyalty(customer.customer_id)
        except BridgeError:
            say(dispatcher, tracker, "crm_unavailable")
            return []
        name = customer.name or ""
        lines = [
            text(
                "membership",
                language,
                name=name,
                tier=label(TIERS, loyalty["tier"], language),
                points=f"{loyalty['points_balance']:,}",
            )
        ]
        if loyalty.get("next_tier"):
            lines.append(
                text(
                    "membership_next",
                    language,
                    spend=_money(loyalty.get("spend_12m")),
                    missing=_money(loyalty.get("spend_to_next_tier")),
                    next_tier=label(TIERS, loyalty["next_tier"], language),
                )
            )
        else:
            lines.append(text("membership_top", language))
        if loyalty.get("expiring_points") and loyalty.get("expiring_before"):
            lines.append(
                text(
                    "membership_expiring",
                    language,
                    points=f"{loyalty['expiring_points']:,}",
                    date=local_date(loyalty["expiring_before"], language),
                )
            )
        separator = "" if language == ZH else " "
        dispatcher.utter_message(text=separator.join(lines))
        return [SlotSet("served", True)]
