"""The RabbitMQ event broker (``event_broker: type: pika``).

Built on aio-pika: asyncio-native, with publisher confirms, and its robust connection
reconnects and declares the exchange and queues again after a broker restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import ssl
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

import aio_pika
from aio_pika.abc import AbstractExchange, AbstractRobustConnection

from tandem.stores.errors import StoreUnavailable
from tandem.stores.event_brokers import EventBroker

log = logging.getLogger(__name__)

# Raised by aio-pika/aiormq when RabbitMQ cannot be reached or refuses a message.
_AMQP_FAILURES = (
    aio_pika.exceptions.AMQPError,
    aio_pika.exceptions.ChannelInvalidStateError,
    OSError,  # refused, reset, timed out
)
_MAX_UNPUBLISHED = 100_000  # messages kept for later while RabbitMQ is down
_CLOSE_TIMEOUT = 5.0  # seconds for aio-pika's close callbacks


def _is_amqp(task: asyncio.Task[Any]) -> bool:
    """A task of aio-pika or aiormq (by where its coroutine is defined)."""
    code = getattr(task.get_coro(), "cr_code", None)
    return code is not None and ("aio_pika" in code.co_filename or "aiormq" in code.co_filename)


class PikaEventBroker(EventBroker):
    """Publishes to a fanout exchange (``exchange_name``) that every queue in ``queues`` is
    bound to. Messages are persistent JSON, and each publish waits for the broker's confirm,
    so a message counts as published only once RabbitMQ has taken it. While RabbitMQ is
    unreachable, messages are kept (``should_keep_unpublished_messages``) and sent, still in
    order, before the next ones; with ``raise_on_failure`` the publish also raises
    ``StoreUnavailable``. Connection attempts are at least ``retry_delay_in_seconds`` apart.
    """

    def __init__(
        self,
        host: str = "localhost",
        *,
        port: int = 5672,
        username: str = "guest",
        password: str = "guest",
        queues: Sequence[str] = ("rasa_core_events",),
        exchange_name: str = "rasa-exchange",
        raise_on_failure: bool = False,
        keep_unpublished_messages: bool = True,
        retry_delay: float = 5.0,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port
        self.queues = tuple(queues)
        self.exchange_name = exchange_name
        self.raise_on_failure = raise_on_failure
        self.keep_unpublished_messages = keep_unpublished_messages
        self._credentials = (username, password)
        self._retry_delay = retry_delay
        self._ssl_context = ssl_context
        self._timeout = timeout
        self._connection: AbstractRobustConnection | None = None
        self._exchange: AbstractExchange | None = None
        self._connecting = asyncio.Lock()
        self._next_attempt = 0.0
        self._unpublished: deque[bytes] = deque()
        self._flushing = asyncio.Lock()

    async def publish(self, messages: Sequence[dict[str, Any]]) -> None:
        bodies = [json.dumps(message).encode() for message in messages]
        sent = 0
        exchange: AbstractExchange | None = None
        try:
            exchange = await self._connected()
            if self._unpublished:
                await self._flush(exchange)
            for body in bodies:
                await self._send(exchange, body)
                sent += 1
        except (*_AMQP_FAILURES, StoreUnavailable) as error:
            self._keep(bodies[sent:])
            if exchange is not None and exchange is self._exchange:
                # A channel that failed is not used again: aio-pika's robust connection does
                # not always restore one that RabbitMQ closed, so the next publish connects
                # anew (and sends what was kept first).
                await self._disconnect()
            if self.raise_on_failure:
                if isinstance(error, StoreUnavailable):
                    raise
                raise StoreUnavailable(f"RabbitMQ: {error}") from error
            log.error("could not publish %d events to RabbitMQ: %s", len(bodies) - sent, error)

    async def aclose(self) -> None:
        """Send what was kept if RabbitMQ is back (one last attempt, connecting if need be),
        then disconnect."""
        if self._unpublished:
            self._next_attempt = 0.0
            try:
                await self._flush(await self._connected())
            except (*_AMQP_FAILURES, StoreUnavailable) as error:
                log.warning("RabbitMQ: %s", error)
        if self._unpublished:
            log.warning("%d events were never published to RabbitMQ", len(self._unpublished))
        await self._disconnect()

    async def _disconnect(self) -> None:
        """Close the connection, if any; the next publish connects anew."""
        if self._connection is None:
            return
        connection, self._connection, self._exchange = self._connection, None, None
        # aio-pika runs its close callbacks as tasks of their own: wait for them (and only
        # them), so that nothing of the broker is still running once this has returned.
        running = asyncio.all_tasks()
        with contextlib.suppress(*_AMQP_FAILURES, TimeoutError):  # a broken one may fail to
            await asyncio.wait_for(connection.close(), _CLOSE_TIMEOUT)
        spawned = [task for task in asyncio.all_tasks() - running if _is_amqp(task)]
        if spawned:
            await asyncio.wait(spawned, timeout=_CLOSE_TIMEOUT)

    async def _send(self, exchange: AbstractExchange, body: bytes) -> None:
        message = aio_pika.Message(
            body,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            app_id=os.environ.get("RASA_ENVIRONMENT"),
        )
        await exchange.publish(message, routing_key="", timeout=self._timeout)

    async def _flush(self, exchange: AbstractExchange) -> None:
        """Send the kept messages, oldest first; one flush at a time."""
        async with self._flushing:
            while self._unpublished:
                await self._send(exchange, self._unpublished[0])
                self._unpublished.popleft()

    def _keep(self, bodies: list[bytes]) -> None:
        if not self.keep_unpublished_messages or not bodies:
            return
        room = _MAX_UNPUBLISHED - len(self._unpublished)
        if room < len(bodies):
            log.warning("RabbitMQ has been down too long: dropping %d events", len(bodies) - room)
        self._unpublished.extend(bodies[: max(room, 0)])

    async def _connected(self) -> AbstractExchange:
        """The exchange, connecting (and declaring exchange and queues) on first use."""
        if self._exchange is not None:
            return self._exchange
        async with self._connecting:
            if self._exchange is not None:
                return self._exchange
            wait = self._next_attempt - time.monotonic()
            if wait > 0:
                raise StoreUnavailable(f"RabbitMQ is unreachable; next attempt in {wait:.1f}s")
            try:
                self._connection, self._exchange = await self._connect()
            except _AMQP_FAILURES:
                self._next_attempt = time.monotonic() + self._retry_delay
                raise
            return self._exchange

    async def _connect(self) -> tuple[AbstractRobustConnection, AbstractExchange]:
        username, password = self._credentials
        options: dict[str, Any] = {"timeout": self._timeout}
        if self._ssl_context is not None:
            options.update(ssl=True, ssl_context=self._ssl_context)
        if "://" in self.host:
            connection = await aio_pika.connect_robust(self.host, **options)
        else:
            connection = await aio_pika.connect_robust(
                host=self.host, port=self.port, login=username, password=password, **options
            )
        try:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.declare_exchange(
                self.exchange_name, aio_pika.ExchangeType.FANOUT
            )
            for name in self.queues:
                queue = await channel.declare_queue(name, durable=True)
                await queue.bind(exchange, routing_key="")
        except BaseException:
            await connection.close()
            raise
        return connection, exchange
