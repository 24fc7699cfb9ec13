"""The tracker's state is whatever replaying its events gives."""

from __future__ import annotations

import json

from tandem.conversation import events as ev
from tandem.conversation.slots import Slot
from tandem.conversation.tracker import Tracker, applied_events

SLOTS = {
    "city": Slot("city", "text"),
    "cuisine": Slot("cuisine", "categorical", values=("Italian", "Thai")),
    "tags": Slot("tags", "list"),
    "people": Slot("people", "float", initial_value=2.0),
    "verified": Slot("verified", "bool", shared_for_coexistence=True),
    "route_session_to_calm": Slot("route_session_to_calm", "bool"),
}


def user(text: str, intent: str = "inform", **kwargs) -> ev.UserUttered:
    return ev.UserUttered.create(text, {"name": intent, "confidence": 1.0}, **kwargs)


def action(name: str) -> ev.ActionExecuted:
    return ev.ActionExecuted(name=name)


def slot(name: str, value) -> ev.SlotSet:
    return ev.SlotSet(name=name, value=value)


def started() -> list[ev.Event]:
    return [action("action_session_start"), ev.SessionStarted(), action("action_listen")]


def test_slot_values_are_stored_as_their_type_stores_them() -> None:
    tracker = Tracker("t", SLOTS, [slot("cuisine", "thai"), slot("tags", "a"), slot("people", "3")])
    assert tracker.get_slot("cuisine") == "Thai"  # domain casing
    assert tracker.get_slot("tags") == ["a"]  # wrapped
    assert tracker.get_slot("people") == "3"  # float coercion is for featurisation only
    assert tracker.get_slot("city") is None and tracker.slot_was_set("cuisine")


def test_unknown_slots_are_ignored() -> None:
    tracker = Tracker("t", SLOTS, [slot("nope", 1)])
    assert "nope" not in tracker.slots


def test_restart_resets_everything_and_queues_a_session_start() -> None:
    tracker = Tracker("t", SLOTS, [*started(), user("hi"), slot("city", "Rome"), ev.Restarted()])
    assert tracker.get_slot("city") is None and tracker.get_slot("people") == 2.0
    assert tracker.latest_message is None and tracker.followup_action == "action_session_start"
    assert tracker.applied_events() == []


def test_rewind_removes_the_user_turn_and_its_listen() -> None:
    events = [
        *started(),
        user("hi"),
        slot("city", "Rome"),
        action("utter_x"),
        ev.UserUtteranceReverted(),
    ]
    tracker = Tracker("t", SLOTS, events)
    assert tracker.applied_events() == []  # session_started already cleared what was before
    assert tracker.get_slot("city") is None and tracker.latest_message is None


def test_undo_removes_the_last_action_and_what_followed() -> None:
    events = [*started(), user("hi"), action("utter_x"), slot("city", "Rome"), ev.ActionReverted()]
    tracker = Tracker("t", SLOTS, events)
    assert tracker.latest_action_name == "action_listen"
    assert tracker.get_slot("city") is None and tracker.latest_message is not None


def test_reset_slots_goes_back_to_initial_values() -> None:
    tracker = Tracker("t", SLOTS, [slot("people", 5), slot("city", "x"), ev.AllSlotsReset()])
    assert tracker.get_slot("people") == 2.0 and tracker.get_slot("city") is None


def test_routing_session_ended_keeps_only_shared_slots() -> None:
    patch = json.dumps([{"op": "add", "path": "/0", "value": {"frame_id": "A", "type": "flow"}}])
    events = [
        slot("verified", True),
        slot("city", "Rome"),
        slot("route_session_to_calm", True),
        ev.DialogueStackUpdated(update=patch),
        ev.ActiveLoop(name="some_form"),
        ev.RoutingSessionEnded(),
    ]
    tracker = Tracker("t", SLOTS, events)
    assert tracker.get_slot("verified") is True
    assert tracker.get_slot("city") is None and tracker.get_slot("route_session_to_calm") is None
    assert tracker.stack == [] and tracker.active_loop is None
    assert tracker.followup_action == "action_listen"


def test_stack_events_apply_json_patches() -> None:
    push = [
        {"op": "add", "path": "/0", "value": {"frame_id": "A", "flow_id": "f", "step_id": "START"}}
    ]
    move = [{"op": "replace", "path": "/0/step_id", "value": "s1"}]
    tracker = Tracker(
        "t", SLOTS, [ev.DialogueStackUpdated(update=json.dumps(p)) for p in (push, move)]
    )
    assert tracker.stack == [{"frame_id": "A", "flow_id": "f", "step_id": "s1"}]


def test_active_loop_state_follows_loop_events() -> None:
    tracker = Tracker("t", SLOTS, [user("book", "book"), ev.ActiveLoop(name="form")])
    assert tracker.active_loop_name == "form"
    assert tracker.active_loop.trigger_message["text"] == "book"
    tracker.update(ev.ActionExecutionRejected(name="form"))
    assert tracker.active_loop.rejected
    tracker.update(ev.LoopInterrupted(is_interrupted=True))
    tracker.update(action("form"))
    assert not tracker.active_loop.rejected and not tracker.active_loop.is_interrupted
    tracker.update(ev.ActiveLoop(name=None))
    assert tracker.active_loop is None and tracker.current_state()["active_loop"] == {}


def test_followup_pause_resume_and_session_end() -> None:
    tracker = Tracker("t", SLOTS, [ev.FollowupAction(name="utter_x"), ev.ConversationPaused()])
    assert tracker.followup_action == "utter_x" and tracker.paused
    tracker.update(action("utter_x"))
    tracker.update(ev.ConversationResumed())
    assert tracker.followup_action is None and not tracker.paused
    tracker.update(ev.SessionEnded())
    tracker.update(user("ignored"))
    assert tracker.terminated and tracker.latest_message is None


def test_entities_events_extend_the_latest_message_only_after_a_listen() -> None:
    tracker = Tracker("t", SLOTS, [action("action_listen"), user("x")])
    added = {"entity": "city", "value": "Rome"}
    tracker.update(ev.EntitiesAdded(entities=[added]))
    assert tracker.latest_message_dict()["entities"] == [added]
    assert tracker.latest_message.entities == []  # the stored event is not changed


def test_form_turns_on_the_happy_path_collapse_in_applied_events() -> None:
    events = [
        user("book a table", "book"),
        action("form"),
        ev.ActiveLoop(name="form"),
        action("action_listen"),
        user("Rome"),
        slot("city", "Rome"),
        action("form"),
        action("action_listen"),
        user("Thai"),
        action("form"),
    ]
    kinds = [
        (e.type_name, getattr(e, "name", None) or getattr(e, "text", None))
        for e in applied_events(events)
    ]
    # the repeated form turns vanish, their slot events stay
    assert kinds == [
        ("user", "book a table"),
        ("action", "form"),
        ("active_loop", "form"),
        ("slot", "city"),
    ]


def test_an_unhappy_path_keeps_the_form_turns() -> None:
    events = [
        action("form"),
        ev.ActiveLoop(name="form"),
        action("action_listen"),
        user("are you a bot?", "bot_challenge"),
        action("utter_iamabot"),
        action("form"),
    ]
    assert [e.type_name for e in applied_events(events)] == [e.type_name for e in events]


def test_tracker_json_has_the_reference_shape() -> None:
    tracker = Tracker("alice", SLOTS, [*started(), user("hi", "greet", input_channel="rest")])
    state = tracker.current_state("ALL")
    assert state["sender_id"] == "alice" and state["latest_input_channel"] == "rest"
    assert state["latest_message"]["intent"]["name"] == "greet"
    assert state["latest_action"] == {"action_name": "action_listen"}
    assert state["latest_event_time"] == tracker.events[-1].timestamp
    assert set(state["slots"]) == set(SLOTS) and len(state["events"]) == 4
    assert tracker.current_state("NONE")["events"] is None
    restarted = Tracker("b", SLOTS, [user("a"), ev.Restarted(), user("b")])
    assert [e["event"] for e in restarted.current_state("AFTER_RESTART")["events"]] == [
        "restart",
        "user",
    ]


def test_copy_is_independent() -> None:
    tracker = Tracker("t", SLOTS, [slot("city", "Rome")])
    clone = tracker.copy()
    clone.update(slot("city", "Paris"))
    assert tracker.get_slot("city") == "Rome" and len(tracker.events) == 1


def test_slots_set_and_flows_started_are_known_without_reading_the_events() -> None:
    from tandem.conversation import events as events_module

    tracker = Tracker(
        "u",
        {},
        [
            events_module.SlotSet(name="city", value="Rome"),
            events_module.FlowStarted(flow_id="order"),
            events_module.Restarted(),
            events_module.SlotSet(name="size", value=None),
        ],
    )
    assert tracker.slots_in_events() == {"city", "size"}  # unknown slots and resets too
    assert tracker.flows_started_in_events() == {"order"}
    clone = tracker.copy()
    clone.update(events_module.FlowStarted(flow_id="check"))
    assert clone.flows_started_in_events() == {"order", "check"}
    assert tracker.flows_started_in_events() == {"order"}


def test_a_copy_has_every_part_of_the_state_and_is_independent() -> None:
    import dataclasses

    from tandem.conversation import events as events_module
    from tandem.conversation.slots import Slot as SlotDef

    slots = {"city": SlotDef("city", "text")}
    tracker = Tracker(
        "u",
        slots,
        [
            events_module.ActionExecuted(name="action_listen"),
            events_module.UserUttered.create("hi", {"name": "greet"}),
            events_module.SlotSet(name="city", value="Rome", filled_by="NLU"),
            events_module.ActiveLoop(name="form"),
            events_module.LoopInterrupted(is_interrupted=True),
            events_module.BotUttered(text="hello"),
            events_module.FollowupAction(name="utter_x"),
            events_module.ConversationPaused(),
            events_module.DialogueStackUpdated(
                update='[{"op": "add", "path": "/0", "value": {"flow_id": "f", "step_id": "s"}}]'
            ),
        ],
    )
    clone = tracker.copy()
    for item in dataclasses.fields(clone._state):
        assert getattr(clone._state, item.name) == getattr(tracker._state, item.name), item.name
    clone.update(events_module.SlotSet(name="city", value="Oslo"))
    clone._state.stack[0]["step_id"] = "changed"
    assert clone.active_loop is not None and tracker.active_loop is not None
    clone.active_loop.rejected = True
    assert tracker.get_slot("city") == "Rome" and tracker.stack[0]["step_id"] == "s"
    assert not tracker.active_loop.rejected
