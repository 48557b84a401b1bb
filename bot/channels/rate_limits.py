"""Rate limits of the public doors of Rasa (REST and callback webhooks, the widget's socket).

Each door counts requests per client address and per conversation in fixed windows: a
window is ``period`` seconds, and a key may be used ``limit`` times in it. One Rasa process
counts in memory (bounded: the oldest keys go first); several instances share the counts in
Redis (``CSA_CHANNEL_STATE_URL``), one ``INCR`` + ``EXPIRE`` per check. If Redis cannot be
reached, the check lets the request through (and logs it once a minute): a rate limit must not
take the service down with it.

Written here rather than taken from the ``limits`` package (flask-limiter's and slowapi's
engine, which the CRM bridge uses): every ``limits`` release since 2.x needs
``packaging>=21`` and Rasa 3.6 pins ``packaging<21`` in this environment.

Limits come from ``CSA_RATE_LIMITS`` (see :func:`parse`), default :data:`DEFAULTS`.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

DEFAULTS = "ip=120/60,conversation=30/60,session=20/60"
"""Per client address 120 messages a minute (several people may share one address behind a
NAT), per conversation 30 a minute (no one types faster), and 20 new widget sessions a minute
per address."""
MAX_MEMORY_KEYS = 100_000

TOO_MANY = {
    "zh": "您发送得太快了，请稍等一会儿再发。",
    "en": "You are sending messages too quickly; please wait a moment and try again.",
}


@dataclass(frozen=True)
class Rule:
    """``limit`` uses per ``period`` seconds."""

    limit: int
    period: int


def parse(text: str) -> dict[str, Rule]:
    """Rules from ``"ip=120/60,conversation=30/60"`` (kind=limit/seconds, comma-separated).

    Raises:
        ValueError: with what is wrong, for the operator.
    """
    rules: dict[str, Rule] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, _, spec = part.partition("=")
        limit, _, period = spec.partition("/")
        if not kind or not limit.isdigit() or not period.isdigit() or int(period) == 0:
            raise ValueError(
                f"rate limit {part!r}: write kind=limit/seconds, e.g. ip=120/60 "
                "(kinds: ip, conversation, session)"
            )
        rules[kind.strip()] = Rule(int(limit), int(period))
    return rules


class MemoryCounter:
    """Counts of one process."""

    def __init__(self, max_keys: int = MAX_MEMORY_KEYS) -> None:
        self._counts: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self.max_keys = max_keys

    async def hit(self, key: str, period: int, now: float) -> int:
        """Count one use of ``key`` in the current window; the count so far."""
        window = int(now // period)
        seen_window, count = self._counts.pop(key, (window, 0))
        count = count + 1 if seen_window == window else 1
        self._counts[key] = (window, count)
        while len(self._counts) > self.max_keys:
            self._counts.popitem(last=False)
        return count


class RedisCounter:
    """Counts shared by every instance through Redis."""

    def __init__(self, url: str, prefix: str = "csa:rate") -> None:
        from redis.asyncio import Redis

        self.redis: Any = Redis.from_url(url)
        self.prefix = prefix
        self._warned_at = 0.0

    async def hit(self, key: str, period: int, now: float) -> int:
        """Count one use of ``key`` in the current window; 0 when Redis is unreachable."""
        name = f"{self.prefix}:{key}:{int(now // period)}"
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                count, _ = await pipe.incr(name).expire(name, period + 1).execute()
            return int(count)
        except Exception as err:  # noqa: BLE001 - a limiter must not stop the service
            if now - self._warned_at > 60:
                self._warned_at = now
                logger.warning("rate limits not counted: Redis unreachable (%s)", err)
            return 0


class RateLimits:
    """The rules of one door and where they are counted."""

    def __init__(self, rules: dict[str, Rule], counter: MemoryCounter | RedisCounter) -> None:
        self.rules, self.counter = rules, counter

    @classmethod
    def from_settings(cls, text: str, state_url: str = "") -> RateLimits:
        """From ``CSA_RATE_LIMITS`` and ``CSA_CHANNEL_STATE_URL`` (empty: memory)."""
        counter = RedisCounter(state_url) if state_url else MemoryCounter()
        return cls(parse(text or DEFAULTS), counter)

    async def allow(self, kind: str, value: str, now: float | None = None) -> bool:
        """Whether one more use of ``value`` (an address, a conversation) is within limits."""
        rule = self.rules.get(kind)
        if rule is None or rule.limit == 0 or not value:
            return True
        count = await self.counter.hit(f"{kind}:{value}", rule.period, now or time.time())
        return count <= rule.limit


def trusted_proxies_from(value: Any) -> frozenset[str]:
    """The proxy addresses of a comma-separated setting (``CSA_TRUSTED_PROXIES``)."""
    return frozenset(p.strip() for p in str(value or "").split(",") if p.strip())


def client_address(remote: str, forwarded_for: str, trusted_proxies: frozenset[str]) -> str:
    """The client's address: the peer, or the last untrusted hop a trusted proxy reported.

    ``X-Forwarded-For`` is believed only from a proxy named in ``CSA_TRUSTED_PROXIES`` (the
    scale-out profile's nginx); otherwise any client could pick its own address.
    """
    address = remote
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    while address in trusted_proxies and hops:
        address = hops.pop()
    return address or "unknown"
