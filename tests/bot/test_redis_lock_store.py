"""The scale-out lock store (bot/components/redis_lock_store.py) on the machine's real Redis.

Two stores stand for two Rasa instances. Checked: one holder at a time, first come first served,
a crashed holder's ticket expires, a waiter whose ticket expires gets Rasa's LockError, Redis
down is a LockError, nothing is left in Redis, and Rasa loads it from an endpoint config.
"""

from __future__ import annotations

from tests.bot.in_rasa_env import run_check
from tests.utils.processes import free_port

CHECK = """
import asyncio, uuid
from redis import Redis
from rasa.core.lock_store import LockError, LockStore
from rasa.utils.endpoints import EndpointConfig
from components.redis_lock_store import AtomicRedisLockStore

PREFIX = "t" + uuid.uuid4().hex
TYPE = "components.redis_lock_store.AtomicRedisLockStore"


def store(port=6379):
    config = EndpointConfig(url="127.0.0.1", type=TYPE, port=port, db=0, key_prefix=PREFIX)
    made = LockStore.create(config)  # as Rasa loads endpoints.yml
    assert isinstance(made, AtomicRedisLockStore), made
    return made


async def contend(stores, conversation, messages):
    inside, most, tickets = 0, 0, []

    async def message(lock_store):
        nonlocal inside, most
        async with lock_store.lock(conversation) as lock:
            inside += 1
            most = max(most, inside)
            tickets.append(lock.tickets[0].number)
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(*(message(stores[n % len(stores)]) for n in range(messages)))
    return most, tickets


async def main():
    one, two = store(), store()
    assert one.key_prefix == PREFIX + ":lock:"
    most, tickets = await contend((one, two), "c1", 16)
    assert most == 1 and len(tickets) == 16, (most, tickets)
    assert tickets == sorted(tickets), tickets  # first come, first served

    # a holder that crashed: its ticket (0.3 s) is never given back, and expires
    await one._take(keys=one._keys("c2"), args=[300])
    async with two.lock("c2"):
        pass

    # a waiter whose own ticket expires before the holder is done gets Rasa's LockError
    async with one.lock("c3"):
        try:
            async with two.lock("c3", lock_lifetime=0.2):
                raise SystemExit("entered while the conversation was held")
        except LockError as err:
            assert "expired" in str(err), err

    # Redis down: a LockError, which the channels turn into an apology
    try:
        async with store(port=DOWN_PORT).lock("c4"):
            raise SystemExit("locked without Redis")
    except LockError as err:
        assert "Could not take a ticket" in str(err), err

    left = Redis(db=0).keys(PREFIX + "*")
    assert left == [], left


asyncio.run(main())
print("lock store ok")
"""


def test_one_holder_at_a_time_in_ticket_order_across_two_instances():
    run_check(f"DOWN_PORT = {free_port()}\n" + CHECK, "lock store ok")
