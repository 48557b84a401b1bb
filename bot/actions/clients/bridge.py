"""Client of the CRM bridge API, with the bot's key and the current message's identity proof.

The bot's key (``var/secrets/bridge_bot_key``) reaches only the routes the dialogue needs; the
bridge reveals or changes customer data only for the customer (and the conversation) that the
proof of the customer's current message names. Rasa signs that proof; the action server
only passes it on (:func:`message_proof`).
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

import httpx
from rasa_sdk import Tracker

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


PROOF_METADATA_KEY = "csa_proof"
PROOF_HEADER = "X-Identity-Proof"


def message_proof(tracker: Tracker) -> str | None:
    """The identity proof of the customer's current (latest) message, if it has one.

    Only the latest message counts: an earlier message's proof (a signed-in visitor's, say)
    must not speak for what someone else sent since under the same conversation.
    """
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            metadata: Any = event.get("metadata") or {}
            proof = metadata.get(PROOF_METADATA_KEY) if isinstance(metadata, dict) else None
            return proof if isinstance(proof, str) else None
    return None


def _retry_after(response: httpx.Response) -> int | None:
    """The seconds of a ``Retry-After`` header, or None."""
    value = response.headers.get("Retry-After", "")
    return int(value) if value.isdigit() else None


class BridgeClient:
    """Thin async wrapper over the bridge's ``/api/v1`` routes the bot needs."""

    def __init__(self, settings: ActionSettings | None = None, proof: str | None = None) -> None:
        self.settings = settings or get_settings()
        self.proof = proof

    @classmethod
    def for_tracker(cls, tracker: Tracker, settings: ActionSettings | None = None) -> BridgeClient:
        """A client speaking for the conversation of ``tracker`` (its current message's proof)."""
        return cls(settings, message_proof(tracker))

    async def _request(
        self, method: str, path: str, *, expect_limit: bool = False, **kwargs: Any
    ) -> Any:
        headers = {"X-API-Key": self.settings.bridge_api_key}
        if self.proof:
            headers[PROOF_HEADER] = self.proof
        try:
            response = await _client(self.settings).request(
                method, f"/api/v1{path}", headers=headers, **kwargs
            )
        except httpx.HTTPError as err:
            raise BridgeError(f"CRM bridge unreachable: {err.__class__.__name__}") from err
        if response.status_code == 404:
            raise NotFound(f"CRM bridge found nothing for {method} {path}")
        if response.status_code == 429 and expect_limit:
            # A business answer, not a failure: the bridge's 429 says when to try again.
            return {"status": "rate_limited", "retry_after": _retry_after(response)}
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

    async def identify(self) -> dict[str, Any]:
        """Who the current message proved to be, and whether that customer is verified.

        Verified means a valid signed site user on this message, or a chat account that its
        channel authenticates and the CRM linked and verified.
        """
        return await self._request("POST", "/bot/identify", json={})

    async def start_verification(self, contact: str, language: str) -> dict[str, Any]:
        """Ask for a one-time code to ``contact`` for this chat account.

        ``status`` is sent (also for unknown contacts), invalid_contact, rate_limited (the
        bridge's 429, with ``retry_after``), unavailable, or not_provable (a channel that
        cannot prove who writes, such as REST).
        """
        return await self._request(
            "POST",
            "/bot/verification",
            expect_limit=True,
            json={"contact": contact[:320], "language": language},
        )

    async def confirm_verification(self, code: str) -> dict[str, Any]:
        """Check the code typed back; ``status`` verified links this chat account."""
        return await self._request("POST", "/bot/verification/confirm", json={"code": code[:20]})

    async def get_order(self, number: str) -> dict[str, Any]:
        """An order of the customer the current message proved (404 otherwise)."""
        return await self._request("GET", f"/orders/{number}")

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
