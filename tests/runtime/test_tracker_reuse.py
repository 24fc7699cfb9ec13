"""A processor starts a turn from the tracker its previous turn saved, when that is safe.

The tracker is reused only while the store holds exactly the events it saved; otherwise
(another process wrote, a save failed, a new session began) the turn reads the store as
usual. Either way the turn must see what a fresh read of the store would give.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tandem.actions.registry import ActionRegistry
from tandem.conversation import events as ev
from tandem.conversation.tracker import Tracker
from tandem.policies.base import Policy, Prediction
from tandem.project.domain import Domain, IntentConfig, SessionConfig
from tandem.runtime.assistant import Assistant
from tandem.runtime.message import UserMessage
from tandem.runtime.processor import MessageProcessor
from tandem.stores.errors import StoreUnavailable
from tandem.stores.sql_store import SQLTrackerStore
from tandem.stores.sqlite_database import SQLiteDatabase
from tandem.stores.tracker_store import InMemoryTrackerStore, TrackerStore


def make_domain(**changes: Any) -> Domain:
    parts: dict[str, Any] = {
        "intents": {"greet": IntentConfig(), "inform": IntentConfig()},
        "responses": {"utter_greet": ({"text": "Hello!"},)},
    }
    return Domain(**{**parts, **changes})


async def parse(message: UserMessage, tracker: Tracker) -> dict[str, Any]:
    intent = message.text.strip("/").split(" ")[0]
    return {"intent": {"name": intent, "confidence": 1.0}, "entities": []}


class Greeter(Policy):
    name = "Greeter"

    def predict(self, tracker: Tracker, domain: Domain) -> Prediction:
        action = "utter_greet" if tracker.latest_action_name == "action_listen" else "action_listen"
        return Prediction.for_action(domain, action, self.name, 1)


def processor_on(store: TrackerStore, domain: Domain | None = None) -> MessageProcessor:
    domain = domain or make_domain()
    assistant = Assistant(
        domain=domain,
        parse=parse,
        actions=ActionRegistry(domain),
        policies=[Greeter(1)],
        model_id="m1",
        assistant_id="bot",
    )
    return MessageProcessor(assistant, tracker_store=store)


class CountingStore(InMemoryTrackerStore):
    def __init__(self, slot_defs: Any) -> None:
        super().__init__(slot_defs)
        self.reads = 0
        self.fail_next_save = False

    async def load_events(self, sender_id: str, *, latest_session: bool) -> Any:
        self.reads += 1
        return await super().load_events(sender_id, latest_session=latest_session)

    async def append_events(self, sender_id: str, events: Any, *, position: Any = None) -> None:
        if self.fail_next_save:
            self.fail_next_save = False
            raise StoreUnavailable("down for a moment")
        await super().append_events(sender_id, events, position=position)


def user_texts(tracker: Tracker) -> list[str | None]:
    return [e.text for e in tracker.events if isinstance(e, ev.UserUttered)]


def dicts(tracker: Tracker) -> list[dict[str, Any]]:
    return [event.as_dict() for event in tracker.events]


async def test_turns_reuse_the_saved_tracker_and_see_what_the_store_holds() -> None:
    store = CountingStore(make_domain().slots)
    processor = processor_on(store)
    first = await processor.handle_message(UserMessage("/greet", "u"))
    kept_events = list(first.tracker.events)
    for text in ("/inform Rome", "/greet", "/inform Oslo"):
        result = await processor.handle_message(UserMessage(text, "u"))
        assert [m.text for m in result.messages] == ["Hello!"]
    # The first two turns read the store (the first found nothing: a tracker that was never
    # loaded does not know where its events sit); the later ones started from the kept one.
    assert store.reads == 2
    assert first.tracker.events == kept_events  # a turn's result is not changed by later turns
    fresh = await store.retrieve("u")
    assert fresh is not None and dicts(fresh) == dicts(result.tracker)
    assert user_texts(result.tracker) == ["/greet", "/inform Rome", "/greet", "/inform Oslo"]


async def test_events_written_by_another_process_are_read(tmp_path: Path) -> None:
    slots = make_domain().slots
    one = processor_on(SQLTrackerStore(SQLiteDatabase(tmp_path / "t.db"), slots))
    other = processor_on(SQLTrackerStore(SQLiteDatabase(tmp_path / "t.db"), slots))
    try:
        await one.handle_message(UserMessage("/greet", "u"))
        await one.handle_message(UserMessage("/greet", "u"))  # now kept by `one`
        await other.handle_message(UserMessage("/inform Lima", "u"))  # another worker's turn
        result = await one.handle_message(UserMessage("/greet", "u"))
        assert user_texts(result.tracker) == ["/greet", "/greet", "/inform Lima", "/greet"]
        fresh = await one.tracker_store.retrieve("u")
        assert fresh is not None and dicts(fresh) == dicts(result.tracker)
    finally:
        await one.aclose()
        await other.aclose()


async def test_a_failed_save_is_not_taken_for_stored_events() -> None:
    store = CountingStore(make_domain().slots)
    processor = processor_on(store)
    await processor.handle_message(UserMessage("/greet", "u"))
    await processor.handle_message(UserMessage("/greet", "u"))
    store.fail_next_save = True
    with pytest.raises(StoreUnavailable):
        await processor.handle_message(UserMessage("/inform Rome", "u"))
    result = await processor.handle_message(UserMessage("/greet", "u"))
    assert user_texts(result.tracker) == ["/greet"] * 3  # the failed turn was never stored
    fresh = await store.retrieve("u")
    assert fresh is not None and dicts(fresh) == dicts(result.tracker)


async def test_a_new_session_is_read_as_the_latest_session_only() -> None:
    domain = make_domain(session_config=SessionConfig(session_expiration_time=1))
    store = CountingStore(domain.slots)
    processor = processor_on(store, domain)
    old = time.time() - 3600
    await store.append_events(
        "u",
        [
            ev.ActionExecuted(name="action_session_start", timestamp=old),
            ev.SessionStarted(timestamp=old),
            ev.ActionExecuted(name="action_listen", timestamp=old),
            ev.UserUttered.create("/greet", {"name": "greet"}, timestamp=old),
        ],
    )
    expired = await processor.handle_message(UserMessage("/greet", "u"))
    assert sum(isinstance(e, ev.SessionStarted) for e in expired.tracker.events) == 2
    result = await processor.handle_message(UserMessage("/greet", "u"))
    assert sum(isinstance(e, ev.SessionStarted) for e in result.tracker.events) == 1
    fresh = await store.retrieve("u")
    assert fresh is not None and dicts(fresh) == dicts(result.tracker)
