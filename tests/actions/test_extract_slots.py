"""``action_extract_slots``: mappings, conditions, forms, custom actions, coexistence."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from actions_testkit import action, context_for, domain_of, entity, started, user, wire

from tandem.actions.base import ActionFailed
from tandem.actions.extract_slots import ExtractSlotsAction
from tandem.conversation import events as ev
from tandem.conversation.routing import fill_in_this_system, is_calm_turn
from tandem.project.flows.patterns import build_flows
from tandem.project.flows.reader import flows_from_yaml
from tandem.project.yaml import parse_yaml

DOMAIN = domain_of(
    """
    intents: [greet, inform, book, chitchat, deny, buy]
    entities:
      - city:
          roles: [from, to]
          groups: [a]
      - cuisine
      - number
    slots:
      city:
        type: text
        mappings: [{type: from_entity, entity: city}]
      origin:
        type: text
        mappings: [{type: from_entity, entity: city, role: from}]
      cities:
        type: list
        mappings: [{type: from_entity, entity: city}]
      grouped:
        type: text
        mappings: [{type: from_entity, entity: city, group: a}]
      note:
        type: text
        mappings: [{type: from_text, intent: inform, not_intent: [greet]}]
      mood:
        type: text
        mappings:
          - {type: from_intent, intent: greet, value: happy}
          - {type: from_intent, intent: deny, value: null}
      guarded:
        type: text
        mappings: [{type: from_text, not_intent: [inform, greet, deny]}]
      cuisine:
        type: text
        mappings:
          - type: from_entity
            entity: cuisine
            conditions: [{active_loop: restaurant_form, requested_slot: cuisine}]
          - type: from_text
            conditions: [{active_loop: restaurant_form, requested_slot: cuisine}]
      people:
        type: float
        mappings:
          - {type: from_entity, entity: number}
      seats:
        type: float
        mappings:
          - {type: from_entity, entity: number}
      booking:
        type: bool
        mappings: [{type: from_trigger_intent, intent: book, value: true}]
      idle:
        type: text
        mappings:
          - type: from_intent
            intent: chitchat
            value: idle
            conditions: [{active_loop: null}]
      pending:
        type: text
        mappings:
          - type: from_intent
            intent: chitchat
            value: pending
            conditions: [{requested_slot: people}]
    forms:
      restaurant_form:
        ignored_intents: [chitchat]
        required_slots: [cuisine, people, seats]
    """
)


async def extract(domain, *events: ev.Event, flows=None, server=None) -> list[dict[str, Any]]:
    context = context_for(domain, flows=flows, action_server=server)
    return wire(await ExtractSlotsAction().run(started(domain, *events), context))


def slot(name: str, value: Any, **extra: Any) -> dict[str, Any]:
    return {"event": "slot", "name": name, "value": value, **extra}


def in_form(requested: str | None, *turn: ev.Event) -> list[ev.Event]:
    """The events of a conversation where the restaurant form asks for ``requested``."""
    return [
        user("book a table", "book"),
        action("restaurant_form"),
        ev.ActiveLoop(name="restaurant_form"),
        ev.SlotSet(name="requested_slot", value=requested),
        action("action_listen"),
        *turn,
    ]


# -- from_entity ----------------------------------------------------------------------------


async def test_from_entity_matches_entity_role_and_group_exactly():
    events = await extract(
        DOMAIN,
        user(
            "from Berlin to Rome",
            "greet",
            [
                entity("city", "Berlin", role="from"),
                entity("city", "Rome", role="to"),
            ],
        ),
    )
    # Only the mapping with role "from" takes an entity with a role.
    assert events == [slot("origin", "Berlin"), slot("mood", "happy")]


async def test_non_list_slots_take_the_last_value_and_list_slots_all():
    events = await extract(
        DOMAIN,
        user(
            "Paris or Lyon",
            "greet",
            [entity("city", "Paris"), entity("city", "Lyon"), entity("city", "Nice", group="a")],
        ),
    )
    assert events == [
        slot("city", "Lyon"),
        slot("cities", ["Paris", "Lyon"]),
        slot("grouped", "Nice"),
        slot("mood", "happy"),
    ]


async def test_entities_added_by_an_entities_event_count():
    events = await extract(
        DOMAIN, user("hi", "greet"), ev.EntitiesAdded(entities=[entity("city", "Oslo")])
    )
    assert slot("city", "Oslo") in events


async def test_mapping_of_an_entity_not_in_the_domain_is_skipped(caplog):
    domain = domain_of(
        """
        entities: [city]
        slots:
          x: {type: text, mappings: [{type: from_entity, entity: planet}]}
        """
    )
    with caplog.at_level(logging.DEBUG):
        events = await extract(domain, user("Mars", "inform", [entity("planet", "Mars")]))
    assert events == []
    # Validation refuses such a domain; at run time (where the IntentBasedRouter converts with
    # a domain stripped of entities on every turn) it is only a debug line, never a warning.
    assert [r.levelno for r in caplog.records if "planet" in r.getMessage()] == [logging.DEBUG]


# -- from_text / from_intent and intent filters ---------------------------------------------


async def test_from_text_honours_intent_filters():
    assert await extract(DOMAIN, user("I like it", "inform")) == [slot("note", "I like it")]
    events = await extract(DOMAIN, user("buy it", "buy"))
    assert events == [slot("guarded", "buy it")]  # not_intent lets every other intent through


async def test_from_intent_sets_the_constant_and_null_clears_only_a_set_slot():
    assert await extract(DOMAIN, user("hello", "greet")) == [slot("mood", "happy")]
    # Null value while the slot is empty: nothing to say.
    assert await extract(DOMAIN, user("no", "deny")) == []
    cleared = await extract(DOMAIN, ev.SlotSet(name="mood", value="happy"), user("no", "deny"))
    assert cleared == [slot("mood", None)]


async def test_first_mapping_with_a_value_wins():
    domain = domain_of(
        """
        intents: [inform]
        entities: [city]
        slots:
          x:
            type: text
            mappings:
              - {type: from_entity, entity: city}
              - {type: from_text}
        """
    )
    assert await extract(domain, user("Rome!", "inform", [entity("city", "Rome")])) == [
        slot("x", "Rome")
    ]
    assert await extract(domain, user("somewhere", "inform")) == [slot("x", "somewhere")]


# -- conditions ---------------------------------------------------------------------------


async def test_conditions_on_active_loop_and_requested_slot():
    asked = await extract(
        DOMAIN, *in_form("cuisine", user("thai please", "inform", [entity("cuisine", "thai")]))
    )
    assert slot("cuisine", "thai") in asked
    other = await extract(
        DOMAIN, *in_form("people", user("thai please", "inform", [entity("cuisine", "thai")]))
    )
    assert all(e["name"] != "cuisine" for e in other)
    no_form = await extract(DOMAIN, user("thai", "inform", [entity("cuisine", "thai")]))
    assert all(e["name"] != "cuisine" for e in no_form)


async def test_a_later_mapping_applies_when_an_earlier_condition_mapping_has_no_value():
    events = await extract(DOMAIN, *in_form("cuisine", user("anything goes", "inform")))
    assert slot("cuisine", "anything goes") in events


async def test_active_loop_null_matches_only_without_a_loop():
    assert await extract(DOMAIN, user("lol", "chitchat")) == [
        slot("guarded", "lol"),
        slot("idle", "idle"),
    ]


async def test_condition_without_active_loop_key_matches_nothing():
    # `pending` has `conditions: [{requested_slot: people}]`; even while people is requested
    # the condition names no loop and so never holds.
    events = await extract(DOMAIN, *in_form("people", user("lol", "chitchat")))
    assert all(e["name"] != "pending" for e in events)


async def test_active_flow_condition_compares_with_the_stack_top_flow():
    domain = domain_of(
        """
        intents: [inform]
        slots:
          x:
            type: text
            mappings:
              - type: from_text
                conditions: [{active_loop: null, active_flow: transfer}]
        """
    )
    frames = [
        {"frame_id": "A", "flow_id": "transfer", "step_id": "s", "type": "flow"},
        {
            "frame_id": "B",
            "flow_id": "pattern_collect_information",
            "step_id": "c",
            "collect": "x",
            "type": "pattern_collect_information",
        },
    ]
    stack = ev.DialogueStackUpdated(
        update=json.dumps(
            [
                {"op": "add", "path": "/0", "value": frames[0]},
                {"op": "add", "path": "/1", "value": frames[1]},
            ]
        )
    )
    assert await extract(domain, stack, user("100", "inform")) == [slot("x", "100")]
    assert await extract(domain, user("100", "inform")) == []


# -- forms ----------------------------------------------------------------------------------


async def test_form_ignored_intents_block_unconditioned_mappings():
    # `guarded` would take any chitchat text, but the active form ignores chitchat.
    events = await extract(DOMAIN, *in_form("people", user("lol", "chitchat")))
    assert events == []


async def test_rejected_form_does_not_refill_its_requested_slot():
    rejected = in_form(
        "cuisine",
        user("thai?", "inform", [entity("cuisine", "thai")]),
        ev.ActionExecutionRejected(name="restaurant_form"),
    )
    assert all(e["name"] != "cuisine" for e in await extract(DOMAIN, *rejected))


async def test_from_trigger_intent_fills_only_on_the_activating_message():
    activation = [user("book a table", "book"), ev.ActiveLoop(name="restaurant_form")]
    assert slot("booking", True) in await extract(DOMAIN, *activation)
    later = in_form("cuisine", user("book", "book"))
    assert all(e["name"] != "booking" for e in await extract(DOMAIN, *later))
    assert all(e["name"] != "booking" for e in await extract(DOMAIN, user("book", "book")))


async def test_an_entity_shared_by_two_required_slots_fills_only_the_requested_one():
    message = user("4", "inform", [entity("number", 4)])
    asked_people = await extract(DOMAIN, *in_form("people", message))
    assert slot("people", 4) in asked_people
    assert all(e["name"] != "seats" for e in asked_people)
    asked_cuisine = await extract(DOMAIN, *in_form("cuisine", message))
    assert all(e["name"] not in ("people", "seats") for e in asked_cuisine)
    # Without a form the rule does not apply.
    assert [e["name"] for e in await extract(DOMAIN, message)] == ["note", "people", "seats"]


# -- custom actions ---------------------------------------------------------------------------


class FakeActionServer:
    """Stands in for ``ActionServerClient``: canned replies, records every call."""

    def __init__(self, replies: dict[str, Any]) -> None:
        self.replies = replies
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def call(self, name, tracker, domain):
        self.calls.append((name, tracker.current_state("ALL")))
        reply = self.replies[name]
        if isinstance(reply, Exception):
            raise reply
        return {"events": reply.get("events", []), "responses": reply.get("responses", [])}


CUSTOM_DOMAIN = domain_of(
    """
    intents: [inform]
    entities: [city]
    slots:
      city: {type: text, mappings: [{type: from_entity, entity: city}]}
      hotel: {type: text, mappings: [{type: controlled, run_action_every_turn: action_hotel}]}
      stars: {type: float, mappings: [{type: custom, action: action_hotel}]}
      weather: {type: text, mappings: [{type: controlled, run_action_every_turn: action_weather}]}
    actions: [action_hotel, action_weather]
    """
)


async def test_mapping_actions_run_once_per_turn_and_keep_only_slot_and_bot_events():
    server = FakeActionServer(
        {
            "action_hotel": {
                "events": [
                    {"event": "slot", "name": "hotel", "value": "Ritz"},
                    {"event": "followup", "name": "utter_x"},
                ],
                "responses": [{"text": "found a hotel"}],
            },
            "action_weather": ActionFailed("server down"),
        }
    )
    events = await extract(
        CUSTOM_DOMAIN, user("Rome", "inform", [entity("city", "Rome")]), server=server
    )
    assert [name for name, _ in server.calls] == ["action_hotel", "action_weather"]
    assert [(e["event"], e.get("name"), e.get("text")) for e in events] == [
        ("slot", "city", None),
        ("bot", None, "found a hotel"),
        ("slot", "hotel", None),
    ]
    assert events[-1]["filled_by"] == "CUSTOM"
    # The mapping action already saw the slots extracted before it.
    assert server.calls[0][1]["slots"]["city"] == "Rome"


async def test_validate_slot_mappings_overrides_the_slots_it_mentions():
    domain = domain_of(
        """
        intents: [inform]
        entities: [city, cuisine]
        slots:
          city: {type: text, mappings: [{type: from_entity, entity: city}]}
          cuisine: {type: text, mappings: [{type: from_entity, entity: cuisine}]}
        actions: [action_validate_slot_mappings]
        """
    )
    server = FakeActionServer(
        {
            "action_validate_slot_mappings": {
                "events": [
                    {"event": "slot", "name": "city", "value": None},
                    {"event": "reset_slots"},
                ],
                "responses": [{"text": "No such city."}],
            }
        }
    )
    message = user("x", "inform", [entity("city", "Atlantis"), entity("cuisine", "thai")])
    events = await extract(domain, message, server=server)
    assert [(e["event"], e.get("name"), e.get("value")) for e in events] == [
        ("bot", None, None),
        ("slot", "city", None),
        ("slot", "cuisine", "thai"),
    ]
    seen = server.calls[0][1]
    assert seen["slots"]["city"] == "Atlantis"  # the validator sees the candidates
    assert [e["event"] for e in seen["events"][-2:]] == ["slot", "slot"]


async def test_validate_slot_mappings_failure_keeps_the_candidates():
    domain = domain_of(
        """
        intents: [inform]
        entities: [city]
        slots:
          city: {type: text, mappings: [{type: from_entity, entity: city}]}
        actions: [action_validate_slot_mappings]
        """
    )
    server = FakeActionServer({"action_validate_slot_mappings": ActionFailed("down")})
    message = user("x", "inform", [entity("city", "Rome")])
    assert await extract(domain, message, server=server) == [slot("city", "Rome")]


# -- coexistence ----------------------------------------------------------------------------

COEXISTENCE = domain_of(
    """
    intents: [inform]
    entities: [city]
    slots:
      route_session_to_calm: {type: bool, mappings: [{type: from_llm}]}
      city: {type: text, mappings: [{type: from_entity, entity: city}]}
      destination: {type: text, mappings: [{type: from_entity, entity: city}]}
      shared_city:
        type: text
        shared_for_coexistence: true
        mappings: [{type: from_entity, entity: city}]
      nlu_hotel:
        type: text
        mappings: [{type: controlled, run_action_every_turn: action_nlu, coexistence_system: NLU}]
      calm_hotel:
        type: text
        mappings: [{type: controlled, run_action_every_turn: action_calm, coexistence_system: CALM}]
    actions: [action_nlu, action_calm]
    """
)
# CALM's slots: the ones its flows collect.
CALM_FLOWS = build_flows(
    flows_from_yaml(
        parse_yaml(
            "flows:\n  travel:\n    description: Plan a trip.\n    steps:\n"
            "      - collect: destination\n      - collect: calm_hotel\n"
        )
    ),
    with_default_patterns=False,
)
NO_EVENTS = {"events": [], "responses": []}


async def test_nlu_turn_fills_only_nlu_and_shared_slots():
    server = FakeActionServer({"action_nlu": NO_EVENTS, "action_calm": NO_EVENTS})
    message = user("Rome", "inform", [entity("city", "Rome")], commands=[{"command": "noop"}])
    events = await extract(COEXISTENCE, message, flows=CALM_FLOWS, server=server)
    assert [e["name"] for e in events] == ["city", "shared_city"]
    assert [name for name, _ in server.calls] == ["action_nlu"]


async def test_calm_turn_only_runs_calm_mapping_actions():
    server = FakeActionServer(
        {
            "action_nlu": NO_EVENTS,
            "action_calm": {"events": [{"event": "slot", "name": "calm_hotel", "value": "Ritz"}]},
        }
    )
    message = user(
        "Rome",
        "inform",
        [entity("city", "Rome")],
        commands=[{"command": "start flow", "flow": "book_hotel"}],
    )
    events = await extract(COEXISTENCE, message, flows=CALM_FLOWS, server=server)
    assert events == [slot("calm_hotel", "Ritz", filled_by="CUSTOM")]
    assert [name for name, _ in server.calls] == ["action_calm"]


@pytest.mark.parametrize(
    ("commands", "calm"),
    [
        ([], False),
        ([{"command": "noop"}], False),
        ([{"command": "set slot", "name": "route_session_to_calm", "value": True}], False),
        ([{"command": "set slot", "name": "city", "value": "Rome"}], True),
        ([{"command": "noop"}, {"command": "start flow", "flow": "x"}], True),
    ],
)
def test_calm_turn_means_a_command_other_than_routing(commands, calm):
    tracker = started(COEXISTENCE, user("x", "inform", commands=commands))
    assert is_calm_turn(tracker) is calm


def test_fill_in_this_system():
    slots = COEXISTENCE.slots
    calm_names = {"destination", "calm_hotel"}
    assert fill_in_this_system(slots["shared_city"], True, calm_names)
    assert fill_in_this_system(slots["shared_city"], False, calm_names)
    assert fill_in_this_system(slots["city"], False, calm_names)
    assert not fill_in_this_system(slots["city"], True, calm_names)
    assert not fill_in_this_system(slots["destination"], False, calm_names)
    assert fill_in_this_system(slots["destination"], True, calm_names)
    assert not fill_in_this_system(slots["calm_hotel"], False, set())
    assert not fill_in_this_system(slots["nlu_hotel"], True, {"nlu_hotel"})
