"""Rate limits of the bridge's public routes (the widget's), with the ``limits`` package.

``limits`` is the engine of flask-limiter and slowapi: moving windows counted in memory (one
instance) or in Redis (``RATE_LIMIT_STORAGE_URL``, shared by every instance). A storage that
cannot be reached lets requests through, logged: a rate limit must not take the widget down.
"""

from __future__ import annotations

import logging
import math
import time

from fastapi import HTTPException, Request, status
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

logger = logging.getLogger(__name__)


class PublicLimits:
    """One limiter for the app (``app.state.public_limits``)."""

    def __init__(self, storage_url: str) -> None:
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage_url))
        self._warned_at = 0.0

    def check(self, rule: str, scope: str, key: str) -> None:
        """Count one request of ``key`` under ``rule`` (``"60/minute"``); 429 past the limit."""
        limit = parse(rule)
        try:
            allowed = self.limiter.hit(limit, scope, key)
        except Exception as err:  # noqa: BLE001 - a limiter must not stop the service
            now = time.monotonic()
            if now - self._warned_at > 60:
                self._warned_at = now
                logger.warning("rate limit %s not counted: %s", scope, err.__class__.__name__)
            return
        if not allowed:
            reset = self.limiter.get_window_stats(limit, scope, key).reset_time
            wait = max(1, math.ceil(reset - time.time()))
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                detail=f"too many requests ({rule}); try again in {wait} s",
                headers={"Retry-After": str(wait)},
            )


def client_of(request: Request) -> str:
    """The client's address (uvicorn resolves ``X-Forwarded-For`` of trusted proxies only)."""
    return request.client.host if request.client else "unknown"
