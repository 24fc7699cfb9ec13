"""Dialogue states and the incremental state builder."""

from __future__ import annotations

import random

from policies_testkit import action, domain_of, user

from tandem.conversation import events as ev
from tandem.conversation.tracker import Tracker
from tandem.policies.featurization import (
    ACTIVE_LOOP,
    ENTITY,
    INTENT,
    PREV_ACTION,
    StateBuilder,
    StateView,
    builder_for,
    conversation_states,
    slot_key,
)

DOMAIN = domain_of(
    """
    intents:
      - greet
      - book: {use_entities: [city, date]}
      - chitchat: {ignore_entities: [city]}
    entities:
      - city: {roles: [from, to]}
      - date
      - mood: {influence_conversation: false}
    slots:
      city: {type: text, mappings: [{type: from_entity, entity: city}]}
      vip: {type: bool, initial_value: false, mappings: []}
      note: {type: text, influence_conversation: false, mappings: []}
      shared: {type: text, shared_for_coexistence: true, mappings: []}
      route_session_to_calm: {type: bool, mappings: [{type: from_llm}]}
    forms:
      booking_form: {required_slots: [city]}
    responses:
      utter_greet: [{text: hi}]
    """
)


def tracker(*events: ev.Event, sender: str = "s") -> Tracker:
    return Tracker(sender, DOMAIN.slots, events)


def entity(name: str, **extra: str) -> dict:
    return {"entity": name, "value": "x", **extra}


def test_a_state_holds_intent_used_entities_previous_action_set_slots_and_the_loop() -> None:
    conversation = tracker(
        action("action_listen"),
        user("book", entity("city", role="to"), entity("mood"), entity("date")),
        ev.SlotSet(name="city", value="Rome"),
        ev.SlotSet(name="note", value="not featurised"),
        action("booking_form"),
        ev.ActiveLoop(name="booking_form"),
    )
    assert conversation_states(conversation, DOMAIN)[-1] == {
        (INTENT, "book"),
        (ENTITY, "city"),
        (ENTITY, "city#to"),
        (ENTITY, "date"),  # mood is not among book's used entities
        (PREV_ACTION, "booking_form"),
        (slot_key("city"), (1.0,)),
        (slot_key("vip"), (1.0, 0.0)),  # an initial value counts: its features are not zero
        (ACTIVE_LOOP, "booking_form"),
    }


def test_ignored_entities_stay_out_of_the_state() -> None:
    conversation = tracker(
        action("action_listen"), user("chitchat", entity("city"), entity("date"))
    )
    assert (ENTITY, "city") not in conversation_states(conversation, DOMAIN)[-1]
    assert (ENTITY, "date") in conversation_states(conversation, DOMAIN)[-1]


def test_the_sequence_has_one_state_per_action_plus_the_current_one() -> None:
    conversation = tracker(
        action("action_listen"),
        user("greet"),
        action("utter_greet"),
        action("action_listen"),
        user("book"),
    )
    states = conversation_states(conversation, DOMAIN)
    assert len(states) == 4
    assert states[0] == {(slot_key("vip"), (1.0, 0.0))}  # before anything happened
    assert [s for s in conversation_states(conversation, DOMAIN, max_history=2)] == states[-2:]


def test_happy_form_turns_are_invisible_in_the_states() -> None:
    start = [
        action("action_listen"),
        user("book"),
        action("booking_form"),
        ev.ActiveLoop(name="booking_form"),
        action("action_listen"),
    ]
    before = conversation_states(tracker(*start), DOMAIN)
    after = conversation_states(
        tracker(*start, user("book", entity("city")), action("booking_form")), DOMAIN
    )
    # The second run of the form stands in for the first one; only the slot changes show.
    assert len(after) == len(before) - 1
    assert after[-1] == {(INTENT, "book"), (PREV_ACTION, "booking_form"), *before[-2]} - {
        (PREV_ACTION, "action_listen")
    }


def test_a_routing_session_end_leaves_only_shared_slots_to_the_nlu_policies() -> None:
    conversation = tracker(
        action("action_listen"),
        user("greet"),
        ev.SlotSet(name="city", value="Rome"),
        ev.SlotSet(name="shared", value="kept"),
        action("action_reset_routing"),
        ev.RoutingSessionEnded(),
    )
    assert conversation_states(conversation, DOMAIN) == [
        {(slot_key("vip"), (1.0, 0.0)), (slot_key("shared"), (1.0,))}
    ]


def test_views_drop_rule_only_slots_and_loops_and_hidden_rule_turns() -> None:
    conversation = tracker(
        action("action_listen"),
        user("greet"),
        action("utter_greet", hide_rule_turn=True),
        action("action_listen", hide_rule_turn=True),
        user("book", entity("city")),
        ev.SlotSet(name="city", value="Rome"),
        action("booking_form"),
        ev.ActiveLoop(name="booking_form"),
    )
    view = StateView(frozenset({"city"}), frozenset({"booking_form"}), hide_rule_turns=True)
    states = conversation_states(conversation, DOMAIN, view)
    assert len(states) == 3  # the greeting turn's two actions are hidden
    assert all(slot_key("city") not in dict(s) and ACTIVE_LOOP not in dict(s) for s in states)


def test_the_builder_is_reused_for_a_reloaded_conversation_and_renewed_for_another() -> None:
    events = [action("action_listen"), user("greet"), action("utter_greet")]
    first = builder_for(tracker(*events, sender="reuse"), DOMAIN)
    reloaded = Tracker("reuse", DOMAIN.slots, [*events, action("action_listen")])
    assert builder_for(reloaded, DOMAIN) is first
    other = Tracker("reuse", DOMAIN.slots, [action("action_listen"), user("book")])
    assert builder_for(other, DOMAIN) is not first
    assert conversation_states(other, DOMAIN)[-1] == {
        (INTENT, "book"),
        (PREV_ACTION, "action_listen"),
        (slot_key("vip"), (1.0, 0.0)),
    }


def _random_events(rng: random.Random, count: int) -> list[ev.Event]:
    makers = [
        lambda: action("action_listen"),
        lambda: user(rng.choice(["greet", "book"]), *([entity("city")] * rng.randint(0, 1))),
        lambda: action(rng.choice(["utter_greet", "booking_form"])),
        lambda: ev.ActiveLoop(name=rng.choice(["booking_form", None])),
        lambda: ev.SlotSet(name=rng.choice(["city", "vip"]), value=rng.choice([None, "x", True])),
        lambda: ev.ActionExecutionRejected(name="booking_form"),
        ev.UserUtteranceReverted,
        ev.ActionReverted,
        ev.Restarted,
        ev.AllSlotsReset,
        ev.RoutingSessionEnded,
    ]
    weights = [6, 6, 6, 2, 3, 1, 1, 1, 1, 1, 1]
    return [rng.choices(makers, weights)[0]() for _ in range(count)]


def _read_afresh(events: list[ev.Event]) -> list:
    builder = StateBuilder(DOMAIN)
    for event in events:
        builder.add(event)
    return builder.history()


def test_following_events_one_by_one_gives_the_states_of_a_fresh_reading() -> None:
    rng = random.Random(7)
    for _ in range(40):
        events = _random_events(rng, 60)
        incremental = StateBuilder(DOMAIN)
        for index, event in enumerate(events):
            incremental.add(event)
            if index % 5 == 0:  # read in between, as predictions do during a turn
                assert incremental.history() == _read_afresh(events[: index + 1])
        assert incremental.history() == _read_afresh(events)
