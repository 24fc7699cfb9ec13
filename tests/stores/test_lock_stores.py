"""Lock stores: one holder per conversation, first come first served, released however a
turn ends; the Redis lock's lifetime frees a conversation whose holder stopped."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as redis

from tandem.project.endpoints import EndpointConfig
from tandem.stores.errors import StoreConfigError, StoreUnavailable
from tandem.stores.factory import create_lock_store
from tandem.stores.lock_store import InMemoryLockStore, LockStore
from tandem.stores.redis_connection import redis_client
from tandem.stores.redis_lock_store import RedisLockStore

from .services import REDIS_URL

OpenLocks = Callable[..., LockStore]


@pytest.fixture(params=["memory", "redis"])
async def open_locks(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[OpenLocks]:
    """``open_locks()`` is a lock store on the test's storage (Redis: one per process)."""
    shared = InMemoryLockStore()
    opened: list[LockStore] = []

    def open_one(lifetime: float = 60) -> LockStore:
        if request.param == "memory":
            return shared
        client = redis_client(EndpointConfig(url=REDIS_URL), default_db=0)
        store = RedisLockStore(client, prefix=f"{redis_prefix}:lock:", lock_lifetime=lifetime)
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        await store.aclose()


async def test_waiters_get_the_lock_in_arrival_order(open_locks: OpenLocks) -> None:
    order: list[int] = []
    holder_in = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with open_locks().lock("c"):
            holder_in.set()
            await release.wait()
            order.append(0)

    async def waiter(number: int) -> None:
        async with open_locks().lock("c"):
            order.append(number)
            await asyncio.sleep(0.01)

    tasks = [asyncio.create_task(holder())]
    await holder_in.wait()
    for number in range(1, 6):  # each arrives (draws its ticket) before the next
        tasks.append(asyncio.create_task(waiter(number)))
        await asyncio.sleep(0.05)
    release.set()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4, 5]


async def test_other_conversations_do_not_wait(open_locks: OpenLocks) -> None:
    async with open_locks().lock("one"):
        await asyncio.wait_for(_enter(open_locks(), "two"), timeout=1)


async def test_the_lock_is_released_after_an_error_and_after_cancellation(
    open_locks: OpenLocks,
) -> None:
    locks = open_locks()
    with pytest.raises(RuntimeError):
        async with locks.lock("c"):
            raise RuntimeError("the turn failed")
    await asyncio.wait_for(_enter(locks, "c"), timeout=1)

    entered = asyncio.Event()

    async def hold_forever() -> None:
        async with locks.lock("c"):
            entered.set()
            await asyncio.sleep(3600)

    task = asyncio.create_task(hold_forever())
    await entered.wait()
    waiting = asyncio.create_task(_enter(locks, "c"))  # queued behind, then cancelled too
    await asyncio.sleep(0.05)
    for pending in (waiting, task):
        pending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pending
    await asyncio.wait_for(_enter(open_locks(), "c"), timeout=1)


async def test_redis_lock_keys_are_gone_once_nobody_holds_or_waits(redis_prefix: str) -> None:
    locks = RedisLockStore(
        redis_client(EndpointConfig(url=REDIS_URL), default_db=0), prefix=f"{redis_prefix}:lock:"
    )
    async with locks.lock("c"):
        client = redis.Redis.from_url(REDIS_URL)
        keys = sorted([key.decode() async for key in client.scan_iter(match=f"{redis_prefix}:*")])
        assert keys == [
            f"{redis_prefix}:lock:c:{name}" for name in ("counter", "expiries", "queue")
        ]
        assert 0 < await client.pttl(keys[0]) <= 61_000  # even these expire by themselves
    assert [key async for key in client.scan_iter(match=f"{redis_prefix}:*")] == []
    await client.aclose()
    await locks.aclose()


async def test_a_holder_that_outlives_lock_lifetime_lets_the_next_turn_in(
    redis_prefix: str,
) -> None:
    def locks() -> RedisLockStore:
        client = redis_client(EndpointConfig(url=REDIS_URL), default_db=0)
        return RedisLockStore(client, prefix=f"{redis_prefix}:lock:", lock_lifetime=0.3)

    stuck, next_one = locks(), locks()
    # A process that took the lock and then stopped: it never releases.
    abandoned = stuck.lock("c")
    await abandoned.__aenter__()
    started = time.monotonic()
    await asyncio.wait_for(_enter(next_one, "c"), timeout=3)
    assert 0.25 <= time.monotonic() - started < 2
    await abandoned.__aexit__(None, None, None)  # a late release harms nobody
    await asyncio.wait_for(_enter(next_one, "c"), timeout=1)
    await stuck.aclose()
    await next_one.aclose()


async def test_an_unreachable_redis_is_reported_quickly() -> None:
    locks = RedisLockStore(
        redis_client(EndpointConfig(url="127.0.0.1", kwargs={"port": 1}), default_db=0)
    )
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        await _enter(locks, "c")
    assert time.monotonic() - started < 3
    await locks.aclose()


def test_factory(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(create_lock_store(None), InMemoryLockStore)
    assert isinstance(create_lock_store(EndpointConfig(type="in_memory")), InMemoryLockStore)
    config = EndpointConfig(type="redis", url="localhost", kwargs={"key_prefix": "bot1"})
    store = create_lock_store(config)
    assert isinstance(store, RedisLockStore)
    assert (store.prefix, store.lock_lifetime) == ("bot1:lock:", 60)
    monkeypatch.setenv("TICKET_LOCK_LIFETIME", "5")
    store = create_lock_store(EndpointConfig(type="concurrent_redis"))
    assert isinstance(store, RedisLockStore) and store.lock_lifetime == 5
    pool = store.client.connection_pool.connection_kwargs
    assert (pool["host"], pool["port"], pool["db"]) == ("localhost", 6379, 1)
    store = create_lock_store(EndpointConfig(type="redis", kwargs={"lock_lifetime": 2}))
    assert isinstance(store, RedisLockStore) and store.lock_lifetime == 2
    with pytest.raises(StoreConfigError):
        create_lock_store(EndpointConfig(type="redis", kwargs={"lock_lifetime": -1}))
    with pytest.raises(StoreConfigError):
        create_lock_store(EndpointConfig(type="zookeeper"))


async def _enter(locks: LockStore, conversation_id: str) -> None:
    async with locks.lock(conversation_id):
        pass
