"""Stores that fail, and shutting down: 503 with nothing half-written, in-flight turns finish."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from server_testkit import start_client

from tandem.conversation.events import Event
from tandem.model.loading import load_assistant
from tandem.runtime.processor import MessageProcessor
from tandem.stores.errors import LockError, StoreUnavailable
from tandem.stores.lock_store import InMemoryLockStore
from tandem.stores.tracker_store import InMemoryTrackerStore


class FlakyStore(InMemoryTrackerStore):
    """An in-memory store whose server can be switched off, and that notes what happens."""

    def __init__(self, *args, delay: float = 0.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.down = False
        self.delay = delay
        self.log: list[str] = []

    async def append_events(
        self, sender_id: str, events: Sequence[Event], *, position: int | None = None
    ) -> None:
        await asyncio.sleep(self.delay)
        if self.down:
            raise StoreUnavailable("the database is down")
        await super().append_events(sender_id, events, position=position)
        self.log.append("saved")

    async def aclose(self) -> None:
        self.log.append("closed")


class UnavailableLocks(InMemoryLockStore):
    @asynccontextmanager
    async def lock(self, conversation_id: str) -> AsyncIterator[None]:
        raise LockError("the lock server is down")
        yield  # pragma: no cover


async def test_a_store_that_is_down_gives_503_and_keeps_the_conversation(
    starter_model: Path,
) -> None:
    assistant = load_assistant(starter_model)
    store = FlakyStore(assistant.domain.slots)
    client = await start_client(starter_model, MessageProcessor(assistant, tracker_store=store))
    try:
        hello = {"sender": "u", "message": "hello"}
        assert (await client.post("/webhooks/rest/webhook", json=hello)).status == 200
        before = await (await client.get("/conversations/u/tracker?include_events=ALL")).json()
        store.down = True
        failed = await client.post("/webhooks/rest/webhook", json=hello)
        assert failed.status == 503
        body = await failed.json()
        assert body["reason"] == "ServiceUnavailable" and body["code"] == 503
        event = {"event": "slot", "name": "order_number", "value": "1"}
        posted = await client.post("/conversations/u/tracker/events", json=event)
        assert posted.status == 503
        store.down = False
        after = await (await client.get("/conversations/u/tracker?include_events=ALL")).json()
        assert after["events"] == before["events"]
    finally:
        await client.close()


async def test_a_lock_store_that_is_down_gives_503(starter_model: Path) -> None:
    assistant = load_assistant(starter_model)
    processor = MessageProcessor(assistant, lock_store=UnavailableLocks())
    client = await start_client(starter_model, processor)
    try:
        response = await client.post("/webhooks/rest/webhook", json={"message": "hello"})
        assert response.status == 503
    finally:
        await client.close()


async def test_shutdown_lets_the_turn_in_flight_finish_then_closes_the_stores(
    starter_model: Path,
) -> None:
    assistant = load_assistant(starter_model)
    store = FlakyStore(assistant.domain.slots, delay=0.3)
    client = await start_client(starter_model, MessageProcessor(assistant, tracker_store=store))
    url = str(client.make_url("/webhooks/rest/webhook"))
    async with aiohttp.ClientSession() as session:

        async def message() -> tuple[int, list]:
            async with session.post(url, json={"sender": "s", "message": "hello"}) as response:
                return response.status, await response.json()

        in_flight = asyncio.create_task(message())
        await asyncio.sleep(0.1)  # the turn is saving now
        await client.server.close()
        status, messages = await in_flight
    assert status == 200 and messages[0]["text"].startswith("Hello!")
    assert store.log == ["saved", "closed"]
    await client.close()
