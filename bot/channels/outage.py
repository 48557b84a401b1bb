"""Answer a customer whose message Rasa could not handle, instead of leaving them waiting.

When Rasa fails on a message (its tracker store or lock store unreachable: PostgreSQL or
Redis down, a SQLite file locked or full), Rasa's channels log the exception and send nothing:
the website widget waits forever and the REST channel answers an empty list. Every channel of
ours wraps Rasa's message handler with :func:`answering`, which sends a short apology in the
customer's language through the message's own output channel and logs the failure.

A message with no text (empty or only whitespace: rasa-webchat sends one when it opens, a REST
client may send ``""``) never reaches Rasa: there is nothing to understand, and Rasa's NLU
failing on it used to send the customer a false outage apology. It is logged and answered with
nothing (REST: ``[]``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage

from components.language import detect_language
from components.log_ids import log_id

logger = logging.getLogger(__name__)

APOLOGY = {
    "zh": "抱歉，系统暂时出了点问题，没能收到您的消息。请稍等一分钟后再发一次。",
    "en": "Sorry, our system has a problem right now and could not take your message. "
    "Please send it again in a minute.",
}
OUTAGE_MARKER = "service_unavailable"
"""``custom.kind`` of the apology, for clients that want to show it differently."""


def apology(text: str | None) -> dict[str, Any]:
    """The apology in the language of the customer's message (Chinese when unclear)."""
    language = detect_language(text or "") or "zh"
    return {"text": APOLOGY.get(language, APOLOGY["zh"]), "custom": {"kind": OUTAGE_MARKER}}


Handler = Callable[[UserMessage], Awaitable[Any]]


def is_blank(message: UserMessage) -> bool:
    """True for a message without text (empty, or whitespace of any width)."""
    return not (message.text or "").strip()


def answering(on_new_message: Handler) -> Handler:
    """``on_new_message`` that apologises to the customer when Rasa fails on the message."""

    async def handle(message: UserMessage) -> Any:
        if is_blank(message):
            logger.info(
                "nothing to answer: a message without text from %s on %s",
                log_id(message.sender_id),
                message.input_channel,
            )
            return None
        try:
            return await on_new_message(message)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 - whatever broke, the customer must hear
            logger.error(
                "could not handle a message of %s on %s (%s: %s); asked the customer to try again",
                log_id(message.sender_id),
                message.input_channel,
                type(err).__name__,
                err,
                exc_info=True,
            )
            if message.output_channel is not None:
                try:
                    await message.output_channel.send_response(
                        message.sender_id, apology(message.text)
                    )
                except Exception:  # noqa: BLE001 - the channel itself may be what failed
                    logger.exception("could not send the apology to %s", log_id(message.sender_id))
            return None

    return handle
