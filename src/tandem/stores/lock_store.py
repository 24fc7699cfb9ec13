"""Lock stores: one turn at a time per conversation, in arrival order."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager


class LockStore(ABC):
    @abstractmethod
    def lock(self, conversation_id: str) -> AbstractAsyncContextManager[None]:
        """Hold the conversation's lock for the duration of the ``async with`` block; waiters
        get it in arrival order, and it is released when the block ends, however it ends."""

    async def aclose(self) -> None:
        return None


class InMemoryLockStore(LockStore):
    """Per-conversation ``asyncio.Lock``s; valid within one process.

    First come first served, like the Redis ticket lock: ``asyncio.Lock`` queues waiters in
    arrival order, wakes the first on release, and a newcomer never overtakes a queued
    waiter. No lifetime is needed: a turn in this process always releases (``finally``).
    """

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiters: dict[str, int] = {}

    @asynccontextmanager
    async def lock(self, conversation_id: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(conversation_id, asyncio.Lock())
        self._waiters[conversation_id] = self._waiters.get(conversation_id, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._waiters[conversation_id] -= 1
            if not self._waiters[conversation_id]:  # forget idle conversations
                del self._waiters[conversation_id]
                del self._locks[conversation_id]
