"""The default actions of CALM's patterns and the ``flow_<id>`` actions.

Each test builds a stack, runs one action and applies its events to the tracker, then
compares the resulting stack (never patch strings) and the other events.
"""

from __future__ import annotations

import copy
import random
import textwrap
from dataclasses import replace
from typing import Any

import pytest

from tandem.actions.base import ActionContext, ActionFailed
from tandem.actions.registry import ActionRegistry
from tandem.actions.responses import ResponseGenerator
from tandem.calm.pattern_actions import FlowAction, register_pattern_actions
from tandem.conversation import events as ev
from tandem.conversation import stack as st
from tandem.conversation.tracker import Tracker
from tandem.names import END
from tandem.project.domain import Domain
from tandem.project.domain_files import domain_from_yaml, with_defaults
from tandem.project.flows.patterns import build_flows, default_pattern_domain
from tandem.project.flows.reader import flows_from_yaml
from tandem.project.yaml import parse_yaml

FLOWS = build_flows(
    flows_from_yaml(
        parse_yaml(
            textwrap.dedent(
                """
                flows:
                  transfer_money:
                    description: send money to someone
                    steps:
                      - id: ask_recipient
                        collect: recipient
                      - id: ask_amount
                        collect: amount
                        rejections:
                          - if: slots.amount > 1000
                            utter: utter_amount_too_high
                      - id: ask_confirmed
                        collect: confirmed
                  check_balance:
                    description: tell the user their balance
                    name: check my balance
                    steps:
                      - action: utter_balance
                """
            ),
            "data/flows.yml",
        )
    )
)


def _domain(text: str) -> Domain:
    """The domain of ``text`` completed with the default patterns' responses and slots, as
    the project loader does for a project with flows (the project's own win)."""
    problems: list[Any] = []
    domain = with_defaults(domain_from_yaml(parse_yaml(textwrap.dedent(text)), problems))
    assert not problems, problems
    defaults = default_pattern_domain()
    return replace(
        domain,
        responses={**defaults.responses, **domain.responses},
        slots={**defaults.slots, **domain.slots},
        flow_ids=tuple(flow.id for flow in FLOWS),
    )


DOMAIN = _domain(
    """
    intents: [inform]
    slots:
      recipient: {type: text, mappings: [{type: from_llm}]}
      amount: {type: float, mappings: [{type: from_llm}]}
      confirmed: {type: bool, mappings: [{type: from_llm}]}
      card: {type: categorical, values: [visa, mastercard], mappings: [{type: from_llm}]}
    responses:
      utter_amount_too_high:
        - text: "{{value}} is more than you can send."
          metadata: {template: jinja}
      utter_balance: [{text: You have 12 coins.}]
    forms:
      card_form: {required_slots: [card]}
    """
)
REGISTRY = ActionRegistry(DOMAIN)
register_pattern_actions(REGISTRY)


def _context() -> ActionContext:
    return ActionContext(
        domain=DOMAIN,
        nlg=ResponseGenerator(DOMAIN, rng=random.Random(0)),
        flows=FLOWS,
    )


def stack_events(*states: list[st.Frame]) -> list[ev.Event]:
    """``stack`` events moving the stack through ``states`` in order, from empty."""
    events: list[ev.Event] = []
    before: list[st.Frame] = []
    for frames in states:
        events += st.DialogueStack(frames).events_since(before)
        before = frames
    return events


def tracker_with(*frames: st.Frame, events: list[ev.Event] | None = None) -> Tracker:
    """A started conversation with ``events`` and then ``frames`` as its stack."""
    tracker = Tracker("alice", DOMAIN.slots, [ev.SessionStarted(), *(events or [])])
    tracker.update_many(st.DialogueStack(list(frames)).events_since(tracker.stack))
    return tracker


async def run(name: str, tracker: Tracker) -> tuple[list[ev.Event], Tracker]:
    """The events of action ``name`` and a copy of ``tracker`` with them applied."""
    events = await REGISTRY.get(name).run(tracker, _context())
    after = tracker.copy()
    after.update_many(events)
    return events, after


def at(frame: st.Frame, step_id: str, **changes: Any) -> st.Frame:
    """A copy of ``frame`` at ``step_id``, with other fields changed too."""
    return {**copy.deepcopy(frame), "step_id": step_id, **changes}


def kinds(events: list[ev.Event]) -> list[str]:
    return [event.type_name for event in events]


def without_ids(frames: list[st.Frame]) -> list[st.Frame]:
    return [{k: v for k, v in frame.items() if k != "frame_id"} for frame in frames]


def collecting(slot: str, **fields: Any) -> st.Frame:
    return st.pattern_frame(
        st.COLLECT_INFORMATION,
        collect=slot,
        utter=f"utter_ask_{slot}",
        collect_action=f"action_ask_{slot}",
        **fields,
    )


TRANSFER = st.flow_frame("transfer_money", step_id="ask_amount")
# What the executor copies into the collect frame for the amount step.
AMOUNT_REJECTIONS = [
    rejection.as_dict()
    for rejection in FLOWS.get("transfer_money").step_by_id("ask_amount").rejections
]


# -- action_run_slot_rejections -------------------------------------------------------------------


def asking(slot: str, *values: Any, rejections: list[dict[str, str]] | None = None) -> Tracker:
    """Collecting ``slot``, which received ``values`` (in order) before."""
    return tracker_with(
        TRANSFER,
        collecting(slot, rejections=rejections or []),
        events=[ev.SlotSet(name=slot, value=value, filled_by="LLM") for value in values],
    )


async def test_rejections_check_nothing_before_the_first_answer_or_after_none():
    events, _ = await run(
        "action_run_slot_rejections", asking("amount", rejections=AMOUNT_REJECTIONS)
    )
    assert events == []
    events, _ = await run("action_run_slot_rejections", asking("amount", None))
    assert events == []


async def test_a_violated_rejection_clears_the_slot_and_says_why():
    tracker = asking("amount", "5000", rejections=AMOUNT_REJECTIONS)
    events, after = await run("action_run_slot_rejections", tracker)
    assert kinds(events) == ["slot", "bot"]
    assert after.get_slot("amount") is None
    # The response sees the value as given, not the float it was compared as.
    assert events[1].text == "5000 is more than you can send."
    assert events[1].utter_action == "utter_amount_too_high"


async def test_an_accepted_value_is_stored_with_its_type():
    events, after = await run(
        "action_run_slot_rejections", asking("amount", "250", rejections=AMOUNT_REJECTIONS)
    )
    assert [(e.name, e.value) for e in events] == [("amount", 250.0)]
    assert after.get_slot("amount") == 250.0
    events, _ = await run("action_run_slot_rejections", asking("amount", 250.0))
    assert events == []
    events, _ = await run("action_run_slot_rejections", asking("amount", 250))  # int -> float
    assert [(e.name, e.value, type(e.value)) for e in events] == [("amount", 250.0, float)]
    events, _ = await run("action_run_slot_rejections", asking("confirmed", "yes"))
    assert [(e.name, e.value) for e in events] == [("confirmed", True)]


@pytest.mark.parametrize(
    ("slot", "value", "response", "text"),
    [
        (
            "confirmed",
            "maybe",
            "utter_boolean_slot_rejection",
            "Sorry, the value you provided, `maybe`, is not valid. Please respond with a "
            "valid value.",
        ),
        (
            "amount",
            "lots",
            "utter_float_slot_rejection",
            "Sorry, it seems the value you provided `lots` is not a valid number. Please "
            "provide a valid number in your response.",
        ),
        (
            "card",
            "amex",
            "utter_categorical_slot_rejection",
            "Sorry, you responded with an invalid value - `amex`. Please select one of the "
            "available options.",
        ),
    ],
)
async def test_a_value_of_the_wrong_type_is_rejected(slot, value, response, text):
    events, after = await run("action_run_slot_rejections", asking(slot, value))
    assert kinds(events) == ["slot", "bot"]
    assert (events[0].name, events[0].value) == (slot, None)
    assert (events[1].utter_action, events[1].text) == (response, text)
    assert after.get_slot(slot) is None


async def test_a_rejection_that_cannot_be_evaluated_counts_as_an_internal_error():
    broken = [{"if": "slots.amount > 'abc'", "utter": "utter_amount_too_high"}]
    events, _ = await run("action_run_slot_rejections", asking("amount", "5", rejections=broken))
    assert kinds(events) == ["slot", "bot"]
    assert events[1].utter_action == "utter_internal_error_rasa"
    assert events[1].text == (
        "Sorry, I am having trouble with that. Please try again in a few minutes."
    )


async def test_rejections_are_tried_in_order_with_only_the_collected_slot():
    rejections = [
        {"if": "slots.recipient = 'Ann'", "utter": "utter_never"},  # other slots are undefined
        {"if": "slots.{{'amount'}} < 10", "utter": "utter_amount_too_high"},
        {"if": "slots.amount < 100", "utter": "utter_never"},
    ]
    tracker = asking("amount", "5", rejections=rejections)
    tracker.update(ev.SlotSet(name="recipient", value="Ann"))
    events, _ = await run("action_run_slot_rejections", tracker)
    assert events[1].utter_action == "utter_amount_too_high"


async def test_without_the_response_only_the_slot_is_cleared():
    missing = [{"if": "slots.amount > 10", "utter": "utter_not_in_the_domain"}]
    events, _ = await run("action_run_slot_rejections", asking("amount", 50, rejections=missing))
    assert [(e.type_name, e.name, e.value) for e in events] == [("slot", "amount", None)]


async def test_the_validate_pattern_is_checked_too_and_nothing_else_is():
    validating = st.pattern_frame(st.VALIDATE_SLOT, validate="amount", rejections=AMOUNT_REJECTIONS)
    tracker = tracker_with(TRANSFER, validating, events=[ev.SlotSet(name="amount", value=2000)])
    events, _ = await run("action_run_slot_rejections", tracker)
    assert kinds(events) == ["slot", "bot"]
    tracker = tracker_with(TRANSFER, events=[ev.SlotSet(name="amount", value="lots")])
    events, _ = await run("action_run_slot_rejections", tracker)
    assert events == []


# -- action_correct_flow_slot ---------------------------------------------------------------------


def correction() -> st.Frame:
    return st.pattern_frame(
        st.CORRECTION,
        corrected_slots={"amount": {"value": 50.0, "filled_by": "LLM"}},
        reset_flow_id="transfer_money",
        reset_step_id="ask_amount",
    )


def transfer_history(flow: st.Frame, below: list[st.Frame] | None = None) -> list[ev.Event]:
    """``flow`` asking for the recipient, then the amount, then the confirmation."""
    below = below or []
    asked = [collecting(slot) for slot in ("recipient", "amount", "confirmed")]
    return stack_events(
        [*below, at(flow, "START")],
        [*below, at(flow, "ask_recipient")],
        [*below, at(flow, "ask_recipient"), asked[0]],
        [*below, at(flow, "ask_recipient"), at(asked[0], END)],
        [*below, at(flow, "ask_recipient")],
        [*below, at(flow, "ask_amount")],
        [*below, at(flow, "ask_amount"), asked[1]],
        [*below, at(flow, "ask_amount")],
        [*below, at(flow, "ask_confirmed")],
        [*below, at(flow, "ask_confirmed"), asked[2]],
    )


async def test_a_correction_rewinds_the_flow_to_the_collect_step_of_the_slot():
    flow = st.flow_frame("transfer_money")
    asking_confirmation = collecting("confirmed")
    fix = correction()
    tracker = tracker_with(
        at(flow, "ask_confirmed"),
        asking_confirmation,
        fix,
        events=transfer_history(flow),
    )
    events, after = await run("action_correct_flow_slot", tracker)
    assert after.stack == [
        at(flow, "NEXT:ask_amount"),
        at(asking_confirmation, "NEXT:END"),
        fix,
    ]
    assert [(e.type_name, getattr(e, "name", None)) for e in events] == [
        ("stack", None),
        ("slot", "amount"),
    ]
    assert (events[1].value, events[1].filled_by) == (50.0, "LLM")
    assert after.get_slot("amount") == 50.0 and after.slot_filled_by("amount") == "LLM"


async def test_frames_below_the_corrected_flow_stay_as_they_are_now():
    paused = st.flow_frame("check_balance", step_id="check_balance_0_utter_balance")
    flow = st.flow_frame("transfer_money", st.INTERRUPT)
    fix = correction()
    tracker = tracker_with(
        paused,
        at(flow, "ask_confirmed"),
        fix,
        events=transfer_history(flow, below=[at(paused, "START")]),
    )
    _, after = await run("action_correct_flow_slot", tracker)
    assert after.stack == [
        paused,
        at(flow, "NEXT:ask_amount"),
        fix,
    ]


async def test_without_a_past_state_at_the_reset_step_only_the_slots_change():
    flow = st.flow_frame("transfer_money")
    fix = correction()
    # The history before the restart does not count.
    history = [*transfer_history(flow), ev.Restarted(), ev.SessionStarted()]
    tracker = tracker_with(at(flow, "ask_confirmed"), fix, events=history)
    events, after = await run("action_correct_flow_slot", tracker)
    assert kinds(events) == ["slot"]
    assert after.stack == tracker.stack


async def test_the_correction_action_needs_its_pattern_on_top():
    tracker = tracker_with(TRANSFER, events=transfer_history(TRANSFER))
    events, _ = await run("action_correct_flow_slot", tracker)
    assert events == []


# -- action_cancel_flow ---------------------------------------------------------------------------


async def test_cancel_winds_down_the_listed_frames():
    asked = collecting("amount")
    cancel = st.pattern_frame(
        st.CANCEL_FLOW,
        canceled_name="transfer money",
        canceled_frames=[asked["frame_id"], TRANSFER["frame_id"]],
    )
    other = st.flow_frame("check_balance", step_id="check_balance_0_utter_balance")
    tracker = tracker_with(other, TRANSFER, asked, cancel)
    events, after = await run("action_cancel_flow", tracker)
    assert kinds(events) == ["stack"]
    assert after.stack == [other, at(TRANSFER, "NEXT:END"), at(asked, "NEXT:END"), cancel]
    events, _ = await run("action_cancel_flow", tracker_with(TRANSFER, asked))
    assert events == []


# -- action_clarify_flows -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "maximum", "shown", "options"),
    [
        (["a"], 3.0, ["a"], "a"),
        (["a", "b"], 3.0, ["a", "b"], "a or b"),
        (["a", "b", "c", "d"], 3.0, ["a", "b", "c"], "a, b or c"),
        (["a", "b", "c", "d"], 2.0, ["a", "b"], "a or b"),
        (["a", "b", "c", "d"], "many", ["a", "b", "c"], "a, b or c"),  # invalid: default 3
    ],
)
async def test_clarification_lists_at_most_the_maximum_of_options(names, maximum, shown, options):
    clarify = st.pattern_frame(st.CLARIFICATION, names=names, clarification_ids=names)
    limit = ev.SlotSet(name="max_clarification_options", value=maximum)
    events, after = await run("action_clarify_flows", tracker_with(clarify, events=[limit]))
    assert kinds(events) == ["stack"]
    assert after.stack == [{**clarify, "names": shown, "clarification_options": options}]


# -- action_clean_stack ---------------------------------------------------------------------------


async def test_clean_stack_winds_down_every_flow_and_drops_other_frames():
    first = st.flow_frame("check_balance", step_id="check_balance_0_utter_balance")
    second = st.flow_frame("transfer_money", st.INTERRUPT, "ask_amount")
    asked = collecting("amount")
    search = {"frame_id": "SEARCH01", "type": st.SEARCH}
    change = st.pattern_frame(st.CODE_CHANGE)
    tracker = tracker_with(first, second, asked, search, at(change, "step_1"))
    _, after = await run("action_clean_stack", tracker)
    assert after.stack == [
        at(first, "NEXT:END"),
        at(second, "NEXT:END", frame_type=st.REGULAR),
        at(asked, "NEXT:END"),
        at(change, "NEXT:END"),
    ]


async def test_clean_stack_run_by_a_flow_moves_that_flow_to_the_bottom():
    first = st.flow_frame("check_balance", step_id="check_balance_0_utter_balance")
    second = st.flow_frame("transfer_money", st.INTERRUPT, "ask_amount")
    _, after = await run("action_clean_stack", tracker_with(first, second))
    assert after.stack == [
        at(second, "NEXT:END", frame_type=st.REGULAR),
        at(first, "NEXT:END"),
    ]


# -- continuing or cancelling interrupted flows ---------------------------------------------------


def offer(*flow_ids: str) -> st.Frame:
    return st.pattern_frame(
        st.CONTINUE_INTERRUPTED,
        interrupted_flow_names=[FLOWS.get(flow_id).readable_name() for flow_id in flow_ids],
        interrupted_flow_ids=list(flow_ids),
        interrupted_flow_options="whatever the executor said",
    )


PAUSED = st.flow_frame("transfer_money", step_id="ask_amount")
PAUSED_ASK = collecting("amount")
LATER = st.flow_frame("check_balance", st.INTERRUPT, "check_balance_0_utter_balance")
LATER_ASK = collecting("recipient")
HELPERS = ("interrupted_flow_to_continue", "continue_interrupted_flow_confirmation")


def interrupted_twice(answer: str) -> Tracker:
    return tracker_with(
        PAUSED,
        PAUSED_ASK,
        LATER,
        LATER_ASK,
        offer("transfer_money", "check_balance"),
        events=[
            ev.SlotSet(name="interrupted_flow_to_continue", value=answer),
            ev.SlotSet(name="continue_interrupted_flow_confirmation", value=True),
        ],
    )


async def test_continuing_the_only_interrupted_flow():
    offered = offer("transfer_money")
    tracker = tracker_with(PAUSED, PAUSED_ASK, offered)
    events, after = await run("action_continue_interrupted_flow", tracker)
    # Its frames are on top already: nothing moves.
    assert after.stack == tracker.stack
    assert kinds(events) == ["flow_resumed", "slot", "slot"]
    assert (events[0].flow_id, events[0].step_id) == ("transfer_money", "ask_amount")
    assert [(e.name, e.value) for e in events[1:]] == [(name, None) for name in HELPERS]


@pytest.mark.parametrize("answer", ["transfer_money", "transfer money"])
async def test_continuing_the_chosen_flow_by_id_or_name(answer):
    tracker = interrupted_twice(answer)
    offered = tracker.stack[-1]
    events, after = await run("action_continue_interrupted_flow", tracker)
    assert after.stack == [
        at(LATER, LATER["step_id"], frame_type=st.REGULAR),
        LATER_ASK,
        offered,
        at(PAUSED, "ask_amount", frame_type=st.INTERRUPT),
        PAUSED_ASK,
    ]
    assert kinds(events) == ["flow_resumed", "stack", "flow_interrupted", "slot", "slot"]
    assert (events[0].flow_id, events[2].flow_id) == ("transfer_money", "check_balance")
    assert all(after.get_slot(name) is None for name in HELPERS)


async def test_continuing_a_flow_that_was_not_offered_does_nothing():
    events, _ = await run("action_continue_interrupted_flow", interrupted_twice("pay bills"))
    assert events == []


async def test_cancelling_the_interrupted_flows_cancels_each_by_its_id():
    tracker = interrupted_twice("none")
    offered = tracker.stack[-1]
    events, after = await run("action_cancel_interrupted_flows", tracker)
    assert after.stack[:5] == tracker.stack
    assert without_ids(after.stack[5:]) == without_ids(
        [
            st.pattern_frame(
                st.CANCEL_FLOW,
                canceled_name="transfer_money",
                canceled_frames=[PAUSED_ASK["frame_id"], PAUSED["frame_id"]],
            ),
            st.pattern_frame(
                st.CANCEL_FLOW,
                canceled_name="check_balance",
                canceled_frames=[offered["frame_id"], LATER_ASK["frame_id"], LATER["frame_id"]],
            ),
        ]
    )
    assert kinds(events) == ["flow_cancelled", "flow_cancelled", "stack", "slot", "slot"]
    assert [(e.flow_id, e.step_id) for e in events[:2]] == [
        ("transfer_money", "ask_amount"),
        ("check_balance", "check_balance_0_utter_balance"),
    ]
    assert all(after.get_slot(name) is None for name in HELPERS)


# -- action_repeat_bot_messages -------------------------------------------------------------------


def conversation() -> list[ev.Event]:
    return [
        ev.UserUttered.create("hi"),
        ev.BotUttered(text="An earlier turn.", metadata={"utter_action": "utter_old"}),
        ev.UserUttered.create("send money"),
        ev.ActionExecuted(name="utter_greet"),
        ev.BotUttered(text="Hello!", metadata={"utter_action": "utter_greet"}),
        ev.ActionExecuted(name="utter_ask_amount"),
        ev.BotUttered(text="How much?", metadata={"utter_action": "utter_ask_amount"}),
        ev.ActionExecuted(name="action_listen"),
        ev.UserUttered.create("say that again"),
        ev.BotUttered(text="After the request."),
    ]


async def test_repeating_says_the_last_bot_turn_again():
    tracker = tracker_with(st.pattern_frame("pattern_repeat_bot_messages"), events=conversation())
    events, _ = await run("action_repeat_bot_messages", tracker)
    assert [(e.text, e.utter_action) for e in events] == [
        ("Hello!", "utter_greet"),
        ("How much?", "utter_ask_amount"),
    ]


async def test_repeating_leaves_out_the_question_a_collect_pattern_asks_again():
    silence = st.pattern_frame("pattern_user_silence")
    tracker = tracker_with(TRANSFER, collecting("amount"), silence, events=conversation())
    events, _ = await run("action_repeat_bot_messages", tracker)
    assert [e.text for e in events] == ["Hello!"]


# -- frames for other policies, markers, hanging up -----------------------------------------------


@pytest.mark.parametrize(
    ("name", "frame_type"),
    [("action_trigger_search", "search"), ("action_trigger_chitchat", "chitchat")],
)
async def test_triggers_push_a_frame_for_another_policy(name, frame_type):
    tracker = tracker_with(TRANSFER)
    _, after = await run(name, tracker)
    assert after.stack[:-1] == [TRANSFER]
    assert set(after.stack[-1]) == {"frame_id", "type"}
    assert after.stack[-1]["type"] == frame_type


async def test_handoff_metric_and_hangup():
    events, _ = await run("action_handoff_metric", tracker_with(TRANSFER))
    assert events == []
    events, after = await run(
        "action_hangup", tracker_with(st.pattern_frame("pattern_session_end"))
    )
    assert kinds(events) == ["session_ended"]
    assert after.terminated


# -- flow_<id> ------------------------------------------------------------------------------------


async def test_a_flow_action_starts_its_flow():
    events, after = await run("flow_check_balance", tracker_with())
    assert kinds(events) == ["stack"]
    assert without_ids(after.stack) == without_ids([st.flow_frame("check_balance")])


async def test_a_flow_action_interrupts_the_running_flow_and_its_form():
    asked = collecting("amount")
    tracker = tracker_with(TRANSFER, asked, events=[ev.ActiveLoop(name="card_form")])
    events, after = await run("flow_check_balance", tracker)
    assert kinds(events) == ["flow_interrupted", "stack", "active_loop"]
    assert (events[0].flow_id, events[0].step_id) == ("transfer_money", "ask_amount")
    assert after.stack[:2] == [TRANSFER, asked]
    assert without_ids(after.stack[2:]) == without_ids(
        [st.flow_frame("check_balance", st.INTERRUPT)]
    )
    assert after.active_loop_name is None


async def test_a_flow_action_over_a_pattern_is_an_interruption_of_no_flow():
    events, after = await run("flow_check_balance", tracker_with(st.pattern_frame(st.COMPLETED)))
    assert kinds(events) == ["stack"]
    assert after.stack[-1]["frame_type"] == st.INTERRUPT


async def test_a_flow_action_sets_the_slots_its_prediction_names():
    context = replace(_context(), action_metadata={"slots": {"account_type": "savings"}})
    events = await REGISTRY.get("flow_check_balance").run(tracker_with(), context)
    assert kinds(events) == ["stack", "slot"]
    assert (events[1].name, events[1].value) == ("account_type", "savings")


async def test_a_flow_action_for_an_unknown_flow_fails():
    action = REGISTRY.get("flow_pay_bills")
    assert isinstance(action, FlowAction)
    with pytest.raises(ActionFailed, match="pay_bills"):
        await action.run(tracker_with(), _context())
