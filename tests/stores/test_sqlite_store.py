"""The SQLite tracker store keeps every event, returns the latest session, survives reopening."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tandem.conversation import events as ev
from tandem.conversation.slots import Slot
from tandem.conversation.tracker import Tracker
from tandem.project.endpoints import EndpointConfig
from tandem.stores.factory import create_tracker_store
from tandem.stores.sqlite_store import SQLiteTrackerStore
from tandem.stores.tracker_store import InMemoryTrackerStore

SLOTS = {"city": Slot("city", "text")}


def session(text: str) -> list[ev.Event]:
    return [
        ev.ActionExecuted(name="action_session_start"),
        ev.SessionStarted(),
        ev.ActionExecuted(name="action_listen"),
        ev.UserUttered.create(text, {"name": "greet", "confidence": 1.0}),
        ev.SlotSet(name="city", value=text),
    ]


async def test_save_appends_only_new_events_and_retrieve_returns_the_latest_session(
    tmp_path: Path,
) -> None:
    store = SQLiteTrackerStore(tmp_path / "t.db", SLOTS)
    assert await store.retrieve("a") is None
    tracker = Tracker("a", SLOTS, session("first"))
    assert len(await store.save(tracker)) == 5
    assert await store.save(tracker) == []  # nothing new
    tracker.update_many(session("second"))
    assert len(await store.save(tracker)) == 5
    latest = await store.retrieve("a")
    assert latest is not None and len(latest.events) == 5 and latest.get_slot("city") == "second"
    full = await store.retrieve_full("a")
    assert full is not None and [e.as_dict() for e in full.events] == [
        e.as_dict() for e in tracker.events
    ]
    assert await store.keys() == ["a"]
    await store.close()
    reopened = SQLiteTrackerStore(tmp_path / "t.db", SLOTS)
    again = await reopened.retrieve("a")
    assert again is not None and again.get_slot("city") == "second"
    await reopened.close()


async def test_rows_follow_the_reference_layout(tmp_path: Path) -> None:
    store = SQLiteTrackerStore(tmp_path / "t.db", SLOTS)
    await store.save(Tracker("a", SLOTS, session("hi")))
    await store.close()
    rows = (
        sqlite3.connect(tmp_path / "t.db")
        .execute("SELECT sender_id, type_name, intent_name, action_name FROM events ORDER BY id")
        .fetchall()
    )
    assert rows[0] == ("a", "action", None, "action_session_start")
    assert rows[3] == ("a", "user", "greet", None)


def test_factory(tmp_path: Path) -> None:
    assert isinstance(create_tracker_store(None, SLOTS), InMemoryTrackerStore)
    sql = EndpointConfig(type="sql", kwargs={"dialect": "sqlite", "db": "c.db"})
    store = create_tracker_store(sql, SLOTS, tmp_path)
    assert isinstance(store, SQLiteTrackerStore) and store.path == str(tmp_path / "c.db")
