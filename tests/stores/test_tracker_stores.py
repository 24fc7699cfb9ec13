"""Every tracker store keeps each event once, in order, and returns the latest session:
in memory, SQLite, PostgreSQL and Redis (real servers)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tandem.conversation import events as ev
from tandem.conversation.tracker import Tracker
from tandem.project.endpoints import EndpointConfig
from tandem.stores.errors import StoreConflict, StoreUnavailable
from tandem.stores.postgres_database import PostgresDatabase
from tandem.stores.redis_connection import redis_client
from tandem.stores.redis_lock_store import RedisLockStore
from tandem.stores.redis_store import RedisTrackerStore
from tandem.stores.sql_store import SQLTrackerStore
from tandem.stores.sqlite_database import SQLiteDatabase
from tandem.stores.tracker_store import InMemoryTrackerStore, TrackerStore

from .services import POSTGRES_URL, REDIS_URL, SLOTS, many_kinds, session

OpenStore = Callable[[], TrackerStore]


@pytest.fixture(params=["memory", "sqlite", "postgresql", "redis"])
async def open_store(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    pg_tables: Callable[[], str],
    redis_prefix: str,
) -> AsyncIterator[OpenStore]:
    """``open_store()`` opens a store on the test's storage; several calls are several
    processes sharing it (in memory: the same store)."""
    kind = request.param
    table = pg_tables()
    shared = InMemoryTrackerStore(SLOTS)
    opened: list[TrackerStore] = []

    def open_one() -> TrackerStore:
        store: TrackerStore
        if kind == "memory":
            store = shared
        elif kind == "sqlite":
            store = SQLTrackerStore(SQLiteDatabase(tmp_path / "t.db"), SLOTS)
        elif kind == "postgresql":
            store = SQLTrackerStore(PostgresDatabase(POSTGRES_URL), SLOTS, table=table)
        else:
            client = redis_client(EndpointConfig(url=REDIS_URL), default_db=0)
            store = RedisTrackerStore(client, SLOTS, prefix=f"{redis_prefix}:tracker:")
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        await store.aclose()


def dicts(events: list[ev.Event]) -> list[dict]:
    return [event.as_dict() for event in events]


async def test_a_tracker_with_every_kind_of_event_comes_back_as_it_was_saved(
    open_store: OpenStore,
) -> None:
    store = open_store()
    assert await store.retrieve("alice") is None
    tracker = Tracker("alice", SLOTS, many_kinds())
    assert dicts(await store.save(tracker)) == dicts(tracker.events)
    again = await open_store().retrieve("alice")
    assert again is not None
    assert dicts(again.events) == dicts(tracker.events)
    assert again.current_state("ALL") == tracker.current_state("ALL")
    assert await store.keys() == ["alice"]


async def test_retrieve_returns_the_latest_session_and_saves_go_after_it(
    open_store: OpenStore,
) -> None:
    store = open_store()
    tracker = Tracker("bob", SLOTS, session("first"))
    await store.save(tracker)
    tracker.update_many(session("second"))
    assert len(await store.save(tracker)) == 5
    latest = await open_store().retrieve("bob")
    assert latest is not None and len(latest.events) == 5
    assert latest.get_slot("city") == "second"
    latest.update(ev.SlotSet(name="city", value="third"))
    assert len(await store.save(latest)) == 1
    full = await open_store().retrieve_full("bob")
    assert full is not None
    assert dicts(full.events) == dicts([*tracker.events, latest.events[-1]])


async def test_saving_twice_stores_each_event_once(open_store: OpenStore) -> None:
    store = open_store()
    tracker = Tracker("carol", SLOTS, session("hi"))
    await store.save(tracker)
    assert await store.save(tracker) == []  # nothing new
    loaded = await store.retrieve("carol")
    assert loaded is not None
    loaded.update_many([ev.ActionExecuted(name="utter_greet"), ev.BotUttered(text="Hi")])
    await store.save(loaded)
    # A save repeated because its reply was lost (the events did reach the store).
    loaded.saved_event_count -= 2
    await store.save(loaded)
    full = await open_store().retrieve_full("carol")
    assert full is not None and dicts(full.events) == dicts(loaded.events)


async def test_a_loaded_tracker_knows_where_its_latest_session_is_stored(
    open_store: OpenStore,
) -> None:
    store = open_store()
    first = session("first")
    await store.save(Tracker("dora", SLOTS, [*first, *session("second")]))
    loaded = await open_store().retrieve("dora")
    assert loaded is not None and loaded.stored_offset == 5 and loaded.saved_event_count == 5
    # A copy saves at the same positions: repeating its save stores nothing twice.
    copied = loaded.copy()
    assert copied.stored_offset == 5
    copied.update(ev.SlotSet(name="city", value="third"))
    await store.save(copied)
    copied.saved_event_count -= 1
    await store.save(copied)
    full = await open_store().retrieve_full("dora")
    assert full is not None and dicts(full.events) == dicts([*first, *copied.events])
    assert Tracker("new", SLOTS).stored_offset is None  # not loaded: saved after the end


async def test_a_writer_without_the_lock_cannot_slip_events_in(open_store: OpenStore) -> None:
    store = open_store()
    await store.save(Tracker("dave", SLOTS, session("hi")))
    other_process = open_store()
    first, second = await store.retrieve("dave"), await other_process.retrieve("dave")
    assert first is not None and second is not None
    first.update(ev.BotUttered(text="from the first"))
    second.update_many([ev.BotUttered(text="from the second"), ev.BotUttered(text="and more")])
    await store.save(first)
    with pytest.raises(StoreConflict):
        await other_process.save(second)
    full = await store.retrieve_full("dave")
    assert full is not None and dicts(full.events) == dicts(first.events)


@pytest.mark.parametrize("open_store", ["sqlite", "postgresql", "redis"], indirect=True)
async def test_two_processes_taking_turns_under_the_redis_lock_keep_every_event_once_in_order(
    open_store: OpenStore, redis_prefix: str
) -> None:
    turns = 8

    async def process(name: str) -> None:
        store = open_store()
        client = redis_client(EndpointConfig(url=REDIS_URL), default_db=0)
        locks = RedisLockStore(client, prefix=f"{redis_prefix}:lock:")
        try:
            for turn in range(turns):
                async with locks.lock("shared"):
                    tracker = await store.retrieve("shared") or Tracker("shared", SLOTS)
                    for part in range(3):
                        tracker.update(ev.BotUttered(text=f"{name}-{turn}-{part}"))
                        await asyncio.sleep(0)  # let the other process run meanwhile
                    await store.save(tracker)
        finally:
            await locks.aclose()

    await asyncio.gather(process("a"), process("b"))
    full = await open_store().retrieve_full("shared")
    assert full is not None
    texts = [event.text for event in full.events if isinstance(event, ev.BotUttered)]
    assert len(texts) == 2 * turns * 3 and len(set(texts)) == len(texts)
    for start in range(0, len(texts), 3):  # each turn's events together and in order
        name, turn, _ = texts[start].split("-")
        assert texts[start : start + 3] == [f"{name}-{turn}-{part}" for part in range(3)]
    for name in "ab":  # each process's turns in order
        mine = [text for text in texts if text.startswith(name)]
        assert mine == sorted(mine, key=lambda text: [int(n) for n in text.split("-")[1:]])


@pytest.mark.parametrize(
    "make",
    [
        lambda: SQLTrackerStore(PostgresDatabase("postgresql://postgres@127.0.0.1:1/test"), SLOTS),
        lambda: RedisTrackerStore(
            redis_client(EndpointConfig(url="127.0.0.1", kwargs={"port": 1}), default_db=0), SLOTS
        ),
        lambda: SQLTrackerStore(SQLiteDatabase("/nonexistent/folder/t.db"), SLOTS),
    ],
    ids=["postgresql", "redis", "sqlite"],
)
async def test_an_unreachable_server_is_reported_quickly_and_nothing_is_saved(
    make: Callable[[], TrackerStore],
) -> None:
    store = make()
    tracker = Tracker("erin", SLOTS, session("hi"))
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        await store.retrieve("erin")
    with pytest.raises(StoreUnavailable):
        await store.save(tracker)
    assert time.monotonic() - started < 3
    assert tracker.saved_event_count == 0  # the next save tries them all again
    await store.aclose()
