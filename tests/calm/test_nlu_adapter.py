"""Commands from intents and entities, ``/intent`` and ``/SetSlots`` messages
and the checks every command generator shares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from actions.actions_testkit import domain_of, entity, tracker_of
from tandem.calm.generation import filter_startable, input_error
from tandem.calm.nlu_adapter import (
    NLUCommandAdapter,
    commands_for_intent_message,
    convert_nlu_to_commands,
    parse_set_slots,
)
from tandem.conversation import stack as st
from tandem.conversation.commands import (
    CANNOT_HANDLE_INVALID_INTENT,
    COMMAND_PAYLOAD_READER,
    INTERNAL_ERROR_INPUT_EMPTY,
    INTERNAL_ERROR_INPUT_TOO_LONG,
    NLU,
    CancelFlow,
    CannotHandle,
    Command,
    CorrectSlots,
    Error,
    Noop,
    Restart,
    SessionStart,
    SetSlot,
    StartFlow,
    commands_as_dicts,
    commands_from_dicts,
)
from tandem.conversation.routing import handled_by_nlu
from tandem.conversation.tracker import Tracker
from tandem.names import ROUTING_SLOT
from tandem.project.domain import Domain
from tandem.project.flows.model import FlowsList
from tandem.project.flows.reader import flows_from_yaml
from tandem.project.yaml import parse_yaml

from .test_cleaning import collecting, filled, flows_of, with_stack

SLOTS = """
    intents: [transfer_money, book_trip, check_balance, inform, affirm, stop, thanks, greet]
    entities:
      - amount
      - account
      - city:
          roles: [from, to]
          groups: [g1]
    slots:
      amount:
        type: float
        mappings: [{type: from_entity, entity: amount}]
      note:
        type: text
        mappings:
          - type: from_text
            conditions: [{active_flow: transfer_money}]
      confirmed:
        type: bool
        mappings:
          - {type: from_llm}
          - {type: from_intent, intent: affirm, value: true}
      origin:
        type: text
        mappings: [{type: from_entity, entity: city, role: from}]
      destination:
        type: text
        mappings: [{type: from_entity, entity: city, role: to}]
      stopover:
        type: text
        mappings: [{type: from_entity, entity: city, group: g1}]
      cities:
        type: list
        mappings: [{type: from_entity, entity: city}]
      account:
        type: text
        mappings: [{type: from_entity, entity: account}]
      recipient:
        type: text
      spare:
        type: float
        mappings: [{type: from_entity, entity: amount}]
"""
DOMAIN = domain_of(SLOTS)
ROUTING_DOMAIN = domain_of(SLOTS + f"      {ROUTING_SLOT}:\n        type: bool\n")

FLOWS_YAML = """
    flows:
      transfer_money:
        description: send money
        nlu_trigger:
          - intent:
              name: transfer_money
              confidence_threshold: 0.8
        steps:
          - collect: amount
          - collect: note
          - collect: confirmed
          - collect: recipient
      book_trip:
        description: book a trip
        nlu_trigger: [{intent: book_trip}]
        steps:
          - collect: origin
          - collect: destination
          - collect: stopover
          - collect: cities
      check_balance:
        description: check the balance, once confirmed
        if: slots.confirmed
        nlu_trigger: [{intent: check_balance}]
        steps:
          - action: utter_balance
      verify:
        description: verify the account
        steps:
          - collect: account
            ask_before_filling: true
      pattern_cancel_flow:
        description: cancel the current flow
        nlu_trigger: [{intent: stop}]
        steps:
          - action: action_cancel_flow
      pattern_completed:
        description: ask what else
        nlu_trigger: [{intent: thanks}]
        steps:
          - action: utter_can_do_something_else
"""
FLOWS = flows_of(FLOWS_YAML)


def message(
    intent: str | None = None,
    *entities: dict[str, Any],
    text: str = "some text",
    confidence: float = 1.0,
    commands: Sequence[Command] = (),
) -> dict[str, Any]:
    """Parse data as the NLU pipeline produces it."""
    return {
        "text": text,
        "intent": {"name": intent, "confidence": confidence} if intent else {},
        "entities": list(entities),
        "commands": commands_as_dicts(commands),
    }


def city(value: str, **extra: str) -> dict[str, Any]:
    return entity("city", value, **extra)


def convert(parse_data: dict[str, Any], tracker: Tracker | None = None) -> list[Command]:
    return convert_nlu_to_commands(parse_data, tracker or tracker_of(DOMAIN), FLOWS, DOMAIN)


def at_step(flow_id: str, slot: str, domain: Domain = DOMAIN) -> Tracker:
    """``flow_id`` running and asking for ``slot`` at its collect step."""
    flow = FLOWS.get(flow_id)
    assert flow is not None
    (step,) = [s for s in flow.collect_steps if s.collect == slot]
    return with_stack(domain, st.flow_frame(flow_id, step_id=step.id), collecting(slot))


def nlu_dicts(*pairs: tuple[str, Any]) -> list[dict[str, Any]]:
    return commands_as_dicts(SetSlot(name, value, NLU) for name, value in pairs)


# -- flow triggers --------------------------------------------------------------------------------


def test_intent_starts_the_flow_it_triggers_at_or_above_the_threshold() -> None:
    assert convert(message("transfer_money", confidence=0.8)) == [StartFlow("transfer_money")]
    assert convert(message("transfer_money", confidence=0.79)) == []
    assert convert(message("book_trip", confidence=0.01)) == [StartFlow("book_trip")]


def test_pattern_triggers_become_the_patterns_commands() -> None:
    assert convert(message("stop")) == [CancelFlow()]
    assert convert(message("restart")) == [Restart()]
    assert convert(message("session_start")) == [SessionStart()]
    # pattern_completed has no command: its trigger is ignored.
    assert convert(message("thanks")) == []


def test_only_the_first_triggered_flow_counts() -> None:
    # Flow validation forbids one intent in two triggers; an unvalidated list still works.
    unchecked = FlowsList(
        tuple(
            flows_from_yaml(
                parse_yaml(
                    "flows:\n"
                    "  a: {description: a, nlu_trigger: [{intent: greet}], steps: [{action: x}]}\n"
                    "  b: {description: b, nlu_trigger: [{intent: greet}], steps: [{action: x}]}\n"
                )
            )
        )
    )
    tracker = tracker_of(DOMAIN)
    assert convert_nlu_to_commands(message("greet"), tracker, unchecked, DOMAIN) == [StartFlow("a")]


def test_message_without_intent_or_entities_converts_to_nothing() -> None:
    assert convert(message(None, text="hello")) == []


# -- slots ----------------------------------------------------------------------------------------


def test_trigger_comes_first_then_the_slots_in_domain_order() -> None:
    converted = convert(message("transfer_money", entity("amount", 100)))
    assert commands_as_dicts(converted) == [
        StartFlow("transfer_money").as_dict(),
        *nlu_dicts(("amount", 100)),
    ]


def test_entities_fill_slots_by_entity_role_and_group() -> None:
    entities = [city("Berlin", role="from"), city("Paris", role="to"), city("Rome", group="g1")]
    assert commands_as_dicts(convert(message("inform", *entities))) == nlu_dicts(
        ("origin", "Berlin"), ("destination", "Paris"), ("stopover", "Rome")
    )


def test_an_entity_without_role_fills_only_mappings_without_role() -> None:
    converted = convert(message("inform", city("Oslo"), city("Bern")))
    assert commands_as_dicts(converted) == nlu_dicts(("cities", ["Oslo", "Bern"]))


def test_a_non_list_slot_takes_the_last_matching_entity() -> None:
    converted = convert(message("inform", entity("amount", 5), entity("amount", 7)))
    assert commands_as_dicts(converted) == nlu_dicts(("amount", 7))


def test_from_intent_gives_the_mappings_value() -> None:
    assert commands_as_dicts(convert(message("affirm"))) == nlu_dicts(("confirmed", True))


def test_active_flow_condition_needs_that_flow_running() -> None:
    assert convert(message("inform", text="for the rent")) == []
    other = at_step("book_trip", "origin")
    assert convert(message("inform", text="for the rent"), other) == []
    running = at_step("transfer_money", "note")
    assert commands_as_dicts(convert(message("inform", text="for the rent"), running)) == (
        nlu_dicts(("note", "for the rent"))
    )


def test_slots_no_flow_collects_are_never_filled() -> None:
    converted = convert(message("inform", entity("amount", 5)))
    assert all(c.name != "spare" for c in converted if isinstance(c, SetSlot))


def test_ask_before_filling_slots_are_filled_only_while_asked() -> None:
    account = entity("account", "DE12")
    assert convert(message("inform", account)) == []
    asked = at_step("verify", "account")
    assert commands_as_dicts(convert(message("inform", account), asked)) == nlu_dicts(
        ("account", "DE12")
    )


# -- NLUCommandAdapter.predict_commands -----------------------------------------------------------


async def predict(
    parse_data: dict[str, Any],
    tracker: Tracker | None = None,
    domain: Domain = DOMAIN,
    flows: FlowsList = FLOWS,
) -> list[Command]:
    adapter = NLUCommandAdapter({})
    prior = commands_from_dicts(parse_data.get("commands", []))
    return await adapter.predict_commands(
        parse_data, prior, tracker or tracker_of(domain), flows, domain
    )


def test_adapter_options() -> None:
    assert NLUCommandAdapter().max_characters == 420
    assert NLUCommandAdapter({"user_input": {"max_characters": 10}}).max_characters == 10
    assert NLUCommandAdapter.name == "NLUCommandAdapter"


async def test_flows_whose_guard_fails_are_not_started() -> None:
    assert await predict(message("check_balance")) == []
    confirmed = tracker_of(DOMAIN, filled("confirmed", True))
    assert await predict(message("check_balance"), confirmed) == [StartFlow("check_balance")]


async def test_a_flow_start_also_routes_the_session_to_calm() -> None:
    assert await predict(message("book_trip"), domain=ROUTING_DOMAIN) == [
        StartFlow("book_trip"),
        SetSlot(ROUTING_SLOT, True),
    ]
    # Filling slots alone does not decide the routing.
    assert await predict(message("inform", city("Oslo")), domain=ROUTING_DOMAIN) == [
        SetSlot("cities", ["Oslo"])
    ]


async def test_adapter_commands_are_cleaned() -> None:
    tracker = with_stack(
        DOMAIN,
        st.flow_frame("transfer_money"),
        collecting("note"),
        events=(filled("amount", 50.0, NLU),),
    )
    text = "make it 70, for the rent"
    predicted = await predict(message("transfer_money", entity("amount", 70), text=text), tracker)
    # Restarting the running flow is dropped, the new amount corrects the old one, and the
    # note being asked for is taken as it is.
    assert predicted == [CorrectSlots(), SetSlot("note", text)]
    correction = predicted[0]
    assert isinstance(correction, CorrectSlots)
    assert [(s.name, s.value, s.filled_by) for s in correction.corrected_slots] == [
        ("amount", 70, NLU)
    ]


async def test_nlu_commands_win_over_prior_ones() -> None:
    prior = [StartFlow("book_trip"), SetSlot("amount", 1), SetSlot("recipient", "Mary")]
    predicted = await predict(message("transfer_money", entity("amount", 100), commands=prior))
    assert commands_as_dicts(predicted) == [
        SetSlot("recipient", "Mary").as_dict(),
        StartFlow("transfer_money").as_dict(),
        *nlu_dicts(("amount", 100)),
    ]


async def test_prior_commands_stay_when_the_nlu_has_nothing_to_say() -> None:
    prior = [StartFlow("book_trip")]
    assert await predict(message("greet", commands=prior)) == prior
    assert await predict(message("greet", commands=prior), flows=FlowsList()) == prior


# -- /intent messages -----------------------------------------------------------------------------


def for_intent(intent: str, tracker: Tracker | None = None) -> list[Command]:
    tracker = tracker or tracker_of(ROUTING_DOMAIN)
    return commands_for_intent_message(message(intent), tracker, FLOWS, ROUTING_DOMAIN)


@pytest.mark.parametrize(
    ("intent", "expected"),
    [
        ("transfer_money", [StartFlow("transfer_money"), SetSlot(ROUTING_SLOT, True)]),
        ("stop", [CancelFlow(), SetSlot(ROUTING_SLOT, True)]),
        ("restart", [Restart(), SetSlot(ROUTING_SLOT, None)]),
        ("session_start", [SessionStart(), SetSlot(ROUTING_SLOT, None)]),
        ("greet", [SetSlot(ROUTING_SLOT, False)]),
    ],
)
def test_intent_message_decides_an_undecided_routing(intent: str, expected: list[Command]) -> None:
    assert for_intent(intent) == expected


def test_intent_message_leaves_a_decided_routing_alone() -> None:
    for value in (True, False):
        routed = tracker_of(ROUTING_DOMAIN, filled(ROUTING_SLOT, value))
        assert for_intent("transfer_money", routed) == [StartFlow("transfer_money")]
        assert for_intent("greet", routed) == []


def test_intent_message_skips_guards_and_cleaning() -> None:
    assert for_intent("check_balance")[0] == StartFlow("check_balance")
    running = with_stack(ROUTING_DOMAIN, st.flow_frame("transfer_money"))
    assert for_intent("transfer_money", running)[0] == StartFlow("transfer_money")


def test_intent_missing_from_the_domain_cannot_be_handled() -> None:
    assert for_intent("order_pizza") == [
        CannotHandle(CANNOT_HANDLE_INVALID_INTENT),
        SetSlot(ROUTING_SLOT, False),
    ]
    tracker = tracker_of(DOMAIN)
    assert commands_for_intent_message(message("order_pizza"), tracker, FLOWS, DOMAIN) == [
        CannotHandle(CANNOT_HANDLE_INVALID_INTENT)
    ]


# -- /SetSlots messages ---------------------------------------------------------------------------


def payload(*pairs: tuple[str, Any]) -> list[dict[str, Any]]:
    return commands_as_dicts(SetSlot(n, v, COMMAND_PAYLOAD_READER) for n, v in pairs)


def set_slots(text: str) -> list[dict[str, Any]] | None:
    commands = parse_set_slots(text, DOMAIN)
    return None if commands is None else commands_as_dicts(commands)


def test_set_slots_message() -> None:
    assert set_slots("/SetSlots(amount=100, note=for the rent)") == payload(
        ("amount", "100"), ("note", "for the rent")
    )


def test_set_slots_list_values() -> None:
    assert set_slots("/SetSlots(cities=[Oslo, Bern], origin=Rome)") == payload(
        ("cities", ["Oslo", "Bern"]), ("origin", "Rome")
    )
    assert set_slots("/SetSlots(cities=[])") == payload(("cities", []))


@pytest.mark.parametrize("word", ["none", "Null", "UNDEFINED"])
def test_set_slots_words_for_no_value(word: str) -> None:
    assert set_slots(f"/SetSlots(note={word})") == payload(("note", None))


def test_set_slots_with_an_unknown_slot_sets_nothing() -> None:
    assert set_slots("/SetSlots(amount=1, colour=red)") == []


def test_set_slots_with_more_than_ten_assignments_sets_nothing() -> None:
    ten = ", ".join(["amount=1"] * 10)
    assert set_slots(f"/SetSlots({ten})") == payload(*[("amount", "1")] * 10)
    assert set_slots(f"/SetSlots({ten}, note=x)") == []


def test_other_messages_are_not_set_slots_messages() -> None:
    assert set_slots("/greet") is None
    assert set_slots("set slots please") is None


# -- checks shared by all generators --------------------------------------------------------------


def test_input_errors() -> None:
    assert input_error("", 420) == Error(INTERNAL_ERROR_INPUT_EMPTY)
    assert input_error(" \n", 420) == Error(INTERNAL_ERROR_INPUT_EMPTY)
    assert input_error("x" * 420, 420) is None
    assert input_error("x" * 421, 420) == Error(
        INTERNAL_ERROR_INPUT_TOO_LONG, {"max_characters": 420}
    )
    assert input_error("x" * 10_000, -1) is None


def test_handled_by_nlu() -> None:
    undecided = tracker_of(ROUTING_DOMAIN)
    assert handled_by_nlu(undecided, [Noop()]) is True
    assert handled_by_nlu(undecided, [SetSlot(ROUTING_SLOT, False)]) is True
    assert handled_by_nlu(undecided, [SetSlot(ROUTING_SLOT, True)]) is False
    assert handled_by_nlu(undecided, [Noop(), Noop()]) is False
    assert handled_by_nlu(undecided, []) is False
    assert handled_by_nlu(tracker_of(ROUTING_DOMAIN, filled(ROUTING_SLOT, False)), []) is True
    calm = tracker_of(ROUTING_DOMAIN, filled(ROUTING_SLOT, True))
    assert handled_by_nlu(calm, [Noop()]) is False
    assert handled_by_nlu(tracker_of(DOMAIN), [Noop()]) is False
    assert handled_by_nlu(None, [Noop()]) is False


def test_filter_startable_drops_guarded_and_unknown_flows() -> None:
    commands = [StartFlow("check_balance"), StartFlow("nope"), StartFlow("book_trip"), Noop()]
    tracker = tracker_of(DOMAIN)
    assert filter_startable(commands, tracker, FLOWS) == [StartFlow("book_trip"), Noop()]
    # A guarded flow stays startable while it runs.
    running = with_stack(DOMAIN, st.flow_frame("check_balance"))
    assert StartFlow("check_balance") in filter_startable(commands, running, FLOWS)
