"""Building the stores an ``endpoints.yml`` asks for."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from tandem.conversation.slots import Slot
from tandem.project.endpoints import EndpointConfig
from tandem.stores.sqlite_store import SQLiteTrackerStore
from tandem.stores.tracker_store import InMemoryTrackerStore, TrackerStore


class StoreConfigError(ValueError):
    pass


def create_tracker_store(
    endpoint: EndpointConfig | None, slot_defs: Mapping[str, Slot], root: Path = Path(".")
) -> TrackerStore:
    """The tracker store of ``endpoints.yml: tracker_store`` (in-memory when absent).

    A relative SQLite ``db`` path is taken from ``root`` (the project folder).
    """
    kind = (endpoint.type or "in_memory").lower() if endpoint else "in_memory"
    if kind == "in_memory":
        return InMemoryTrackerStore(slot_defs)
    if kind == "sql":
        assert endpoint is not None
        dialect = str(endpoint.kwargs.get("dialect", "sqlite")).lower()
        if dialect == "sqlite":
            db = Path(str(endpoint.kwargs.get("db", "rasa.db")))
            return SQLiteTrackerStore(db if db.is_absolute() else root / db, slot_defs)
        raise StoreConfigError(f"SQL dialect '{dialect}' is not supported yet; use sqlite")
    raise StoreConfigError(
        f"tracker store type '{kind}' is not supported yet; use sql (sqlite) or in_memory"
    )
