"""Event brokers publish every saved event once, in order, as the reference's messages:
RabbitMQ (consumed back from its queues) and SQL rows."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import pytest

from tandem.conversation import events as ev
from tandem.conversation.tracker import Tracker
from tandem.project.endpoints import EndpointConfig
from tandem.stores.errors import StoreConfigError, StoreUnavailable
from tandem.stores.event_brokers import SQLEventBroker, create_event_broker, event_message
from tandem.stores.pika_broker import PikaEventBroker
from tandem.stores.postgres_database import PostgresDatabase
from tandem.stores.sqlite_database import SQLiteDatabase

from .services import POSTGRES_URL, SLOTS, consume, many_kinds

Names = Callable[[str], str]


def broker_for(names: Names, queues: list[str], **options: Any) -> PikaEventBroker:
    return PikaEventBroker("127.0.0.1", queues=queues, exchange_name=names("exchange"), **options)


def message_dicts(messages: list[aio_pika.abc.AbstractIncomingMessage]) -> list[dict[str, Any]]:
    return [json.loads(message.body) for message in messages]


async def test_every_event_reaches_every_queue_in_order_as_the_reference_formats_it(
    rabbit_names: Names,
) -> None:
    queues = [rabbit_names("queue"), rabbit_names("queue")]
    broker = broker_for(rabbit_names, queues)
    tracker = Tracker("alice", SLOTS, many_kinds())
    await broker(tracker, tracker.events[:5])
    await broker(tracker, tracker.events[5:])
    await broker.aclose()
    expected = [{"sender_id": "alice", **event.as_dict()} for event in tracker.events]
    for queue in queues:
        messages = await consume(queue, len(expected))
        assert message_dicts(messages) == expected
        assert messages[0].delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        assert messages[0].content_type == "application/json"
    user = next(m for m in expected if m["event"] == "user")
    assert user["input_channel"] == "rest" and user["message_id"] and user["timestamp"]


async def test_events_published_while_rabbitmq_is_unreachable_follow_later_in_order(
    rabbit_names: Names, unused_port: int
) -> None:
    queue = rabbit_names("queue")
    broker = broker_for(rabbit_names, [queue], port=unused_port, retry_delay=0)
    first, second = ev.BotUttered(text="first"), ev.BotUttered(text="second")
    started = time.monotonic()
    await broker.publish([event_message("bob", first)])  # kept, not raised
    assert time.monotonic() - started < 3
    broker.port = 5672  # RabbitMQ is back
    await broker.publish([event_message("bob", second)])
    await broker.aclose()
    assert [m["text"] for m in message_dicts(await consume(queue, 2))] == ["first", "second"]


async def test_events_published_after_rabbitmq_closed_the_connection_arrive(
    rabbit_names: Names,
) -> None:
    """RabbitMQ closes every client connection (as it does on a restart or an operator's
    ``close_all_connections``): what follows is published on a new connection, nothing
    kept is left behind, and the order holds."""
    queue = rabbit_names("queue")
    broker = broker_for(rabbit_names, [queue], retry_delay=0)
    texts = ["first", "second", "third", "fourth"]
    await broker.publish([event_message("dave", ev.BotUttered(text=texts[0]))])
    closing = ["rabbitmqctl", "close_all_connections", "test"]
    done = await asyncio.to_thread(subprocess.run, closing, capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr
    for text in texts[1:]:
        await broker.publish([event_message("dave", ev.BotUttered(text=text))])
    await broker.aclose()
    assert [m["text"] for m in message_dicts(await consume(queue, len(texts)))] == texts


async def test_raise_on_failure_reports_an_unreachable_rabbitmq(
    rabbit_names: Names, unused_port: int
) -> None:
    broker = broker_for(
        rabbit_names, [rabbit_names("queue")], port=unused_port, raise_on_failure=True
    )
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        await broker.publish([event_message("carol", ev.BotUttered(text="hi"))])
    with pytest.raises(StoreUnavailable):  # within retry_delay: no new attempt, same answer
        await broker.publish([event_message("carol", ev.BotUttered(text="hi"))])
    assert time.monotonic() - started < 3
    await broker.aclose()


async def test_sql_broker_rows_in_sqlite(tmp_path: Path) -> None:
    broker = SQLEventBroker(SQLiteDatabase(tmp_path / "events.db"))
    tracker = Tracker("dave", SLOTS, many_kinds())
    await broker(tracker, tracker.events)
    await broker.aclose()
    with sqlite3.connect(tmp_path / "events.db") as connection:
        rows = connection.execute("SELECT sender_id, data FROM events ORDER BY id").fetchall()
    assert rows == [("dave", json.dumps(event_message("dave", e))) for e in tracker.events]


async def test_the_first_publishes_of_a_sql_broker_may_come_at_once(tmp_path: Path) -> None:
    broker = SQLEventBroker(SQLiteDatabase(tmp_path / "events.db"))
    await asyncio.gather(
        *(broker.publish([event_message(f"u{n}", ev.BotUttered(text="hi"))]) for n in range(5))
    )
    await broker.aclose()
    with sqlite3.connect(tmp_path / "events.db") as connection:
        assert connection.execute("SELECT COUNT(*) FROM events").fetchone() == (5,)


async def test_sql_broker_rows_in_postgres(pg_tables: Callable[[], str]) -> None:
    table = pg_tables()
    broker = SQLEventBroker(PostgresDatabase(POSTGRES_URL), table=table)
    tracker = Tracker("erin", SLOTS, many_kinds())
    await broker(tracker, tracker.events)
    await broker.aclose()
    connection = await asyncpg.connect(POSTGRES_URL)
    try:
        rows = await connection.fetch(f"SELECT sender_id, data FROM {table} ORDER BY id")
    finally:
        await connection.close()
    assert [json.loads(row["data"]) for row in rows] == [
        event_message("erin", e) for e in tracker.events
    ]
    assert {row["sender_id"] for row in rows} == {"erin"}


def test_factory(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert create_event_broker(None) is None
    legacy = create_event_broker(
        EndpointConfig(url="rabbit", kwargs={"queue": "q1", "username": "u", "password": "p"})
    )
    assert isinstance(legacy, PikaEventBroker)
    assert (legacy.host, legacy.queues, legacy.exchange_name) == (
        "rabbit",
        ("q1",),
        "rasa-exchange",
    )
    default = create_event_broker(EndpointConfig(type="pika", kwargs={"exchange_name": "x"}))
    assert isinstance(default, PikaEventBroker)
    assert (default.queues, default.exchange_name) == (("rasa_core_events",), "x")
    assert "rasa_core_events" in caplog.text
    sql = create_event_broker(EndpointConfig(type="sql", kwargs={"dialect": "sqlite"}), tmp_path)
    assert isinstance(sql, SQLEventBroker) and isinstance(sql.database, SQLiteDatabase)
    assert sql.database.path == str(tmp_path / "events.db")
    with pytest.raises(StoreConfigError):
        create_event_broker(EndpointConfig(type="kafka"))
