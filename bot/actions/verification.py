"""Verifying a chat account with a one-time code (``verify_identity_form``).

The customer types the phone number or e-mail on their account; the CRM bridge sends a code
there (and answers the same for contacts it does not know, so nobody can probe them); the code
typed back makes this chat account a verified identity of the customer. Then the bot answers
what the customer asked before (their order or their points), without asking again.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.clients.bridge import BridgeClient, BridgeError
from actions.identity import identify
from actions.membership import ActionMembershipStatus
from actions.messages import handoff_button, language_of, say, text
from actions.orders import ActionOrderStatus

CONTACT_HINT = re.compile(r"@|\d{5,}")
CODE = re.compile(r"(?<!\d)\d{6}(?!\d)")
STOPPED = {"verify_contact": "-", "verify_code": "-", "verify_status": "stopped"}
"""Fills the form so it ends; the reason was already said."""


def _compact(value: str) -> str:
    return re.sub(r"[\s\-()]", "", value)


def _latest_text(tracker: Tracker) -> str:
    value = str(tracker.latest_message.get("text") or "").strip()
    return "" if value.startswith("/") else value  # a button, not something typed


def cancel_button(language: str) -> dict[str, str]:
    """Leave the verification."""
    return {"title": text("button_cancel", language), "payload": "/deny"}


class ValidateVerifyIdentityForm(FormValidationAction):
    """Takes the contact and the code from what the customer types; asks the bridge."""

    def name(self) -> str:
        """Name in the domain."""
        return "validate_verify_identity_form"

    async def extract_verify_contact(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A phone number or e-mail typed once asked (anything else goes to other rules)."""
        value = _latest_text(tracker)
        if tracker.get_slot("requested_slot") != "verify_contact" or not value:
            return {}
        return {"verify_contact": value} if CONTACT_HINT.search(_compact(value)) else {}

    async def validate_verify_contact(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Any
    ) -> dict[str, Any]:
        """Ask the bridge to send a code; keep the masked contact."""
        language = language_of(tracker)
        try:
            answer = await BridgeClient.for_tracker(tracker).start_verification(
                str(slot_value), language
            )
        except BridgeError:
            say(dispatcher, tracker, "crm_unavailable")
            return STOPPED
        status = answer.get("status")
        if status == "sent":
            minutes = max(1, int(answer.get("expires_in") or 600) // 60)
            masked = answer.get("masked_contact")
            return {"verify_contact": masked, "verify_status": f"sent:{minutes}"}
        if status == "invalid_contact":
            say(dispatcher, tracker, "verify_invalid_contact")
            return {"verify_contact": None}
        key = {
            "rate_limited": "verify_rate_limited",
            "not_provable": "verify_not_provable",
        }.get(str(status), "verify_unavailable")
        say(dispatcher, tracker, key, buttons=[handoff_button(language)])
        return STOPPED

    async def extract_verify_code(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Digits typed once the code was asked for (other messages go to other rules)."""
        value = _latest_text(tracker)
        if tracker.get_slot("requested_slot") != "verify_code" or not value:
            return {}
        return {"verify_code": value} if re.search(r"\d", value) else {}

    async def validate_verify_code(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Any
    ) -> dict[str, Any]:
        """Check the code with the bridge; the code itself is never kept in a slot."""
        language = language_of(tracker)
        found = CODE.search(_compact(str(slot_value)))
        if found is None:
            say(dispatcher, tracker, "verify_not_a_code")
            return {"verify_code": None}
        try:
            answer = await BridgeClient.for_tracker(tracker).confirm_verification(found.group())
        except BridgeError:
            say(dispatcher, tracker, "crm_unavailable")
            return STOPPED
        status = answer.get("status")
        if status == "verified":
            return {"verify_code": "ok", "verify_status": "verified"}
        if status == "wrong_code":
            say(dispatcher, tracker, "verify_wrong_code", left=answer.get("attempts_left", 0))
            return {"verify_code": None}
        key = {"taken": "verify_taken", "not_provable": "verify_not_provable"}.get(
            str(status), "verify_failed"
        )
        say(dispatcher, tracker, key, buttons=[handoff_button(language)])
        return STOPPED


class ActionAskVerifyContact(Action):
    """Asks for the phone number or e-mail on the account."""

    def name(self) -> str:
        """Name in the domain."""
        return "action_ask_verify_contact"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """With a cancel button."""
        buttons = [cancel_button(language_of(tracker))]
        say(dispatcher, tracker, "ask_verify_contact", buttons=buttons)
        return []


class ActionAskVerifyCode(Action):
    """Says where the code went (if that contact is a customer's) and asks for it."""

    def name(self) -> str:
        """Name in the domain."""
        return "action_ask_verify_code"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Masked contact and validity from the bridge's answer."""
        status = str(tracker.get_slot("verify_status") or "sent:10")
        minutes = status.partition(":")[2] or "10"
        say(
            dispatcher,
            tracker,
            "ask_verify_code",
            buttons=[cancel_button(language_of(tracker))],
            contact=tracker.get_slot("verify_contact") or "",
            minutes=minutes,
        )
        return []


class ActionVerifyIdentityDone(Action):
    """Thanks a verified customer and answers what they asked before; clears the form."""

    def name(self) -> str:
        """Name in the domain."""
        return "action_verify_identity_done"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """The pending question (order, points) is answered at once."""
        events: list[dict[str, Any]] = [
            SlotSet(name, None)
            for name in ("verify_contact", "verify_code", "verify_status", "verify_then")
        ]
        if tracker.get_slot("verify_status") != "verified":
            return events
        try:
            customer = await identify(tracker)
        except BridgeError:
            customer = None
        say(dispatcher, tracker, "verify_done", name=(customer.name if customer else "") or "")
        then = str(tracker.get_slot("verify_then") or "")
        if then.startswith("order_status"):
            number = then.partition(":")[2] or None
            tracker.slots["order_number"] = number
            if number:
                events += await ActionOrderStatus().run(dispatcher, tracker, domain)
            else:
                say(dispatcher, tracker, "ask_order_number")
        elif then == "membership":
            events += await ActionMembershipStatus().run(dispatcher, tracker, domain)
        return events
