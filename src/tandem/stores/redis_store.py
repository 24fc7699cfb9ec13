"""The Redis tracker store (``type: redis``).

Each conversation is a Redis list of event JSON strings at ``<prefix>tracker:<sender_id>``,
appended with RPUSH (only new events) inside MULTI/EXEC, with the list WATCHed so that the
append happens only if the list is still as long as the tracker expects: a save is atomic,
never stores an event twice and never interleaves with another writer's. The index where
the latest session starts is kept next to it (``<prefix>tracker_session:<sender_id>``) so a
turn reads only its session, in one round trip. ``record_exp`` (seconds) expires both keys
that long after the conversation's last save.

The reference keeps one JSON document per conversation at the same key; such a value is
converted to a list the first time it is touched.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import cast

from redis.exceptions import ResponseError, WatchError

from tandem.conversation.events import Event, events_from_dicts
from tandem.conversation.slots import Slot
from tandem.stores.errors import StoreConflict
from tandem.stores.redis_connection import Redis, redis_errors
from tandem.stores.tracker_store import (
    StoredEvents,
    TrackerStore,
    check_overlap,
    event_json,
    latest_session_start,
    stored_events,
)

# Reads the latest session atomically: where it starts, and its events.
_READ_LATEST_SESSION = """
local start = tonumber(redis.call('GET', KEYS[2]) or '0')
return {start, redis.call('LRANGE', KEYS[1], start, -1)}
"""
_MAX_ATTEMPTS = 10  # WATCH retries while other clients keep changing the same list


class RedisTrackerStore(TrackerStore):
    def __init__(
        self,
        client: Redis,
        slot_defs: Mapping[str, Slot] | None = None,
        *,
        prefix: str = "tracker:",
        record_exp: float | None = None,
    ) -> None:
        super().__init__(slot_defs)
        self.client = client
        self.prefix = prefix  # ends with "tracker:"
        self.record_exp = int(record_exp) if record_exp else None
        self._read_latest_session = client.register_script(_READ_LATEST_SESSION)

    def _keys(self, sender_id: str) -> tuple[str, str]:
        return self.prefix + sender_id, f"{self.prefix[:-1]}_session:{sender_id}"

    async def load_events(self, sender_id: str, *, latest_session: bool) -> StoredEvents | None:
        events_key, session_key = self._keys(sender_id)
        with redis_errors():
            try:
                start, raw = await self._read(events_key, session_key, latest_session)
            except ResponseError as error:
                if "WRONGTYPE" not in str(error):
                    raise
                await self._convert_document(sender_id)
                start, raw = await self._read(events_key, session_key, latest_session)
        if not raw:
            return None
        return stored_events(int(start) + len(raw), [json.loads(item) for item in raw])

    async def _read(
        self, events_key: str, session_key: str, latest_session: bool
    ) -> tuple[int, list[str]]:
        if latest_session:
            start, raw = await self._read_latest_session(keys=[events_key, session_key])
            return int(start), raw
        return 0, cast(list[str], await self.client.lrange(events_key, 0, -1))  # decoded

    async def append_events(
        self, sender_id: str, events: Sequence[Event], *, position: int | None = None
    ) -> None:
        pending = [(event, event_json(event)) for event in events]
        events_key, session_key = self._keys(sender_id)
        with redis_errors():
            async with self.client.pipeline(transaction=True) as pipe:
                for _ in range(_MAX_ATTEMPTS):
                    try:
                        await pipe.watch(events_key)
                        length = int(await pipe.llen(events_key))
                        at = length if position is None else position
                        if at < length:  # positions taken: by these events, or a conflict
                            stored = await pipe.lrange(events_key, at, at + len(pending) - 1)
                            check_overlap(
                                sender_id, at, stored, [data for _, data in pending[: len(stored)]]
                            )
                            pending, at = pending[len(stored) :], at + len(stored)
                        if not pending:
                            return
                        if at > length:
                            raise StoreConflict(
                                f"conversation '{sender_id}' has fewer stored events than the"
                                " tracker expects (expired by record_exp, or deleted?)"
                            )
                        pipe.multi()
                        pipe.rpush(events_key, *(data for _, data in pending))
                        session_start = latest_session_start([event for event, _ in pending])
                        if session_start is not None:
                            pipe.set(session_key, at + session_start)
                        elif at == 0:  # a new list: forget a stale index left behind
                            pipe.delete(session_key)
                        if self.record_exp:
                            pipe.expire(events_key, self.record_exp)
                            pipe.expire(session_key, self.record_exp)
                        await pipe.execute()
                        return
                    except WatchError:
                        continue  # someone else changed the list meanwhile: look again
                    except ResponseError as error:
                        if "WRONGTYPE" not in str(error):
                            raise
                        await pipe.reset()
                        await self._convert_document(sender_id)
        raise StoreConflict(f"conversation '{sender_id}' kept changing while being saved")

    async def _convert_document(self, sender_id: str) -> None:
        """Turn a reference-format value (one JSON dialogue) into this store's list."""
        events_key, session_key = self._keys(sender_id)
        async with self.client.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(events_key)
                if await pipe.type(events_key) != "string":
                    return  # converted meanwhile
                document = await pipe.get(events_key)
                events = events_from_dicts(json.loads(str(document)).get("events") or [])
                pipe.multi()
                pipe.delete(events_key)
                if events:
                    pipe.rpush(events_key, *(event_json(event) for event in events))
                    pipe.set(session_key, latest_session_start(events) or 0)
                await pipe.execute()
            except WatchError:
                pass  # another client converted it

    async def count_events(self, sender_id: str) -> int | None:
        with redis_errors():
            try:
                return int(await self.client.llen(self._keys(sender_id)[0]))
            except ResponseError:  # a reference-format document: converted when next read
                return None

    async def keys(self) -> list[str]:
        with redis_errors():
            return [
                key[len(self.prefix) :]
                async for key in self.client.scan_iter(match=self.prefix + "*", count=1000)
            ]

    async def aclose(self) -> None:
        await self.client.aclose()
