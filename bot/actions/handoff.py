"""Handing the conversation to a human agent, with the full context, and taking it back.

The bridge decides whether an agent can take it live (office hours, agents online). Live:
the conversation is paused (``ConversationPaused``): the bot stays silent, the customer's
messages go on reaching the agent's console through the CRM, and the agent's replies reach the
customer through Rasa's API. Otherwise a ticket is opened and the customer may leave a message
on it. When the agent closes, the bridge resumes the conversation and runs
``action_handoff_resolved`` (the bot asks for a rating) or ``action_handoff_returned``.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, ConversationPaused, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.clients.bridge import BridgeClient, BridgeError
from actions.identity import identify
from actions.messages import language_of, say
from actions.satisfaction import ActionAskRating

log = logging.getLogger(__name__)
MAX_TURNS = 200


def transcript(tracker: Tracker) -> list[dict[str, Any]]:
    """The turns of the current session as the bridge's handoff context wants them."""
    events = tracker.events
    start = 0
    for index, event in enumerate(events):
        if event.get("event") in ("session_started", "restart"):
            start = index
    turns: list[dict[str, Any]] = []
    for event in events[start:]:
        kind = event.get("event")
        text = event.get("text")
        if kind == "user":
            parse = event.get("parse_data") or {}
            intent = parse.get("intent") or {}
            turns.append(
                {
                    "role": "customer",
                    "text": (text or "")[:5000],
                    "at": event.get("timestamp"),
                    "intent": intent.get("name"),
                    "confidence": intent.get("confidence"),
                    "entities": [
                        {k: e.get(k) for k in ("entity", "value")}
                        for e in parse.get("entities") or []
                    ][:20],
                }
            )
        elif kind == "bot":
            metadata = event.get("metadata") or {}
            score = metadata.get("kb_confidence")
            turns.append(
                {
                    "role": "bot",
                    "text": (text or "")[:5000],
                    "at": event.get("timestamp"),
                    "kb_entry_id": metadata.get("kb_entry_id"),
                    # A number, never a boolean (the bridge refuses ``true`` as a score).
                    "kb_score": (
                        score
                        if isinstance(score, int | float) and not isinstance(score, bool)
                        else None
                    ),
                    "kb_decision": metadata.get("kb_decision"),
                }
            )
    return turns[-MAX_TURNS:]


def handoff_reason(tracker: Tracker, default: str = "asked_for_human") -> str:
    """Why: a trigger of the bridge (slot), an accepted offer after KB misses, or asked."""
    if tracker.get_slot("handoff_reason"):
        return str(tracker.get_slot("handoff_reason"))
    if tracker.get_slot("handoff_offered") and tracker.get_intent_of_latest_message() == "affirm":
        return "kb_failures"
    return default


async def hand_over(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    reason: str,
    notes: str | None = None,
) -> list[dict[str, Any]]:
    """Open the handoff in the CRM and tell the customer; pause when an agent will come."""
    client = BridgeClient.for_tracker(tracker)
    try:
        customer = await identify(tracker, client)
    except BridgeError:
        customer = None
    reset = [
        SlotSet("handoff_offered", False),
        SlotSet("kb_failures", 0.0),
        SlotSet("handoff_reason", None),
    ]
    if tracker.active_loop.get("name"):
        # Run by the bridge in the middle of a form: the form must not go on asking.
        reset.append(ActiveLoop(None))
    try:
        opened = await client.open_handoff(
            sender_id=tracker.sender_id,
            reason=reason,
            language=language_of(tracker),
            channel=tracker.get_latest_input_channel(),
            customer_id=customer.customer_id if customer else None,
            transcript=transcript(tracker),
            notes=notes,
        )
    except BridgeError as err:
        log.error("handoff not opened: %s", err)
        say(dispatcher, tracker, "handoff_failed")
        return reset
    ticket = opened["id"]
    if opened["mode"] == "assigned":
        say(dispatcher, tracker, "handoff_assigned", agent=opened["agent_name"], ticket_id=ticket)
        return [*reset, ConversationPaused()]
    if opened["mode"] == "queued":
        position = max(1, int(opened["queue_position"]))
        say(dispatcher, tracker, "handoff_queued", position=position, ticket_id=ticket)
        return [*reset, ConversationPaused()]
    key = "handoff_closed_hours" if opened.get("why_ticket") == "closed" else "handoff_no_agents"
    say(dispatcher, tracker, key, hours=opened["office_hours"], ticket_id=ticket)
    return [*reset, SlotSet("handoff_ticket", float(ticket)), FollowupAction("leave_message_form")]


class ActionHandoffToHuman(Action):
    """Asked for a human, accepted the offer after KB misses, or triggered by the bridge."""

    def name(self) -> str:
        """Name in the domain."""
        return "action_handoff_to_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Hand over with the reason this turn gives."""
        return await hand_over(dispatcher, tracker, handoff_reason(tracker))


class ActionHandoffResolved(Action):
    """Run by the bridge when the agent resolved: the assistant is back and asks a rating."""

    def name(self) -> str:
        """Name in the domain."""
        return "action_handoff_resolved"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Say so, then open the CSAT form at its first question."""
        say(dispatcher, tracker, "handoff_resolved")
        asked = await ActionAskRating().run(dispatcher, tracker, domain)
        return [
            SlotSet("served", True),
            SlotSet("csat_done", False),
            ActiveLoop("csat_form"),
            SlotSet("requested_slot", "rating"),
            *asked,
        ]


class ActionHandoffReturned(Action):
    """Run by the bridge when the agent handed the conversation back to the bot."""

    def name(self) -> str:
        """Name in the domain."""
        return "action_handoff_returned"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """One line."""
        say(dispatcher, tracker, "handoff_returned")
        return []


class ActionAskLeftMessage(Action):
    """The handoff message already asked for it: nothing more to say."""

    def name(self) -> str:
        """Name in the domain."""
        return "action_ask_left_message"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Silent."""
        return []


class ValidateLeaveMessageForm(FormValidationAction):
    """Any text is a message; button payloads are not."""

    def name(self) -> str:
        """Name in the domain."""
        return "validate_leave_message_form"

    async def extract_left_message(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Any
    ) -> dict[str, Any]:
        """The customer's next message once asked (not the request that opened the form)."""
        if tracker.get_slot("requested_slot") != "left_message":
            return {}
        return {"left_message": tracker.latest_message.get("text")}

    def validate_left_message(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Any
    ) -> dict[str, Any]:
        """Keep up to 2000 characters of it."""
        value = str(slot_value or "").strip()
        if not value or value.startswith("/"):
            return {"left_message": None}
        return {"left_message": value[:2000]}


class ActionSubmitLeftMessage(Action):
    """Puts the customer's message on their ticket."""

    def name(self) -> str:
        """Name in the domain."""
        return "action_submit_left_message"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Store it; say so (or apologise)."""
        ticket = tracker.get_slot("handoff_ticket")
        message = tracker.get_slot("left_message")
        reset = [SlotSet("left_message", None), SlotSet("handoff_ticket", None)]
        if ticket is None or not message:
            return reset
        try:
            await BridgeClient.for_tracker(tracker).leave_message(
                int(ticket), tracker.sender_id, message
            )
        except BridgeError as err:
            log.error("left message not stored: %s", err)
            say(dispatcher, tracker, "handoff_failed")
            return reset
        say(dispatcher, tracker, "handoff_message_left", ticket_id=int(ticket))
        return reset
