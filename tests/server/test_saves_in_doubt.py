"""A save whose connection dropped may have been committed; while the database takes no new
connections the store cannot look. Found by the fault test with ``ALLOW_CONNECTIONS false``
(tests/server/test_deployment.py): a turn was answered 503, committed all the same, and the
client's retry stored its message twice."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tandem.conversation import events as ev
from tandem.conversation.slots import Slot
from tandem.conversation.tracker import Tracker
from tandem.stores.errors import StoreUnavailable, StoreUnreached
from tandem.stores.sql_database import Row
from tandem.stores.sql_store import SQLTrackerStore
from tandem.stores.sqlite_database import SQLiteDatabase

SLOTS = {"city": Slot("city", "text")}
OUTAGE = 0.8  # seconds without connections after the commit, as in the fault test (1 s)


class Outage(SQLiteDatabase):
    """After ``failures`` of the saves, the connection drops (``committed`` or not) and no
    new one is to be had for OUTAGE seconds."""

    def __init__(self, path: Path, *, committed: bool = True) -> None:
        super().__init__(path)
        self.committed = committed
        self.down_until = 0.0
        self.lookups = 0

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        if time.monotonic() < self.down_until:
            self.lookups += 1
            raise StoreUnreached("the database is not currently accepting connections")
        return await super().fetch(sql, *args)

    async def insert_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if self.committed:
            await super().insert_many(sql, rows)
        self.down_until = time.monotonic() + OUTAGE
        raise StoreUnavailable("terminating connection due to administrator command")


def tracker() -> Tracker:
    events = [
        ev.ActionExecuted(name="action_session_start"),
        ev.SessionStarted(),
        ev.ActionExecuted(name="action_listen"),
        ev.UserUttered.create("hi", {"name": "greet", "confidence": 1.0}),
    ]
    return Tracker("u", SLOTS, events)


async def test_a_committed_save_is_saved_once_the_database_answers_again(tmp_path: Path) -> None:
    database = Outage(tmp_path / "t.db")
    store = SQLTrackerStore(database, SLOTS)
    saved = tracker()
    await store.save(saved)  # no 503: the rows are there, seen once the outage is over
    assert database.lookups > 0
    stored = await store.retrieve_full("u")
    assert stored is not None and len(stored.events) == len(saved.events)
    await store.aclose()


async def test_a_save_that_was_not_committed_is_a_failure(tmp_path: Path) -> None:
    store = SQLTrackerStore(Outage(tmp_path / "t.db", committed=False), SLOTS)
    with pytest.raises(StoreUnavailable):
        await store.save(tracker())
    assert await store.retrieve_full("u") is None
    await store.aclose()


async def test_a_save_that_got_no_connection_fails_without_looking(tmp_path: Path) -> None:
    class Refusing(Outage):
        async def insert_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
            self.down_until = time.monotonic() + OUTAGE
            raise StoreUnreached("the database is not currently accepting connections")

    database = Refusing(tmp_path / "t.db")
    store = SQLTrackerStore(database, SLOTS)
    with pytest.raises(StoreUnreached):
        await store.save(tracker())
    assert database.lookups == 0  # nothing was sent, so the 503 comes at once
    await store.aclose()
