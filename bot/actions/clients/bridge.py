"""Client of the CRM bridge API, authenticated with the service key."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

import httpx

from actions.config import ActionSettings, get_settings

# One connection pool per event loop and bridge address: a new AsyncClient per call built a
# TLS context (reading the CA bundle) every time, three quarters of the action server's CPU
# under load (benchmarks/load_test.py, profiled with py-spy), and opened a new connection.
_CLIENTS: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[str, float], httpx.AsyncClient]
] = weakref.WeakKeyDictionary()


def _client(settings: ActionSettings) -> httpx.AsyncClient:
    per_loop = _CLIENTS.setdefault(asyncio.get_running_loop(), {})
    key = (settings.BRIDGE_URL, settings.BRIDGE_TIMEOUT)
    client = per_loop.get(key)
    if client is None or client.is_closed:
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
        client = httpx.AsyncClient(
            base_url=settings.BRIDGE_URL, timeout=settings.BRIDGE_TIMEOUT, limits=limits
        )
        per_loop[key] = client
    return client


class BridgeError(RuntimeError):
    """The bridge could not do what was asked (down, or refused); the message says which."""


class NotFound(BridgeError):
    """The bridge answered 404: no such record (or not this customer's)."""


class BridgeClient:
    """Thin async wrapper over the bridge's ``/api/v1`` routes the bot needs."""

    def __init__(self, settings: ActionSettings | None = None) -> None:
        self.settings = settings or get_settings()

    async def _request(
        self, method: str, path: str, *, expect_limit: bool = False, **kwargs: Any
    ) -> Any:
        headers = {"X-API-Key": self.settings.bridge_api_key}
        try:
            response = await _client(self.settings).request(
                method, f"/api/v1{path}", headers=headers, **kwargs
            )
        except httpx.HTTPError as err:
            raise BridgeError(f"CRM bridge unreachable: {err.__class__.__name__}") from err
        if response.status_code == 404:
            raise NotFound(f"CRM bridge found nothing for {method} {path}")
        if response.status_code == 429 and expect_limit:
            return response.json()  # a business answer (status "rate_limited"), not a failure
        if response.status_code >= 400:
            raise BridgeError(f"CRM bridge answered {response.status_code} to {method} {path}")
        return response.json()

    async def create_escalation(
        self,
        sender_id: str,
        reason: str,
        priority: str = "normal",
        *,
        customer_id: int | None = None,
        notes: str | None = None,
        **context: Any,
    ) -> dict[str, Any]:
        """Open an escalation / ticket for the conversation of ``sender_id``; return it."""
        return await self._request(
            "POST",
            "/escalations",
            json={
                "sender_id": sender_id,
                "customer_id": customer_id,
                "reason": reason,
                "priority": priority,
                "notes": notes,
                "context": context,
            },
        )

    async def open_handoff(self, **body: Any) -> dict[str, Any]:
        """Hand the conversation to a human with its context.

        Returns ``mode`` (assigned, queued or ticket), ``queue_position``, ``agent_name`` and
        ``office_hours``.
        """
        return await self._request("POST", "/handoff", json=body)

    async def leave_message(self, ticket_id: int, sender_id: str, text: str) -> dict[str, Any]:
        """Add what the customer wrote to their ticket (no agent was available)."""
        return await self._request(
            "POST",
            f"/handoff/{ticket_id}/left-message",
            json={"sender_id": sender_id, "text": text},
        )

    async def identify(
        self,
        channel: str,
        sender_id: str,
        user_id: str | None = None,
        user_hash: str | None = None,
    ) -> dict[str, Any]:
        """Who the customer is and whether they are verified.

        Verified means a valid signed site identity, or a verified channel identity linked in
        the CRM.
        """
        return await self._request(
            "POST",
            "/bot/identify",
            json={
                "channel": channel,
                "sender_id": sender_id,
                "user_id": user_id,
                "user_hash": user_hash,
            },
        )

    async def start_verification(
        self, channel: str, sender_id: str, contact: str, language: str
    ) -> dict[str, Any]:
        """Ask for a one-time code to ``contact``.

        ``status`` is sent (also for unknown contacts), invalid_contact, rate_limited or
        unavailable.
        """
        return await self._request(
            "POST",
            "/bot/verification",
            expect_limit=True,
            json={
                "channel": channel,
                "sender_id": sender_id,
                "contact": contact[:320],
                "language": language,
            },
        )

    async def confirm_verification(self, channel: str, sender_id: str, code: str) -> dict[str, Any]:
        """Check the code typed back; ``status`` verified links this chat account."""
        return await self._request(
            "POST",
            "/bot/verification/confirm",
            json={"channel": channel, "sender_id": sender_id, "code": code[:20]},
        )

    async def get_order(self, number: str, channel: str, external_id: str) -> dict[str, Any]:
        """An order of the verified customer behind ``channel``/``external_id``."""
        return await self._request(
            "GET", f"/orders/{number}", params={"channel": channel, "external_id": external_id}
        )

    async def loyalty(self, customer_id: int) -> dict[str, Any]:
        """Tier, points, what the next tier needs and points expiring soon."""
        return await self._request("GET", f"/customers/{customer_id}/loyalty")

    async def sentiment(self, text: str) -> dict[str, Any]:
        """Sentiment of one text: ``score`` in [-1, 1], ``label``, ``language``."""
        return await self._request("POST", "/sentiment", json={"text": text})

    async def feedback(
        self, sender_id: str, kind: str, rating: int, **fields: Any
    ) -> dict[str, Any]:
        """Store a CSAT rating (``kind="csat"``) or a KB answer vote (``kind="kb_answer"``)."""
        return await self._request(
            "POST",
            "/feedback",
            json={"sender_id": sender_id, "kind": kind, "rating": rating, **fields},
        )
