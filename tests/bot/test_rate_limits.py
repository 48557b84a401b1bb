"""Rate limits of Rasa's public doors: fixed windows in memory or shared in Redis."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from channels.rate_limits import (
    DEFAULTS,
    MemoryCounter,
    RateLimits,
    RedisCounter,
    Rule,
    client_address,
    parse,
)


def test_rules_parse_and_bad_ones_say_how_to_write_them():
    assert parse(DEFAULTS)["ip"] == Rule(120, 60)
    assert parse("conversation=5/10") == {"conversation": Rule(5, 10)}
    for bad in ("ip=ten/60", "ip=1/0", "=1/2", "ip"):
        with pytest.raises(ValueError, match="kind=limit/seconds"):
            parse(bad)


def _hits(limits: RateLimits, kind: str, value: str, n: int, now: float) -> list[bool]:
    async def run() -> list[bool]:
        return [await limits.allow(kind, value, now=now) for _ in range(n)]

    return asyncio.run(run())


def test_a_key_over_its_limit_waits_for_the_next_window():
    limits = RateLimits(parse("conversation=3/60"), MemoryCounter())
    assert _hits(limits, "conversation", "rest:a", 4, now=600.0) == [True, True, True, False]
    assert _hits(limits, "conversation", "rest:b", 1, now=600.0) == [True]  # others unaffected
    assert _hits(limits, "conversation", "rest:a", 1, now=660.0) == [True]  # next window
    assert _hits(limits, "ip", "1.2.3.4", 1, now=600.0) == [True]  # no rule: no limit


def test_memory_keeps_a_bounded_number_of_keys():
    counter = MemoryCounter(max_keys=10)
    limits = RateLimits(parse("ip=1/60"), counter)
    for n in range(50):
        _hits(limits, "ip", f"10.0.0.{n}", 1, now=0.0)
    assert len(counter._counts) == 10


def test_redis_counts_are_shared_by_every_instance():
    prefix = f"csa-test:{uuid.uuid4().hex}"
    first = RateLimits(parse("ip=2/60"), RedisCounter("redis://127.0.0.1:6379/0", prefix))
    second = RateLimits(parse("ip=2/60"), RedisCounter("redis://127.0.0.1:6379/0", prefix))

    async def run() -> list[bool]:
        results = [
            await first.allow("ip", "9.9.9.9", now=1200.0),
            await second.allow("ip", "9.9.9.9", now=1200.0),
            await first.allow("ip", "9.9.9.9", now=1200.0),
        ]
        keys = await first.counter.redis.keys(f"{prefix}:*")
        ttls = [await first.counter.redis.ttl(k) for k in keys]
        assert ttls and all(0 < ttl <= 61 for ttl in ttls)
        await first.counter.redis.delete(*keys)
        await first.counter.redis.aclose()
        await second.counter.redis.aclose()
        return results

    assert asyncio.run(run()) == [True, True, False]


def test_an_unreachable_redis_lets_messages_through():
    limits = RateLimits(parse("ip=1/60"), RedisCounter("redis://127.0.0.1:1/0"))
    assert _hits(limits, "ip", "9.9.9.9", 3, now=0.0) == [True, True, True]


def test_forwarded_addresses_are_believed_only_from_trusted_proxies():
    proxies = frozenset({"127.0.0.1"})
    assert client_address("127.0.0.1", "203.0.113.7", proxies) == "203.0.113.7"
    assert client_address("127.0.0.1", "6.6.6.6, 203.0.113.7", proxies) == "203.0.113.7"
    assert client_address("198.51.100.2", "203.0.113.7", proxies) == "198.51.100.2"
    assert client_address("127.0.0.1", "203.0.113.7", frozenset()) == "127.0.0.1"
