"""The loaded model behind the server, and the turns running on it.

Requests borrow the processor for the length of their work. That gives two guarantees the
runtime spec asks for: a model swap (``PUT /model``) waits until the turns on the old model
have finished (so two processors never serve one conversation at once) and then closes it;
a shutdown lets in-flight turns, including socket.io ones aiohttp does not track, finish
within a bounded wait before the stores and locks are closed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from tandem.runtime.processor import MessageProcessor
from tandem.server.errors import ApiError

log = logging.getLogger(__name__)

# Opens a processor for a model archive (or folder of archives) with the server's endpoints.
ModelLoader = Callable[[Path], Awaitable[MessageProcessor]]


def no_model() -> ApiError:
    return ApiError(
        409,
        "Conflict",
        "No model loaded. To continue processing, a model needs to be loaded (PUT /model).",
    )


class ProcessorSlot:
    def __init__(
        self,
        processor: MessageProcessor | None,
        model_file: str | None = None,
        loader: ModelLoader | None = None,
    ) -> None:
        self.processor = processor
        self.model_file = model_file
        self.loader = loader
        self._active = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._open = asyncio.Event()  # cleared while a swap waits for in-flight turns
        self._open.set()
        self._closed = False

    @asynccontextmanager
    async def use(self) -> AsyncIterator[MessageProcessor]:
        """The current processor, held until the block ends; 409 when no model is loaded."""
        await self._open.wait()
        if self._closed:
            raise ApiError(503, "ServiceUnavailable", "The server is shutting down.")
        processor = self.processor
        if processor is None:
            raise no_model()
        self._active += 1
        self._idle.clear()
        try:
            yield processor
        finally:
            self._active -= 1
            if not self._active:
                self._idle.set()

    async def replace(self, processor: MessageProcessor | None, model_file: str | None) -> None:
        """Serve ``processor`` from now on; the old one is closed once its turns are done."""
        self._open.clear()
        try:
            await self._idle.wait()
            old, self.processor, self.model_file = self.processor, processor, model_file
        finally:
            self._open.set()
        if old is not None:
            await old.aclose()

    async def drain(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for in-flight turns; False if some still run."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            log.warning("%d turns were still running at shutdown", self._active)
            return False
        return True

    async def aclose(self, timeout: float) -> None:
        """Stop serving: let in-flight turns finish (bounded), then release stores and locks."""
        self._closed = True
        await self.drain(timeout)
        processor, self.processor = self.processor, None
        if processor is not None:
            await processor.aclose()
