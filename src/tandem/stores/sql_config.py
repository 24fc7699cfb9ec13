"""From the connection keys of an SQL endpoint (tracker store or event broker) to a database.

Keys as the reference reads them: ``dialect`` (``sqlite``, ``postgresql``), ``url`` (a host,
``host:port``, or a whole ``scheme://`` URL used as given) or ``host``, ``port``, ``db``,
``username``, ``password``, ``login_db`` (PostgreSQL: connect there first and create ``db``
if it does not exist), ``query`` (URL parameters for the driver, e.g. ``sslmode``).
Environment: ``POSTGRESQL_SCHEMA`` (search path), ``SQL_POOL_SIZE`` (connections, 50).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit, urlunsplit

from tandem.project.endpoints import EndpointConfig
from tandem.project.errors import Source
from tandem.stores.errors import StoreConfigError, number_setting
from tandem.stores.sql_database import SQLDatabase

SUPPORTED_DIALECTS = ("sqlite", "postgresql")


def open_sql_database(endpoint: EndpointConfig, root: Path, default_db: str) -> SQLDatabase:
    """The database an SQL endpoint names (not connected yet). A relative SQLite path is
    taken from ``root`` (the project folder)."""
    keys = endpoint.kwargs
    url = endpoint.url or _text(keys.get("host"))
    dialect = _dialect(
        str(keys.get("dialect") or (_scheme(url) if url else "") or "sqlite"),
        endpoint.at("dialect", "url", "host"),
    )
    if dialect == "sqlite":
        from tandem.stores.sqlite_database import SQLiteDatabase

        return SQLiteDatabase(_sqlite_path(url, _text(keys.get("db")) or default_db, root))
    from tandem.stores.postgres_database import PostgresDatabase

    db = _text(keys.get("db")) or default_db
    dsn = _postgres_url(url, endpoint, db)
    login_db = _text(keys.get("login_db"))
    return PostgresDatabase(
        dsn,
        create_from=_postgres_url(url, endpoint, login_db, login=True) if login_db else None,
        database=unquote(urlsplit(dsn).path[1:]),
        schema=os.environ.get("POSTGRESQL_SCHEMA") or None,
        pool_size=int(os.environ.get("SQL_POOL_SIZE", "50")),
    )


def _dialect(name: str, source: Source | None) -> str:
    name = name.lower().split("+")[0]  # SQLAlchemy spellings name a driver after a '+'
    name = {"postgres": "postgresql"}.get(name, name)
    if name not in SUPPORTED_DIALECTS:
        raise StoreConfigError(
            f"SQL dialect '{name}' is not supported; use one of {', '.join(SUPPORTED_DIALECTS)}",
            source,
        )
    return name


def _scheme(url: str) -> str:
    return url.split("://")[0] if "://" in url else ""


def _sqlite_path(url: str | None, db: str, root: Path) -> Path | str:
    if url and "://" in url:  # sqlite:///relative/path or sqlite:////absolute/path
        db = urlsplit(url).path[1:] or db
    if db == ":memory:":
        return db
    path = Path(db)
    return path if path.is_absolute() else root / path


def _postgres_url(
    url: str | None, endpoint: EndpointConfig, db: str, *, login: bool = False
) -> str:
    if url and "://" in url:  # a whole URL: used as given, but for the driver's name
        parts = urlsplit(url)._replace(scheme="postgresql")
        if login or parts.path in ("", "/"):
            parts = parts._replace(path="/" + quote(db, safe=""))
        return urlunsplit(parts)
    keys = endpoint.kwargs
    host = url or "localhost"
    if keys.get("port") is not None and ":" not in host:
        host = f"{host}:{number_setting(endpoint, 'port', 0)}"
    user = _text(keys.get("username"))
    password = _text(keys.get("password"))
    credentials = ""
    if user:
        credentials = quote(user, safe="")
        if password:
            credentials += ":" + quote(password, safe="")
        credentials += "@"
    query = keys.get("query") or {}
    if not isinstance(query, Mapping):
        raise StoreConfigError("`query` of an SQL endpoint must be a mapping", endpoint.at("query"))
    suffix = f"?{urlencode({str(k): str(v) for k, v in query.items()})}" if query else ""
    return f"postgresql://{credentials}{host}/{quote(db, safe='')}{suffix}"


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
