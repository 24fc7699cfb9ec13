"""The SQL tracker store: the reference's table layout in SQLite and PostgreSQL, tables
written by the reference (no ``event_index``) taken over, files reopened."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import asyncpg

from tandem.conversation.tracker import Tracker
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
    await store.close()
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
    await reopened.close()


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
    await store.close()


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
    await store.close()


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
