"""Order status: a form asks for a missing order number, the bridge looks it up.

Only a verified customer gets an answer (see ``actions.identity``); for anyone else the form
asks nothing and the bot explains how to get verified.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.clients.bridge import BridgeClient, BridgeError, NotFound
from actions.config import get_settings
from actions.identity import identify
from actions.messages import (
    ORDER_STATUS,
    handoff_button,
    label,
    language_of,
    local_date,
    say,
    text,
    verify_button,
)

# What looks like an attempt at an order number inside a longer message.
_CANDIDATE = re.compile(r"\b[A-Za-z]{2}[\s-]?\d[\d\s-]{3,14}\d\b")
# Intents that mean "not a number": leave the slot alone so the customer can get out.
_NOT_AN_ANSWER = {"deny", "human_handoff", "restart", "goodbye", "complain", "help"}


def normalise_order_number(value: str) -> str | None:
    """The order number in canonical form, or ``None`` if it does not have the shop's format."""
    candidate = re.sub(r"[\s-]", "", value).upper()
    pattern = re.compile(get_settings().ORDER_NUMBER_PATTERN, re.IGNORECASE)
    return candidate if pattern.fullmatch(candidate) else None


def order_number_in(tracker: Tracker) -> str | None:
    """An order number typed in the latest message (entity, else the raw answer)."""
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == "order_number" and entity.get("value"):
            return str(entity["value"])
    message = (tracker.latest_message.get("text") or "").strip()
    if not message or message.startswith("/"):
        return None
    if tracker.get_intent_of_latest_message() in _NOT_AN_ANSWER:
        return None
    found = _CANDIDATE.search(message)
    return found.group() if found else message[:40]


def checked_order_number(
    value: Any, dispatcher: CollectingDispatcher, tracker: Tracker
) -> dict[str, Any]:
    """The slot update for an answer to "which order?": canonical, or cleared with a hint."""
    number = normalise_order_number(str(value or ""))
    if number is None:
        say(dispatcher, tracker, "bad_order_number", value=str(value)[:40])
    return {"order_number": number}


class ValidateOrderStatusForm(FormValidationAction):
    """Extracts and checks the order number; asks nothing of unverified customers."""

    def name(self) -> str:
        """Name in the domain."""
        return "validate_order_status_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        """All slots for a verified customer, none otherwise (the final action explains)."""
        try:
            customer = await identify(tracker)
        except BridgeError:
            return []
        return domain_slots if customer else []

    async def extract_order_number(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Take the answer to "what's your order number?" (validated next)."""
        if tracker.get_slot("requested_slot") != "order_number":
            return {}
        value = order_number_in(tracker)
        return {"order_number": value} if value else {}

    def validate_order_number(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """Accept the shop's format only; say why otherwise."""
        return checked_order_number(slot_value, dispatcher, tracker)


class ActionAskOrderNumber(Action):
    """Asks for the order number (order status and complaint forms)."""

    def name(self) -> str:
        """Name in the domain."""
        return "action_ask_order_number"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """In the complaint form the order is optional: offer a "no order" button."""
        language = language_of(tracker)
        if tracker.active_loop_name == "complaint_form":
            dispatcher.utter_message(
                text=text("ask_complaint_order", language),
                buttons=[{"title": text("button_no_order", language), "payload": "/deny"}],
            )
        else:
            say(dispatcher, tracker, "ask_order_number")
        return []


class ActionOrderStatus(Action):
    """Looks the order up for the verified customer and tells status and tracking."""

    def name(self) -> str:
        """Name in the domain."""
        return "action_order_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Answer, or explain why not (not verified, not found, CRM down)."""
        language = language_of(tracker)
        client = BridgeClient.for_tracker(tracker)
        number = tracker.get_slot("order_number")
        try:
            customer = await identify(tracker, client)
            if customer is None:
                dispatcher.utter_message(
                    text=text("not_verified", language),
                    buttons=[verify_button(language), handoff_button(language)],
                )
                then = f"order_status:{number}" if number else "order_status"
                return [SlotSet("order_number", None), SlotSet("verify_then", then)]
            if not number:
                say(dispatcher, tracker, "ask_order_number")
                return []
            order = await client.get_order(number)
        except NotFound:
            say(dispatcher, tracker, "order_not_found", number=number)
            return [SlotSet("order_number", None)]
        except BridgeError:
            say(dispatcher, tracker, "crm_unavailable")
            return [SlotSet("order_number", None)]
        reply = text(
            "order_status",
            language,
            number=order["number"],
            placed=local_date(order.get("placed_at"), language),
            amount=order["amount"],
            currency=order.get("currency", "CNY"),
            status=label(ORDER_STATUS, order["status"], language),
        )
        if order.get("tracking_number"):
            reply += " " + text(
                "order_tracking",
                language,
                carrier=order.get("carrier") or "-",
                tracking=order["tracking_number"],
            )
        dispatcher.utter_message(text=reply, order_number=order["number"])
        return [SlotSet("order_number", None), SlotSet("served", True)]
