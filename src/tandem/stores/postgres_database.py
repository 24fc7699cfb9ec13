"""The PostgreSQL driver of the SQL stores.

Built on asyncpg: a native asyncio driver (no worker threads, no ORM layer between us and
the wire), the fastest PostgreSQL client for Python, with a connection pool and per-connection
prepared-statement caching built in, so a turn's load and its save are one round trip each.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from functools import lru_cache
from typing import Any

import asyncpg

from tandem.stores.errors import StoreUnavailable, StoreUnreached
from tandem.stores.sql_database import DuplicateKey, Row, SchemaSession, SQLDatabase

log = logging.getLogger(__name__)

# Key of the advisory lock that makes schema upgrades one process at a time ("tandem").
_SCHEMA_LOCK_KEY = 0x74616E64656D
# SQLSTATE classes that mean "the server cannot serve us now" rather than a bad statement:
# connection exceptions, insufficient resources, operator intervention (shutdown, restart),
# unknown database, rejected credentials.
_UNAVAILABLE_CLASSES = ("08", "53", "57", "3D", "28")


class PostgresDatabase(SQLDatabase):
    dialect = "postgresql"
    serial_primary_key = "BIGSERIAL PRIMARY KEY"

    def __init__(
        self,
        dsn: str,
        *,
        create_from: str | None = None,
        database: str | None = None,
        schema: str | None = None,
        pool_size: int = 50,
        connect_timeout: float = 10.0,
        command_timeout: float = 30.0,
    ) -> None:
        """``dsn`` is a ``postgresql://`` URL. With ``create_from`` (the URL of another
        database, ``login_db``) the database ``database`` is created there if missing."""
        self.dsn = dsn
        self._create_from = create_from
        self._database = database
        self._settings = {"search_path": schema} if schema else {}
        self._pool_size = max(1, pool_size)
        self._connect_timeout = connect_timeout
        self._command_timeout = command_timeout
        self._pool: asyncpg.Pool | None = None
        self._connecting = asyncio.Lock()

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        pool = await self._connected()
        with _errors():
            async with _pooled(pool) as connection:
                return [tuple(record) for record in await connection.fetch(_numbered(sql), *args)]

    async def insert_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        pool = await self._connected()
        with _errors():
            async with _pooled(pool) as connection, connection.transaction():
                await connection.executemany(_numbered(sql), rows)

    @asynccontextmanager
    async def schema_transaction(self) -> AsyncIterator[SchemaSession]:
        pool = await self._connected()
        with _errors():
            async with _pooled(pool) as connection, connection.transaction():
                await connection.execute("SELECT pg_advisory_xact_lock($1)", _SCHEMA_LOCK_KEY)
                yield _PostgresSchemaSession(connection)

    async def aclose(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def _connected(self) -> asyncpg.Pool:
        """The pool, created on first use (and again after a failed attempt)."""
        if self._pool is not None:
            return self._pool
        async with self._connecting:
            if self._pool is None:
                with _errors():
                    if self._create_from is not None:
                        await self._create_database()
                    with _unreached():
                        self._pool = await asyncpg.create_pool(
                            self.dsn,
                            min_size=min(2, self._pool_size),
                            max_size=self._pool_size,
                            timeout=self._connect_timeout,
                            command_timeout=self._command_timeout,
                            server_settings=self._settings,
                        )
        assert self._pool is not None
        return self._pool

    async def _create_database(self) -> None:
        assert self._create_from is not None and self._database is not None
        connection = await asyncpg.connect(self._create_from, timeout=self._connect_timeout)
        try:
            exists = await connection.fetchval(
                "SELECT 1 FROM pg_database WHERE datname = $1", self._database
            )
            if not exists:
                quoted = '"' + self._database.replace('"', '""') + '"'
                try:
                    await connection.execute(f"CREATE DATABASE {quoted}")
                except (asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
                    # Another worker created it a moment ago (a CREATE running at the same
                    # time as ours fails on the catalog's unique index instead).
                    pass
                else:
                    log.info("created database %s", self._database)
        finally:
            await connection.close()


class _PostgresSchemaSession:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def execute(self, sql: str) -> None:
        await self._connection.execute(sql)

    async def columns(self, table: str) -> set[str]:
        rows = await self._connection.fetch(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = $1",
            table.lower(),  # unquoted names are folded to lower case
        )
        return {str(row[0]) for row in rows}


@asynccontextmanager
async def _pooled(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A connection of the pool, opened if need be, returned to the pool afterwards."""
    with _unreached():
        connection = await pool.acquire()
    try:
        yield connection
    finally:
        await pool.release(connection)


@contextmanager
def _unreached() -> Iterator[None]:
    """Failures to get a connection, before any statement of ours was sent. Whatever their
    SQLSTATE, the server will not take us now (a database with ALLOW_CONNECTIONS false
    answers 55000, which statements may raise too); and nothing was written."""
    try:
        yield
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:  # incl. timeouts
        raise StoreUnreached(f"PostgreSQL takes no connection: {error}") from error


@contextmanager
def _errors() -> Iterator[None]:
    """asyncpg's errors as the stores' errors."""
    try:
        yield
    except asyncpg.UniqueViolationError as error:
        raise DuplicateKey(str(error)) from error
    except (OSError, asyncpg.ConnectionDoesNotExistError) as error:  # incl. timeouts
        raise StoreUnavailable(f"PostgreSQL is unreachable: {error}") from error
    except (asyncpg.InterfaceError, asyncpg.InternalClientError) as error:
        # A connection the server ended in the middle of an operation (pg_terminate_backend,
        # a restart): the driver reports it from whichever step was running.
        raise StoreUnavailable(f"PostgreSQL ended the connection: {error}") from error
    except asyncpg.PostgresError as error:
        if str(getattr(error, "sqlstate", "") or "")[:2] in _UNAVAILABLE_CLASSES:
            raise StoreUnavailable(f"PostgreSQL cannot serve the request: {error}") from error
        raise


@lru_cache(maxsize=256)
def _numbered(sql: str) -> str:
    """``?`` placeholders as asyncpg's ``$1, $2, ...``."""
    parts = sql.split("?")
    return parts[0] + "".join(f"${index}{part}" for index, part in enumerate(parts[1:], 1))
