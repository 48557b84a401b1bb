"""A Redis lock store for several Rasa instances: one atomic script per step, nothing blocking.

Selected in ``bot/endpoints.scaleout.yml``
(``type: components.redis_lock_store.AtomicRedisLockStore``)
with the same settings as Rasa's ``type: redis`` (url, port, db, username, password, use_ssl,
key_prefix, socket_timeout).

Rasa 3.6's ``RedisLockStore`` keeps a conversation's ticket lock as one JSON value and changes
it by reading it, changing it in Python and writing it back (``issue_ticket``,
``finish_serving``). Within one process the steps cannot interleave (they block the event
loop), but two instances that take a ticket for the same conversation at the same moment can
both read the same lock, and the second write then drops the first ticket: both hold the
"lock" (read from Rasa's code, not observed). Each message also costs seven blocking Redis round
trips on Rasa's event loop (about 4 % of a Rasa instance's CPU under the scale-out load,
profiled; every conversation of the instance waits during each), and a waiting message polls
once a second.

Here each conversation's lock is a sorted set of tickets (score: the ticket number, member:
``"<number>:<expiry in ms>"``, Redis' own clock) plus a counter, changed only by Lua scripts,
which Redis runs atomically:

- ``take`` issues the next ticket and tells whether it is first in line (one round trip when
  nobody else holds the conversation);
- ``first`` drops expired tickets and names the first live one (polled every 50 ms while
  waiting);
- ``give_back`` removes the ticket and deletes both keys when the line is empty.

The semantics are Rasa's ticket lock: first come, first served; a ticket expires after
``lock_lifetime`` seconds (``TICKET_LOCK_LIFETIME``, 60 s) so a crashed holder does not
block a conversation for longer; a message whose own ticket expired while it waited gets
Rasa's ``LockError``. Redis errors become ``LockError`` too (the channels answer with an
apology, ``channels/outage.py``). ``first`` and ``give_back`` change nothing when repeated, so
a connection error is retried once on a new connection: after Redis restarts, the first
command on a pooled connection can fail with "Connection closed by server", and a ticket not
given back would hold the conversation's next message until the ticket expires (seen as a
30 s hang in ``tests/e2e/test_scaleout_faults.py``). ``take`` is not retried: if Redis ran it
before the connection broke, a second ticket would wait behind the first.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import (
    DEFAULT_REDIS_LOCK_STORE_KEY_PREFIX,
    DEFAULT_SOCKET_TIMEOUT_IN_SECONDS,
    LOCK_LIFETIME,
    LockError,
    LockStore,
)
from rasa.utils.endpoints import EndpointConfig
from redis import RedisError
from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.05

# Shared by both scripts: Redis' clock in ms, and the first live ticket of the line KEYS[1]
# (expired tickets before it are dropped), or -1 when none is left.
_FIRST_LIVE = """
local clock = redis.call('TIME')
local now = clock[1] * 1000 + math.floor(clock[2] / 1000)
local function first_live()
  for _, item in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    local number, expires = string.match(item, '(%d+):(%d+)')
    if tonumber(expires) >= now then
      return tonumber(number)
    end
    redis.call('ZREM', KEYS[1], item)
  end
  return -1
end
"""

# KEYS: line, counter. ARGV: lifetime in ms. Returns {ticket, member, first live ticket}.
_TAKE = (
    _FIRST_LIVE
    + """
local ticket = redis.call('INCR', KEYS[2])
local member = ticket .. ':' .. (now + tonumber(ARGV[1]))
redis.call('ZADD', KEYS[1], ticket, member)
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return {ticket, member, first_live()}
"""
)

# KEYS: line. Returns the first live ticket, or -1 when none is left.
_FIRST = _FIRST_LIVE + "return first_live()\n"

# KEYS: line, counter. ARGV: member.
_GIVE_BACK = """
redis.call('ZREM', KEYS[1], ARGV[1])
if redis.call('ZCARD', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
end
return 1
"""


class AtomicRedisLockStore(LockStore):
    """Rasa's ticket lock in Redis, each step one atomic script on Rasa's event loop."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, **settings: Any) -> None:
        config = dict(endpoint_config.kwargs) if endpoint_config is not None else {}
        config.update(settings)
        host = (endpoint_config.url if endpoint_config is not None else None) or "localhost"
        self.red = Redis(
            host=host,
            port=int(config.get("port") or 6379),
            db=int(config.get("db") or 1),
            username=config.get("username") or None,
            password=config.get("password") or None,
            ssl=bool(config.get("use_ssl", False)),
            ssl_certfile=config.get("ssl_certfile"),
            ssl_keyfile=config.get("ssl_keyfile"),
            ssl_ca_certs=config.get("ssl_ca_certs"),
            socket_timeout=float(config.get("socket_timeout") or DEFAULT_SOCKET_TIMEOUT_IN_SECONDS),
        )
        self.key_prefix = DEFAULT_REDIS_LOCK_STORE_KEY_PREFIX
        prefix = config.get("key_prefix")
        if prefix:
            if isinstance(prefix, str) and prefix.isalnum():
                self.key_prefix = f"{prefix}:{DEFAULT_REDIS_LOCK_STORE_KEY_PREFIX}"
            else:
                logger.warning(
                    "lock store: ignoring the non-alphanumeric key_prefix %r; using %r",
                    prefix,
                    self.key_prefix,
                )
        self._take = self.red.register_script(_TAKE)
        self._first = self.red.register_script(_FIRST)
        self._give_back = self.red.register_script(_GIVE_BACK)
        super().__init__()

    def _keys(self, conversation_id: str) -> list[str]:
        line = self.key_prefix + conversation_id
        return [line, line + ":counter"]

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = POLL_SECONDS,
    ) -> AsyncIterator[TicketLock]:
        """Hold ``conversation_id`` until the block ends, after the tickets issued before."""
        keys = self._keys(conversation_id)
        lifetime_ms = max(1, int(lock_lifetime * 1000))
        try:
            ticket, member, first = await self._take(keys=keys, args=[lifetime_ms])
        except RedisError as err:
            raise LockError(f"Could not take a ticket for the conversation: {err!r}") from err
        ticket = int(ticket)
        member = member.decode() if isinstance(member, bytes) else str(member)
        try:
            while int(first) != ticket:
                if int(first) == -1 or int(first) > ticket:
                    raise LockError(
                        f"The ticket for conversation '{conversation_id}' expired while it "
                        f"waited ({lock_lifetime} s)."
                    )
                await asyncio.sleep(min(wait_time_in_seconds, POLL_SECONDS))
                try:
                    first = await _twice(self._first, keys[:1])
                except RedisError as err:
                    raise LockError(f"Could not check the conversation's lock: {err!r}") from err
            expires = float(member.split(":")[1]) / 1000
            yield TicketLock(conversation_id, deque([Ticket(ticket, expires)]))
        finally:
            try:
                await _twice(self._give_back, keys, [member])
            except RedisError as err:
                # The ticket expires by itself after lock_lifetime.
                logger.warning(
                    "lock store: could not give back the ticket of %s (%r)", conversation_id, err
                )


async def _twice(script: AsyncScript, keys: list[str], args: list[Any] | None = None) -> Any:
    """Run a script that changes nothing when repeated; once more after a connection error."""
    try:
        return await script(keys=keys, args=args)
    except (RedisConnectionError, RedisTimeoutError):
        return await script(keys=keys, args=args)
