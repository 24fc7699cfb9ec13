"""The Redis tracker store: one list per conversation, expiry, the reference's documents."""

from __future__ import annotations

import json

import redis.asyncio as redis

from tandem.conversation.tracker import Tracker
from tandem.project.endpoints import EndpointConfig
from tandem.stores.redis_connection import redis_client
from tandem.stores.redis_store import RedisTrackerStore

from .services import REDIS_URL, SLOTS, session


def store_for(prefix: str, **options: float) -> RedisTrackerStore:
    client = redis_client(EndpointConfig(url=REDIS_URL), default_db=0)
    return RedisTrackerStore(client, SLOTS, prefix=f"{prefix}:tracker:", **options)


async def test_events_are_a_list_that_expires_after_record_exp(redis_prefix: str) -> None:
    store = store_for(redis_prefix, record_exp=100)
    tracker = Tracker("a", SLOTS, [*session("one"), *session("two")])
    await store.save(tracker)
    client = store.client
    key = f"{redis_prefix}:tracker:a"
    assert await client.type(key) == "list"
    assert [json.loads(item) for item in await client.lrange(key, 0, -1)] == [
        event.as_dict() for event in tracker.events
    ]
    assert 0 < await client.ttl(key) <= 100
    assert await client.get(f"{redis_prefix}:tracker_session:a") == "5"
    assert await store.keys() == ["a"]
    await store.aclose()


async def test_a_conversation_stored_by_the_reference_is_read_and_continued(
    redis_prefix: str,
) -> None:
    old = Tracker("old", SLOTS, [*session("one"), *session("two")])
    client = redis.Redis.from_url(REDIS_URL)
    await client.set(
        f"{redis_prefix}:tracker:old",
        json.dumps({"name": "old", "events": [event.as_dict() for event in old.events]}),
    )
    await client.aclose()
    store = store_for(redis_prefix)
    latest = await store.retrieve("old")
    assert latest is not None and latest.get_slot("city") == "two" and len(latest.events) == 5
    latest.update_many(session("three"))
    await store.save(latest)
    full = await store.retrieve_full("old")
    assert full is not None and len(full.events) == 15 and full.get_slot("city") == "three"
    await store.aclose()
