"""Simulated customers: a website customer on Rasa's socket.io channel (as the widget talks),
and customers who keep talking while a test breaks things."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import socketio


class SocketCustomer:
    """One socket.io session with Rasa; bot messages are collected in order.

    The server issues the session (``bot/channels/widget_sessions.py``): ``token`` is what it
    confirmed (pass an earlier customer's ``token`` to continue that conversation),
    ``session_id`` its public part and ``key`` Rasa's conversation key (``socketio:…``).
    """

    def __init__(
        self, rasa_url: str, token: str | None = None, transports: tuple[str, ...] = ("websocket",)
    ) -> None:
        self.received: queue.Queue[dict[str, Any]] = queue.Queue()
        self.refusals: queue.Queue[dict[str, Any]] = queue.Queue()
        self.client = socketio.Client(reconnection=False)
        confirmed: queue.Queue[Any] = queue.Queue()
        self.client.on("bot_uttered", self.received.put)
        self.client.on("identity_refused", self.refusals.put)
        self.client.on("session_confirm", confirmed.put)
        self.client.connect(rasa_url, transports=list(transports), socketio_path="/socket.io")
        self.client.emit("session_request", {"session_id": token})
        self.token: str = confirmed.get(timeout=10)
        self.session_id = self.token.split(".", 1)[0]
        self.key = f"socketio:{self.session_id}"

    def say(self, text: str, metadata: dict[str, Any] | None = None) -> None:
        """Send a message (does not wait for answers)."""
        body = {"message": text, "session_id": self.token, "customData": metadata or {}}
        self.client.emit("user_uttered", body)

    def ask(
        self,
        text: str,
        metadata: dict[str, Any] | None = None,
        timeout: float = 20.0,
        quiet: float = 0.8,
    ) -> list[dict[str, Any]]:
        """Send a message; its answers: the first within ``timeout``, then until ``quiet`` s
        pass without another (what the REST channel returns at once)."""
        self.say(text, metadata)
        replies = [self.next(timeout)]
        while True:
            try:
                replies.append(self.received.get(timeout=quiet))
            except queue.Empty:
                return replies

    def next(self, timeout: float = 20.0) -> dict[str, Any]:
        """The next bot-side message (bot or agent), or AssertionError after ``timeout``."""
        try:
            return self.received.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no message for {self.session_id} in {timeout} s") from None

    def wait_for(self, needle: str, timeout: float = 20.0) -> dict[str, Any]:
        """Skip messages until one whose text contains ``needle``."""
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            try:
                message = self.received.get(timeout=max(0.05, deadline - time.monotonic()))
            except queue.Empty:
                break
            seen.append(message.get("text"))
            if needle in (message.get("text") or ""):
                return message
        raise AssertionError(f"{needle!r} not received; got {seen}")

    def silent_for(self, seconds: float) -> bool:
        """True when nothing arrives for ``seconds``."""
        try:
            message = self.received.get(timeout=seconds)
        except queue.Empty:
            return True
        self.received.put(message)
        return False

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()

    def __enter__(self) -> SocketCustomer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def keep_talking(
    turns: list[Callable[[int], object]], stop: threading.Event, pause: float
) -> list[threading.Thread]:
    """One thread per customer calling its ``turn(n)`` (n = 0, 1, …) until ``stop`` is set.

    For fault tests: customers go on talking while servers are killed and restarted.
    """

    def loop(turn: Callable[[int], object]) -> None:
        number = 0
        while not stop.is_set():
            turn(number)
            number += 1
            stop.wait(pause)

    threads = [threading.Thread(target=loop, args=(turn,), daemon=True) for turn in turns]
    for thread in threads:
        thread.start()
    return threads
