"""Lock stores: one turn at a time per conversation, in arrival order."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager


class LockStore(ABC):
    @abstractmethod
    def lock(self, conversation_id: str) -> AbstractAsyncContextManager[None]:
        """Hold the conversation's lock for the duration of the ``async with`` block."""

    async def close(self) -> None:
        return None


class InMemoryLockStore(LockStore):
    """Per-conversation ``asyncio.Lock``s (FIFO by construction); valid within one process."""

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
