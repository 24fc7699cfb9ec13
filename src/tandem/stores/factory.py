"""Building the tracker store and lock store an ``endpoints.yml`` asks for.

(The event broker's factory is ``event_brokers.create_event_broker``.)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from tandem.conversation.slots import Slot
from tandem.project.endpoints import EndpointConfig
from tandem.stores.errors import StoreConfigError, number_setting
from tandem.stores.lock_store import InMemoryLockStore, LockStore
from tandem.stores.tracker_store import InMemoryTrackerStore, TrackerStore

__all__ = ["StoreConfigError", "create_lock_store", "create_tracker_store"]


def create_tracker_store(
    endpoint: EndpointConfig | None, slot_defs: Mapping[str, Slot], root: Path = Path(".")
) -> TrackerStore:
    """The tracker store of ``endpoints.yml: tracker_store`` (in-memory when absent):
    ``in_memory``, ``sql`` (SQLite or PostgreSQL), ``redis``. Nothing is connected yet.

    A relative SQLite ``db`` path is taken from ``root`` (the project folder).
    """
    kind = (endpoint.type or "in_memory").lower() if endpoint else "in_memory"
    if endpoint is None or kind == "in_memory":
        return InMemoryTrackerStore(slot_defs)
    if kind == "sql":
        from tandem.stores.sql_config import open_sql_database
        from tandem.stores.sql_store import SQLTrackerStore

        return SQLTrackerStore(open_sql_database(endpoint, root, "rasa.db"), slot_defs)
    if kind == "redis":
        from tandem.stores.redis_connection import key_prefix, redis_client
        from tandem.stores.redis_store import RedisTrackerStore

        record_exp = number_setting(endpoint, "record_exp", 0.0)
        return RedisTrackerStore(
            redis_client(endpoint, default_db=0),
            slot_defs,
            prefix=key_prefix(endpoint, "tracker"),
            record_exp=record_exp or None,
        )
    raise StoreConfigError(
        f"tracker store type '{kind}' is not supported; use in_memory, sql or redis",
        endpoint.at("type", "store_type"),
    )


def create_lock_store(endpoint: EndpointConfig | None) -> LockStore:
    """The lock store of ``endpoints.yml: lock_store`` (in-memory when absent): ``in_memory``
    or ``redis`` (``concurrent_redis`` is the same: this one is already safe for many
    processes). ``lock_lifetime`` seconds, else ``TICKET_LOCK_LIFETIME``, else 60."""
    kind = (endpoint.type or "in_memory").lower() if endpoint else "in_memory"
    if endpoint is None or kind == "in_memory":
        return InMemoryLockStore()
    if kind in ("redis", "concurrent_redis"):
        from tandem.stores.redis_connection import key_prefix, redis_client
        from tandem.stores.redis_lock_store import DEFAULT_LOCK_LIFETIME, RedisLockStore

        lifetime = endpoint.kwargs.get("lock_lifetime", os.environ.get("TICKET_LOCK_LIFETIME"))
        try:
            seconds = float(lifetime) if lifetime not in (None, "") else 0.0
        except (TypeError, ValueError):
            seconds = -1.0
        if seconds < 0:
            raise StoreConfigError(
                f"lock_lifetime must be a number of seconds, not '{lifetime}'",
                endpoint.at("lock_lifetime"),
            )
        return RedisLockStore(
            # The reference's lock store used database 1 by default (the tracker store 0).
            redis_client(endpoint, default_db=1),
            prefix=key_prefix(endpoint, "lock"),
            lock_lifetime=seconds or DEFAULT_LOCK_LIFETIME,
        )
    raise StoreConfigError(
        f"lock store type '{kind}' is not supported; use in_memory or redis",
        endpoint.at("type", "store_type"),
    )
