"""Console events across bridge instances through Redis pub/sub (``CSA_BRIDGE_FANOUT_URL``).

An agent's console is connected to one instance, while what concerns it (a customer message
ingested, another agent's accept, transfer, reply or close, presence, queue changes) may happen
on another. The hub delivers each event to its own instance's consoles at once and hands it to
this relay, which publishes it on one Redis channel; every other instance's subscriber delivers
it to its consoles with the same :class:`~crm_bridge.services.console_hub.Audience`. Messages
carry the id of the instance that sent them, and an instance ignores its own: each console gets
each event exactly once. "Sessions ended" messages travel the same way, so that logging out,
deactivating an agent or changing a password closes that agent's consoles on every instance.

Publishing never blocks a producer: messages go through an in-memory queue to a publisher
thread. Redis pub/sub keeps nothing for absent subscribers: while Redis is unreachable the
instances deliver their own events only (a warning says so), both threads retry with back-off,
and on reconnection every local console refreshes its queue (what was missed meanwhile).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from crm_bridge.services.console_hub import Audience, ConsoleHub

logger = logging.getLogger(__name__)

FORMAT = 1
MAX_QUEUED = 10_000
MIN_BACKOFF = 0.5


def redacted(url: str) -> str:
    """The URL without credentials (for logs)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def sessions_ended(agent_id: int, session_id: str | None, reason: str) -> dict[str, Any]:
    """The body of a "sessions ended" message."""
    return {"agent_id": agent_id, "session_id": session_id, "reason": reason}


class DirectRelay:
    """Publishes hub events straight to Redis as they come: for short-lived processes.

    The CLI (``crm-bridge agents …``) changes agents outside any bridge; with this relay on its
    hub, the running instances hear of it (consoles of ended sessions close, queues refresh).
    Nothing is received. When Redis cannot be reached the message is dropped with a warning:
    consoles then close at their next session check (``WS_SESSION_CHECK_SECONDS``).
    """

    def __init__(self, url: str, channel: str) -> None:
        self.url = url
        self.channel = channel
        self.origin = f"cli-{uuid.uuid4().hex}"
        self.delivered = 0
        """How many messages Redis took."""
        self._client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=5)

    def send_event(self, event: dict[str, Any], audience: Audience | None) -> None:
        """Publish an event for the consoles ``audience`` allows (None: every console)."""
        self._publish(
            {"event": event, "audience": audience.to_json() if audience is not None else None}
        )

    def send_queue_changed(self) -> None:
        """Publish "every console refreshes its queue"."""
        self._publish({"queue_changed": True})

    def send_sessions_ended(self, agent_id: int, session_id: str | None, reason: str) -> None:
        """Publish "close this agent's consoles (of one session, or all)"."""
        self._publish({"sessions_ended": sessions_ended(agent_id, session_id, reason)})

    def _publish(self, body: dict[str, Any]) -> None:
        data = json.dumps({"v": FORMAT, "origin": self.origin, **body}, default=str)
        try:
            self._client.publish(self.channel, data)
        except RedisError as err:
            logger.warning(
                "console relay: cannot publish to Redis at %s (%s)", redacted(self.url), err
            )
            return
        self.delivered += 1

    def close(self) -> None:
        """Close the connection."""
        self._client.close()


class RedisRelay:
    """Relays a hub's events to and from the other bridge instances through Redis."""

    def __init__(self, hub: ConsoleHub, url: str, channel: str, max_backoff: float = 30.0) -> None:
        self.hub = hub
        self.url = url
        self.channel = channel
        self.max_backoff = max_backoff
        self.origin = uuid.uuid4().hex
        """This instance's id in the messages it sends."""
        self.connected = False
        """Whether the subscriber is connected (events of other instances arrive)."""
        self._outbox: queue.Queue[bytes | None] = queue.Queue(MAX_QUEUED)
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._publish_paused_until = 0.0
        self._threads = [
            threading.Thread(target=self._publish_loop, name="console-relay-pub", daemon=True),
            threading.Thread(target=self._subscribe_loop, name="console-relay-sub", daemon=True),
        ]

    # -- life cycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Attach to the hub and start both threads."""
        self.hub.relay = self
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Detach from the hub and stop (what is still queued is dropped)."""
        if self.hub.relay is self:
            self.hub.relay = None
        self._stop.set()
        try:
            self._outbox.put_nowait(None)
        except queue.Full:
            pass  # the publisher checks the stop flag too
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout)

    def wait_subscribed(self, timeout: float) -> bool:
        """Wait until the subscriber listens (events published before are not received)."""
        return self._subscribed.wait(timeout)

    def _client(self) -> redis.Redis:
        # No retries inside redis-py: the loops below reconnect, warn and back off themselves.
        return redis.Redis.from_url(
            self.url,
            socket_connect_timeout=3,
            socket_timeout=10,
            socket_keepalive=True,
            health_check_interval=15,
            retry=Retry(NoBackoff(), 0),
            client_name=f"crm-bridge-console-{self.origin[:8]}",
        )

    # -- sending (any thread) ---------------------------------------------------------------------

    def send_event(self, event: dict[str, Any], audience: Audience | None) -> None:
        """Relay an event for the consoles ``audience`` allows (None: every console)."""
        self._enqueue(
            {"event": event, "audience": audience.to_json() if audience is not None else None}
        )

    def send_queue_changed(self) -> None:
        """Relay "every console refreshes its queue"."""
        self._enqueue({"queue_changed": True})

    def send_sessions_ended(self, agent_id: int, session_id: str | None, reason: str) -> None:
        """Relay "close this agent's consoles (of one session, or all)"."""
        self._enqueue({"sessions_ended": sessions_ended(agent_id, session_id, reason)})

    def _enqueue(self, body: dict[str, Any]) -> None:
        if self._stop.is_set():
            return
        try:
            data = json.dumps({"v": FORMAT, "origin": self.origin, **body}, default=str)
            self._outbox.put_nowait(data.encode())
        except queue.Full:
            logger.warning("console relay: %d events queued for Redis; dropping", MAX_QUEUED)
        except (TypeError, ValueError):
            logger.exception("console relay: an event is not JSON; not relayed")

    def _publish_loop(self) -> None:
        client = self._client()
        backoff = MIN_BACKOFF
        failing = False
        try:
            while not self._stop.is_set():
                data = self._outbox.get()
                if data is None:
                    break
                if time.monotonic() < self._publish_paused_until:
                    continue  # Redis is down: the others miss it (they refresh their queues)
                try:
                    client.publish(self.channel, data)
                except Exception as err:  # noqa: BLE001 - Redis errors mostly; keep publishing
                    if not failing:
                        logger.warning(
                            "console relay: cannot publish to Redis at %s (%s); consoles on "
                            "other instances miss this instance's events until it is back",
                            redacted(self.url),
                            err,
                        )
                    failing = True
                    self._publish_paused_until = time.monotonic() + backoff
                    backoff = min(backoff * 2, self.max_backoff)
                    continue
                if failing:
                    logger.info("console relay: publishing to Redis again")
                failing = False
                backoff = MIN_BACKOFF
        finally:
            client.close()

    # -- receiving ------------------------------------------------------------------------------

    def _subscribe_loop(self) -> None:
        backoff = MIN_BACKOFF
        down_since: float | None = None
        while not self._stop.is_set():
            client = self._client()
            pubsub = client.pubsub()
            try:
                pubsub.subscribe(self.channel)
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    if message.get("type") == "message":
                        self._receive(message["data"])
                    elif message.get("type") == "subscribe":  # Redis confirmed: we listen now
                        self._listening(down_since)
                        down_since = None
                        backoff = MIN_BACKOFF
            except Exception as err:  # noqa: BLE001 - Redis errors, and anything else: go on
                self.connected = False
                self._subscribed.clear()
                if not isinstance(err, RedisError):
                    logger.exception("console relay: receiving failed; reconnecting")
                if down_since is None:
                    down_since = time.monotonic()
                    logger.warning(
                        "console relay: Redis at %s unreachable (%s); consoles see this "
                        "instance's events only; retrying",
                        redacted(self.url),
                        err,
                    )
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff)
            finally:
                try:
                    pubsub.close()
                    client.close()
                except RedisError:
                    pass
        self.connected = False

    def _listening(self, down_since: float | None) -> None:
        self.connected = True
        self._subscribed.set()
        self._publish_paused_until = 0.0  # Redis is back: the publisher may try at once
        if down_since is None:
            logger.info(
                "console relay: listening on %s channel %r", redacted(self.url), self.channel
            )
            return
        logger.info(
            "console relay: Redis is back after %.0f s; consoles refresh their queues",
            time.monotonic() - down_since,
        )
        self.hub.refresh_queues()

    def _receive(self, data: bytes | str) -> None:
        try:
            message = json.loads(data)
            if message.get("origin") == self.origin:
                return  # delivered locally when it was published
            if message.get("queue_changed"):
                self.hub.refresh_queues()
                return
            if (ended := message.get("sessions_ended")) is not None:
                session_id = ended.get("session_id")
                self.hub.close_sessions(
                    int(ended["agent_id"]),
                    str(session_id) if session_id is not None else None,
                    str(ended.get("reason", "")),
                )
                return
            event = message["event"]
            audience = Audience.from_json(message.get("audience"))
        except (ValueError, KeyError, TypeError, AttributeError):
            logger.warning("console relay: ignoring a malformed message on %r", self.channel)
            return
        self.hub.deliver(event, audience)
