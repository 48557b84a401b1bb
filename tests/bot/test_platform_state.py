"""Channel state in memory and in a real Redis: retry filter, shared token, fallback."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
import redis
from channels.platform_state import AccessTokens, MemoryState, RedisState, state_from_url

REDIS_URL = os.environ.get("CSA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def prefix():
    """A key prefix of its own; its keys are deleted afterwards."""
    name = f"csa:test:{uuid.uuid4().hex[:10]}:"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=name + "*"):
        client.delete(key)


def test_memory_claim_is_once_per_window():
    state = MemoryState()

    async def run():
        first = await state.claim("m1", ttl=0.2)
        again = await state.claim("m1", ttl=0.2)
        await asyncio.sleep(0.25)
        return first, again, await state.claim("m1", ttl=0.2)

    assert asyncio.run(run()) == (True, False, True)


def test_memory_is_bounded():
    state = MemoryState(limit=3)

    async def run():
        for n in range(5):
            await state.put(f"k{n}", n, ttl=60)
        return [await state.get(f"k{n}") for n in range(5)]

    assert asyncio.run(run()) == [None, None, 2, 3, 4]


def test_two_instances_sharing_redis_claim_a_message_once(prefix):
    async def run():
        first, second = RedisState(REDIS_URL, prefix), RedisState(REDIS_URL, prefix)
        results = await asyncio.gather(
            *(state.claim("msg:42", ttl=5) for state in [first, second] * 5)
        )
        await first.put("menu:u1", ["/a", "/b"], ttl=5)
        menu = await second.get("menu:u1")
        return results, menu

    results, menu = asyncio.run(run())
    assert results.count(True) == 1
    assert menu == ["/a", "/b"]


def test_two_instances_fetch_the_token_once_and_refresh_once(prefix):
    fetched: list[str] = []

    async def fetch() -> tuple[str, float]:
        await asyncio.sleep(0.05)  # slow enough for the callers to overlap
        fetched.append(f"token-{len(fetched) + 1}")
        return fetched[-1], 7200

    async def run():
        tokens = [AccessTokens(RedisState(REDIS_URL, prefix), "wx:token", fetch) for _ in "ab"]
        first = await asyncio.gather(*(t.token() for t in tokens * 5))
        # the platform refuses token-1: both instances ask for a new one at once
        second = await asyncio.gather(*(t.token(refresh_from="token-1") for t in tokens))
        return first, second

    first, second = asyncio.run(run())
    assert set(first) == {"token-1"}
    assert set(second) == {"token-2"}
    assert fetched == ["token-1", "token-2"]


def test_token_refreshed_before_it_expires():
    fetched: list[float] = []

    async def fetch() -> tuple[str, float]:
        fetched.append(1)
        return f"t{len(fetched)}", 200  # inside the 300 s margin at once

    async def run():
        tokens = AccessTokens(MemoryState(), "k", fetch)
        return [await tokens.token(), await tokens.token()]

    assert asyncio.run(run()) == ["t1", "t2"]


def test_unreachable_redis_falls_back_to_memory(caplog):
    async def run():
        state = RedisState("redis://127.0.0.1:1/0")  # nothing listens on port 1
        claims = [await state.claim("m", ttl=5), await state.claim("m", ttl=5)]
        await state.put("menu:u", ["/x"], ttl=5)
        async with state.lock("token"):
            pass
        return claims, await state.get("menu:u")

    claims, menu = asyncio.run(run())
    assert claims == [True, False]
    assert menu == ["/x"]
    assert "channel state in Redis unavailable" in caplog.text


def test_state_url_is_checked():
    assert isinstance(state_from_url(""), MemoryState)
    assert isinstance(state_from_url(REDIS_URL), RedisState)
    with pytest.raises(ValueError, match="redis://"):
        state_from_url("memcached://127.0.0.1")
