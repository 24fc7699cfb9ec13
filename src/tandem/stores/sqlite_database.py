"""The SQLite driver of the SQL stores: a file under the project, no server needed.

The standard library's ``sqlite3`` is synchronous, so every call runs on one worker thread
owned by the database: calls never block the event loop, run one at a time in the order
they were made, and a call whose caller was cancelled still finishes before the next
starts (so one call's transaction can never interleave with another's).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from tandem.stores.errors import StoreUnavailable
from tandem.stores.sql_database import DuplicateKey, Row, SchemaSession, SQLDatabase

T = TypeVar("T")


class SQLiteDatabase(SQLDatabase):
    dialect = "sqlite"
    serial_primary_key = "INTEGER PRIMARY KEY AUTOINCREMENT"

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._connection: sqlite3.Connection | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return await self._call(lambda connection: connection.execute(sql, args).fetchall())

    async def insert_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        def insert(connection: sqlite3.Connection) -> None:
            with connection:  # commits, or rolls back on an error: all rows or none
                connection.execute("BEGIN")
                connection.executemany(sql, rows)

        await self._call(insert)

    @asynccontextmanager
    async def schema_transaction(self) -> AsyncIterator[SchemaSession]:
        # IMMEDIATE takes the write lock now, so a second process waits for this upgrade.
        await self._call(lambda connection: connection.execute("BEGIN IMMEDIATE"))
        try:
            yield _SQLiteSchemaSession(self)
        except BaseException:
            await self._call(lambda connection: connection.execute("ROLLBACK"))
            raise
        await self._call(lambda connection: connection.execute("COMMIT"))

    async def aclose(self) -> None:
        def close(connection: sqlite3.Connection) -> None:
            connection.close()
            self._connection = None

        if self._connection is not None:
            await self._call(close)
        self._thread.shutdown(wait=False)

    async def _call(self, work: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._thread, lambda: work(self._connect()))
        except sqlite3.IntegrityError as error:
            if error.sqlite_errorname == "SQLITE_CONSTRAINT_UNIQUE":
                raise DuplicateKey(str(error)) from error
            raise
        except sqlite3.OperationalError as error:  # locked too long, unreadable file, disk
            raise StoreUnavailable(f"SQLite database {self.path}: {error}") from error

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            # Autocommit mode: transactions are opened explicitly where they are wanted.
            connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
            self._connection = connection
        return self._connection


class _SQLiteSchemaSession:
    def __init__(self, database: SQLiteDatabase) -> None:
        self._database = database

    async def execute(self, sql: str) -> None:
        await self._database._call(lambda connection: connection.execute(sql))

    async def columns(self, table: str) -> set[str]:
        rows = await self._database.fetch(f"PRAGMA table_info({table})")
        return {str(row[1]) for row in rows}
