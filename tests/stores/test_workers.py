"""Two workers sharing PostgreSQL, Redis and RabbitMQ serve one conversation: every turn is
stored once and whole, and the broker publishes exactly the stored events in their order."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from tandem.actions.registry import ActionRegistry
from tandem.conversation.tracker import Tracker
from tandem.policies.base import Policy, Prediction
from tandem.project.domain import Domain, IntentConfig
from tandem.project.endpoints import EndpointConfig
from tandem.runtime.assistant import Assistant
from tandem.runtime.message import UserMessage
from tandem.runtime.processor import MessageProcessor
from tandem.stores.pika_broker import PikaEventBroker
from tandem.stores.postgres_database import PostgresDatabase
from tandem.stores.redis_connection import redis_client
from tandem.stores.redis_lock_store import RedisLockStore
from tandem.stores.sql_store import SQLTrackerStore

from .services import POSTGRES_URL, REDIS_URL, SLOTS, consume

DOMAIN = Domain(intents={"greet": IntentConfig()}, responses={"utter_greet": ({"text": "Hi"},)})


class GreetOnce(Policy):
    name = "GreetOnce"

    def predict(self, tracker: Tracker, domain: Domain) -> Prediction:
        action = "utter_greet" if tracker.latest_action_name == "action_listen" else None
        return Prediction.for_action(domain, action or "action_listen", self.name, 1)


async def parse(message: UserMessage, tracker: Tracker) -> dict:
    await asyncio.sleep(0.001)  # parsing takes a moment: the other worker gets to run
    return {"intent": {"name": "greet", "confidence": 1.0}, "entities": [], "text": message.text}


def worker(table: str, prefix: str, exchange: str, queue: str) -> MessageProcessor:
    assistant = Assistant(DOMAIN, parse, ActionRegistry(DOMAIN), policies=[GreetOnce()])
    return MessageProcessor(
        assistant,
        tracker_store=SQLTrackerStore(PostgresDatabase(POSTGRES_URL), SLOTS, table=table),
        lock_store=RedisLockStore(
            redis_client(EndpointConfig(url=REDIS_URL), default_db=0), prefix=f"{prefix}:lock:"
        ),
        event_sink=PikaEventBroker("127.0.0.1", queues=[queue], exchange_name=exchange),
    )


async def test_two_workers_store_and_publish_each_event_once_in_order(
    pg_tables: Callable[[], str], redis_prefix: str, rabbit_names: Callable[[str], str]
) -> None:
    table, queue, exchange = pg_tables(), rabbit_names("queue"), rabbit_names("exchange")
    workers = [worker(table, redis_prefix, exchange, queue) for _ in range(2)]
    messages = [UserMessage(f"hello {n}", sender_id="shared") for n in range(10)]
    await asyncio.gather(
        *(workers[n % 2].handle_message(message) for n, message in enumerate(messages))
    )
    stored = await workers[0].tracker_store.retrieve_full("shared")
    for processor in workers:
        await processor.aclose()
    assert stored is not None
    texts = [event.text for event in stored.events if event.type_name == "user"]
    assert sorted(texts) == sorted(message.text for message in messages)
    # each turn whole: user, featurization, greet, bot, listen
    after_start = [event.type_name for event in stored.events][3:]
    assert after_start == ["user", "user_featurization", "action", "bot", "action"] * 10
    published = [json.loads(m.body) for m in await consume(queue, len(stored.events))]
    assert published == [{"sender_id": "shared", **event.as_dict()} for event in stored.events]
