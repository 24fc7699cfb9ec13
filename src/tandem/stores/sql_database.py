"""The few things the SQL tracker store and the SQL event broker need from a database.

Both are written once against this interface; each dialect (SQLite, PostgreSQL) is a small
driver class. Statements use ``?`` placeholders; drivers translate them if their library
wants another style. Drivers raise ``StoreUnavailable`` when the database cannot be reached
and ``DuplicateKey`` when an insert hits a unique constraint (the transaction is rolled
back: nothing of it is written).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, ClassVar, Protocol

from tandem.stores.errors import StoreConfigError

Row = tuple[Any, ...]


class DuplicateKey(Exception):
    """An insert would have repeated a unique key; nothing of it was written."""


class SchemaSession(Protocol):
    """A transaction for creating and upgrading tables, exclusive among the processes
    sharing the database (several workers may start at once)."""

    async def execute(self, sql: str) -> None: ...

    async def columns(self, table: str) -> set[str]:
        """The column names of ``table`` (empty if it does not exist)."""
        ...


class SQLDatabase(ABC):
    """One database reached through an async driver, connected on first use (so a server
    starts while its database is down and answers 503 until it is back)."""

    dialect: ClassVar[str]
    # Column definition of an auto-incrementing integer primary key in this dialect.
    serial_primary_key: ClassVar[str]

    @abstractmethod
    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        """The rows a query returns."""

    @abstractmethod
    async def insert_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one insert statement for every row, in one transaction: all rows or none."""

    @abstractmethod
    def schema_transaction(self) -> AbstractAsyncContextManager[SchemaSession]: ...

    @abstractmethod
    async def aclose(self) -> None: ...


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def identifier(name: str) -> str:
    """``name`` if it can be spliced into SQL as a table or index name (it cannot be a
    bound parameter there), else a configuration error."""
    if not _IDENTIFIER.fullmatch(name):
        raise StoreConfigError(f"'{name}' is not a valid SQL table name")
    return name
