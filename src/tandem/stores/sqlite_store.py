"""A tracker store in a SQLite file, with the reference's ``events`` table layout.

One row per event (``id``, ``sender_id``, ``type_name``, ``timestamp``, ``intent_name``,
``action_name``, ``data``). SQLite calls are short and run in a worker thread so the event
loop never blocks; one connection serialises them.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Mapping
from pathlib import Path

from tandem.conversation.events import ActionExecuted, Event, UserUttered, events_from_dicts
from tandem.conversation.slots import Slot
from tandem.names import ACTION_SESSION_START
from tandem.stores.tracker_store import TrackerStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sender_id VARCHAR(255) NOT NULL,
    type_name VARCHAR(255) NOT NULL,
    timestamp FLOAT,
    intent_name VARCHAR(255),
    action_name VARCHAR(255),
    data TEXT
);
CREATE INDEX IF NOT EXISTS events_sender_id ON events (sender_id, id);
"""


class SQLiteTrackerStore(TrackerStore):
    def __init__(self, path: Path | str, slot_defs: Mapping[str, Slot] | None = None) -> None:
        super().__init__(slot_defs)
        self.path = str(path)
        self._connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.executescript(_SCHEMA)
        self._lock = asyncio.Lock()

    async def load_events(self, sender_id: str, *, latest_session: bool) -> list[Event] | None:
        async with self._lock:
            rows = await asyncio.to_thread(self._select, sender_id, latest_session)
        if not rows:
            return None
        return events_from_dicts([json.loads(data) for (data,) in rows])

    def _select(self, sender_id: str, latest_session: bool) -> list[tuple[str]]:
        start = 0
        if latest_session:
            (found,) = self._connection.execute(
                "SELECT MAX(id) FROM events"
                " WHERE sender_id = ? AND type_name = 'action' AND action_name = ?",
                (sender_id, ACTION_SESSION_START),
            ).fetchone()
            start = found or 0
        return self._connection.execute(
            "SELECT data FROM events WHERE sender_id = ? AND id >= ? ORDER BY id",
            (sender_id, start),
        ).fetchall()

    async def append_events(self, sender_id: str, events: list[Event]) -> None:
        rows = [_row(sender_id, event) for event in events]
        async with self._lock:
            await asyncio.to_thread(self._insert, rows)

    def _insert(self, rows: list[tuple]) -> None:
        with self._connection:  # one transaction: all of a turn's events or none
            self._connection.execute("BEGIN")
            self._connection.executemany(
                "INSERT INTO events"
                " (sender_id, type_name, timestamp, intent_name, action_name, data)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )

    async def keys(self) -> list[str]:
        async with self._lock:
            rows = await asyncio.to_thread(
                lambda: self._connection.execute("SELECT DISTINCT sender_id FROM events").fetchall()
            )
        return [sender for (sender,) in rows]

    async def close(self) -> None:
        self._connection.close()


def _row(sender_id: str, event: Event) -> tuple:
    data = event.as_dict()
    intent = event.intent_name if isinstance(event, UserUttered) else None
    action = event.name if isinstance(event, ActionExecuted) else None
    return (sender_id, data["event"], event.timestamp, intent, action, json.dumps(data))
