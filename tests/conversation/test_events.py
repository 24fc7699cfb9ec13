"""Every event type reads and writes the reference's wire JSON."""

from __future__ import annotations

import json

import pytest

from tandem.conversation import events as ev

TS = 1718000000.5

# One wire payload per event type, as the reference writes it.
WIRE_EVENTS = [
    {
        "event": "user",
        "timestamp": TS,
        "text": "I'm in Berlin",
        "parse_data": {
            "intent": {"name": "inform", "confidence": 0.97},
            "entities": [{"entity": "location", "start": 7, "end": 13, "value": "berlin"}],
            "text": "I'm in Berlin",
            "message_id": "m1",
            "metadata": {},
            "intent_ranking": [{"name": "inform", "confidence": 0.97}],
        },
        "input_channel": "rest",
        "message_id": "m1",
        "metadata": {"model_id": "abc"},
    },
    {"event": "user_featurization", "timestamp": TS, "use_text_for_featurization": False},
    {"event": "entities", "timestamp": TS, "entities": [{"entity": "city", "value": "Paris"}]},
    {
        "event": "bot",
        "timestamp": TS,
        "text": "Hi!",
        "data": {
            "elements": None,
            "quick_replies": None,
            "buttons": [{"title": "A", "payload": "/a"}],
            "attachment": None,
            "image": None,
            "custom": None,
        },
        "metadata": {"utter_action": "utter_greet"},
    },
    {"event": "slot", "timestamp": TS, "name": "city", "value": "berlin"},
    {"event": "slot", "timestamp": TS, "name": "amount", "value": 50.0, "filled_by": "LLM"},
    {
        "event": "action",
        "timestamp": TS,
        "name": "utter_greet",
        "policy": "RulePolicy",
        "confidence": 1.0,
        "action_text": None,
        "hide_rule_turn": False,
        "metadata": {},
    },
    {"event": "active_loop", "timestamp": TS, "name": "restaurant_form"},
    {"event": "active_loop", "timestamp": TS, "name": None},
    {"event": "loop_interrupted", "timestamp": TS, "is_interrupted": True},
    {
        "event": "action_execution_rejected",
        "timestamp": TS,
        "name": "f",
        "policy": "RulePolicy",
        "confidence": 0.8,
    },
    {"event": "restart", "timestamp": TS},
    {"event": "session_started", "timestamp": TS},
    {"event": "rewind", "timestamp": TS},
    {"event": "undo", "timestamp": TS},
    {"event": "reset_slots", "timestamp": TS},
    {"event": "followup", "timestamp": TS, "name": "action_x"},
    {"event": "pause", "timestamp": TS},
    {"event": "resume", "timestamp": TS},
    {
        "event": "reminder",
        "timestamp": TS,
        "intent": "remind",
        "date_time": "2024-06-10T10:00:00",
        "entities": [{"entity": "x", "value": 1}],
        "name": "r1",
        "kill_on_user_msg": False,
    },
    {"event": "cancel_reminder", "timestamp": TS},
    {"event": "export", "timestamp": TS},
    {"event": "agent", "timestamp": TS, "text": "hello", "data": {"a": 1}},
    {"event": "inactive", "timestamp": TS},
    {"event": "session_ended", "timestamp": TS},
    {"event": "routing_session_ended", "timestamp": TS},
    {
        "event": "stack",
        "timestamp": TS,
        "update": '[{"op": "add", "path": "/0", "value": {"frame_id": "X"}}]',
    },
    {
        "event": "flow_started",
        "timestamp": TS,
        "flow_id": "transfer_money",
        "metadata": {"step_id": "START"},
    },
    {"event": "flow_interrupted", "timestamp": TS, "flow_id": "a", "step_id": "s1"},
    {"event": "flow_resumed", "timestamp": TS, "flow_id": "a", "step_id": "s1"},
    {"event": "flow_completed", "timestamp": TS, "flow_id": "a", "step_id": "s2"},
    {"event": "flow_cancelled", "timestamp": TS, "flow_id": "a", "step_id": "s2"},
    {"event": "error", "timestamp": TS, "error_code": 3},
    {"event": "bot_turn_ended", "timestamp": TS, "metadata": {"latency": 0.1}},
    {"event": "memory_set", "timestamp": TS, "key": "k", "value": "v"},
]


@pytest.mark.parametrize("payload", WIRE_EVENTS, ids=lambda p: p["event"])
def test_wire_json_round_trips(payload: dict) -> None:
    event = ev.Event.from_dict(payload)
    assert event.as_dict() == payload
    # and again through a JSON string, as stores and brokers do
    assert ev.Event.from_dict(json.loads(json.dumps(event.as_dict()))) == event


def test_every_registered_type_is_covered() -> None:
    covered = {p["event"] for p in WIRE_EVENTS}
    assert set(ev._REGISTRY) <= covered


def test_reading_fills_the_typed_fields() -> None:
    slot = ev.Event.from_dict({"event": "slot", "name": "x", "value": [1, 2], "timestamp": 3})
    assert (
        isinstance(slot, ev.SlotSet)
        and slot.name == "x"
        and slot.value == [1, 2]
        and slot.timestamp == 3.0
    )
    user = ev.Event.from_dict(WIRE_EVENTS[0])
    assert isinstance(user, ev.UserUttered)
    assert user.intent_name == "inform" and user.entities[0]["value"] == "berlin"


def test_missing_timestamp_means_now_and_missing_fields_take_defaults() -> None:
    event = ev.Event.from_dict({"event": "action"})
    assert isinstance(event, ev.ActionExecuted)
    assert event.name is None and event.hide_rule_turn is False and event.timestamp > 1_700_000_000


def test_legacy_form_events_are_read_under_their_new_names() -> None:
    loop = ev.Event.from_dict({"event": "form", "name": "my_form", "timestamp": TS})
    assert isinstance(loop, ev.ActiveLoop) and loop.as_dict()["event"] == "active_loop"
    validation = ev.Event.from_dict(
        {"event": "form_validation", "validate": False, "timestamp": TS}
    )
    assert isinstance(validation, ev.LoopInterrupted) and validation.is_interrupted is True


def test_topic_events_are_dropped_and_unknown_ones_are_kept() -> None:
    events = ev.events_from_dicts(
        [{"event": "topic", "topic": "x"}, {"event": "tts_finished", "x": 1}]
    )
    assert len(events) == 1 and isinstance(events[0], ev.OpaqueEvent)
    assert events[0].as_dict()["x"] == 1


def test_cancel_reminder_keeps_its_selection_in_memory_but_not_on_the_wire() -> None:
    event = ev.Event.from_dict(
        {"event": "cancel_reminder", "name": "r1", "intent": "i", "timestamp": TS}
    )
    assert isinstance(event, ev.ReminderCancelled) and event.name == "r1"
    assert event.as_dict() == {"event": "cancel_reminder", "timestamp": TS}


def test_user_parse_data_from_legacy_top_level_fields() -> None:
    event = ev.Event.from_dict(
        {"event": "user", "text": "hi", "intent": {"name": "greet"}, "entities": []}
    )
    assert isinstance(event, ev.UserUttered) and event.intent_name == "greet"


def test_metadata_stamping_never_overwrites() -> None:
    event = ev.SlotSet(name="a", value=1, metadata={"model_id": "mine"})
    stamped = event.with_metadata({"model_id": "other", "assistant_id": "bot"})
    assert stamped.metadata == {"model_id": "mine", "assistant_id": "bot"}


def test_stamped_adds_metadata_and_time_in_one_copy() -> None:
    from tandem.conversation import events as ev_module

    event = ev_module.SlotSet(name="city", value="Rome", timestamp=1.0, metadata={"a": 1})
    stamped = event.stamped({"a": 0, "model_id": "m"}, 2.0)
    assert stamped == event.with_metadata({"a": 0, "model_id": "m"}).with_timestamp(2.0)
    assert stamped.metadata == {"a": 1, "model_id": "m"} and stamped.timestamp == 2.0
    assert event.stamped({"a": 5}, None) is event  # nothing to change
    assert event.stamped({}, 1.0) is event


def test_copies_with_a_new_time_or_metadata_equal_dataclass_replace() -> None:
    import dataclasses

    from tandem.conversation import events as ev_module

    samples = [
        ev_module.UserUttered.create("hi", {"name": "greet"}, metadata={"x": 1}),
        ev_module.SlotSet(name="city", value=["a"], filled_by="NLU"),
        ev_module.DialogueStackUpdated(update="[]"),
        ev_module.FlowStarted(flow_id="f", step_id="s"),
        ev_module.ActionExecuted(name="utter_x", policy="P", confidence=0.5),
    ]
    for event in samples:
        assert event.with_timestamp(5.0) == dataclasses.replace(event, timestamp=5.0)
        moved = event.with_metadata({"model_id": "m"})
        assert moved == dataclasses.replace(event, metadata={"model_id": "m", **event.metadata})
        assert type(moved) is type(event) and hash(moved.timestamp) == hash(event.timestamp)
        with pytest.raises(dataclasses.FrozenInstanceError):
            moved.timestamp = 1.0  # type: ignore[misc]
