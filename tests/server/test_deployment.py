"""The production deployment end to end: ``tandem run`` as a process with the stores of its
``endpoints.yml``, many conversations at once from several clients through the REST channel,
then, after a graceful stop (SIGTERM), the stored trackers and the published events.

Scenarios: PostgreSQL tracker store + Redis lock store + RabbitMQ broker with one worker and
with two; SQLite tracker store + in-memory lock store + SQL broker with one worker. Every
request opens a new connection, so with two workers a conversation's turns land on either.
Checked afterwards:

* every conversation's stored tracker holds exactly the user and bot texts of its requests
  and their replies, in order (nothing missing, nothing twice); the scripted conversations go
  through both systems (an NLU rule, then a CALM flow with its slot answers);
* conversations that get all their messages at the same moment from different clients hold
  each message once, followed by exactly the bot messages its request got back: turns of one
  conversation never interleave, whichever worker runs them;
* every stored event reached the broker, in order per conversation, unchanged (the whole
  event JSON, timestamps included), and nothing else did;
* the server logged no error and exited with 0.

Each test uses its own PostgreSQL database, Redis key prefix, RabbitMQ exchange and queue
(removed afterwards); the services are the ones ``.ci/run`` starts, and a test whose service
is down fails rather than skips.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aio_pika
import aiohttp
import asyncpg
import pytest
import redis.asyncio as redis
from server_testkit import free_port, request, stop_gracefully

from tandem.model.loading import open_processor
from tandem.project.endpoints import load_endpoints
from tandem.runtime.message import UserMessage
from tandem.stores.factory import create_tracker_store

POSTGRES_URL = os.environ.get(
    "TANDEM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TANDEM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RABBITMQ_URL = os.environ.get("TANDEM_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")

CONVERSATIONS = 20
# A greeting (NLU rule), then a pizza order (CALM flow) with its slot answers; each message
# with the start of the first reply it must get.
SCRIPT = [
    ("hello", "Hello! I'm the Tandem pizzeria assistant."),
    ("I would like to order a pizza", "Which pizza would you like"),
    ("a large margherita", "One large margherita, is that right?"),
    ("yes", "Great, your large margherita is in the oven."),
]
BURSTS = 4  # conversations whose messages are all sent at the same moment
BURST_TEXTS = ["hello", "are you a bot?", "when are you open?", "goodbye"]

Turn = tuple[str, list[str]]  # a user message and the bot texts its request got back


@dataclass
class Services:
    """This test's names in the shared services."""

    database: str
    redis_prefix: str
    exchange: str
    queue: str


@pytest.fixture
async def services() -> AsyncIterator[Services]:
    tag = uuid.uuid4().hex[:12]
    names = Services(
        database=f"tandem_deploy_{tag}",
        redis_prefix=f"tandemdeploy{tag}",
        exchange=f"tandem-deploy-exchange-{tag}",
        queue=f"tandem-deploy-queue-{tag}",
    )
    yield names
    postgres = await asyncpg.connect(POSTGRES_URL)
    try:
        await postgres.execute(f'DROP DATABASE IF EXISTS "{names.database}" WITH (FORCE)')
    finally:
        await postgres.close()
    redis_url = urlsplit(REDIS_URL)
    for db in (0, 1):  # the lock store's default database is 1, the tracker store's 0
        client = redis.Redis(
            host=redis_url.hostname or "localhost", port=redis_url.port or 6379, db=db
        )
        try:
            keys = [key async for key in client.scan_iter(match=f"{names.redis_prefix}:*")]
            if keys:
                await client.delete(*keys)
        finally:
            await client.aclose()
    connection = await aio_pika.connect(RABBITMQ_URL)
    try:
        channel = await connection.channel()
        await channel.queue_delete(names.queue)
        await channel.exchange_delete(names.exchange)
    finally:
        await connection.close()


@pytest.fixture
def project(starter_project: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(starter_project, tmp_path / "bot"))


def production_endpoints(names: Services, tracker_store: str) -> str:
    postgres = urlsplit(POSTGRES_URL)
    redis_url = urlsplit(REDIS_URL)
    redis_keys = f"""
  url: {redis_url.hostname}
  port: {redis_url.port or 6379}
  key_prefix: {names.redis_prefix}"""
    if tracker_store == "postgresql":
        tracker_keys = f"""
  type: sql
  dialect: postgresql
  url: {postgres._replace(path="/" + names.database).geturl()}
  login_db: {postgres.path.lstrip("/") or "postgres"}"""
    else:
        tracker_keys = f"\n  type: redis{redis_keys}\n  db: 0"
    return f"""
tracker_store:{tracker_keys}
lock_store:
  type: redis{redis_keys}
event_broker:
  type: pika
  url: {RABBITMQ_URL}
  exchange_name: {names.exchange}
  queues:
    - {names.queue}
  raise_on_failure: true
"""


SQLITE_ENDPOINTS = """
tracker_store:
  type: sql
  dialect: sqlite
  db: conversations.db
event_broker:
  type: sql
  dialect: sqlite
  db: events.db
"""


@pytest.mark.parametrize(
    ("tracker_store", "workers"), [("postgresql", 1), ("postgresql", 2), ("redis", 2)]
)
async def test_shared_stores_with_the_redis_lock_and_rabbitmq(
    project: Path, services: Services, tracker_store: str, workers: int
) -> None:
    (project / "endpoints.yml").write_text(production_endpoints(services, tracker_store))
    conversations = await run_conversations(project, workers)
    stored = await stored_events(project)
    check_trackers(conversations, stored)
    assert published(await rabbitmq_messages(services.queue)) == stored


async def test_sqlite_with_the_in_memory_lock_and_the_sql_broker(project: Path) -> None:
    (project / "endpoints.yml").write_text(SQLITE_ENDPOINTS)
    conversations = await run_conversations(project, 1)
    stored = await stored_events(project)
    check_trackers(conversations, stored)
    assert published(sql_broker_messages(project / "events.db")) == stored


async def test_opening_and_closing_the_stores_leaves_nothing_open(
    project: Path, services: Services
) -> None:
    """Load the model with PostgreSQL, the Redis lock and RabbitMQ, talk, close; again and
    again: open files (every socket is one), asyncio tasks and PostgreSQL sessions of the
    database are back where they were after each round."""
    endpoints = project / "endpoints.yml"
    endpoints.write_text(production_endpoints(services, "postgresql"))
    model = project / "models" / "m.tar.gz"

    async def round_trip() -> None:
        processor = await open_processor(model, endpoints)
        for index in range(10):
            for text, _ in SCRIPT[:2]:
                await processor.handle_message(UserMessage(text, sender_id=f"resources-{index}"))
        await processor.aclose()

    async def sessions() -> int:
        postgres = await asyncpg.connect(POSTGRES_URL)
        try:
            query = "SELECT count(*) FROM pg_stat_activity WHERE datname = $1"
            return int(await postgres.fetchval(query, services.database))
        finally:
            await postgres.close()

    await round_trip()  # creates the database and its table, warms the caches
    before = (len(os.listdir("/proc/self/fd")), len(asyncio.all_tasks()), await sessions())
    for _ in range(3):
        await round_trip()
        after = (len(os.listdir("/proc/self/fd")), len(asyncio.all_tasks()), await sessions())
        assert after == before, "open files, tasks, PostgreSQL sessions"


# -- faults under load ---------------------------------------------------------------------
#
# Two workers, PostgreSQL, the Redis lock store and RabbitMQ serve 100 conversations at once
# while a service misbehaves. Every request either gets 200 with its replies or a failure
# answer (503); a client retries a failed request after a pause, as a real one would.
# Afterwards the stored trackers are counted: *lost* = a message answered 200 that is not
# stored, *duplicated* = a message stored twice, *reordered* = messages stored in another
# order than sent. All must be zero; the failed answers are printed.

FAULT_CONVERSATIONS = 100
FAULT_MESSAGES = ["hello", "are you a bot?", "when are you open?", "goodbye"]
RETRIES = 20  # 0.2 s apart: past the 1.5 s that faults go on for


async def send_retrying(session: aiohttp.ClientSession, url: str, sender: str, text: str) -> int:
    """Send until answered 200 (at most RETRIES times); the number of failed answers."""
    for failures in range(RETRIES):
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with session.post(url, json={"sender": sender, "message": text}) as response:
                if response.status == 200:
                    await response.read()
                    return failures
        await asyncio.sleep(0.2)
    raise AssertionError(f"{sender}: {text!r} failed {RETRIES} times")


async def retrying_conversation(url: str, sender: str) -> int:
    async with client() as session:
        return sum([await send_retrying(session, url, sender, text) for text in FAULT_MESSAGES])


async def kill_redis_clients(services: Services, port: int) -> int:
    """CLIENT KILL every normal Redis connection (the lock store's)."""
    address = urlsplit(REDIS_URL)
    admin = redis.Redis(host=address.hostname or "localhost", port=address.port or 6379)
    try:
        return int(await admin.execute_command("CLIENT KILL TYPE normal SKIPME yes"))
    finally:
        await admin.aclose()


async def terminate_postgres_sessions(services: Services, port: int) -> int:
    """pg_terminate_backend for every session of the tracker store's database."""
    postgres = await asyncpg.connect(POSTGRES_URL)
    try:
        query = (
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()"
        )
        return int(await postgres.fetchval(query, services.database))
    finally:
        await postgres.close()


async def stop_a_worker(services: Services, port: int) -> int:
    """SIGTERM to the worker that answers a status request: it finishes its turns and exits,
    the other one serves on."""
    _, status = await asyncio.to_thread(request, port, "GET", "/status")
    os.kill(status["worker_pid"], signal.SIGTERM)
    return 1


# Each fault, and how many times it is injected (0.3 s apart).
FAULTS = {
    "redis CLIENT KILL": (kill_redis_clients, 5),
    "pg_terminate_backend": (terminate_postgres_sessions, 5),
    "SIGTERM to a worker": (stop_a_worker, 1),
}


async def repeatedly(fault: Any, services: Services, port: int, times: int) -> int:
    done = 0
    for _ in range(times):
        await asyncio.sleep(0.3)
        done += await fault(services, port)
    return done


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_faults_lose_duplicate_and_reorder_nothing(
    project: Path, services: Services, fault: str
) -> None:
    (project / "endpoints.yml").write_text(production_endpoints(services, "postgresql"))
    run = uuid.uuid4().hex[:8]
    senders = [f"{run}-fault-{i}" for i in range(FAULT_CONVERSATIONS)]
    with serving(project, 2, faults=True) as port:
        url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"
        inject, times = FAULTS[fault]
        injector = asyncio.create_task(repeatedly(inject, services, port, times))
        failures = await asyncio.gather(*(retrying_conversation(url, sender) for sender in senders))
        injected = await injector
    stored = await stored_events(project)
    said = {
        sender: [e["text"] for e in stored.get(sender, []) if e["event"] == "user"]
        for sender in senders
    }
    lost = sum(len(set(FAULT_MESSAGES) - set(texts)) for texts in said.values())
    duplicated = sum(len(texts) - len(set(texts)) for texts in said.values())
    reordered = sum(
        texts != FAULT_MESSAGES for texts in said.values() if len(texts) == len(FAULT_MESSAGES)
    )
    print(
        f"{fault}: {injected} cut or stopped, {sum(failures)} failed answers (retried), "
        f"lost {lost}, duplicated {duplicated}, reordered {reordered}"
    )
    assert injected > 0
    assert (lost, duplicated, reordered) == (0, 0, 0)


# -- talking to the server -------------------------------------------------------------------


async def run_conversations(project: Path, workers: int) -> dict[str, list[Turn]]:
    """All conversations at once against a server started for them (stopped afterwards);
    returns each conversation's turns as its clients saw them."""
    run = uuid.uuid4().hex[:8]
    scripted = [f"{run}-scripted-{i}" for i in range(CONVERSATIONS)]
    bursts = [f"{run}-burst-{i}" for i in range(BURSTS)]
    with serving(project, workers) as port:
        url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"
        turns = await asyncio.gather(
            *(scripted_conversation(url, sender) for sender in scripted),
            *(burst_conversation(url, sender) for sender in bursts),
        )
    conversations = dict(zip([*scripted, *bursts], turns, strict=True))
    for sender in scripted:
        for (_, replies), (_, expected) in zip(conversations[sender], SCRIPT, strict=True):
            assert replies and replies[0].startswith(expected), (sender, replies)
    return conversations


async def scripted_conversation(url: str, sender: str) -> list[Turn]:
    """The script, each message after the previous reply, from one client."""
    async with client() as session:
        return [(text, await say(session, url, sender, text)) for text, _ in SCRIPT]


async def burst_conversation(url: str, sender: str) -> list[Turn]:
    """Every text of the burst at once, each from a client of its own."""

    async def one(text: str) -> Turn:
        async with client() as session:
            return text, await say(session, url, sender, text)

    return list(await asyncio.gather(*(one(text) for text in BURST_TEXTS)))


def client() -> aiohttp.ClientSession:
    # A new connection per request: with several workers, any of them may take it.
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(force_close=True),
        timeout=aiohttp.ClientTimeout(total=30),
    )


async def say(session: aiohttp.ClientSession, url: str, sender: str, text: str) -> list[str]:
    async with session.post(url, json={"sender": sender, "message": text}) as response:
        assert response.status == 200, await response.text()
        return [message["text"] for message in await response.json()]


@contextlib.contextmanager
def serving(project: Path, workers: int, *, faults: bool = False) -> Iterator[int]:
    """``tandem run --workers N`` on a free port, ready once every worker answers; stopped
    with SIGTERM at the end of the block, after which it must have exited cleanly (and, unless
    the test injected ``faults``, logged no error)."""
    port = free_port()
    log_path = project / "server.log"
    command = [sys.executable, "-m", "tandem.cli.main", "run", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--enable-api", "--workers", str(workers)]
    with log_path.open("w") as log:
        server = subprocess.Popen(
            command,
            cwd=project,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        pids: set[int] = set()
        deadline = time.monotonic() + 60
        while len(pids) < workers:  # each status request is a new connection
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"tandem run did not start:\n{log_path.read_text()}")
            with contextlib.suppress(OSError):
                pids.add(request(port, "GET", "/status")[1]["worker_pid"])
                continue
            time.sleep(0.05)
        yield port
    finally:
        code = stop_gracefully(server)
    output = log_path.read_text()
    assert code == 0, output
    assert output.count("up and running") == workers, output
    if not faults:
        assert "ERROR" not in output and "Traceback" not in output, output


# -- what was stored and published -----------------------------------------------------------

Events = dict[str, list[dict[str, Any]]]  # sender -> its events' JSON, in order


async def stored_events(project: Path) -> Events:
    """Every conversation in the tracker store of the project's ``endpoints.yml``, read with
    the store itself after the server stopped."""
    endpoint = load_endpoints(project / "endpoints.yml").tracker_store
    store = create_tracker_store(endpoint, {}, project)
    try:
        conversations: Events = {}
        for sender in await store.keys():
            tracker = await store.retrieve_full(sender)
            assert tracker is not None
            conversations[sender] = [event.as_dict() for event in tracker.events]
        return conversations
    finally:
        await store.close()


def check_trackers(conversations: dict[str, list[Turn]], stored: Events) -> None:
    assert sorted(stored) == sorted(conversations)
    for sender, turns in conversations.items():
        said = said_in(stored[sender])
        if "-burst-" in sender:  # the turns may run in any order, but one after another
            by_text = dict(turns)
            assert sorted(text for text, _ in said) == sorted(BURST_TEXTS), (sender, said)
            assert said == [(text, by_text[text]) for text, _ in said], sender
        else:
            assert said == turns, sender


def said_in(events: list[dict[str, Any]]) -> list[Turn]:
    """Each user message of a tracker with the bot texts that follow it."""
    turns: list[Turn] = []
    for event in events:
        if event["event"] == "user":
            turns.append((event["text"], []))
        elif event["event"] == "bot":
            assert turns, "a bot message before any user message"
            turns[-1][1].append(event["text"])
    return turns


def published(messages: list[dict[str, Any]]) -> Events:
    """Broker messages per conversation, in the order they were published, as events."""
    conversations: Events = {}
    for message in messages:
        event = dict(message)
        conversations.setdefault(event.pop("sender_id"), []).append(event)
    return conversations


async def rabbitmq_messages(queue_name: str) -> list[dict[str, Any]]:
    """Everything in the queue (the server has stopped: every confirmed message is there)."""
    connection = await aio_pika.connect(RABBITMQ_URL)
    try:
        channel = await connection.channel()
        queue = await channel.get_queue(queue_name)
        messages = []
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            messages.append(json.loads(message.body))
        return messages
    finally:
        await connection.close()


def sql_broker_messages(database: Path) -> list[dict[str, Any]]:
    with contextlib.closing(sqlite3.connect(database)) as connection:
        rows = connection.execute("SELECT sender_id, data FROM events ORDER BY id").fetchall()
    messages = [json.loads(data) for _, data in rows]
    assert [sender for sender, _ in rows] == [message["sender_id"] for message in messages]
    return messages
