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
A message that fails to publish (RabbitMQ down) is kept (in the order the publishes failed)
and published again by one background task, which retries every second until none is left.
Rasa keeps failed events too, but publishes them only from aio-pika's reconnect callback,
once: a publish that fails just after that callback ran, or one the callback itself sends
before the channel is back, stays kept until the next reconnection, so the CRM missed an
answered turn (seen in ``tests/e2e/test_scaleout_faults.py`` with RabbitMQ killed under
traffic). And just after a reconnection aio-pika restores the exchange before the queue's
binding: a message published in between reached no queue and RabbitMQ dropped it, while the
publish succeeded. Here the channel raises on a returned (unroutable) message, each message
carrying an id to match the return, so such a message is kept and retried like any other
failure (``tests/bot/test_pika_broker.py`` kills a RabbitMQ node of its own to check both).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import aio_pika
from rasa.core.brokers.pika import PikaEventBroker

logger = logging.getLogger(__name__)

RETRY_SECONDS = 1.0


class TurnPikaEventBroker(PikaEventBroker):
    """``PikaEventBroker`` with ``publish_many`` and a retry task for failed messages.

    ``publish_many`` sends the events of one save as one message.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._retrying: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        """Rasa's ``connect``, with a channel on which a returned message raises."""
        self._connection = await self._connect()
        self._connection.reconnect_callbacks.add(self._publish_unpublished_messages)
        logger.info(f"RabbitMQ connection to '{self.host}' was established.")
        channel = await self._connection.channel(on_return_raises=True)
        self._exchange = await self._set_up_exchange(channel)

    def _message(self, event: Any, headers: dict[str, str] | None) -> aio_pika.Message:
        """Rasa's message, with an id (RabbitMQ's return of it is matched by id)."""
        message = super()._message(event, headers)
        message.message_id = uuid.uuid4().hex
        return message

    def publish_many(self, events: list[dict[str, Any]]) -> None:
        """Publish ``events`` (serialised, in order) as one message; nothing for none."""
        if not events:
            return
        self.publish(events[0] if len(events) == 1 else list(events))  # type: ignore[arg-type]

    async def _publish(self, event: Any, headers: dict[str, str] | None = None) -> None:
        """Rasa's ``_publish`` for an event or a list of them, without the per-event log copy.

        Rasa's drops the event when the exchange is not declared yet (before ``connect``
        finished); here that is a failed publish like any other, kept and retried.
        """
        try:
            await self._send(event, headers)
        except Exception:
            count = len(event) if isinstance(event, list) else 1
            logger.exception("could not publish %d event(s) to RabbitMQ (%s)", count, self.host)
            if self.should_keep_unpublished_messages:
                self._unpublished_events.append(event)
                self._publish_unpublished_messages()
            if self.raise_on_failure:
                await self.close()
                raise

    async def _send(self, event: Any, headers: dict[str, str] | None) -> None:
        """Publish one message; raise if RabbitMQ does not take it (or no exchange yet)."""
        if self._exchange is None:
            raise ConnectionError("the RabbitMQ exchange is not declared yet")
        await self._exchange.publish(self._message(event, headers), "")

    def _publish_unpublished_messages(self, *_: Any, **__: Any) -> None:
        """Start the retry task (also aio-pika's reconnect callback) unless it runs."""
        if self._unpublished_events and (self._retrying is None or self._retrying.done()):
            self._retrying = self._loop.create_task(self._retry_unpublished())

    async def _retry_unpublished(self) -> None:
        """Publish the kept messages in order, retrying each until RabbitMQ takes it."""
        while self._unpublished_events:
            event = self._unpublished_events[0]
            try:
                await self._send(event, None)
            except Exception as err:  # noqa: BLE001 - whatever failed, keep it and retry
                logger.warning(
                    "RabbitMQ still refuses (%s): %d message(s) kept, retrying in %.0f s",
                    type(err).__name__,
                    len(self._unpublished_events),
                    RETRY_SECONDS,
                )
                await asyncio.sleep(RETRY_SECONDS)
                continue
            self._unpublished_events.popleft()
        logger.info("published every message kept while RabbitMQ was unavailable")

    async def close(self) -> None:
        """Stop retrying (saying what was never published), then Rasa's ``close``."""
        if self._retrying is not None:
            self._retrying.cancel()
        if self._unpublished_events:
            logger.error(
                "closing with %d message(s) RabbitMQ never took", len(self._unpublished_events)
            )
        await super().close()
