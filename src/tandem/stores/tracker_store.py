"""Tracker stores: where conversations' events are kept between turns."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from tandem.conversation.events import ActionExecuted, Event, events_from_dicts
from tandem.conversation.slots import Slot
from tandem.conversation.tracker import Tracker
from tandem.names import ACTION_SESSION_START


class TrackerStore(ABC):
    """Stores trackers as event lists. ``retrieve`` returns the latest session only.

    A tracker remembers how many of its events came from (or went to) the store, so saving
    appends just the new ones.
    """

    def __init__(self, slot_defs: Mapping[str, Slot] | None = None) -> None:
        self.slot_defs = slot_defs or {}

    async def retrieve(self, sender_id: str) -> Tracker | None:
        return self._tracker(sender_id, await self.load_events(sender_id, latest_session=True))

    async def retrieve_full(self, sender_id: str) -> Tracker | None:
        return self._tracker(sender_id, await self.load_events(sender_id, latest_session=False))

    def _tracker(self, sender_id: str, events: list[Event] | None) -> Tracker | None:
        if events is None:
            return None
        tracker = Tracker(sender_id, self.slot_defs, events)
        tracker.saved_event_count = len(tracker.events)
        return tracker

    async def save(self, tracker: Tracker) -> list[Event]:
        """Persist the events not stored yet; returns them (for the event broker)."""
        new = tracker.events[tracker.saved_event_count :]
        if new:
            await self.append_events(tracker.sender_id, new)
            tracker.saved_event_count = len(tracker.events)
        return new

    @abstractmethod
    async def load_events(self, sender_id: str, *, latest_session: bool) -> list[Event] | None:
        """The conversation's events (``None`` if unknown)."""

    @abstractmethod
    async def append_events(self, sender_id: str, events: list[Event]) -> None:
        """Store ``events`` after the ones already stored, atomically."""

    @abstractmethod
    async def keys(self) -> list[str]: ...

    async def close(self) -> None:
        return None


def latest_session(events: list[Event]) -> list[Event]:
    """The events from the newest ``action_session_start`` on (all events if none)."""
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if isinstance(event, ActionExecuted) and event.name == ACTION_SESSION_START:
            return events[index:]
    return events


class InMemoryTrackerStore(TrackerStore):
    """A process-local store (the default for tests and ``tandem shell``)."""

    def __init__(self, slot_defs: Mapping[str, Slot] | None = None) -> None:
        super().__init__(slot_defs)
        self._events: dict[str, list[dict[str, Any]]] = {}

    async def load_events(self, sender_id: str, *, latest_session: bool) -> list[Event] | None:
        stored = self._events.get(sender_id)
        if stored is None:
            return None
        events = events_from_dicts(stored)
        return _latest_session(events) if latest_session else events

    async def append_events(self, sender_id: str, events: list[Event]) -> None:
        self._events.setdefault(sender_id, []).extend(event.as_dict() for event in events)

    async def keys(self) -> list[str]:
        return list(self._events)


_latest_session = latest_session
