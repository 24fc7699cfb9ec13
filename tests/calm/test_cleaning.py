"""Command cleaning, ``should_slot_be_set`` and how
generators merge their commands with earlier ones."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from actions.actions_testkit import domain_of, tracker_of
from tandem.calm.cleaning import (
    CLARIFY_ON_MULTIPLE_START_FLOWS,
    NO_ACTIVE_FLOW_REASON,
    SLOT_NOT_SETTABLE_REASON,
    UNKNOWN_SLOT_REASON,
    clean_commands,
    merge_llm_commands,
    merge_nlu_commands,
    should_slot_be_set,
)
from tandem.conversation import events as ev
from tandem.conversation import stack as st
from tandem.conversation.commands import (
    CANNOT_HANDLE_CHITCHAT,
    COMMAND_PAYLOAD_READER,
    LLM,
    NLU,
    CancelFlow,
    CannotHandle,
    ChitChatAnswer,
    Clarify,
    Command,
    CorrectedSlot,
    CorrectSlots,
    KnowledgeAnswer,
    RepeatBotMessages,
    SetSlot,
    StartFlow,
    commands_as_dicts,
)
from tandem.conversation.slots import Slot, SlotMapping
from tandem.conversation.tracker import Tracker
from tandem.names import ROUTING_SLOT
from tandem.project.domain import Domain
from tandem.project.flows.model import FlowsList
from tandem.project.flows.patterns import build_flows
from tandem.project.flows.reader import flows_from_yaml
from tandem.project.yaml import parse_yaml

# -- builders shared with test_nlu_adapter.py -----------------------------------------------------


def flows_of(text: str, *, with_default_patterns: bool = True) -> FlowsList:
    flows = flows_from_yaml(parse_yaml(textwrap.dedent(text), "data/flows.yml"))
    return build_flows(flows, with_default_patterns=with_default_patterns)


def with_stack(domain: Domain, *frames: st.Frame, events: tuple[ev.Event, ...] = ()) -> Tracker:
    """A tracker with ``events``, then a ``stack`` event that puts ``frames`` (bottom first)."""
    stack = st.DialogueStack()
    for frame in frames:
        stack.push(frame)
    update = stack.update_event([])
    return tracker_of(domain, *events, *([update] if update else []))


def collecting(slot: str) -> st.Frame:
    """The collect pattern frame of a collect step asking for ``slot``."""
    return st.pattern_frame(
        st.COLLECT_INFORMATION,
        collect=slot,
        utter=f"utter_ask_{slot}",
        collect_action=f"action_ask_{slot}",
    )


def filled(name: str, value: Any, filled_by: str | None = None) -> ev.SlotSet:
    return ev.SlotSet(name=name, value=value, filled_by=filled_by)


# -- the project of these tests -------------------------------------------------------------------

SLOTS = """
    intents: [greet]
    entities: [amount]
    slots:
      recipient:
        type: text
      amount:
        type: float
        mappings: [{type: from_entity, entity: amount}]
      note:
        type: text
        mappings: [{type: from_llm}, {type: from_text}]
      memo:
        type: text
        mappings: [{type: from_llm, allow_nlu_correction: true}, {type: from_text}]
"""
DOMAIN = domain_of(SLOTS)
ROUTING_DOMAIN = domain_of(
    SLOTS + f"      {ROUTING_SLOT}:\n        type: bool\n        mappings: [{{type: from_llm}}]\n"
)

FLOWS = flows_of(
    """
    flows:
      transfer_money:
        description: send money
        steps:
          - collect: recipient
          - collect: amount
          - collect: note
      check_balance:
        description: check the balance
        steps:
          - action: utter_balance
    """
)


def clean(
    commands: list[Command],
    tracker: Tracker | None = None,
    *,
    domain: Domain = DOMAIN,
    flows: FlowsList = FLOWS,
    chitchat_available: bool = False,
) -> list[Command]:
    tracker = tracker if tracker is not None else tracker_of(domain)
    return clean_commands(commands, tracker, flows, domain, chitchat_available=chitchat_available)


def transferring(*events: ev.Event, asking: str = "amount", domain: Domain = DOMAIN) -> Tracker:
    """transfer_money running, asking for ``asking``, after ``events``."""
    return with_stack(domain, st.flow_frame("transfer_money"), collecting(asking), events=events)


def corrections(commands: list[Command]) -> list[CorrectedSlot]:
    (correction,) = [c for c in commands if isinstance(c, CorrectSlots)]
    return list(correction.corrected_slots)


# -- SetSlot --------------------------------------------------------------------------------------


def test_new_value_for_a_filled_slot_that_is_not_asked_becomes_a_correction() -> None:
    tracker = transferring(filled("recipient", "John"))
    cleaned = clean([SetSlot("recipient", "Mary")], tracker)
    assert cleaned == [CorrectSlots()]
    assert corrections(cleaned) == [CorrectedSlot("recipient", "Mary", LLM)]


def test_corrections_of_one_message_share_one_correct_slots_at_the_first_position() -> None:
    tracker = transferring(filled("recipient", "John"), filled("note", "rent"))
    commands = [
        StartFlow("check_balance"),
        SetSlot("recipient", "Mary"),
        SetSlot("amount", 10, NLU),
        SetSlot("note", "gift"),
    ]
    cleaned = clean(commands, tracker)
    assert cleaned == [StartFlow("check_balance"), CorrectSlots(), SetSlot("amount", 10)]
    assert corrections(cleaned) == [
        CorrectedSlot("recipient", "Mary", LLM),
        CorrectedSlot("note", "gift", LLM),
    ]


def test_the_same_value_again_is_dropped() -> None:
    tracker = transferring(filled("recipient", "John"), filled("amount", 100.0))
    assert clean([SetSlot("recipient", "John")], tracker) == []
    # Values compare as strings: "100.0" is what the float slot holds.
    assert clean([SetSlot("amount", "100.0", NLU)], transferring(asking="note")) == [
        SetSlot("amount", "100.0")
    ]


def test_a_filled_slot_that_is_being_asked_takes_the_value_as_an_answer() -> None:
    tracker = transferring(filled("amount", 100.0), asking="amount")
    cleaned = clean([SetSlot("amount", 70, NLU)], tracker)
    assert commands_as_dicts(cleaned) == [
        {"command": "set slot", "name": "amount", "value": 70, "extractor": NLU}
    ]


def test_a_slot_that_was_cleared_again_is_not_corrected() -> None:
    tracker = transferring(filled("recipient", "John"), filled("recipient", None))
    assert clean([SetSlot("recipient", "Mary")], tracker) == [SetSlot("recipient", "Mary")]


def test_the_routing_slot_is_never_corrected() -> None:
    tracker = transferring(filled(ROUTING_SLOT, True), domain=ROUTING_DOMAIN)
    cleaned = clean([SetSlot(ROUTING_SLOT, False)], tracker, domain=ROUTING_DOMAIN)
    assert cleaned == [SetSlot(ROUTING_SLOT, False)]


def test_unknown_slot_becomes_cannot_handle() -> None:
    assert clean([SetSlot("colour", "red")]) == [CannotHandle(UNKNOWN_SLOT_REASON)]


def test_slot_the_extractor_may_not_set_becomes_cannot_handle() -> None:
    assert clean([SetSlot("amount", 5)]) == [CannotHandle(SLOT_NOT_SETTABLE_REASON)]
    assert clean([SetSlot("recipient", "Mary", NLU)]) == [CannotHandle(SLOT_NOT_SETTABLE_REASON)]


def test_dropped_and_replaced_commands_are_reported_with_why() -> None:
    rejections: list[dict[str, Any]] = []
    commands = [SetSlot("amount", 5), StartFlow("check_balance"), CancelFlow()]
    cleaned = clean_commands(commands, tracker_of(DOMAIN), FLOWS, DOMAIN, rejections=rejections)
    assert cleaned == [StartFlow("check_balance")]
    assert rejections == [
        {
            "command": SetSlot("amount", 5).as_dict(),
            "reason": "the slot's mappings do not let the LLM set it",
        },
        {"command": CancelFlow().as_dict(), "reason": "no flow is active"},
        {
            "command": CannotHandle(SLOT_NOT_SETTABLE_REASON).as_dict(),
            "reason": "other commands were understood",
        },
    ]


def test_llm_value_after_an_nlu_value_of_the_same_message_is_dropped_silently() -> None:
    cleaned = clean([SetSlot("note", "from nlu", NLU), SetSlot("note", "from llm")])
    assert commands_as_dicts(cleaned) == [
        {"command": "set slot", "name": "note", "value": "from nlu", "extractor": NLU}
    ]


def test_llm_does_not_overwrite_an_nlu_filled_value_unless_allowed() -> None:
    tracker = transferring(filled("note", "rent", NLU), filled("memo", "rent", NLU))
    assert clean([SetSlot("note", "gift")], tracker) == []
    cleaned = clean([SetSlot("memo", "gift")], tracker)
    assert corrections(cleaned) == [CorrectedSlot("memo", "gift", LLM)]


# -- CancelFlow, CannotHandle, StartFlow ----------------------------------------------------------


def test_cancel_flow_without_an_active_flow_becomes_cannot_handle() -> None:
    assert clean([CancelFlow()]) == [CannotHandle(NO_ACTIVE_FLOW_REASON)]
    assert clean([CancelFlow(), CancelFlow()]) == [CannotHandle(NO_ACTIVE_FLOW_REASON)]


def test_cancel_flow_of_a_running_flow_is_kept_once() -> None:
    assert clean([CancelFlow(), CancelFlow()], transferring()) == [CancelFlow()]


def test_duplicate_cannot_handle_is_removed() -> None:
    cleaned = clean([CannotHandle(), CannotHandle(CANNOT_HANDLE_CHITCHAT)])
    assert cleaned == [CannotHandle()]


def test_cannot_handle_goes_when_anything_else_remains() -> None:
    assert clean([CannotHandle(), StartFlow("check_balance")]) == [StartFlow("check_balance")]


def test_with_a_routing_slot_cannot_handle_goes_only_beyond_two_commands() -> None:
    routed = [CannotHandle(), SetSlot(ROUTING_SLOT, True)]
    assert clean(routed, domain=ROUTING_DOMAIN) == routed
    more = [*routed, StartFlow("check_balance")]
    assert clean(more, domain=ROUTING_DOMAIN) == [
        SetSlot(ROUTING_SLOT, True),
        StartFlow("check_balance"),
    ]


def test_starting_the_running_flow_is_dropped() -> None:
    tracker = transferring()
    assert clean([StartFlow("transfer_money")], tracker) == []
    assert clean([StartFlow("check_balance")], tracker) == [StartFlow("check_balance")]


def test_starting_a_called_flow_that_is_on_top_is_dropped_too() -> None:
    tracker = with_stack(
        DOMAIN, st.flow_frame("transfer_money"), st.flow_frame("check_balance", st.CALL)
    )
    assert clean([StartFlow("check_balance")], tracker) == []


def test_starting_the_running_flow_answers_the_continue_interrupted_question() -> None:
    tracker = with_stack(
        DOMAIN,
        st.flow_frame("transfer_money"),
        st.pattern_frame(st.CONTINUE_INTERRUPTED, interrupted_flow_ids=["check_balance"]),
    )
    assert clean([StartFlow("transfer_money")], tracker) == [StartFlow("transfer_money")]


# -- free-form answers and Clarify ----------------------------------------------------------------


def test_chitchat_and_knowledge_answers_move_to_the_front() -> None:
    cleaned = clean([StartFlow("check_balance"), ChitChatAnswer()])
    assert cleaned == [ChitChatAnswer(), StartFlow("check_balance")]
    cleaned = clean([StartFlow("check_balance"), KnowledgeAnswer()])
    assert cleaned == [KnowledgeAnswer(), StartFlow("check_balance")]


CHITCHAT_BY_INTENTLESS = """
    flows:
      check_balance:
        description: check the balance
        steps:
          - action: utter_balance
      pattern_chitchat:
        description: free chitchat
        steps:
          - action: action_trigger_chitchat
"""


def test_chitchat_needs_the_intentless_policy_when_its_pattern_triggers_it() -> None:
    flows = flows_of(CHITCHAT_BY_INTENTLESS)
    assert clean([ChitChatAnswer()], flows=flows) == [CannotHandle(CANNOT_HANDLE_CHITCHAT)]
    assert clean([ChitChatAnswer()], flows=flows, chitchat_available=True) == [ChitChatAnswer()]


def test_chitchat_without_a_chitchat_pattern_cannot_be_handled() -> None:
    flows = FlowsList(tuple(f for f in FLOWS if f.id != "pattern_chitchat"))
    assert clean([ChitChatAnswer()], flows=flows, chitchat_available=True) == [
        CannotHandle(CANNOT_HANDLE_CHITCHAT)
    ]


def test_only_the_first_chitchat_and_repeat_are_kept() -> None:
    commands = [RepeatBotMessages(), ChitChatAnswer(), RepeatBotMessages(), ChitChatAnswer()]
    assert clean(commands) == [ChitChatAnswer(), RepeatBotMessages()]


def test_clarify_among_other_commands_is_dropped() -> None:
    cleaned = clean([Clarify(("transfer_money", "check_balance")), StartFlow("check_balance")])
    assert cleaned == [StartFlow("check_balance")]


def test_clarify_alone_or_with_the_routing_slot_is_kept() -> None:
    clarify = Clarify(("transfer_money", "check_balance"))
    assert clean([clarify]) == [clarify]
    routed = [SetSlot(ROUTING_SLOT, True), clarify]
    assert clean(routed, domain=ROUTING_DOMAIN) == routed


def test_of_several_clarify_commands_the_first_is_kept() -> None:
    first, second = Clarify(("transfer_money",)), Clarify(("check_balance",))
    assert clean([first, second]) == [first]


# -- CLARIFY_ON_MULTIPLE_START_FLOWS --------------------------------------------------------------

TWO_STARTS = [StartFlow("transfer_money"), StartFlow("check_balance")]


def test_several_starts_become_a_clarification_when_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(CLARIFY_ON_MULTIPLE_START_FLOWS, "True")
    assert clean(TWO_STARTS) == [Clarify(("transfer_money", "check_balance"))]
    # Only in an empty conversation.
    busy = with_stack(DOMAIN, st.flow_frame("check_balance"))
    assert clean([StartFlow("transfer_money"), StartFlow("other")], busy) == [
        StartFlow("transfer_money"),
        StartFlow("other"),
    ]


def test_several_starts_stay_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CLARIFY_ON_MULTIPLE_START_FLOWS, raising=False)
    assert clean(TWO_STARTS) == TWO_STARTS


# -- should_slot_be_set ---------------------------------------------------------------------------


def slot_with(*types: str) -> Slot:
    return Slot("x", "text", tuple(SlotMapping(t, entity="e") for t in types))


@pytest.mark.parametrize(
    ("types", "extractor", "expected"),
    [
        ((), LLM, True),  # no mappings counts as from_llm
        ((), NLU, False),
        (("from_llm",), LLM, True),
        (("from_llm",), NLU, False),
        (("from_entity",), LLM, False),
        (("from_entity",), NLU, True),
        (("from_text",), NLU, True),
        (("from_llm", "from_intent"), LLM, True),
        (("from_llm", "from_intent"), NLU, True),
        (("controlled",), LLM, False),
        (("controlled",), NLU, False),
        (("controlled",), "CUSTOM", False),
        (("custom",), LLM, False),  # deprecated alias of controlled
        (("controlled", "from_llm"), LLM, True),
        (("controlled", "from_entity"), NLU, True),
        (("controlled",), COMMAND_PAYLOAD_READER, True),
        (("controlled",), "A2A_CLIENT", True),
        (("from_entity",), COMMAND_PAYLOAD_READER, True),
    ],
)
def test_should_slot_be_set(types: tuple[str, ...], extractor: str, expected: bool) -> None:
    assert should_slot_be_set(slot_with(*types), SetSlot("x", 1, extractor), []) is expected


def test_llm_value_after_an_earlier_set_slot_of_the_same_message() -> None:
    slot = slot_with("from_llm", "from_entity")
    llm = SetSlot("x", 2, LLM)
    assert should_slot_be_set(slot, llm, [SetSlot("x", 1, NLU)]) is False
    assert should_slot_be_set(slot, llm, [SetSlot("x", 1, LLM)]) is True
    assert should_slot_be_set(slot, llm, [SetSlot("y", 1, NLU)]) is True
    # An NLU value is judged by the mappings alone.
    assert should_slot_be_set(slot, SetSlot("x", 2, NLU), [SetSlot("x", 1, NLU)]) is True


# -- merging with earlier generators' commands ----------------------------------------------------


def test_nlu_wins_over_prior_commands() -> None:
    prior = [StartFlow("check_balance"), SetSlot("amount", 1), SetSlot("note", "rent")]
    nlu = [StartFlow("transfer_money"), SetSlot("amount", 100, NLU)]
    assert commands_as_dicts(merge_nlu_commands(prior, nlu)) == commands_as_dicts(
        [SetSlot("note", "rent"), StartFlow("transfer_money"), SetSlot("amount", 100, NLU)]
    )


def test_prior_flow_starts_stay_when_the_nlu_starts_none() -> None:
    prior = [StartFlow("check_balance")]
    assert merge_nlu_commands(prior, [SetSlot("amount", 1, NLU)]) == [
        StartFlow("check_balance"),
        SetSlot("amount", 1),
    ]
    assert merge_nlu_commands([], [CancelFlow()]) == [CancelFlow()]


def test_prior_commands_win_over_llm_commands() -> None:
    prior = [StartFlow("transfer_money"), SetSlot("amount", 100, NLU)]
    llm = [
        StartFlow("check_balance"),
        SetSlot("amount", 5),
        SetSlot("note", "rent"),
        CorrectSlots((CorrectedSlot("amount", 7, LLM), CorrectedSlot("recipient", "Mary", LLM))),
        CorrectSlots((CorrectedSlot("amount", 8, LLM),)),
    ]
    merged = merge_llm_commands(prior, llm)
    assert commands_as_dicts(merged) == commands_as_dicts(
        [
            *prior,
            SetSlot("note", "rent"),
            CorrectSlots((CorrectedSlot("recipient", "Mary", LLM),)),
        ]
    )


def test_llm_flow_starts_stay_when_prior_commands_start_none() -> None:
    merged = merge_llm_commands([SetSlot("amount", 1, NLU)], [StartFlow("check_balance")])
    assert merged == [SetSlot("amount", 1), StartFlow("check_balance")]
    assert merge_llm_commands([], [CancelFlow()]) == [CancelFlow()]
