"""Client of Rasa's HTTP API: how the bridge speaks into a conversation.

Agent replies are appended as ``bot`` events with side effects executed, so Rasa sends them
to the customer on the channel named (the conversation's own input channel rather than
``latest``: Rasa issue #5486 reports ``latest`` delivering only the first of several injected
messages). Resume is an event too; escalation triggers and the end of a handoff run one bot action
(``execute``), which speaks in the customer's language and knows the conversation's state.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import quote

import httpx

logger = logging.getLogger(__name__)


class RasaUnavailable(RuntimeError):
    """Rasa did not take the request; the message says why (safe to show an agent)."""


# Idle connections are dropped after this many seconds, before Rasa's web server (Sanic, 5 s
# keep-alive) closes them, so no request goes out on a connection the server is closing.
KEEPALIVE_SECONDS = 2.0


class RasaApi:
    """Synchronous calls to one Rasa server, authenticated with its token.

    The calls share one client and its kept-alive connections (safe from several threads):
    a new httpx client per call builds a TLS context first, about 35 ms of CPU each time.
    """

    def __init__(self, base_url: str, token: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.timeout = timeout
        self._client = httpx.Client(
            timeout=timeout, limits=httpx.Limits(keepalive_expiry=KEEPALIVE_SECONDS)
        )

    def close(self) -> None:
        """Close the kept-alive connections (the app's shutdown)."""
        self._client.close()

    def _post(self, path: str, body: Any, **params: str) -> Any:
        # Rasa's routes do not unquote path parameters: the ':' of a conversation key
        # (``wechat:o6_b…``) must stay as it is, anything else that could end a segment not.
        url = f"{self.base_url}/conversations/{quote(path[0], safe=':')}/{path[1]}"
        try:
            response = self._client.post(url, json=body, params={**params, "token": self._token})
        except httpx.HTTPError as err:
            raise RasaUnavailable(f"Rasa unreachable ({err.__class__.__name__})") from err
        if response.status_code >= 400:
            # Rasa's error bodies hold no secret; the token is never logged.
            raise RasaUnavailable(f"Rasa answered {response.status_code}: {response.text[:200]}")
        return response.json() if response.content else None

    def append_events(
        self, sender_id: str, events: list[dict[str, Any]], output_channel: str | None = None
    ) -> Any:
        """Append events; bot messages go out on ``output_channel`` (default: the latest)."""
        return self._post(
            (sender_id, "tracker/events"),
            events,
            output_channel=output_channel or "latest",
            execute_side_effects="true",
        )

    def say(
        self,
        sender_id: str,
        text: str,
        metadata: dict[str, Any],
        output_channel: str | None = None,
        timestamp: float | None = None,
    ) -> dict[str, Any]:
        """Send one bot-side message (an agent's reply or a handoff notice); return the event."""
        event = {
            "event": "bot",
            "text": text,
            "timestamp": timestamp if timestamp is not None else time.time(),
            "data": {},
            "metadata": metadata,
        }
        self.append_events(sender_id, [event], output_channel)
        return event

    def resume(self, sender_id: str) -> None:
        """Un-pause the conversation (the bot answers again)."""
        self.append_events(sender_id, [{"event": "resume", "timestamp": time.time()}])

    def execute(
        self,
        sender_id: str,
        action: str,
        slots: dict[str, Any] | None = None,
        output_channel: str | None = None,
    ) -> Any:
        """Run one bot action now (after setting ``slots``), answering on ``output_channel``."""
        if slots:
            now = time.time()
            events = [
                {"event": "slot", "name": name, "value": value, "timestamp": now}
                for name, value in slots.items()
            ]
            self.append_events(sender_id, events)
        return self._post(
            (sender_id, "execute"),
            {"name": action, "policy": "crm_bridge", "confidence": 1.0},
            output_channel=output_channel or "latest",
        )
