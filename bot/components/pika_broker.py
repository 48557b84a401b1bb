"""Rasa's Pika event broker, publishing a saved turn as one RabbitMQ message.

Selected in ``bot/endpoints.scaleout.yml`` and ``bot/endpoints.pika.yml`` by module path.
Rasa's ``PikaEventBroker`` publishes every event as a message of its own (a customer turn is
about ten: the message, the actions, slots, the bot's replies); profiled under the scale-out
load (docs/load.md), publishing took about a sixth of a Rasa instance's CPU (AMQP framing,
one socket write per frame, publisher confirms, and a deep copy of each event for a debug
log line), and RabbitMQ and the bridge's consumer paid per message too.

``publish_many`` (called by ``components.embedded_stores.CachedSQLTrackerStore`` with the
events of one ``save``) publishes them as one persistent message whose body is a JSON array
of the same event bodies, in order; a single event is still a JSON object, and ``publish``
is unchanged. The bridge's consumer (``crm_bridge/services/event_sources.py``) reads both.
A message that fails is kept and published again after the connection comes back, as Rasa
does for single events.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.core.brokers.pika import PikaEventBroker

logger = logging.getLogger(__name__)


class TurnPikaEventBroker(PikaEventBroker):
    """``PikaEventBroker`` with ``publish_many``: one message for the events of one save."""

    def publish_many(self, events: list[dict[str, Any]]) -> None:
        """Publish ``events`` (serialised, in order) as one message; nothing for none."""
        if not events:
            return
        self.publish(events[0] if len(events) == 1 else list(events))  # type: ignore[arg-type]

    async def _publish(self, event: Any, headers: dict[str, str] | None = None) -> None:
        """Rasa's ``_publish`` for an event or a list of them, without the per-event log copy."""
        if self._exchange is None:
            return
        try:
            await self._exchange.publish(self._message(event, headers), "")
        except Exception:
            count = len(event) if isinstance(event, list) else 1
            logger.exception("could not publish %d event(s) to RabbitMQ (%s)", count, self.host)
            if self.should_keep_unpublished_messages:
                self._unpublished_events.append(event)
            if self.raise_on_failure:
                await self.close()
                raise
