"""Knowledge questions: answer, offer "did you mean" choices, or admit not knowing.

The index is the one ``kb build`` wrote (``CSA_KB_INDEX_DIR``); it is loaded once per action
server and warmed up at import, so the first customer does not wait for the model.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.clients.bridge import BridgeClient, BridgeError
from actions.config import get_settings
from actions.messages import ZH, handoff_button, language_of, say, text
from knowledge_base import KnowledgeBase
from knowledge_base.shared import shared_index

log = logging.getLogger(__name__)
_HAN = re.compile(r"[\u4e00-\u9fff]")


def knowledge_base() -> KnowledgeBase | None:
    """The loaded index, or ``None`` (logged) when it is missing or unreadable."""
    return shared_index()


def entry_title(kb: KnowledgeBase, entry_id: str, language: str) -> str:
    """A question variant of the entry in ``language`` (first one), to show on a button."""
    entry = next((e for e in kb.entries if e.id == entry_id), None)
    if entry is None:
        return entry_id
    for question in entry.questions:
        if bool(_HAN.search(question)) == (language == ZH):
            return question
    return entry.questions[0] if entry.questions else entry_id


def chosen_entry(tracker: Tracker) -> str | None:
    """The entry a "did you mean" button named (entity ``kb_entry``), if any."""
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == "kb_entry" and entity.get("value"):
            return str(entity["value"])
    return None


class ActionKbAnswer(Action):
    """Answers from the knowledge base in the customer's language."""

    def name(self) -> str:
        """Name in the domain."""
        return "action_kb_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Search, decide, reply; count consecutive failures and offer a human after N."""
        kb = knowledge_base()
        if kb is None:
            say(dispatcher, tracker, "kb_unavailable")
            return []
        language = language_of(tracker)
        choice = chosen_entry(tracker)
        entry = next((e for e in kb.entries if e.id == choice), None) if choice else None
        if entry is not None:
            return self._answer(dispatcher, entry.id, entry.answer_in(language), 1.0, "chosen")

        query = (tracker.latest_message.get("text") or "").strip()
        result = kb.search(query, k=3, lang=language)
        if result.decision == "answer" and result.answer is not None:
            hit = result.answer
            return self._answer(dispatcher, hit.id, hit.answer, hit.confidence, "answer")
        if result.decision == "clarify" and result.choices >= 2:
            buttons = [
                {
                    "title": entry_title(kb, hit.id, language),
                    "payload": f'/ask_kb{{"kb_entry":"{hit.id}"}}',
                }
                for hit in result.hits[: result.choices]
            ]
            dispatcher.utter_message(
                text=text("kb_clarify", language),
                buttons=buttons,
                kb_decision="clarify",
                kb_candidates=[{"id": h.id, "confidence": h.confidence} for h in result.hits],
            )
            return [SlotSet("kb_last_entry", None)]
        failures = int(tracker.get_slot("kb_failures") or 0) + 1
        limit = get_settings().KB_FAILURES_BEFORE_HANDOFF
        if failures >= limit:
            dispatcher.utter_message(
                text=text("kb_offer_human", language),
                buttons=[
                    handoff_button(language),
                    {"title": text("button_no_thanks", language), "payload": "/deny"},
                ],
                kb_decision="none",
                kb_failures=failures,
            )
            return [
                SlotSet("kb_failures", 0.0),
                SlotSet("kb_last_entry", None),
                SlotSet("handoff_offered", True),
            ]
        dispatcher.utter_message(
            text=text("kb_none", language), kb_decision="none", kb_failures=failures
        )
        return [SlotSet("kb_failures", float(failures)), SlotSet("kb_last_entry", None)]

    @staticmethod
    def _answer(
        dispatcher: CollectingDispatcher,
        entry_id: str,
        answer: str,
        confidence: float,
        decision: str,
    ) -> list[dict[str, Any]]:
        # The entry id rides in the message metadata: the CRM and the widget's
        # "was this helpful?" control read it from there.
        dispatcher.utter_message(
            text=answer, kb_entry_id=entry_id, kb_confidence=confidence, kb_decision=decision
        )
        return [
            SlotSet("kb_failures", 0.0),
            SlotSet("kb_last_entry", entry_id),
            SlotSet("served", True),
        ]


class ActionKbFeedback(Action):
    """Stores "was this helpful?" for the last knowledge answer."""

    def name(self) -> str:
        """Name in the domain."""
        return "action_kb_feedback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Vote up (intent ``kb_helpful``) or down on the named or last answered entry."""
        entry_id = chosen_entry(tracker) or tracker.get_slot("kb_last_entry")
        if not entry_id:
            say(dispatcher, tracker, "kb_feedback_nothing")
            return []
        helpful = tracker.get_intent_of_latest_message() == "kb_helpful"
        try:
            await BridgeClient.for_tracker(tracker).feedback(
                tracker.sender_id,
                "kb_answer",
                1 if helpful else 0,
                kb_entry_id=entry_id,
                language=language_of(tracker),
                channel=tracker.get_latest_input_channel(),
            )
        except BridgeError as err:
            log.warning("KB feedback not stored: %s", err)
        if helpful:
            say(dispatcher, tracker, "kb_feedback_thanks_up")
        else:
            language = language_of(tracker)
            dispatcher.utter_message(
                text=text("kb_feedback_thanks_down", language),
                buttons=[handoff_button(language)],
            )
        return [SlotSet("kb_last_entry", None)]


# rasa_sdk's Sanic loads this module in its main process, then again in each worker it
# spawns. Warm up in the worker only: loading the index earlier would fix multiprocessing's
# start method before Sanic sets its own, and Sanic then refuses to start.
if os.environ.get("SANIC_WORKER_NAME"):
    knowledge_base()
