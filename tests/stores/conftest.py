"""Fixtures for the store tests against the machine's real PostgreSQL, Redis and RabbitMQ.

Each test gets its own table, key prefix or queues (and removes them afterwards), so tests
never see each other's data. ``.ci/run`` starts the services; a test whose service is down
fails rather than skips. The URLs can be changed with environment variables.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import aio_pika
import asyncpg
import pytest
import redis.asyncio as redis

from .services import POSTGRES_URL, RABBITMQ_URL, REDIS_URL, unique


@pytest.fixture
async def pg_tables() -> AsyncIterator[Callable[[], str]]:
    """``pg_tables()`` is a fresh table name, dropped after the test."""
    names: list[str] = []

    def new() -> str:
        names.append(unique("events_"))
        return names[-1]

    yield new
    connection = await asyncpg.connect(POSTGRES_URL)
    try:
        for name in names:
            await connection.execute(f"DROP TABLE IF EXISTS {name}")
    finally:
        await connection.close()


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A fresh key prefix (letters and digits); its keys are deleted after the test."""
    prefix = unique("t")
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
async def rabbit_names() -> AsyncIterator[Callable[[str], str]]:
    """``rabbit_names(kind)`` is a fresh exchange or queue name, deleted after the test."""
    names: list[str] = []

    def new(kind: str) -> str:
        names.append(unique(f"tandem-test-{kind}-"))
        return names[-1]

    yield new
    connection = await aio_pika.connect(RABBITMQ_URL)
    try:
        for name in names:
            channel = await connection.channel()
            if "-queue-" in name:
                await channel.queue_delete(name)
            else:
                await channel.exchange_delete(name)
    finally:
        await connection.close()
