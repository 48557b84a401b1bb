"""Fan-out of live events to the agent consoles connected to this bridge process.

Producers run in any thread (the ingestion worker, request handlers in the thread pool); each
connected console has an asyncio queue on the server's event loop and a "queue changed"
flag, set thread-safely. Who may see what is decided per console by an :class:`Audience`
(plain data, so that it can travel). With several bridge instances a relay
(``services/console_relay.py``) carries every event to the other instances, which deliver it to
their own consoles with the same audience: each console gets each event once.

A console belongs to an agent's log-in session; when sessions end (logout, deactivation,
password change or reset), :meth:`ConsoleHub.end_sessions` closes their consoles on every
instance the same way.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

logger = logging.getLogger(__name__)

MAX_PENDING = 1000


@dataclass(eq=False)
class ConsoleClient:
    """One connected console: whom it belongs to and what it still has to send."""

    agent_id: int | None
    role: str
    session_id: str | None = None
    """The agent's log-in session: the socket closes when it ends."""
    outbox: asyncio.Queue[dict[str, Any]] = field(
        default_factory=lambda: asyncio.Queue(MAX_PENDING)
    )
    queue_dirty: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the session ended (logout, deactivation, password change …)."""
    end_reason: str = ""

    @property
    def sees_all(self) -> bool:
        """Supervisors and admins see every handoff."""
        return self.role in ("supervisor", "admin")


@dataclass(frozen=True)
class Audience:
    """Who may see an event: supervisors (unless excluded), one agent, or every console."""

    everyone: bool = False
    agent_id: int | None = None
    supervisors: bool = True

    def __call__(self, client: ConsoleClient) -> bool:
        """Whether ``client`` may see the event."""
        return (
            self.everyone
            or (self.supervisors and client.sees_all)
            or (self.agent_id is not None and client.agent_id == self.agent_id)
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form (relayed between bridge instances)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Audience | None:
        """The inverse of :meth:`to_json`; None means every console."""
        if data is None:
            return None
        agent_id = data.get("agent_id")
        return cls(
            everyone=bool(data.get("everyone")),
            agent_id=int(agent_id) if agent_id is not None else None,
            supervisors=bool(data.get("supervisors", True)),
        )


class Relay(Protocol):
    """Carries hub events to the other bridge instances (``services/console_relay.py``)."""

    def send_event(self, event: dict[str, Any], audience: Audience | None) -> None:
        """Relay an event for the consoles ``audience`` allows (None: all); never blocks."""
        ...

    def send_queue_changed(self) -> None:
        """Relay "every console refreshes its queue"; never blocks."""
        ...

    def send_sessions_ended(self, agent_id: int, session_id: str | None, reason: str) -> None:
        """Relay "close these consoles: their session ended"; never blocks."""
        ...


class ConsoleHub:
    """Connected consoles and the thread-safe ways to reach them."""

    def __init__(self) -> None:
        self._clients: set[ConsoleClient] = set()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.relay: Relay | None = None
        """Set when events also go to the other bridge instances."""

    def register(
        self, agent_id: int | None, role: str, session_id: str | None = None
    ) -> ConsoleClient:
        """Add a console (called on the event loop, from the WebSocket route)."""
        self._loop = asyncio.get_running_loop()
        client = ConsoleClient(agent_id=agent_id, role=role, session_id=session_id)
        client.queue_dirty.set()  # the first thing a console gets is the queue
        with self._lock:
            self._clients.add(client)
        return client

    def unregister(self, client: ConsoleClient) -> None:
        """Forget a console that disconnected."""
        with self._lock:
            self._clients.discard(client)

    def _targets(self, visible: Callable[[ConsoleClient], bool] | None) -> list[ConsoleClient]:
        with self._lock:
            return [c for c in self._clients if visible is None or visible(c)]

    def _on_loop(self, callback: Callable[[], None]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            if asyncio.get_running_loop() is loop:
                callback()
                return
        except RuntimeError:
            pass  # not on any loop: a worker thread
        loop.call_soon_threadsafe(callback)

    def publish(self, event: dict[str, Any], visible: Audience | None = None) -> None:
        """Send ``event`` to every console ``visible`` allows (None: all), on every instance."""
        self.deliver(event, visible)
        if self.relay is not None:
            self.relay.send_event(event, visible)

    def deliver(self, event: dict[str, Any], visible: Audience | None = None) -> None:
        """Send ``event`` to the consoles connected to this instance that may see it."""
        targets = self._targets(visible)

        def deliver() -> None:
            for client in targets:
                try:
                    client.outbox.put_nowait(event)
                except asyncio.QueueFull:
                    # A stalled console gets a fresh queue instead; it refetches on reconnect.
                    logger.warning("console of agent %s is not reading; dropping", client.agent_id)

        if targets:
            self._on_loop(deliver)

    def queue_changed(self) -> None:
        """Every console refreshes its queue view, on every instance."""
        self.refresh_queues()
        if self.relay is not None:
            self.relay.send_queue_changed()

    def refresh_queues(self) -> None:
        """Every console connected to this instance refreshes its queue view."""
        targets = self._targets(None)

        def mark() -> None:
            for client in targets:
                client.queue_dirty.set()

        if targets:
            self._on_loop(mark)

    def end_sessions(self, agent_id: int, session_id: str | None = None, reason: str = "") -> None:
        """Close an agent's consoles (of one session, or all) at once, on every instance.

        Called after the sessions were ended in the database (committed): a console that
        reconnects is refused, so closing here only makes it happen now rather than at the
        socket's next session check.
        """
        self.close_sessions(agent_id, session_id, reason)
        if self.relay is not None:
            self.relay.send_sessions_ended(agent_id, session_id, reason)

    def close_sessions(self, agent_id: int, session_id: str | None, reason: str) -> None:
        """Close the consoles connected to this instance of an agent (one session, or all)."""

        def matches(client: ConsoleClient) -> bool:
            return client.agent_id == agent_id and session_id in (None, client.session_id)

        targets = self._targets(matches)

        def end() -> None:
            for client in targets:
                client.end_reason = reason
                client.ended.set()

        if targets:
            self._on_loop(end)

    @property
    def connected(self) -> int:
        """How many consoles are connected."""
        with self._lock:
            return len(self._clients)
