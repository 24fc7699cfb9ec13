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
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aio_pika
import aiohttp
import asyncpg
import pytest
import redis.asyncio as redis
from aiohttp import web
from server_testkit import request, stop_gracefully

from fake_llm_server import FakeLLMServer, chat_reply
from local_servers import ActionServer, free_port
from tandem.cli.main import main
from tandem.model.loading import open_processor
from tandem.project.endpoints import load_endpoints
from tandem.runtime.message import UserMessage
from tandem.stores.errors import StoreUnavailable
from tandem.stores.factory import create_tracker_store
from tandem.stores.postgres_database import PostgresDatabase

POSTGRES_URL = os.environ.get(
    "TANDEM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TANDEM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
HERE = Path(__file__).parent
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


def production_endpoints(
    names: Services, tracker_store: str, *, raise_on_failure: bool = True
) -> str:
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
  raise_on_failure: {str(raise_on_failure).lower()}
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


async def test_a_database_that_refuses_connections_is_unavailable(services: Services) -> None:
    """ALLOW_CONNECTIONS false answers a new session with SQLSTATE 55000: that is a store
    failure (503, retry later), for the pool's first connection and for any later one, and
    the store serves again once the database takes connections."""
    url = urlsplit(POSTGRES_URL)._replace(path="/" + services.database).geturl()
    async with postgres_admin() as admin:
        await admin.execute(f'CREATE DATABASE "{services.database}"')
        used, fresh = PostgresDatabase(url), PostgresDatabase(url)
        assert await used.fetch("SELECT 1") == [(1,)]
        await admin.execute(f'ALTER DATABASE "{services.database}" ALLOW_CONNECTIONS false')
        try:
            await terminate_sessions(admin, services.database)
            for database in (used, used, fresh):
                with pytest.raises(StoreUnavailable):
                    await database.fetch("SELECT 1")
        finally:
            await admin.execute(f'ALTER DATABASE "{services.database}" ALLOW_CONNECTIONS true')
    for database in (used, fresh):
        assert await database.fetch("SELECT 1") == [(1,)]
        await database.aclose()


# -- faults under load ---------------------------------------------------------------------
#
# Two workers, PostgreSQL, the Redis lock store and RabbitMQ, a rasa-sdk action server and an
# LLM that routes each message (LLMBasedRouter) serve 100 conversations at once while one of
# them misbehaves. The conversations go round their messages until a round ends at least
# TAIL seconds after the fault is over (so that recovery is seen). Every request gets 200
# with its replies or a failure answer (503, or a dropped connection); a client retries a
# failed request after a pause, as a real one would.
# Afterwards the stored trackers and the broker's queue are counted: *lost* = a message
# answered 200 that is not stored, *duplicated* = stored more often than answered 200,
# *reordered* = stored in another order than sent, *half-written* = a user message stored
# without the end of its turn (what a 503 must not leave), *unpublished* = a stored event
# the broker's queue never got; also counted: events the queue got twice and conversations
# whose events it got in another order. All must be zero, but for a broker without
# raise_on_failure, which publishes at least once and in order per worker only: there the
# last two are counted, not required to be zero. *Recovery* is how long after a fault ended
# clients still got a failure or a wrong reply.

FAULT_CONVERSATIONS = 100
# Each message with the start of the reply it gets: also while the router's LLM fails, since
# the NLU system then answers (spec 2.4; it has a rule for help too). While the command
# generator's LLM fails, the CALM message gets the internal-error answer instead, and while
# the action server is away, the opening hours are not told.
FAULT_MESSAGES = {
    "hello": "Hello! I'm the Tandem pizzeria assistant.",
    "are you a bot?": "I'm a bot",
    "what can you do?": "I can take a pizza order",
    "when are you open?": "We're open every day",
    "goodbye": "Bye",
}
# The right router answer of each message ("B", NLU non-sticky, for the others) and the
# right command generator answer to the message routed to CALM.
ROUTES = {"what can you do?": "A", "when are you open?": "C"}
COMMANDS = {"what can you do?": "StartFlow(help)"}
RETRIES = 25  # 0.2 s apart: past the longest fault (the action server's restart)
TAIL = 0.5  # seconds of load after the fault at least
LLM_TIMEOUT = 0.5  # the router's and the generator's; the LLM that hangs answers 4 times later

LLM_ROUTER = """  - name: LLMBasedRouter
    calm_entry:
      sticky: orders pizzas, checks on orders and says what the assistant can do
    nlu_entry:
      sticky: tells the opening hours
      non_sticky: greets, says goodbye and answers whether this is a bot
    llm:
      model_group: router
  - name: SingleStepLLMCommandGenerator
    llm:
      model_group: commands
"""
# A project that routes with an LLM hands a conversation back to the router after an error
# or a message CALM cannot handle, as it does after a completed flow; without it the
# conversation would stay with CALM (the generators set the routing slot, spec 2.5).
ENDING_PATTERNS = """version: "3.1"
flows:
  pattern_internal_error:
    description: Apologise for an error and hand the conversation back to the router.
    steps:
      - action: utter_internal_error_rasa
      - action: action_reset_routing
  pattern_cannot_handle:
    description: Ask to rephrase and hand the conversation back to the router.
    steps:
      - action: utter_ask_rephrase
      - action: action_reset_routing
"""
HELP_RULE = """
  - rule: say what the assistant can do
    steps:
      - intent: help
      - action: utter_help
"""


@pytest.fixture(scope="module")
def fault_project_model(starter_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The starter assistant with an LLM router, an LLM command generator (before the
    NLUCommandAdapter, so that it is the one that answers) and the opening hours told by a
    custom action, trained once for the fault tests."""
    folder = Path(shutil.copytree(starter_project, tmp_path_factory.mktemp("faults") / "bot"))
    config = folder / "config.yml"
    text = config.read_text()
    start = text.index("  - name: IntentBasedRouter")
    end = text.index("  - name: NLUCommandAdapter")
    config.write_text(text[:start] + LLM_ROUTER + text[end:])
    rules = folder / "data" / "rules.yml"
    told = rules.read_text().replace("utter_opening_hours", "action_tell_opening_hours")
    assert told != rules.read_text()
    rules.write_text(told + HELP_RULE)
    (folder / "data" / "ending_patterns.yml").write_text(ENDING_PATTERNS)
    (folder / "domain" / "actions.yml").write_text(
        'version: "3.1"\nactions:\n  - action_tell_opening_hours\n'
    )
    (folder / "endpoints.yml").write_text(fault_endpoints("", free_port()))
    with contextlib.chdir(folder):
        assert main(["train", "--fixed-model-name", "m"]) == 0
    return folder


@pytest.fixture(scope="module")
def action_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ActionServer]:
    server = ActionServer(HERE, "deployment_actions", tmp_path_factory.mktemp("sdk") / "log")
    yield server
    server.stop()


def fault_endpoints(action_url: str, unused_port: int) -> str:
    actions = f"action_endpoint:\n  url: {action_url}\n" if action_url else ""
    groups = "".join(
        f"""  - id: {group}
    models:
      - provider: openai
        model: {group}-model
        api_base: http://127.0.0.1:{unused_port}/v1
        api_key: not-checked
        timeout: {LLM_TIMEOUT}
        max_retries: 0
"""
        for group in ("router", "commands")
    )
    return f"{actions}\nmodel_groups:\n{groups}"


def right_answer(model: str, prompt: str) -> str:
    """The right answer of the router's or the command generator's LLM to a prompt: both
    prompts hold the user message in triple quotes."""
    message = prompt.split('"""')[1]
    if model == "router-model":
        return ROUTES.get(message, "B")
    return COMMANDS[message]


GARBAGE = [  # what a broken LLM server or proxy answers, in turn
    lambda: web.json_response(chat_reply("Assistant B would be best here.")),
    lambda: web.Response(text="<html>502 Bad Gateway</html>", content_type="text/html"),
    lambda: web.json_response({"choices": []}),
    lambda: web.json_response({"id": "chatcmpl-1", "object": "error"}),
    lambda: web.Response(body=b'{"choices": [{"mess', content_type="application/json"),
    lambda: web.Response(text="upstream timeout", status=504),
]


@dataclass
class DeploymentLLM(FakeLLMServer):
    """The LLM of the router and of the command generator: the right answer to every prompt,
    but for the model that is ``failing``: while it fails with "hang" an answer after 4 times
    the timeout, with "garbage" one of ``GARBAGE``."""

    failing: tuple[str, str] | None = None  # the model, and how it fails
    failed: int = 0  # requests answered while failing

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        answer = right_answer(body["model"], body["messages"][-1]["content"])
        if self.failing is None or self.failing[0] != body["model"]:
            return web.json_response(chat_reply(answer))
        self.failed += 1
        if self.failing[1] == "hang":
            await asyncio.sleep(LLM_TIMEOUT * 4)  # cancelled when the client gives up
            return web.json_response(chat_reply(answer))
        return GARBAGE[self.failed % len(GARBAGE)]()


@dataclass
class Deployment:
    """What a fault acts on."""

    services: Services
    port: int
    llm: DeploymentLLM
    actions: ActionServer


# A fault is injected by a coroutine that returns once the fault is over, with how many
# connections it cut, sessions it ended, requests it spoiled, processes it stopped.
Inject = Callable[[Deployment], Awaitable[int]]


@dataclass(frozen=True)
class Fault:
    inject: Inject
    times: int  # injected this often, 0.3 s apart
    answered: bool = False  # a fallback is due: every request must get 200, none a failure
    # The broker's raise_on_failure; without it, events RabbitMQ did not take are kept and
    # sent later, in order per worker, so across the two workers the order may change.
    broker_raises: bool = True


async def kill_redis_clients(deployment: Deployment) -> int:
    """CLIENT KILL every normal Redis connection (the lock store's)."""
    async with redis_admin() as admin:
        return int(await admin.execute_command("CLIENT KILL TYPE normal SKIPME yes"))


async def pause_redis(deployment: Deployment) -> int:
    """CLIENT PAUSE ALL: Redis answers nobody for 0.7 s, then carries on by itself."""
    async with redis_admin() as admin:
        await admin.execute_command("CLIENT PAUSE 700 ALL")
    await asyncio.sleep(0.7)
    return 1


async def terminate_postgres_sessions(deployment: Deployment) -> int:
    """pg_terminate_backend for every session of the tracker store's database."""
    async with postgres_admin() as admin:
        return await terminate_sessions(admin, deployment.services.database)


async def refuse_postgres(deployment: Deployment) -> int:
    """The tracker store's database takes no connections for 1 s (ALLOW_CONNECTIONS false)
    and its sessions are ended; then it takes them again, whatever happened meanwhile."""
    database = deployment.services.database
    assert database.startswith("tandem_deploy_")  # never a database other tests share
    async with postgres_admin() as admin:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        try:
            ended = await terminate_sessions(admin, database)
            await asyncio.sleep(1.0)
        finally:
            await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
    return ended


async def close_rabbitmq_connections(deployment: Deployment) -> int:
    """RabbitMQ closes every client connection (the workers' publishers among them)."""
    closing = ["rabbitmqctl", "close_all_connections", "fault test"]
    done = await asyncio.to_thread(subprocess.run, closing, capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return 1


async def stop_a_worker(deployment: Deployment) -> int:
    """SIGTERM to the worker that answers a status request: it finishes its turns and exits,
    the other one serves on."""
    _, status = await asyncio.to_thread(request, deployment.port, "GET", "/status")
    os.kill(status["worker_pid"], signal.SIGTERM)
    return 1


async def restart_action_server(deployment: Deployment) -> int:
    """SIGKILL the action server, then start it again on its port (back once it is healthy)."""
    deployment.actions.kill()
    await asyncio.sleep(0.2)
    await asyncio.to_thread(deployment.actions.start)
    return 1


def llm_failing(model: str, kind: str) -> Inject:
    """The router's or the command generator's LLM hangs or answers garbage for 1.5 s."""

    async def inject(deployment: Deployment) -> int:
        before = deployment.llm.failed
        deployment.llm.failing = (model, kind)
        try:
            await asyncio.sleep(1.5)
        finally:
            deployment.llm.failing = None
        return deployment.llm.failed - before

    return inject


FAULTS = {
    "redis CLIENT KILL": Fault(kill_redis_clients, 5),
    "redis CLIENT PAUSE": Fault(pause_redis, 2),
    "pg_terminate_backend": Fault(terminate_postgres_sessions, 5),
    "postgres ALLOW_CONNECTIONS false": Fault(refuse_postgres, 2),
    "RabbitMQ closes its connections": Fault(close_rabbitmq_connections, 2, broker_raises=False),
    "SIGTERM to a worker": Fault(stop_a_worker, 1),
    "action server killed": Fault(restart_action_server, 2, answered=True),
    "router LLM hangs": Fault(llm_failing("router-model", "hang"), 1, answered=True),
    "router LLM answers garbage": Fault(llm_failing("router-model", "garbage"), 1, answered=True),
    "generator LLM hangs": Fault(llm_failing("commands-model", "hang"), 1, answered=True),
    "generator LLM answers garbage": Fault(
        llm_failing("commands-model", "garbage"), 1, answered=True
    ),
}


@contextlib.asynccontextmanager
async def redis_admin() -> AsyncIterator[redis.Redis]:
    address = urlsplit(REDIS_URL)
    admin = redis.Redis(host=address.hostname or "localhost", port=address.port or 6379)
    try:
        yield admin
    finally:
        await admin.aclose()


@contextlib.asynccontextmanager
async def postgres_admin() -> AsyncIterator[asyncpg.Connection]:
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        yield admin
    finally:
        await admin.close()


async def terminate_sessions(admin: asyncpg.Connection, database: str) -> int:
    query = (
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = $1 AND pid <> pg_backend_pid()"
    )
    return int(await admin.fetchval(query, database))


Window = tuple[float, float]  # when a fault began and ended (monotonic seconds)


async def repeatedly(fault: Fault, deployment: Deployment) -> tuple[int, list[Window]]:
    done, windows = 0, []
    for _ in range(fault.times):
        await asyncio.sleep(0.3)
        began = time.monotonic()
        done += await fault.inject(deployment)
        windows.append((began, time.monotonic()))
    return done, windows


@dataclass
class Attempt:
    """One request as its client saw it."""

    text: str
    ended: float
    seconds: float
    status: int | None  # None: the connection failed or timed out
    replies: list[str]

    @property
    def started(self) -> float:
        return self.ended - self.seconds

    @property
    def right(self) -> bool:
        return (
            self.status == 200
            and bool(self.replies)
            and (self.replies[0].startswith(FAULT_MESSAGES[self.text]))
        )


async def send_retrying(
    session: aiohttp.ClientSession, url: str, sender: str, text: str, attempts: list[Attempt]
) -> None:
    """Send until answered 200 (at most RETRIES times), recording every attempt."""
    for _ in range(RETRIES):
        started = time.monotonic()
        status, replies = None, []
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with session.post(url, json={"sender": sender, "message": text}) as response:
                status = response.status
                body = await response.read()
                if status == 200:
                    replies = [message.get("text", "") for message in json.loads(body)]
        ended = time.monotonic()
        attempts.append(Attempt(text, ended, ended - started, status, replies))
        if status == 200:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{sender}: {text!r} failed {RETRIES} times")


async def conversation_until(
    url: str, sender: str, over: list[float], attempts: list[Attempt]
) -> list[str]:
    """Rounds of the messages until one ends TAIL seconds after the fault was ``over`` (its
    end time, once there is one); the messages answered 200, in order."""
    answered: list[str] = []
    async with client() as session:
        while True:
            for text in FAULT_MESSAGES:
                await send_retrying(session, url, sender, text, attempts)
                answered.append(text)
            if over and time.monotonic() - over[0] >= TAIL:
                return answered


@dataclass
class Counts:
    lost: int = 0
    duplicated: int = 0
    reordered: int = 0
    half_written: int = 0
    unpublished: int = 0  # stored events that never reached the broker
    published_twice: int = 0  # events the broker got more often than they were stored
    published_out_of_order: int = 0  # conversations: the stored events, in another order


def count_kept(answered: dict[str, list[str]], stored: Events, published_events: Events) -> Counts:
    counts = Counts()
    for sender, sent in answered.items():
        events = stored.get(sender, [])
        kept = [event["text"] for event in events if event["event"] == "user"]
        counts.lost += sum((Counter(sent) - Counter(kept)).values())
        counts.duplicated += sum((Counter(kept) - Counter(sent)).values())
        counts.reordered += Counter(kept) == Counter(sent) and kept != sent
        counts.half_written += unfinished_turns(events)
        sent_out = published_events.get(sender, [])
        if sent_out != events:
            published_ = Counter(map(_json, sent_out))
            kept_ = Counter(map(_json, events))
            counts.unpublished += sum((kept_ - published_).values())
            counts.published_twice += sum((published_ - kept_).values())
            counts.published_out_of_order += published_ == kept_
    return counts


def _json(event: dict[str, Any]) -> str:
    return json.dumps(event, sort_keys=True)


def unfinished_turns(events: list[dict[str, Any]]) -> int:
    """User messages not followed by the ``action_listen`` that ends their turn."""
    unfinished, open_turn = 0, False
    for event in events:
        if event["event"] == "user":
            unfinished += open_turn
            open_turn = True
        elif event["event"] == "action" and event["name"] == "action_listen":
            open_turn = False
    return unfinished + open_turn


def recovery(windows: list[Window], attempts: list[Attempt]) -> float:
    """The longest time from a fault's end to the last failed or wrong answer clients got
    before the next fault began."""
    worst = 0.0
    for index, (_, end) in enumerate(windows):
        until = windows[index + 1][0] if index + 1 < len(windows) else float("inf")
        late = [a.ended - end for a in attempts if not a.right and end <= a.ended < until]
        worst = max([worst, *late])
    return worst


def wrong_after_faults(windows: list[Window], attempts: list[Attempt]) -> int:
    """Requests sent after a fault was over (before the next one) that got no right answer:
    the recovery of a fault with a fallback is due to requests in flight only."""
    gaps = [
        (end, windows[index + 1][0] if index + 1 < len(windows) else float("inf"))
        for index, (_, end) in enumerate(windows)
    ]
    return sum(
        not attempt.right and any(end < attempt.started < until for end, until in gaps)
        for attempt in attempts
    )


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_faults_lose_duplicate_and_reorder_nothing(
    fault_project_model: Path,
    tmp_path: Path,
    action_server: ActionServer,
    services: Services,
    unused_port: int,
    no_ambient_llm_settings: None,
    fault: str,
) -> None:
    project = Path(shutil.copytree(fault_project_model, tmp_path / "bot"))
    action_server.ensure_running()
    endpoints = production_endpoints(
        services, "postgresql", raise_on_failure=FAULTS[fault].broker_raises
    )
    endpoints += fault_endpoints(action_server.url, unused_port)
    (project / "endpoints.yml").write_text(endpoints)
    llm = DeploymentLLM(unused_port)
    await llm.start()
    run = uuid.uuid4().hex[:8]
    senders = [f"{run}-fault-{i}" for i in range(FAULT_CONVERSATIONS)]
    attempts: list[Attempt] = []
    over: list[float] = []  # when the fault was over
    try:
        with serving(project, 2, faults=True) as port:
            url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"
            deployment = Deployment(services, port, llm, action_server)

            async def injector() -> tuple[int, list[Window]]:
                try:
                    # Under load first: every conversation has had an answer (and the
                    # stores have made their database, table, connections).
                    while sum(a.status == 200 for a in attempts) < FAULT_CONVERSATIONS:
                        await asyncio.sleep(0.05)
                    return await repeatedly(FAULTS[fault], deployment)
                finally:
                    over.append(time.monotonic())

            injected = asyncio.create_task(injector())
            answered = await asyncio.gather(
                *(conversation_until(url, sender, over, attempts) for sender in senders)
            )
            faults, windows = await injected
    finally:
        await llm.stop()
    stored = await stored_events(project)
    counts = count_kept(
        dict(zip(senders, answered, strict=True)),
        stored,
        published(await rabbitmq_messages(services.queue)),
    )
    statuses = Counter(attempt.status for attempt in attempts)
    wrong = sum(attempt.status == 200 and not attempt.right for attempt in attempts)
    print(
        f"\n| {fault} | {len(attempts)} | {faults} | {len(attempts) - statuses[200]} "
        f"({dict(statuses)}) | {wrong} | {counts.lost} | {counts.duplicated} | "
        f"{counts.reordered} | {counts.half_written} | {counts.unpublished} "
        f"({counts.published_twice} twice, {counts.published_out_of_order} out of order) | "
        f"{recovery(windows, attempts):.2f} s | {max(a.seconds for a in attempts):.2f} s |"
    )
    assert faults > 0
    if FAULTS[fault].broker_raises:
        assert counts == Counts()
    else:
        # At least once, in order per worker: counted, not zero.
        assert replace(counts, published_twice=0, published_out_of_order=0) == Counts()
    assert set(statuses) <= {200, 503, None}, "a failure other than 503 or a dropped connection"
    if FAULTS[fault].answered:
        assert set(statuses) == {200}, "a fallback is due, not a failure"
        if fault.startswith(("router LLM", "generator LLM")):  # the action server's restart
            # still costs a few answers after it is healthy (pooled connections to the old one)
            assert wrong_after_faults(windows, attempts) == 0, "a wrong answer once it was over"


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
    # SQL_POOL_SIZE is per worker: the workers' pools together must leave PostgreSQL's
    # max_connections (100 by default) room for the test's own admin sessions and the rest
    # of the suite; the reference's default of 50 each would take them all under load.
    environment = {**os.environ, "SQL_POOL_SIZE": "20"}
    with log_path.open("w") as log:
        server = subprocess.Popen(
            command,
            cwd=project,
            env=environment,
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
        await store.aclose()


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
        await channel.set_qos(prefetch_count=1000)  # not one round trip per message
        queue = await channel.declare_queue(queue_name, passive=True)
        waiting = queue.declaration_result.message_count or 0
        messages: list[dict[str, Any]] = []
        if waiting:
            async with queue.iterator(no_ack=True) as delivered:
                async for message in delivered:
                    messages.append(json.loads(message.body))
                    if len(messages) == waiting:
                        break
        return messages
    finally:
        await connection.close()


def sql_broker_messages(database: Path) -> list[dict[str, Any]]:
    with contextlib.closing(sqlite3.connect(database)) as connection:
        rows = connection.execute("SELECT sender_id, data FROM events ORDER BY id").fetchall()
    messages = [json.loads(data) for _, data in rows]
    assert [sender for sender, _ in rows] == [message["sender_id"] for message in messages]
    return messages
