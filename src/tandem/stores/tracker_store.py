"""Tracker stores: where conversations' events are kept between turns.

A conversation is stored as its event list, append-only. Every stored event has a position
(its index in the whole conversation); a save writes the tracker's new events at the
positions that follow the ones it was loaded with, all of them or none. So a save repeated
after an error cannot store an event twice, and a writer that did not hold the
conversation's lock cannot slip its events between someone else's (``StoreConflict``).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from tandem.conversation.events import ActionExecuted, Event, events_from_dicts
from tandem.conversation.slots import Slot
from tandem.conversation.tracker import Tracker
from tandem.names import ACTION_SESSION_START
from tandem.stores.errors import StoreConflict


class StoredEvents(NamedTuple):
    """Events read from a store and the position of the first one in the conversation."""

    offset: int
    events: list[Event]


class TrackerStore(ABC):
    """Stores trackers as event lists. ``retrieve`` returns the latest session only.

    A loaded tracker remembers how many of its events came from (or went to) the store
    (``saved_event_count``), so saving appends just the new ones, and where its first event
    sits in the stored conversation (``stored_offset``), so the new ones take the positions
    that follow. A tracker that was not loaded (a new conversation) has no offset: its events
    go after whatever is stored.
    """

    def __init__(self, slot_defs: Mapping[str, Slot] | None = None) -> None:
        self.slot_defs = slot_defs or {}

    async def retrieve(self, sender_id: str) -> Tracker | None:
        return self._tracker(sender_id, await self.load_events(sender_id, latest_session=True))

    async def retrieve_full(self, sender_id: str) -> Tracker | None:
        return self._tracker(sender_id, await self.load_events(sender_id, latest_session=False))

    def _tracker(self, sender_id: str, stored: StoredEvents | None) -> Tracker | None:
        if stored is None:
            return None
        tracker = Tracker(sender_id, self.slot_defs, stored.events)
        tracker.saved_event_count = len(tracker.events)
        tracker.stored_offset = stored.offset
        return tracker

    async def save(self, tracker: Tracker) -> list[Event]:
        """Persist the events not stored yet; returns them (for the event broker).

        Raises ``StoreUnavailable`` (nothing written) when the backend cannot be reached.
        """
        new = tracker.events[tracker.saved_event_count :]
        if new:
            offset = tracker.stored_offset
            position = None if offset is None else offset + tracker.saved_event_count
            await self.append_events(tracker.sender_id, new, position=position)
            tracker.saved_event_count = len(tracker.events)
        return new

    @abstractmethod
    async def load_events(self, sender_id: str, *, latest_session: bool) -> StoredEvents | None:
        """The conversation's events (``None`` if unknown): all, or the latest session's."""

    @abstractmethod
    async def append_events(
        self, sender_id: str, events: Sequence[Event], *, position: int | None = None
    ) -> None:
        """Store ``events`` at ``position`` and on (``None``: after the last stored event),
        atomically. If exactly these events are stored there already, nothing changes;
        other events there raise ``StoreConflict``."""

    @abstractmethod
    async def keys(self) -> list[str]: ...

    async def count_events(self, sender_id: str) -> int | None:
        """How many events the conversation has stored (the position after its last one),
        if the store can tell without reading them; ``None`` if it cannot. A processor uses
        it to check that the tracker it kept from the conversation's previous turn is still
        what the store holds, instead of reading and replaying every event again."""
        return None

    async def aclose(self) -> None:
        return None


def event_json(event: Event) -> str:
    """An event as stored: its wire JSON, one fixed spelling so stored copies compare equal."""
    return json.dumps(event.as_dict())


def stored_events(end: int, payloads: list[dict[str, Any]]) -> StoredEvents:
    """The events read from the positions before ``end``. The offset is counted back from
    the end because reading may skip legacy rows (``topic``) the tracker never holds."""
    events = events_from_dicts(payloads)
    return StoredEvents(end - len(events), events)


def check_overlap(sender_id: str, position: int, stored: Sequence[Any], new: Sequence[Any]) -> None:
    """After a write hit already stored positions: fine if ``stored`` (what is there from
    ``position`` on) is ``new`` (a save repeated after its reply was lost), else a conflict."""
    if list(stored) != list(new):
        raise StoreConflict(
            f"conversation '{sender_id}' already has other events from position {position} on;"
            " was it changed without holding its lock?"
        )


def latest_session_start(events: Sequence[Event]) -> int | None:
    """Index of the newest ``action_session_start``: where the latest session begins."""
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if isinstance(event, ActionExecuted) and event.name == ACTION_SESSION_START:
            return index
    return None


def latest_session(events: list[Event]) -> list[Event]:
    """The events from the newest ``action_session_start`` on (all events if none)."""
    return events[latest_session_start(events) or 0 :]


class InMemoryTrackerStore(TrackerStore):
    """A process-local store (the default for tests and ``tandem shell``)."""

    def __init__(self, slot_defs: Mapping[str, Slot] | None = None) -> None:
        super().__init__(slot_defs)
        self._events: dict[str, list[dict[str, Any]]] = {}

    async def load_events(self, sender_id: str, *, latest_session: bool) -> StoredEvents | None:
        stored = self._events.get(sender_id)
        if stored is None:
            return None
        events = events_from_dicts(stored)
        offset = (latest_session_start(events) or 0) if latest_session else 0
        return StoredEvents(offset, events[offset:])

    async def append_events(
        self, sender_id: str, events: Sequence[Event], *, position: int | None = None
    ) -> None:
        stored = self._events.setdefault(sender_id, [])
        new = [event.as_dict() for event in events]
        if position is not None and position < len(stored):
            check_overlap(sender_id, position, stored[position : position + len(new)], new)
            new = new[len(stored) - position :]
        stored.extend(new)

    async def keys(self) -> list[str]:
        return list(self._events)

    async def count_events(self, sender_id: str) -> int | None:
        return len(self._events.get(sender_id, ()))
