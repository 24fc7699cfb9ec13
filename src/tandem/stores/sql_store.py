"""The SQL tracker store (``type: sql``), one implementation for every dialect.

The reference's ``events`` table layout (``id``, ``sender_id``, ``type_name``, ``timestamp``,
``intent_name``, ``action_name``, ``data`` = the event's JSON), one row per event, plus
``event_index``: the event's position in its conversation, unique per ``sender_id``. That
constraint is what makes a save safe: each save is one transaction inserting rows at the
positions after the tracker's stored events, so a repeated or concurrent save of the same
positions fails as a whole instead of storing events twice or interleaving them.

A table written by the reference (or an older Tandem) has no ``event_index``; it is added
and numbered in ``id`` order the first time the store opens the table.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from tandem.conversation.events import ActionExecuted, Event, UserUttered
from tandem.conversation.slots import Slot
from tandem.names import ACTION_SESSION_START
from tandem.stores.errors import StoreUnavailable, StoreUnreached
from tandem.stores.sql_database import DuplicateKey, SchemaSession, SQLDatabase, identifier
from tandem.stores.tracker_store import (
    StoredEvents,
    TrackerStore,
    check_overlap,
    stored_events,
)

# How long a save that lost its connection keeps trying to tell whether it was committed
# before it did (the database that dropped it may take no connection for a while: a restart,
# ALLOW_CONNECTIONS false), and the first pause between tries (doubling up to the last).
# Well under the Redis lock's lifetime, which the turn holds meanwhile.
_CHECK_SECONDS = 5.0
_CHECK_PAUSES = (0.05, 0.5)


class SQLTrackerStore(TrackerStore):
    def __init__(
        self,
        database: SQLDatabase,
        slot_defs: Mapping[str, Slot] | None = None,
        *,
        table: str = "events",
    ) -> None:
        super().__init__(slot_defs)
        self.database = database
        self.table = table = identifier(table)
        self._ready = False
        self._preparing = asyncio.Lock()
        self._select_all = (
            f"SELECT event_index, data FROM {table} WHERE sender_id = ? ORDER BY event_index"
        )
        # The latest session starts at the newest action_session_start (position 0 if none).
        self._select_latest_session = (
            f"SELECT event_index, data FROM {table} WHERE sender_id = ? AND event_index >="
            f" COALESCE((SELECT MAX(event_index) FROM {table} WHERE sender_id = ?"
            " AND type_name = 'action' AND action_name = ?), 0) ORDER BY event_index"
        )
        self._select_range = (
            f"SELECT data FROM {table} WHERE sender_id = ? AND event_index >= ?"
            " AND event_index < ? ORDER BY event_index"
        )
        self._select_end = (
            f"SELECT COALESCE(MAX(event_index) + 1, 0) FROM {table} WHERE sender_id = ?"
        )
        self._insert = (
            f"INSERT INTO {table} (sender_id, event_index, type_name, timestamp, intent_name,"
            " action_name, data) VALUES (?, ?, ?, ?, ?, ?, ?)"
        )

    async def load_events(self, sender_id: str, *, latest_session: bool) -> StoredEvents | None:
        await self._prepare()
        if latest_session:
            rows = await self.database.fetch(
                self._select_latest_session, sender_id, sender_id, ACTION_SESSION_START
            )
        else:
            rows = await self.database.fetch(self._select_all, sender_id)
        if not rows:
            return None
        return stored_events(int(rows[-1][0]) + 1, [json.loads(data) for _, data in rows])

    async def append_events(
        self, sender_id: str, events: Sequence[Event], *, position: int | None = None
    ) -> None:
        await self._prepare()
        if not events:
            return
        if position is None:
            position = int((await self.database.fetch(self._select_end, sender_id))[0][0])
        rows = [_row(sender_id, event) for event in events]
        while rows:
            try:
                await self.database.insert_many(
                    self._insert, [(sender_id, position + i, *row) for i, row in enumerate(rows)]
                )
                return
            except StoreUnreached:
                raise  # never sent: nothing to look up
            except StoreUnavailable:
                # The connection may have died after the commit: a client retrying this turn
                # would store it twice. Look before failing (if the database answers).
                if await self._stored_already(sender_id, position, rows):
                    return
                raise
            except DuplicateKey:  # positions taken: by these events, or a conflict
                stored = await self._stored_data(sender_id, position, len(rows))
                check_overlap(sender_id, position, stored, [row[-1] for row in rows[: len(stored)]])
                rows, position = rows[len(stored) :], position + len(stored)

    async def _stored_already(
        self, sender_id: str, position: int, rows: list[tuple[Any, ...]]
    ) -> bool:
        """Whether exactly ``rows`` are stored from ``position``; tried for a while, as the
        database that just dropped a connection may not answer at once. A 503 for a save that
        was committed would have the client's retry store its message twice."""
        deadline = time.monotonic() + _CHECK_SECONDS
        pause, longest = _CHECK_PAUSES
        while True:
            try:
                stored = await self._stored_data(sender_id, position, len(rows))
            except StoreUnavailable:
                if time.monotonic() + pause > deadline:
                    return False
                await asyncio.sleep(pause)
                pause = min(pause * 2, longest)
                continue
            return stored == [row[-1] for row in rows]

    async def _stored_data(self, sender_id: str, position: int, count: int) -> list[Any]:
        """The JSON of the events stored at ``position`` and the ``count - 1`` after it."""
        rows = await self.database.fetch(self._select_range, sender_id, position, position + count)
        return [data for (data,) in rows]

    async def count_events(self, sender_id: str) -> int | None:
        await self._prepare()
        # MAX over the (sender_id, event_index) index: one index probe, however long.
        return int((await self.database.fetch(self._select_end, sender_id))[0][0])

    async def keys(self) -> list[str]:
        await self._prepare()
        rows = await self.database.fetch(f"SELECT DISTINCT sender_id FROM {self.table}")
        return [str(sender) for (sender,) in rows]

    async def aclose(self) -> None:
        await self.database.aclose()

    async def _prepare(self) -> None:
        """Create or upgrade the table once, on first use (the database may be down at
        start-up; then the first request answers 503 and a later one prepares)."""
        if self._ready:
            return
        async with self._preparing:
            if not self._ready:
                async with self.database.schema_transaction() as session:
                    await self._create_or_upgrade(session)
                self._ready = True

    async def _create_or_upgrade(self, session: SchemaSession) -> None:
        table = self.table
        await session.execute(
            f"CREATE TABLE IF NOT EXISTS {table} ("
            f" id {self.database.serial_primary_key},"
            " sender_id VARCHAR(255) NOT NULL,"
            " event_index INTEGER,"
            " type_name VARCHAR(255) NOT NULL,"
            " timestamp FLOAT,"
            " intent_name VARCHAR(255),"
            " action_name VARCHAR(255),"
            " data TEXT)"
        )
        if "event_index" not in await session.columns(table):
            await session.execute(f"ALTER TABLE {table} ADD COLUMN event_index INTEGER")
            await session.execute(
                f"UPDATE {table} SET event_index = numbered.position FROM (SELECT id,"
                " ROW_NUMBER() OVER (PARTITION BY sender_id ORDER BY id) - 1 AS position"
                f" FROM {table}) AS numbered WHERE {table}.id = numbered.id"
            )
        await session.execute(
            f"CREATE UNIQUE INDEX IF NOT EXISTS {table}_sender_position"
            f" ON {table} (sender_id, event_index)"
        )


def _row(sender_id: str, event: Event) -> tuple[Any, ...]:
    """The columns of an event after ``sender_id`` and ``event_index``."""
    data = event.as_dict()
    intent = event.intent_name if isinstance(event, UserUttered) else None
    action = event.name if isinstance(event, ActionExecuted) else None
    return (data["event"], event.timestamp, intent, action, json.dumps(data))
