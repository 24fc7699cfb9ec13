"""Stores, lock stores and brokers built from ``endpoints.yml``, each used for real."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import asyncpg
import pytest

from tandem.conversation.tracker import Tracker
from tandem.project.endpoints import EndpointConfig, Endpoints, load_endpoints
from tandem.stores.errors import StoreConfigError
from tandem.stores.event_brokers import SQLEventBroker, create_event_broker
from tandem.stores.factory import create_lock_store, create_tracker_store
from tandem.stores.pika_broker import PikaEventBroker
from tandem.stores.postgres_database import PostgresDatabase
from tandem.stores.redis_lock_store import RedisLockStore
from tandem.stores.redis_store import RedisTrackerStore
from tandem.stores.sql_store import SQLTrackerStore
from tandem.stores.sqlite_database import SQLiteDatabase
from tandem.stores.tracker_store import InMemoryTrackerStore, TrackerStore

from .services import POSTGRES_URL, SLOTS, session, unique


def endpoints(tmp_path: Path, text: str) -> Endpoints:
    (tmp_path / "endpoints.yml").write_text(textwrap.dedent(text))
    return load_endpoints(tmp_path / "endpoints.yml")


async def round_trip(store: TrackerStore) -> None:
    tracker = Tracker("u1", SLOTS, session("hi"))
    await store.save(tracker)
    again = await store.retrieve("u1")
    assert again is not None and again.get_slot("city") == "hi"
    await store.aclose()


async def test_sqlite_under_the_project_by_default(tmp_path: Path) -> None:
    config = endpoints(tmp_path, "tracker_store:\n  type: SQL\n  dialect: sqlite\n")
    store = create_tracker_store(config.tracker_store, SLOTS, tmp_path)
    assert isinstance(store, SQLTrackerStore) and isinstance(store.database, SQLiteDatabase)
    assert store.database.path == str(tmp_path / "rasa.db")
    await round_trip(store)
    assert (tmp_path / "rasa.db").exists()


async def test_postgresql_creates_its_database_from_login_db(tmp_path: Path) -> None:
    database = unique("tandem_test_")
    config = endpoints(
        tmp_path,
        f"""
        tracker_store:
          type: sql
          dialect: postgresql
          url: 127.0.0.1
          port: 5432
          username: postgres
          db: {database}
          login_db: test
          query:
            application_name: tandem-tests
        """,
    )
    store = create_tracker_store(config.tracker_store, SLOTS, tmp_path)
    assert isinstance(store, SQLTrackerStore) and isinstance(store.database, PostgresDatabase)
    assert store.database.dsn == (
        f"postgresql://postgres@127.0.0.1:5432/{database}?application_name=tandem-tests"
    )
    try:
        await round_trip(store)
    finally:
        connection = await asyncpg.connect(POSTGRES_URL)
        await connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await connection.close()


async def test_workers_starting_together_create_the_database_once() -> None:
    database = unique("tandem_test_")
    login = POSTGRES_URL.rsplit("/", 1)[0]
    stores = [
        SQLTrackerStore(
            PostgresDatabase(f"{login}/{database}", create_from=POSTGRES_URL, database=database)
        )
        for _ in range(4)
    ]
    try:  # CREATE DATABASEs at the same moment: all but one fail, and that is no error
        await asyncio.gather(*(store.keys() for store in stores))
    finally:
        for store in stores:
            await store.aclose()
        connection = await asyncpg.connect(POSTGRES_URL)
        await connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await connection.close()


async def test_redis_tracker_store(tmp_path: Path, redis_prefix: str) -> None:
    config = endpoints(
        tmp_path,
        f"""
        tracker_store:
          type: redis
          url: 127.0.0.1
          port: 6379
          db: 0
          key_prefix: {redis_prefix}
          record_exp: 30
        """,
    )
    store = create_tracker_store(config.tracker_store, SLOTS, tmp_path)
    assert isinstance(store, RedisTrackerStore)
    assert (store.prefix, store.record_exp) == (f"{redis_prefix}:tracker:", 30)
    await round_trip(store)


def test_lock_store_and_event_brokers(tmp_path: Path) -> None:
    config = endpoints(
        tmp_path,
        """
        tracker_store:
          type: in_memory
        lock_store:
          type: redis
          host: 127.0.0.1
          lock_lifetime: 10
        event_broker:
          type: pika
          url: 127.0.0.1
          username: guest
          password: guest
          queues: [a, b]
        """,
    )
    assert isinstance(create_tracker_store(config.tracker_store, SLOTS), InMemoryTrackerStore)
    lock_store = create_lock_store(config.lock_store)
    assert isinstance(lock_store, RedisLockStore) and lock_store.lock_lifetime == 10
    broker = create_event_broker(config.event_broker)
    assert isinstance(broker, PikaEventBroker) and broker.queues == ("a", "b")
    sql = endpoints(tmp_path, "event_broker:\n  type: sql\n  db: ev.db\n").event_broker
    sql_broker = create_event_broker(sql, tmp_path)
    assert isinstance(sql_broker, SQLEventBroker)


def test_unsupported_configurations_are_clear_errors() -> None:
    for kind, keys in [("mongod", {}), ("sql", {"dialect": "oracle"})]:
        with pytest.raises(StoreConfigError, match=kind if kind != "sql" else "oracle"):
            create_tracker_store(EndpointConfig(type=kind, kwargs=keys), SLOTS)
