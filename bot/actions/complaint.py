"""Complaints: acknowledge with empathy, collect what happened and the order, open a ticket.

Priority: urgent when the complaint's sentiment is strongly negative, high for a customer in
a top tier (``CSA_ACTIONS_COMPLAINT_PRIORITY_TIERS``), normal otherwise. Urgent and high ones
go straight to a human agent (``CSA_ACTIONS_COMPLAINT_HANDOFF``), with the details as notes.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.clients.bridge import BridgeClient, BridgeError
from actions.config import get_settings
from actions.handoff import hand_over
from actions.identity import identify
from actions.messages import say
from actions.orders import checked_order_number, normalise_order_number, order_number_in

log = logging.getLogger(__name__)
_HAN = re.compile(r"[\u4e00-\u9fff]")
NO_ORDER = "none"


def describes_what_happened(message: str) -> bool:
    """True when a message says more than "I want to complain" (kept as the details)."""
    if message.startswith("/"):
        return False
    han = len(_HAN.findall(message))
    return han >= 12 if han else len(message.split()) >= 8


class ActionStartComplaint(Action):
    """Acknowledges; keeps the first message as the details when it already tells the story."""

    def name(self) -> str:
        """Name in the domain."""
        return "action_start_complaint"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Empathy first, then the form asks only what is missing."""
        say(dispatcher, tracker, "complaint_ack")
        message = (tracker.latest_message.get("text") or "").strip()
        events: list[dict[str, Any]] = [SlotSet("complaint_details", None)]
        if describes_what_happened(message):
            events = [SlotSet("complaint_details", message[:2000])]
        number = order_number_in(tracker) if message else None
        normalised = normalise_order_number(number) if number else None
        return [*events, SlotSet("order_number", normalised)]


class ValidateComplaintForm(FormValidationAction):
    """Takes the details as free text and the order number (or "no order")."""

    def name(self) -> str:
        """Name in the domain."""
        return "validate_complaint_form"

    async def extract_complaint_details(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The customer's own words, whatever intent NLU gave them."""
        if tracker.get_slot("requested_slot") != "complaint_details":
            return {}
        message = (tracker.latest_message.get("text") or "").strip()
        return {"complaint_details": message[:2000]} if message else {}

    async def extract_order_number(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """An order number, or "none" for the "no order" button / a no."""
        if tracker.get_slot("requested_slot") != "order_number":
            return {}
        if tracker.get_intent_of_latest_message() == "deny":
            return {"order_number": NO_ORDER}
        value = order_number_in(tracker)
        return {"order_number": value} if value else {}

    def validate_order_number(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """The shop's format, or "none"."""
        if slot_value == NO_ORDER:
            return {"order_number": NO_ORDER}
        return checked_order_number(slot_value, dispatcher, tracker)


class ActionAskComplaintDetails(Action):
    """Asks what happened."""

    def name(self) -> str:
        """Name in the domain."""
        return "action_ask_complaint_details"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """One question."""
        say(dispatcher, tracker, "ask_complaint_details")
        return []


class ActionFileComplaint(Action):
    """Opens the complaint ticket in the CRM and tells the number and the follow-up promise."""

    def name(self) -> str:
        """Name in the domain."""
        return "action_file_complaint"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Score, prioritise, file; apologise honestly if the CRM is down."""
        settings = get_settings()
        client = BridgeClient.for_tracker(tracker)
        details = tracker.get_slot("complaint_details") or ""
        order = tracker.get_slot("order_number")
        reset = [SlotSet("complaint_details", None), SlotSet("order_number", None)]
        try:
            customer = await identify(tracker, client)
        except BridgeError:
            customer = None
        sentiment = None
        try:
            sentiment = await client.sentiment(details) if details else None
        except BridgeError as err:  # no model yet: file it anyway
            log.warning("complaint not scored: %s", err)
        priority = "normal"
        if customer and customer.tier in settings.COMPLAINT_PRIORITY_TIERS:
            priority = "high"
        if sentiment and sentiment["score"] <= settings.COMPLAINT_NEGATIVE_SENTIMENT:
            priority = "urgent"
        if priority != "normal" and settings.COMPLAINT_HANDOFF:
            # A top-tier customer or a very upset one goes straight to a human agent.
            reason = "vip_complaint" if priority == "high" else "negative_sentiment"
            order_note = f" [{order}]" if order and order != NO_ORDER else ""
            events = await hand_over(dispatcher, tracker, reason, notes=details + order_note)
            return [*reset, *events]
        try:
            ticket = await client.create_escalation(
                tracker.sender_id,
                reason="complaint",
                priority=priority,
                customer_id=customer.customer_id if customer else None,
                notes=details,
                order_number=None if order == NO_ORDER else order,
                language=tracker.get_slot("language"),
                channel=tracker.get_latest_input_channel(),
                sentiment=sentiment,
                tier=customer.tier if customer else None,
            )
        except BridgeError as err:
            log.error("complaint not filed: %s", err)
            say(dispatcher, tracker, "complaint_failed")
            return reset
        say(
            dispatcher,
            tracker,
            "complaint_filed",
            ticket_id=ticket["id"],
            hours=settings.COMPLAINT_FOLLOW_UP_HOURS,
        )
        if priority != "normal":
            say(dispatcher, tracker, "complaint_priority")
        return [*reset, SlotSet("served", True)]
