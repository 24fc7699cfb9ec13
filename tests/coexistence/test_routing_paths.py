"""Conversations through both systems: routing sessions, their end, intent triggers, policy
gating and what the NLU policies see."""

from __future__ import annotations

import json
from typing import Any

import pytest

from calm.calm_testkit import send, stack_of
from tandem import names
from tandem.conversation import commands as cmd
from tandem.conversation import events as ev
from tandem.conversation.tracker import Tracker
from tandem.project.domain import Domain

from .conftest import (
    NOOP,
    ROUTING,
    RULES,
    START_TRANSFER,
    STORIES,
    Chat,
    OpenChat,
    Turn,
    coexistence_config,
    routing_command,
    session_active,
    verdict,
)


@pytest.fixture
def chat(open_chat: OpenChat) -> Chat:
    """A conversation with the bank assistant and its IntentBasedRouter."""
    return open_chat()


def reset_by(turn: Turn) -> tuple[str | None, list[str]]:
    """The policy that predicted ``action_reset_routing`` and the events the action returned."""
    events = turn.events
    start = next(
        i
        for i, e in enumerate(events)
        if isinstance(e, ev.ActionExecuted) and e.name == names.ACTION_RESET_ROUTING
    )
    end = next(i for i in range(start + 1, len(events)) if isinstance(events[i], ev.ActionExecuted))
    action = events[start]
    assert isinstance(action, ev.ActionExecuted)
    returned = [
        f"slot {e.name}={e.value}" if isinstance(e, ev.SlotSet) else e.type_name
        for e in events[start + 1 : end]
    ]
    return action.policy, returned


RESET = ["routing_session_ended", f"slot {ROUTING}=None"]  # what action_reset_routing returns


async def routing_ended(chat: Chat) -> bool:
    """Whether the routing session is over: slot undecided and CALM's stack empty."""
    tracker = await chat.tracker()
    return tracker.get_slot(ROUTING) is None and tracker.stack == []


# -- routing sessions -----------------------------------------------------------------------------


async def test_a_calm_session_is_sticky_until_pattern_completed_resets_the_routing(
    chat: Chat,
) -> None:
    turn = await chat.say("send money", START_TRANSFER)
    assert (turn.route_events, turn.texts) == ([True], ["How much?"])

    # An intent the router would send to the NLU system: the session stays with CALM.
    turn = await chat.say("book a table", "set slot amount 50")
    assert turn.routing == verdict("calm", session_active(True))
    assert turn.commands[-1] == routing_command(True)
    assert turn.policies == {"FlowPolicy"}
    assert turn.texts == ["Sent 50.0.", "Anything else?"]
    # The overridden pattern_completed ended the session.
    assert reset_by(turn) == ("FlowPolicy", RESET)
    assert await routing_ended(chat)

    # The router decides afresh.
    turn = await chat.say("hi")
    assert turn.routing == verdict("nlu_non_sticky", "intent 'greet' is in nlu_entry.non_sticky")
    assert turn.texts == ["Hello!"]


async def test_an_nlu_session_is_sticky_until_a_rule_resets_the_routing(chat: Chat) -> None:
    turn = await chat.say("book a table")
    assert (turn.route_events, turn.texts) == ([False], ["For how many people?"])

    # A flow trigger does not reach CALM while the NLU system has the session.
    turn = await chat.say("my balance")
    assert turn.routing == verdict("nlu_sticky", session_active(False))
    assert (turn.commands, turn.llm_calls, turn.flows_started) == ([NOOP], 0, [])
    assert "FlowPolicy" not in turn.policies

    turn = await chat.say("for two")
    assert turn.texts == ["Your table is booked."]
    assert reset_by(turn) == ("RulePolicy", RESET)
    assert await routing_ended(chat)

    # Routed afresh: now the flow trigger starts the flow.
    turn = await chat.say("my balance")
    assert turn.routing["system"] == "calm"
    assert turn.flows_started == ["check_balance", "pattern_completed"]
    assert turn.texts == ["You have 100.", "Anything else?"]


async def test_non_sticky_turns_leave_the_session_undecided(chat: Chat) -> None:
    for text, answer in (("hi", "Hello!"), ("nice weather", "Nice weather today.")):
        turn = await chat.say(text)
        assert (turn.commands, turn.route_events, turn.texts) == (
            [NOOP],
            [],
            [answer],
        )
        assert turn.policies == {"RulePolicy"}
        assert await chat.route() is None

    turn = await chat.say("send money", START_TRANSFER)
    assert turn.routing == verdict("calm", "intent 'transfer' is in calm_entry.sticky")
    assert turn.route_events == [True]


# -- action_reset_routing -------------------------------------------------------------------------


async def test_resetting_the_routing_starts_afresh_except_for_shared_slots(chat: Chat) -> None:
    turn = await chat.say("I moved", "start flow move_house")
    assert reset_by(turn) == ("FlowPolicy", RESET)
    # The reset emptied the stack: the rest of the flow never runs.
    assert "Nobody hears this." not in turn.texts
    tracker = await chat.tracker()
    assert tracker.stack == []
    # Every slot is back to its initial value (city: Berlin, not Rome), but for the shared one.
    slots = chat.processor.assistant.domain.slots
    initial = {name: slot.initial_value for name, slot in slots.items()}
    assert {name: tracker.get_slot(name) for name in slots} == {**initial, "user_name": "Ann"}
    assert (initial["city"], slots["user_name"].shared_for_coexistence) == ("Berlin", True)


# -- intent triggers ------------------------------------------------------------------------------


async def test_an_intent_trigger_of_a_flow_routes_an_undecided_session_to_calm(
    chat: Chat,
) -> None:
    turn = await chat.say("/check_balance")
    assert turn.commands == [
        {"command": "start flow", "flow": "check_balance"},
        routing_command(True),
    ]
    assert turn.llm_calls == 0  # neither router nor generator saw the message
    assert turn.routing == verdict(
        "calm", "intent message '/check_balance' triggers a flow", "intent trigger"
    )
    assert turn.texts == ["You have 100.", "Anything else?"]


async def test_an_intent_trigger_of_no_flow_routes_an_undecided_session_to_nlu(
    chat: Chat,
) -> None:
    # The router would have made greet non-sticky; the intent trigger makes it sticky.
    turn = await chat.say("/greet")
    assert turn.commands == [routing_command(False)]
    assert turn.routing == verdict(
        "nlu_sticky", "intent message '/greet' triggers no flow", "intent trigger"
    )
    assert (turn.texts, turn.policies) == (["Hello!"], {"RulePolicy"})
    assert await chat.route() is False


async def test_an_intent_trigger_keeps_an_active_nlu_route(chat: Chat) -> None:
    await chat.say("book a table")
    turn = await chat.say("/check_balance")
    # The flow is put on the stack, but the NLU system keeps the session.
    # (No rule knows the intent: the NLU fallback then rewinds the turn, frame included.)
    assert turn.commands == [{"command": "start flow", "flow": "check_balance"}]
    assert turn.routing == {}
    assert (turn.frames_pushed, turn.flows_started, turn.route_events) == (
        ["check_balance"],
        [],
        [],
    )
    assert "FlowPolicy" not in turn.policies
    assert await chat.route() is False


async def test_an_intent_trigger_keeps_an_active_calm_route(chat: Chat) -> None:
    await chat.say("send money", START_TRANSFER)
    turn = await chat.say("/greet")
    assert (turn.commands, turn.routing, turn.route_events) == ([], {}, [])
    assert "RulePolicy" not in turn.policies and "Hello!" not in turn.texts
    assert await chat.route() is True


async def test_a_restart_in_an_undecided_session_is_left_to_the_nlu_policies(
    chat: Chat,
) -> None:
    turn = await chat.say("/restart")
    assert turn.commands == [{"command": "restart"}, routing_command(None)]
    assert turn.routing == verdict(
        "nlu_non_sticky", "intent message '/restart' only steers the session", "intent trigger"
    )
    assert turn.route_events == []
    assert ("action_restart", "RulePolicy") in turn.predicted and turn.has(ev.Restarted)


async def test_set_slots_messages_never_decide_the_routing(chat: Chat) -> None:
    turn = await chat.say("/SetSlots(amount=5)")
    assert turn.commands == [
        {"command": "set slot", "name": "amount", "value": "5", "extractor": "CommandPayloadReader"}
    ]
    assert (turn.routing, turn.route_events) == ({}, [])
    assert "FlowPolicy" not in turn.policies
    assert await chat.route() is None


# -- flows started from the NLU side --------------------------------------------------------------


async def test_a_rule_starts_a_flow_that_runs_once_calm_has_the_session(chat: Chat) -> None:
    turn = await chat.say("account overview")
    assert turn.predicted == [
        ("flow_check_balance", "RulePolicy"),
        ("action_listen", "RulePolicy"),
    ]
    # The flow is on the stack, but the routing slot (false) keeps FlowPolicy out.
    assert turn.texts == [] and turn.route_events == [False]
    assert stack_of(await chat.tracker()) == [("check_balance", "START")]

    # Something else (here: the message's own commands) has to route to CALM.
    events = await send(chat.processor, cmd.SetSlot(ROUTING, True), text="go on")
    assert [e.text for e in events if isinstance(e, ev.BotUttered)] == [
        "You have 100.",
        "Anything else?",
    ]
    assert await routing_ended(chat)


# -- policy gating --------------------------------------------------------------------------------

GREETED = [
    ev.ActionExecuted(name=names.ACTION_LISTEN),
    ev.UserUttered.create("hi", intent={"name": "greet", "confidence": 1.0}),
]
BALANCE_FRAME = {
    "frame_id": "FRAME1",
    "flow_id": "check_balance",
    "step_id": "START",
    "frame_type": "regular",
    "type": "flow",
}
NOT_DECLARED = "no routing slot"


def gating_tracker(domain: Domain, routed: bool | str | None) -> Tracker:
    """A greeting while ``check_balance`` waits on the stack, with the routing slot
    ``routed`` (or without the slot at all: ``NOT_DECLARED``)."""
    push = ev.DialogueStackUpdated(
        update=json.dumps([{"op": "add", "path": "/0", "value": BALANCE_FRAME}])
    )
    if routed == NOT_DECLARED:
        slots = {name: slot for name, slot in domain.slots.items() if name != ROUTING}
        return Tracker("gating", slots, [*GREETED, push])
    return Tracker("gating", domain.slots, [*GREETED, push, ev.SlotSet(name=ROUTING, value=routed)])


@pytest.mark.parametrize(
    ("routed", "calm_acts", "nlu_acts"),
    [(None, False, True), (True, True, False), (False, False, True), (NOT_DECLARED, True, True)],
)
async def test_the_routing_slot_gates_the_policies(
    open_chat: OpenChat, routed: Any, calm_acts: bool, nlu_acts: bool
) -> None:
    policies = ("FlowPolicy", "RulePolicy", "MemoizationPolicy")
    chat = open_chat(coexistence_config(policies=policies), dialogue=RULES + STORIES)
    domain = chat.processor.assistant.domain
    tracker = gating_tracker(domain, routed)
    predicted = {}
    for policy in chat.processor.assistant.policies:
        prediction = await policy.predict_async(tracker, domain)
        acts = prediction.max_confidence > 0
        predicted[policy.name] = domain.action_names[prediction.action_index] if acts else None
    greet = "utter_greet" if nlu_acts else None
    assert predicted == {
        "FlowPolicy": "utter_balance" if calm_acts else None,
        "RulePolicy": greet,
        "MemoizationPolicy": greet,
    }


# -- what the NLU policies see after a routing session --------------------------------------------


@pytest.mark.parametrize(
    ("before", "greeted"),
    [
        ("my balance", True),  # a CALM session, ended by pattern_completed
        ("nice weather", False),  # a non-sticky NLU turn: part of the history
    ],
)
async def test_the_nlu_policies_forget_what_happened_before_the_routing_session_ended(
    open_chat: OpenChat, before: str, greeted: bool
) -> None:
    chat = open_chat(
        coexistence_config(policies=("FlowPolicy", "MemoizationPolicy")), dialogue=STORIES
    )
    await chat.say(before)
    turn = await chat.say("hi")
    # The memorised story is a conversation that starts with the greeting.
    assert (("utter_greet", "MemoizationPolicy") in turn.predicted) is greeted
