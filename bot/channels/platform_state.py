"""State a chat-platform channel keeps between webhook calls: retry filter, token, menus, cursors.

One Rasa process keeps it in memory (the embedded default). When several Rasa instances serve
one platform account behind a load balancer, every instance must see the same state: a retry
of a message may reach another instance, a button menu sent by one is answered through another,
and the platform allows only a few access-token fetches a day and invalidates the previous token
on every fetch. ``CSA_CHANNEL_STATE_URL=redis://…`` moves it to Redis.

Redis trouble never stops a conversation: a failed call is logged and falls back to the local
copy (a retry might then be answered twice, which beats losing a message).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol

logger = logging.getLogger(__name__)


class ChannelState(Protocol):
    """What a channel needs; keys are namespaced by the caller."""

    async def claim(self, key: str, ttl: float) -> bool:
        """True the first time ``key`` is claimed within ``ttl`` seconds (retry filter)."""

    async def get(self, key: str) -> Any | None:
        """A JSON value, or None when missing or expired."""

    async def put(self, key: str, value: Any, ttl: float) -> None:
        """Store a JSON value for ``ttl`` seconds."""

    def lock(self, key: str) -> Any:
        """An async context manager held by one caller at a time (across instances for Redis)."""


class MemoryState:
    """In-process state for one Rasa instance (bounded: oldest entries go first)."""

    def __init__(self, limit: int = 50_000) -> None:
        self.limit = limit
        self._values: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}

    def _live(self, key: str) -> tuple[float, Any] | None:
        entry = self._values.get(key)
        if entry is not None and entry[0] < time.monotonic():
            del self._values[key]
            return None
        return entry

    def _store(self, key: str, value: Any, ttl: float) -> None:
        self._values.pop(key, None)
        self._values[key] = (time.monotonic() + ttl, value)
        while len(self._values) > self.limit:
            self._values.popitem(last=False)

    async def claim(self, key: str, ttl: float) -> bool:
        """True the first time ``key`` is claimed within ``ttl`` seconds."""
        if self._live(key) is not None:
            return False
        self._store(key, True, ttl)
        return True

    async def get(self, key: str) -> Any | None:
        """The stored value, or None."""
        entry = self._live(key)
        return None if entry is None else entry[1]

    async def put(self, key: str, value: Any, ttl: float) -> None:
        """Store ``value`` for ``ttl`` seconds."""
        self._store(key, value, ttl)

    def lock(self, key: str) -> asyncio.Lock:
        """A lock per key, for this process."""
        return self._locks.setdefault(key, asyncio.Lock())


class RedisState:
    """State shared by every Rasa instance through Redis (``redis.asyncio``, in Rasa's pins)."""

    def __init__(self, url: str, prefix: str = "csa:channel:") -> None:
        from redis import asyncio as redis_asyncio  # only needed in the scale-out profile

        self.client = redis_asyncio.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.prefix = prefix
        self.local = MemoryState()  # used while Redis is unreachable

    async def _call(self, what: str, remote: Callable[[], Awaitable[Any]], local: Any) -> Any:
        try:
            return await remote()
        except Exception as err:  # noqa: BLE001 - any Redis failure falls back, see module doc
            logger.warning("channel state in Redis unavailable for %s (%s); memory used", what, err)
            return await local()

    async def claim(self, key: str, ttl: float) -> bool:
        """SET NX with an expiry: exactly one instance sees True."""

        async def remote() -> bool:
            done = await self.client.set(self.prefix + key, b"1", nx=True, px=int(ttl * 1000))
            return bool(done)

        return await self._call("claim", remote, lambda: self.local.claim(key, ttl))

    async def get(self, key: str) -> Any | None:
        """The JSON value stored under ``key``."""

        async def remote() -> Any | None:
            raw = await self.client.get(self.prefix + key)
            return None if raw is None else json.loads(raw)

        return await self._call("get", remote, lambda: self.local.get(key))

    async def put(self, key: str, value: Any, ttl: float) -> None:
        """Store ``value`` as JSON (also locally, for when Redis goes away)."""
        await self.local.put(key, value, ttl)

        async def remote() -> None:
            await self.client.set(self.prefix + key, json.dumps(value), px=int(ttl * 1000))

        async def nothing() -> None:
            return None

        await self._call("put", remote, nothing)

    @asynccontextmanager
    async def lock(self, key: str) -> AsyncIterator[None]:
        """A Redis lock (30 s lease), or this process's lock while Redis is unreachable."""
        lock = self.client.lock(self.prefix + "lock:" + key, timeout=30, blocking_timeout=30)
        try:
            acquired = await lock.acquire()
        except Exception as err:  # noqa: BLE001
            logger.warning("channel state lock unavailable (%s); using a process lock", err)
            acquired = False
        if not acquired:
            async with self.local.lock(key):
                yield
            return
        try:
            yield
        finally:
            try:
                await lock.release()
            except Exception as err:  # noqa: BLE001 - an expired lease is harmless here
                logger.warning("channel state lock release failed: %s", err)


def state_from_url(url: str) -> ChannelState:
    """Redis for ``redis://`` / ``rediss://`` URLs, memory for an empty one."""
    url = (url or "").strip()
    if not url:
        return MemoryState()
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisState(url)
    raise ValueError(f"CSA_CHANNEL_STATE_URL must be empty or a redis:// URL, not {url!r}")


class AccessTokens:
    """A platform access token shared through the state: fetched once, refreshed early.

    ``fetch`` returns ``(token, expires_in_seconds)``. ``refresh_from`` names a token the
    platform just refused: it is replaced, unless another caller already did.
    """

    def __init__(
        self,
        state: ChannelState,
        key: str,
        fetch: Callable[[], Awaitable[tuple[str, float]]],
        margin: float = 300.0,
    ) -> None:
        self.state, self.key, self.fetch, self.margin = state, key, fetch, margin

    async def _cached(self) -> str | None:
        entry = await self.state.get(self.key)
        if isinstance(entry, dict) and float(entry.get("expires", 0)) > time.time() + self.margin:
            return str(entry["token"])
        return None

    async def token(self, refresh_from: str | None = None) -> str:
        """A valid token."""
        cached = await self._cached()
        if cached is not None and cached != refresh_from:
            return cached
        async with self.state.lock(self.key):
            cached = await self._cached()  # another caller may have refreshed meanwhile
            if cached is not None and cached != refresh_from:
                return cached
            token, expires_in = await self.fetch()
            await self.state.put(
                self.key, {"token": token, "expires": time.time() + expires_in}, expires_in
            )
            return token
