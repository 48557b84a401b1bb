"""Tell the customer when the action server cannot answer, instead of saying nothing.

Rasa 3.6 logs a failed custom action ("Bot will continue, but the actions events are lost")
and goes on without a word to the customer: with the action server down, every knowledge,
order or handoff question would get silence. Installed when Rasa loads the bot's components
(``components/__init__.py``), this makes a failed call to the action server (refused
connection, timeout, a 5xx answer, an answer Rasa cannot read) send :data:`NOTICE` in the
customer's language (the ``language`` slot), once per customer message, and log the failure
as an error. The texts live here, not in the domain: no story or rule may use them, and Rasa's
data validation rejects unused domain responses. The customer's message is kept in the
tracker as always, so the CRM records it and the conversation goes on normally once the action
server is back.

A rejection (``ActionExecutionRejection``, e.g. a form that cannot take the answer) is not an
outage and reaches Rasa unchanged.
"""

from __future__ import annotations

import logging
from typing import Any

from components.log_ids import log_id

logger = logging.getLogger(__name__)

MARKER = "service_unavailable"
"""``utter_action`` of the notice in the tracker, and ``custom.kind`` for the channels."""
NOTICE = {
    "zh": "抱歉，系统暂时出了点问题，没能处理您的问题。"
    "请稍等一分钟再发一次，您的消息我们已经记下了。",
    "en": "Sorry, something went wrong on our side and I couldn't handle that. Please send it "
    "again in a minute; your message has been noted.",
}

_INSTALLED = False


def already_told(events: list[Any]) -> bool:
    """True if the outage notice was sent since the customer's latest message."""
    from rasa.shared.core.events import BotUttered, UserUttered

    for event in reversed(events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, BotUttered) and event.metadata.get("utter_action") == MARKER:
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
                log_id(tracker.sender_id),
                type(err).__name__,
                err,
            )
            if already_told(list(tracker.events)):
                return []
            language = tracker.get_slot("language") or "zh"
            message = {
                "text": NOTICE.get(language, NOTICE["zh"]),
                "custom": {"kind": MARKER},
                "utter_action": MARKER,
            }
            await output_channel.send_response(tracker.sender_id, message)
            return [create_bot_utterance(message)]

    RemoteAction.run = run
    _INSTALLED = True
