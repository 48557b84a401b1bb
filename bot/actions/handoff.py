"""Handing the conversation to a human (the agent side comes with the agent console)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.clients.bridge import BridgeClient, BridgeError
from actions.messages import say


class ActionHandoffToHuman(Action):
    """Opens an escalation in the CRM and tells the customer their ticket number."""

    def name(self) -> str:
        """Name in the domain."""
        return "action_handoff_to_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Create the escalation; on failure apologise rather than pretend."""
        try:
            ticket = await BridgeClient().create_escalation(
                tracker.sender_id,
                reason="asked_for_human",
                language=tracker.get_slot("language"),
                channel=tracker.get_latest_input_channel(),
                last_message=tracker.latest_message.get("text"),
            )
        except BridgeError:
            say(dispatcher, tracker, "handoff_failed")
            return [SlotSet("handoff_offered", False)]
        say(dispatcher, tracker, "handoff_created", ticket_id=ticket["id"])
        return [SlotSet("handoff_offered", False), SlotSet("kb_failures", 0.0)]
