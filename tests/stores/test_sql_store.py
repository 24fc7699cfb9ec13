"""The SQL tracker store: the reference's table layout in SQLite and PostgreSQL, tables
written by the reference (no ``event_index``) taken over, files reopened."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest

from tandem.conversation.tracker import Tracker
from tandem.stores.errors import StoreUnavailable
from tandem.stores.postgres_database import PostgresDatabase
from tandem.stores.sql_store import SQLTrackerStore
from tandem.stores.sqlite_database import SQLiteDatabase

from .services import POSTGRES_URL, SLOTS, session

# The reference's table, with two events of one conversation already in it.
REFERENCE_TABLE = """
CREATE TABLE {table} (
    id {serial}, sender_id VARCHAR(255), type_name VARCHAR(255), timestamp FLOAT,
    intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT
)"""
OLD_ROWS = [
    ("old", "action", 1.0, None, "action_session_start",
     json.dumps({"event": "action", "timestamp": 1.0, "name": "action_session_start"})),
    ("old", "session_started", 1.0, None, None,
     json.dumps({"event": "session_started", "timestamp": 1.0})),
]  # fmt: skip


async def test_sqlite_rows_follow_the_reference_layout_and_survive_reopening(
    tmp_path: Path,
) -> None:
    store = SQLTrackerStore(SQLiteDatabase(tmp_path / "t.db"), SLOTS)
    await store.save(Tracker("a", SLOTS, session("hi")))
    await store.aclose()
    with sqlite3.connect(tmp_path / "t.db") as connection:
        rows = connection.execute(
            "SELECT sender_id, event_index, type_name, intent_name, action_name FROM events"
            " ORDER BY id"
        ).fetchall()
    assert rows[0] == ("a", 0, "action", None, "action_session_start")
    assert rows[3] == ("a", 3, "user", "greet", None)
    reopened = SQLTrackerStore(SQLiteDatabase(tmp_path / "t.db"), SLOTS)
    again = await reopened.retrieve("a")
    assert again is not None and again.get_slot("city") == "hi"
    await reopened.aclose()


async def test_a_sqlite_table_of_the_reference_is_numbered_and_continued(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "rasa.db") as connection:
        connection.execute(
            REFERENCE_TABLE.format(table="events", serial="INTEGER PRIMARY KEY AUTOINCREMENT")
        )
        connection.executemany(
            "INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            OLD_ROWS,
        )
    store = SQLTrackerStore(SQLiteDatabase(tmp_path / "rasa.db"), SLOTS)
    await _continue_old_conversation(store)
    await store.aclose()


async def test_a_postgres_table_of_the_reference_is_numbered_and_continued(
    pg_tables: Callable[[], str],
) -> None:
    table = pg_tables()
    connection = await asyncpg.connect(POSTGRES_URL)
    try:
        await connection.execute(REFERENCE_TABLE.format(table=table, serial="SERIAL PRIMARY KEY"))
        await connection.executemany(
            f"INSERT INTO {table} (sender_id, type_name, timestamp, intent_name, action_name,"
            " data) VALUES ($1, $2, $3, $4, $5, $6)",
            OLD_ROWS,
        )
    finally:
        await connection.close()
    store = SQLTrackerStore(PostgresDatabase(POSTGRES_URL), SLOTS, table=table)
    await _continue_old_conversation(store)
    await store.aclose()


async def _continue_old_conversation(store: SQLTrackerStore) -> None:
    tracker = await store.retrieve("old")
    assert tracker is not None and [e.type_name for e in tracker.events] == [
        "action",
        "session_started",
    ]
    tracker.update_many(session("again")[2:])
    await store.save(tracker)
    rows = await store.database.fetch(
        f"SELECT event_index, type_name FROM {store.table} WHERE sender_id = ? ORDER BY id", "old"
    )
    assert [index for index, _ in rows] == [0, 1, 2, 3, 4]
    full = await store.retrieve_full("old")
    assert full is not None and full.get_slot("city") == "again"


class CommitThenDrop(SQLiteDatabase):
    """A database whose connection drops right after a save: committed or not, the saver
    cannot tell from the answer."""

    def __init__(self, path: Path, *, committed: bool) -> None:
        super().__init__(path)
        self.committed = committed

    async def insert_many(self, sql: str, rows) -> None:  # type: ignore[no-untyped-def]
        if self.committed:
            await super().insert_many(sql, rows)
        raise StoreUnavailable("the connection was closed in the middle of the operation")


async def test_a_save_whose_connection_dropped_after_the_commit_counts_as_saved(
    tmp_path: Path,
) -> None:
    """A client retrying a turn answered 503 would store it twice: the store looks first."""
    tracker = Tracker("u", SLOTS, session("hi"))
    committed = SQLTrackerStore(CommitThenDrop(tmp_path / "a.db", committed=True), SLOTS)
    await committed.save(tracker)  # no error: the rows are there
    stored = await committed.retrieve_full("u")
    assert stored is not None and len(stored.events) == len(tracker.events)
    lost = SQLTrackerStore(CommitThenDrop(tmp_path / "b.db", committed=False), SLOTS)
    with pytest.raises(StoreUnavailable):
        await lost.save(Tracker("u", SLOTS, session("hi")))
    assert await lost.retrieve_full("u") is None
    await committed.aclose()
    await lost.aclose()
