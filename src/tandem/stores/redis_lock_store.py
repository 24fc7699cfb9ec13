"""The Redis lock store (``lock_store: type: redis``): one turn at a time per conversation
across processes and machines, first come first served.

A ticket lock. Taking the lock draws the next ticket number (INCR) and queues it; a ticket
may go when it is the lowest live ticket in the queue. Every ticket has an expiry: a waiting
ticket's is pushed forward each time its owner checks the queue, a holder's runs
``lock_lifetime`` seconds from when it got the lock. So a crashed process blocks the
conversation for at most ``lock_lifetime``; a turn that runs longer loses exclusivity, as in
the reference. Each step (draw, check, release) is one Lua script, atomic on the server and
timed by the server's clock, so processes with skewed clocks agree on what has expired.

Keys (``<prefix>lock:<conversation_id>:...``): ``counter`` (last ticket drawn), ``queue``
(sorted set of waiting tickets), ``expiries`` (hash ticket -> expiry in ms); all three expire
on their own once no live ticket is left.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tandem.stores.errors import LockError, StoreUnavailable
from tandem.stores.lock_store import LockStore
from tandem.stores.redis_connection import Redis, redis_errors

log = logging.getLogger(__name__)

DEFAULT_LOCK_LIFETIME = 60.0
_FIRST_POLL = 0.005  # seconds between queue checks while waiting, doubling up to ...
_LAST_POLL = 0.05

# KEYS: counter, queue, expiries. Drops expired tickets; leaves the queue's head in `head`.
_DROP_EXPIRED = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local expiries = redis.call('HGETALL', KEYS[3])
for i = 1, #expiries, 2 do
  if tonumber(expiries[i + 1]) <= now then
    redis.call('ZREM', KEYS[2], expiries[i])
    redis.call('HDEL', KEYS[3], expiries[i])
  end
end
"""
_KEEP_KEYS = """
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], lifetime + 1000) end
local head = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
"""
# ARGV: lifetime in ms. Returns {ticket, head of the queue}.
_DRAW = (
    _DROP_EXPIRED
    + """
local lifetime = tonumber(ARGV[1])
local ticket = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], ticket, ticket)
redis.call('HSET', KEYS[3], ticket, now + lifetime)
"""
    + _KEEP_KEYS
    + "return {ticket, tonumber(head)}"
)
# ARGV: ticket, lifetime in ms. Returns the head of the queue, or -1 if the ticket expired.
_CHECK = (
    _DROP_EXPIRED
    + """
local lifetime = tonumber(ARGV[2])
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 0 then return -1 end
redis.call('HSET', KEYS[3], ARGV[1], now + lifetime)
"""
    + _KEEP_KEYS
    + "return tonumber(head)"
)
# ARGV: ticket. Returns 1 if the ticket had expired before its release.
_RELEASE = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local expires = redis.call('HGET', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('ZCARD', KEYS[2]) == 0 then redis.call('DEL', KEYS[1], KEYS[2], KEYS[3]) end
if expires and tonumber(expires) > now then return 0 end
return 1
"""


class RedisLockStore(LockStore):
    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = "lock:",
        lock_lifetime: float = DEFAULT_LOCK_LIFETIME,
    ) -> None:
        self.client = client
        self.prefix = prefix  # ends with "lock:"
        self.lock_lifetime = lock_lifetime
        self._lifetime_ms = max(1, int(lock_lifetime * 1000))
        self._draw = client.register_script(_DRAW)
        self._check = client.register_script(_CHECK)
        self._release = client.register_script(_RELEASE)

    @asynccontextmanager
    async def lock(self, conversation_id: str) -> AsyncIterator[None]:
        base = f"{self.prefix}{conversation_id}:"
        keys = [base + "counter", base + "queue", base + "expiries"]
        with redis_errors():
            ticket, head = await self._draw(keys=keys, args=[self._lifetime_ms])
        try:
            delay = _FIRST_POLL
            while head != ticket:
                if head < 0:
                    raise LockError(
                        f"the lock ticket for conversation '{conversation_id}' expired while"
                        " waiting; is the event loop blocked?"
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, _LAST_POLL)
                with redis_errors():
                    head = await self._check(keys=keys, args=[ticket, self._lifetime_ms])
            yield
        finally:
            # Shielded: a turn cancelled (client gone, shutdown) still gives its ticket back.
            await asyncio.shield(self._give_back(conversation_id, keys, ticket))

    async def _give_back(self, conversation_id: str, keys: list[str], ticket: int) -> None:
        try:
            with redis_errors():
                outlived = await self._release(keys=keys, args=[ticket])
        except StoreUnavailable as error:  # the ticket expires by itself
            log.warning("could not release the lock of '%s': %s", conversation_id, error)
            return
        if outlived:
            log.warning(
                "a turn of '%s' held its lock longer than lock_lifetime (%ss); another turn"
                " may have run alongside it",
                conversation_id,
                self.lock_lifetime,
            )

    async def aclose(self) -> None:
        await self.client.aclose()
