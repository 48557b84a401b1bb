"""Tell the customer when the action server cannot answer, instead of saying nothing.

Rasa 3.6 logs a failed custom action ("Bot will continue, but the actions events are lost")
and goes on without a word to the customer: with the action server down, every knowledge,
order or handoff question would get silence. Installed when Rasa loads the bot's components
(``components/__init__.py``), this makes a failed call to the action server (refused
connection, timeout, a 5xx answer, an answer Rasa cannot read) send the domain's
``utter_service_unavailable`` in the customer's language, once per customer message, and log
the failure as an error. The customer's message is kept in the tracker as always, so the CRM
records it and the conversation goes on normally once the action server is back.

A rejection (``ActionExecutionRejection``, e.g. a form that cannot take the answer) is not an
outage and reaches Rasa unchanged.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

RESPONSE = "utter_service_unavailable"
# Used only if the domain lacks the response (an old model): never leave the customer waiting.
FALLBACK = {
    "zh": "抱歉，系统暂时出了点问题，请稍后再试一次。",
    "en": "Sorry, something went wrong on our side. Please try again in a minute.",
}

_INSTALLED = False


def already_told(events: list[Any]) -> bool:
    """True if the outage notice was sent since the customer's latest message."""
    from rasa.shared.core.events import BotUttered, UserUttered

    for event in reversed(events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, BotUttered) and event.metadata.get("utter_action") == RESPONSE:
            return True
    return False


def install() -> None:
    """Wrap ``RemoteAction.run`` (idempotent; a no-op outside Rasa)."""
    global _INSTALLED
    if _INSTALLED:
        return
    try:
        from rasa.core.actions.action import (
            ActionExecutionRejection,
            RemoteAction,
            create_bot_utterance,
        )
    except ImportError:  # not inside Rasa (the services env imports components for tests)
        return
    original_run = RemoteAction.run

    async def run(self: RemoteAction, output_channel, nlg, tracker, domain) -> list[Any]:  # noqa: ANN001
        try:
            return await original_run(self, output_channel, nlg, tracker, domain)
        except ActionExecutionRejection:
            raise
        except Exception as err:  # noqa: BLE001 - any failure of the call is an outage here
            logger.error(
                "action server did not run %s for conversation %s (%s: %s); the customer "
                "was told to try again",
                self.name(),
                tracker.sender_id,
                type(err).__name__,
                err,
            )
            if already_told(list(tracker.events)):
                return []
            message = await nlg.generate(RESPONSE, tracker, output_channel.name())
            if not message:
                language = tracker.get_slot("language") or "zh"
                message = {"text": FALLBACK.get(language, FALLBACK["zh"])}
            message["utter_action"] = RESPONSE
            await output_channel.send_response(tracker.sender_id, message)
            return [create_bot_utterance(message)]

    RemoteAction.run = run
    _INSTALLED = True
