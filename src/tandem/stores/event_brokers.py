"""Event brokers (``endpoints.yml: event_broker``): every saved event, published in order.

The processor hands a broker each tracker's newly saved events (``event_sink``); the broker
publishes one message per event, as the reference does: the event's wire JSON with the
conversation's ``sender_id`` added (``{"sender_id": ..., "event": ..., "timestamp": ...,
...}``; user events carry ``input_channel``, ``message_id``, ``parse_data``). Types:
``pika`` (RabbitMQ, also when ``type`` is absent; ``pika_broker.py``) and ``sql``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import ssl
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tandem.conversation.events import Event
from tandem.conversation.tracker import Tracker
from tandem.project.endpoints import EndpointConfig
from tandem.stores.errors import StoreConfigError, number_setting
from tandem.stores.sql_config import open_sql_database
from tandem.stores.sql_database import SQLDatabase, identifier

log = logging.getLogger(__name__)


def event_message(sender_id: str, event: Event) -> dict[str, Any]:
    """The message published for one event."""
    return {"sender_id": sender_id, **event.as_dict()}


class EventBroker(ABC):
    """Publishes events; callable as the processor's ``event_sink``."""

    async def __call__(self, tracker: Tracker, events: list[Event]) -> None:
        await self.publish([event_message(tracker.sender_id, event) for event in events])

    @abstractmethod
    async def publish(self, messages: Sequence[dict[str, Any]]) -> None:
        """Publish ``messages`` in order. Raises ``StoreUnavailable`` if the broker cannot
        be reached and the configuration asks for failures to be raised."""

    async def aclose(self) -> None:
        return None


class SQLEventBroker(EventBroker):
    """Rows ``(id, sender_id, data)`` in a table ``events``, one per message, each call's
    rows in one transaction (``type: sql``; connection keys as the SQL tracker store's)."""

    def __init__(self, database: SQLDatabase, *, table: str = "events") -> None:
        self.database = database
        self.table = identifier(table)
        self._insert = f"INSERT INTO {self.table} (sender_id, data) VALUES (?, ?)"
        self._ready = False
        self._preparing = asyncio.Lock()

    async def publish(self, messages: Sequence[dict[str, Any]]) -> None:
        await self._prepare()
        rows = [(message.get("sender_id"), json.dumps(message)) for message in messages]
        if rows:
            await self.database.insert_many(self._insert, rows)

    async def _prepare(self) -> None:
        """Create the table on first use (one setup at a time)."""
        if self._ready:
            return
        async with self._preparing:
            if not self._ready:
                async with self.database.schema_transaction() as session:
                    await session.execute(
                        f"CREATE TABLE IF NOT EXISTS {self.table} ("
                        f" id {self.database.serial_primary_key},"
                        " sender_id VARCHAR(255), data TEXT)"
                    )
                self._ready = True

    async def aclose(self) -> None:
        await self.database.aclose()


def create_event_broker(
    endpoint: EndpointConfig | None, root: Path = Path(".")
) -> EventBroker | None:
    """The broker of ``endpoints.yml: event_broker`` (none when absent). A relative SQLite
    ``db`` is taken from ``root`` (the project folder)."""
    if endpoint is None:
        return None
    kind = (endpoint.type or "pika").lower()
    if kind == "pika":
        return _pika_broker(endpoint)
    if kind == "sql":
        return SQLEventBroker(open_sql_database(endpoint, root, "events.db"))
    raise StoreConfigError(
        f"event broker type '{kind}' is not supported; use pika or sql", endpoint.at("type")
    )


def _pika_broker(endpoint: EndpointConfig) -> EventBroker:
    from tandem.stores.pika_broker import PikaEventBroker  # aio-pika loads only when used

    keys = endpoint.kwargs
    queues = keys.get("queues", keys.get("queue"))
    if queues is None:
        log.warning("no `queues` for the pika event broker; publishing to 'rasa_core_events'")
        queues = ["rasa_core_events"]
    elif isinstance(queues, str):
        queues = [queues]
    return PikaEventBroker(
        endpoint.url or str(keys.get("host") or "localhost"),
        port=number_setting(endpoint, "port", 5672),
        username=str(keys.get("username", "guest")),
        password=str(keys.get("password", "guest")),
        queues=[str(queue) for queue in queues],
        exchange_name=str(keys.get("exchange_name") or "rasa-exchange"),
        raise_on_failure=bool(keys.get("raise_on_failure", False)),
        keep_unpublished_messages=bool(keys.get("should_keep_unpublished_messages", True)),
        retry_delay=number_setting(endpoint, "retry_delay_in_seconds", 5.0),
        ssl_context=_ssl_context(endpoint),
    )


def _ssl_context(endpoint: EndpointConfig) -> ssl.SSLContext | None:
    """TLS when asked for (``ssl: true``) or when a client certificate is configured
    (keys ``ssl_certfile``/``ssl_keyfile``, or the reference's ``RABBITMQ_SSL_*``
    environment variables)."""
    keys = endpoint.kwargs
    env = os.environ
    certificate = keys.get("ssl_certfile") or env.get("RABBITMQ_SSL_CLIENT_CERTIFICATE")
    key = keys.get("ssl_keyfile") or env.get("RABBITMQ_SSL_CLIENT_KEY")
    if not keys.get("ssl") and not certificate:
        return None
    cafile = keys.get("ssl_ca_file") or endpoint.cafile or env.get("RABBITMQ_SSL_CA_FILE")
    context = ssl.create_default_context(cafile=cafile)
    if certificate:
        context.load_cert_chain(
            certificate,
            key,
            password=keys.get("ssl_password") or env.get("RABBITMQ_SSL_KEY_PASSWORD"),
        )
    return context
