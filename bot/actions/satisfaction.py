"""Satisfaction (CSAT) at the end of a conversation in which the bot served the customer.

Saying goodbye runs ``csat_form``: when the bot answered a question, an order, membership or
a complaint in this conversation and has not asked yet, the form asks for a 1-5 rating
(buttons) and an optional comment; otherwise it asks nothing. ``action_submit_csat`` stores
the rating in the CRM and says goodbye either way.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import Restarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.clients.bridge import BridgeClient, BridgeError
from actions.messages import language_of, say, text

log = logging.getLogger(__name__)
NO_COMMENT = "-"
_DIGIT = re.compile(r"(?<!\d)([1-5])(?!\d)")
_WORDS = {
    "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
}  # fmt: skip
RATING_LABELS = {
    "zh": {1: "1 很不满意", 2: "2 不满意", 3: "3 一般", 4: "4 满意", 5: "5 非常满意"},
    "en": {1: "1 Very unhappy", 2: "2 Unhappy", 3: "3 Okay", 4: "4 Happy", 5: "5 Very happy"},
}


def rating_in(tracker: Tracker) -> int | None:
    """A 1-5 rating from the ``rating`` entity (buttons, NLU) or the message's words."""
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == "rating":
            try:
                value = int(str(entity.get("value")).strip())
            except ValueError:
                continue
            if 1 <= value <= 5:
                return value
    message = (tracker.latest_message.get("text") or "").lower()
    if message.startswith("/"):
        return None
    found = _DIGIT.search(message)
    if found:
        return int(found.group(1))
    for word, value in _WORDS.items():
        if re.search(rf"(?<![a-z]){word}(?![a-z])", message):
            return value
    return None


class ValidateCsatForm(FormValidationAction):
    """Asks only after the bot served the customer, and only once per conversation."""

    def name(self) -> str:
        """Name in the domain."""
        return "validate_csat_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        """Nothing to ask unless served and not yet rated."""
        if not tracker.get_slot("served") or tracker.get_slot("csat_done"):
            return []
        return domain_slots

    async def extract_rating(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A rating, or the raw answer (rejected by validation with a hint)."""
        if tracker.get_slot("requested_slot") != "rating":
            return {}
        value = rating_in(tracker)
        if value is not None:
            return {"rating": float(value)}
        if tracker.get_intent_of_latest_message() == "deny":  # "no thanks": skip the survey
            return {"rating": 0.0, "csat_comment": NO_COMMENT}
        return {"rating": -1.0}

    def validate_rating(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """1-5, or 0 = declined; anything else asks again."""
        if slot_value in (0, 0.0):
            return {"rating": 0.0, "csat_comment": NO_COMMENT}
        if slot_value is not None and 1 <= float(slot_value) <= 5:
            return {"rating": float(slot_value)}
        say(dispatcher, tracker, "bad_rating")
        return {"rating": None}

    async def extract_csat_comment(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Free text; the "skip" button or a no means no comment."""
        if tracker.get_slot("requested_slot") != "csat_comment":
            return {}
        message = (tracker.latest_message.get("text") or "").strip()
        if tracker.get_intent_of_latest_message() == "deny" or message.startswith("/"):
            return {"csat_comment": NO_COMMENT}
        return {"csat_comment": message[:2000] or NO_COMMENT}


class ActionAskRating(Action):
    """Asks for the 1-5 rating with one button per score."""

    def name(self) -> str:
        """Name in the domain."""
        return "action_ask_rating"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Buttons carry the score as the ``rating`` entity."""
        language = language_of(tracker)
        dispatcher.utter_message(
            text=text("ask_rating", language),
            buttons=[
                {"title": title, "payload": f'/rate{{"rating":"{score}"}}'}
                for score, title in RATING_LABELS[language].items()
            ],
        )
        return []


class ActionAskCsatComment(Action):
    """Asks for an optional comment."""

    def name(self) -> str:
        """Name in the domain."""
        return "action_ask_csat_comment"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """With a skip button."""
        language = language_of(tracker)
        dispatcher.utter_message(
            text=text("ask_csat_comment", language),
            buttons=[{"title": text("button_skip", language), "payload": "/deny"}],
        )
        return []


class ActionSubmitCsat(Action):
    """Stores the rating (if one was given) and says goodbye."""

    def name(self) -> str:
        """Name in the domain."""
        return "action_submit_csat"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """A CRM failure is logged, never shown: the customer is leaving."""
        rating = tracker.get_slot("rating")
        events: list[dict[str, Any]] = [SlotSet("rating", None), SlotSet("csat_comment", None)]
        if rating is None or not 1 <= float(rating) <= 5:
            say(dispatcher, tracker, "goodbye")
            return events
        comment = tracker.get_slot("csat_comment")
        try:
            await BridgeClient.for_tracker(tracker).feedback(
                tracker.sender_id,
                "csat",
                int(rating),
                comment=None if comment in (None, NO_COMMENT) else comment,
                language=language_of(tracker),
                channel=tracker.get_latest_input_channel(),
            )
        except BridgeError as err:
            log.error("CSAT not stored: %s", err)
        say(dispatcher, tracker, "csat_thanks")
        return [*events, SlotSet("csat_done", True)]


class ActionRestartConversation(Action):
    """Starts over: says so, then forgets the conversation's state."""

    def name(self) -> str:
        """Name in the domain."""
        return "action_restart"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """The language comes back with the next message."""
        say(dispatcher, tracker, "restarted")
        return [Restarted()]
