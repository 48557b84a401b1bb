"""Client of the CRM bridge API, authenticated with the service key."""

from __future__ import annotations

from typing import Any

import httpx

from actions.config import ActionSettings, get_settings


class BridgeError(RuntimeError):
    """The bridge could not do what was asked (down, or refused); the message says which."""


class BridgeClient:
    """Thin async wrapper over the bridge's ``/api/v1`` routes the bot needs."""

    def __init__(self, settings: ActionSettings | None = None) -> None:
        self.settings = settings or get_settings()

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"X-API-Key": self.settings.bridge_api_key}
        try:
            async with httpx.AsyncClient(
                base_url=self.settings.BRIDGE_URL, timeout=self.settings.BRIDGE_TIMEOUT
            ) as client:
                response = await client.request(method, f"/api/v1{path}", headers=headers, **kwargs)
        except httpx.HTTPError as err:
            raise BridgeError(f"CRM bridge unreachable: {err.__class__.__name__}") from err
        if response.status_code >= 400:
            raise BridgeError(f"CRM bridge answered {response.status_code} to {method} {path}")
        return response.json()

    async def create_escalation(
        self, sender_id: str, reason: str, priority: str = "normal", **context: Any
    ) -> dict[str, Any]:
        """Open an escalation for the conversation of ``sender_id``; return the ticket."""
        return await self._request(
            "POST",
            "/escalations",
            json={
                "sender_id": sender_id,
                "reason": reason,
                "priority": priority,
                "context": context,
            },
        )
