"""Fan-out of live events to the agent consoles connected to this bridge process.

Producers run in any thread (the ingestion worker, request handlers in the thread pool); each
connected console has an asyncio queue on the server's event loop and a "queue changed"
flag, set thread-safely. Who may see what is decided per console by a predicate on its
principal. A scale-out deployment relays these events between bridge replicas (issue 9).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

MAX_PENDING = 1000


@dataclass(eq=False)
class ConsoleClient:
    """One connected console: whom it belongs to and what it still has to send."""

    agent_id: int | None
    role: str
    outbox: asyncio.Queue[dict[str, Any]] = field(
        default_factory=lambda: asyncio.Queue(MAX_PENDING)
    )
    queue_dirty: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def sees_all(self) -> bool:
        """Supervisors and admins see every handoff."""
        return self.role in ("supervisor", "admin")


Visibility = Callable[[ConsoleClient], bool]


class ConsoleHub:
    """Connected consoles and the thread-safe ways to reach them."""

    def __init__(self) -> None:
        self._clients: set[ConsoleClient] = set()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    def register(self, agent_id: int | None, role: str) -> ConsoleClient:
        """Add a console (called on the event loop, from the WebSocket route)."""
        self._loop = asyncio.get_running_loop()
        client = ConsoleClient(agent_id=agent_id, role=role)
        client.queue_dirty.set()  # the first thing a console gets is the queue
        with self._lock:
            self._clients.add(client)
        return client

    def unregister(self, client: ConsoleClient) -> None:
        """Forget a console that disconnected."""
        with self._lock:
            self._clients.discard(client)

    def _targets(self, visible: Visibility | None) -> list[ConsoleClient]:
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

    def publish(self, event: dict[str, Any], visible: Visibility | None = None) -> None:
        """Send ``event`` to every console for which ``visible`` holds."""
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
        """Every console refreshes its queue view."""
        targets = self._targets(None)

        def mark() -> None:
            for client in targets:
                client.queue_dirty.set()

        if targets:
            self._on_loop(mark)

    @property
    def connected(self) -> int:
        """How many consoles are connected."""
        with self._lock:
            return len(self._clients)
