import textwrap

import pytest

from shared_files import ACCEPTANCE, require
from tandem.conversation.slots import Slot
from tandem.project.errors import Problem, ProjectError
from tandem.project.flows.model import (
    END,
    ActionStep,
    CallStep,
    CollectStep,
    FlowsList,
    LinkStep,
    NoopStep,
    SetSlotsStep,
)
from tandem.project.flows.patterns import build_flows, default_pattern_domain, default_patterns
from tandem.project.flows.reader import flows_from_yaml
from tandem.project.yaml import parse_yaml, read_yaml

PATTERN_IDS = {
    "pattern_collect_information", "pattern_validate_slot", "pattern_correction",
    "pattern_cancel_flow", "pattern_cannot_handle", "pattern_chitchat", "pattern_clarification",
    "pattern_code_change", "pattern_completed", "pattern_continue_interrupted",
    "pattern_customer_satisfaction", "pattern_external_agent_processing",
    "pattern_human_handoff", "pattern_internal_error", "pattern_repeat_bot_messages",
    "pattern_restart", "pattern_search", "pattern_session_end", "pattern_session_start",
    "pattern_skip_question", "pattern_user_silence",
}  # fmt: skip


def build(text: str, path: str = "data/flows.yml", **options) -> FlowsList:
    return build_flows(flows_from_yaml(parse_yaml(textwrap.dedent(text), path)), **options)


def build_problems(text: str) -> list[Problem]:
    with pytest.raises(ProjectError) as caught:
        build(text)
    return caught.value.problems


def next_of(flows: FlowsList, flow_id: str) -> dict[str, list[tuple[str | None, str]]]:
    flow = flows.get(flow_id)
    assert flow is not None
    return {step.id: [(b.condition, b.target) for b in step.next] for step in flow.steps}


# -- patterns -------------------------------------------------------------------------------------

SIMPLE = "flows:\n  greet:\n    description: say hi\n    steps:\n      - action: utter_hi\n"


def test_default_patterns_are_added_after_user_flows() -> None:
    flows = build(SIMPLE)
    assert [flow.id for flow in flows.user_flows] == ["greet"]
    assert {flow.id for flow in flows.patterns} == PATTERN_IDS
    assert next(iter(flows)).id == "greet"
    assert len(flows) == 1 + len(PATTERN_IDS)
    assert "pattern_search" in flows and "nothing" not in flows


def test_no_patterns_without_flows_or_when_disabled() -> None:
    assert len(build_flows([])) == 0
    assert [flow.id for flow in build(SIMPLE, with_default_patterns=False)] == ["greet"]


def test_a_user_flow_replaces_the_pattern_with_its_id() -> None:
    flows = build(
        """
        flows:
          pattern_completed:
            description: my own completion
            steps:
              - action: utter_bye
              - action: action_reset_routing
        """
    )
    completed = flows.get("pattern_completed")
    assert completed is not None and completed.description == "my own completion"
    assert [step.id for step in completed.steps] == [
        "pattern_completed_0_utter_bye",
        "pattern_completed_1_action_reset_routing",
    ]
    assert [flow.id for flow in flows].count("pattern_completed") == 1
    assert flows.user_flows == ()  # it is still a pattern
    assert flows.flows[0] is completed  # in the project's position


def test_default_pattern_structure() -> None:
    flows = build(SIMPLE)
    assert next_of(flows, "pattern_collect_information") == {
        "start": [(None, "pattern_collect_information_1_validate_{{context.collect}}")],
        "pattern_collect_information_1_validate_{{context.collect}}": [
            ("slots.{{context.collect}} is not null", END),
            (None, "ask_collect"),
        ],
        "ask_collect": [(None, "pattern_collect_information_3_{{context.collect_action}}")],
        "pattern_collect_information_3_{{context.collect_action}}": [
            (None, "pattern_collect_information_4_action_listen")
        ],
        "pattern_collect_information_4_action_listen": [(None, "start")],
    }
    completed = flows.get("pattern_completed")
    assert completed is not None
    ask = completed.first_step
    assert isinstance(ask, CollectStep)
    assert (ask.collect, ask.ask_before_filling) == ("continue_conversation", True)
    assert ask.description == "true if the user needs further help, else false"
    assert ask.successor({}, {"continue_conversation": True}) == (
        "pattern_completed_1_utter_can_do_something_else"
    )
    closing = completed.step_by_id(ask.successor({}, {"continue_conversation": False}) or "")
    assert isinstance(closing, ActionStep) and closing.action == "utter_closing_words"
    link = completed.steps[-1]
    assert isinstance(link, LinkStep) and link.link == "pattern_customer_satisfaction"

    csat = flows.get("pattern_customer_satisfaction")
    assert csat is not None and csat.run_pattern_completed is False
    assert csat.step_by_id("csat_response") is not None
    silence = flows.get("pattern_user_silence")
    assert silence is not None
    assert silence.persisted_slots == ("consecutive_silence_timeouts",)
    assert silence.first_step.successor({}, {"consecutive_silence_timeouts": 1.0}) == (
        "pattern_user_silence_3_set_slots"
    )
    clarification = flows.get("pattern_clarification")
    assert clarification is not None
    assert clarification.first_step.successor({"names": ["a", "b"]}, {}) == "action_clarify_flows"


@pytest.mark.parametrize(
    ("pattern", "context", "response"),
    [
        ("pattern_cannot_handle", {"reason": "cannot_handle_chitchat"}, "utter_cannot_handle"),
        (
            "pattern_cannot_handle",
            {"reason": "cannot_handle_no_relevant_answer"},
            "utter_no_relevant_answer_found",
        ),
        ("pattern_cannot_handle", {"reason": "cannot_handle_default"}, "utter_ask_rephrase"),
        ("pattern_cannot_handle", {"reason": "free text"}, "utter_ask_rephrase"),
        (
            "pattern_internal_error",
            {"error_type": "rasa_internal_error_user_input_empty"},
            "utter_user_input_empty_error_rasa",
        ),
        (
            "pattern_internal_error",
            {"error_type": "rasa_internal_error_default"},
            "utter_internal_error_rasa",
        ),
    ],
)
def test_pattern_branches_on_context(pattern, context, response) -> None:
    flow = build(SIMPLE).get(pattern)
    assert flow is not None
    step = flow.step_by_id(flow.first_step.successor(context, {}) or "")
    assert isinstance(step, ActionStep) and step.action == response


def test_default_patterns_trigger_on_their_intents() -> None:
    flows = build(SIMPLE)
    for intent, pattern in [
        ("restart", "pattern_restart"),
        ("session_start", "pattern_session_start"),
        ("session_end", "pattern_session_end"),
        ("silence_timeout", "pattern_user_silence"),
    ]:
        found = flows.flow_by_nlu_trigger(intent, 1.0)
        assert found is not None and found.id == pattern


def test_default_pattern_domain() -> None:
    domain = default_pattern_domain()
    assert domain is default_pattern_domain()  # loaded once
    assert len(domain.responses) == 29
    assert domain.responses["utter_can_do_something_else"] == (
        {"text": "What exactly can I help you with?"},
    )
    assert domain.responses["utter_ask_rephrase"][0]["text"] == (
        "I’m sorry I am unable to understand you, could you please rephrase?"  # noqa: RUF001
    )
    flow_cancelled = domain.responses["utter_flow_cancelled_rasa"][0]
    assert flow_cancelled == {
        "text": "Okay, stopping {{ context.canceled_name }}.",
        "metadata": {"template": "jinja"},
    }
    jinja = {
        n for n, v in domain.responses.items() if v[0].get("metadata") == {"template": "jinja"}
    }
    assert jinja == {
        "utter_ask_continue_interrupted_flow_confirmation",
        "utter_ask_interrupted_flow_to_continue",
        "utter_boolean_slot_rejection",
        "utter_categorical_slot_rejection",
        "utter_clarification_options_rasa",
        "utter_corrected_previous_input",
        "utter_float_slot_rejection",
        "utter_flow_cancelled_rasa",
        "utter_user_input_too_long_error_rasa",
    }
    csat, voice = domain.responses["utter_ask_csat_score"]
    assert csat["buttons"] == [
        {"title": "👍 Satisfied", "payload": "/SetSlots(csat_score=satisfied)"},
        {"title": "👎 Not Satisfied", "payload": "/SetSlots(csat_score=unsatisfied)"},
    ]
    assert voice["channel"] == "browser_audio"

    slots = domain.slots
    assert list(slots) == [
        "confirm_correction", "silence_timeout", "consecutive_silence_timeouts",
        "interrupted_flow_to_continue", "continue_interrupted_flow_confirmation",
        "max_clarification_options", "continue_conversation", "csat_score", "flow_hashes",
    ]  # fmt: skip
    assert all(isinstance(slot, Slot) for slot in slots.values())
    assert (slots["silence_timeout"].initial_value, slots["silence_timeout"].max_value) == (
        30.0,
        1000000.0,
    )
    assert slots["consecutive_silence_timeouts"].initial_value == 0.0
    assert slots["consecutive_silence_timeouts"].mappings == ()
    assert slots["max_clarification_options"].initial_value == 3.0
    assert slots["csat_score"].type == "categorical"
    assert slots["csat_score"].values == ("satisfied", "unsatisfied")
    assert [m.type for m in slots["continue_conversation"].mappings] == ["from_llm"]
    assert slots["interrupted_flow_to_continue"].type == "text"
    assert (slots["flow_hashes"].type, slots["flow_hashes"].influence_conversation) == (
        "any",
        False,
    )


def test_every_response_a_default_pattern_utters_is_a_default_response() -> None:
    responses = default_pattern_domain().responses
    uttered = {
        step.action
        for flow in default_patterns()
        for step in flow.steps
        if isinstance(step, ActionStep) and step.action.startswith("utter_")
    }
    asked = {step.utter for flow in default_patterns() for step in flow.collect_steps}
    assert uttered | asked <= set(responses)


# -- cross-flow checks ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        # An intent triggers at most one flow, patterns included.
        (
            """
            flows:
              a:
                description: d
                nlu_trigger: [{intent: go}]
                steps: [{action: x}]
              b:
                description: d
                nlu_trigger:
                  - intent: go
                steps: [{action: x}]
            """,
            10,
            "intent 'go' triggers both 'a' and 'b'",
        ),
        (
            """
            flows:
              again:
                description: d
                nlu_trigger:
                  - intent: restart
                steps: [{action: x}]
            """,
            6,  # reported in the project's file, not in the built-in one
            "intent 'restart' triggers both 'again' and 'pattern_restart'",
        ),
        # item 12: a called flow cannot link.
        (
            """
            flows:
              caller:
                description: d
                steps:
                  - call: callee
              callee:
                description: d
                steps:
                  - link: caller
            """,
            6,
            "'callee' is called here, so it cannot link (it does at data/flows.yml:10)",
        ),
        # item 13: call targets exist.
        (
            """
            flows:
              caller:
                description: d
                steps:
                  - call: helpr
              helper:
                description: d
                steps: [{action: x}]
            """,
            6,
            "calls 'helpr', which is not a flow",
        ),
        # item 14: link targets exist.
        (
            """
            flows:
              f:
                description: d
                steps:
                  - link: nowhere
            """,
            6,
            "links to 'nowhere', which is not a flow",
        ),
        # item 15: patterns cannot be called, and only four can be linked.
        (
            """
            flows:
              f:
                description: d
                steps:
                  - call: pattern_search
            """,
            6,
            "calls pattern 'pattern_search'",
        ),
        (
            """
            flows:
              f:
                description: d
                steps:
                  - link: pattern_correction
            """,
            6,
            "links to pattern 'pattern_correction'",
        ),
        # item 16: patterns cannot call, and pattern_internal_error cannot link.
        (
            """
            flows:
              helper:
                description: d
                steps: [{action: x}]
              pattern_chitchat:
                description: d
                steps:
                  - call: helper
            """,
            9,
            "pattern 'pattern_chitchat' cannot call",
        ),
        (
            """
            flows:
              helper:
                description: d
                steps: [{action: x}]
              pattern_internal_error:
                description: d
                steps:
                  - link: helper
            """,
            9,
            "pattern_internal_error cannot link",
        ),
        # item 10: persisted slots must be collected or set by the flow or what it calls.
        (
            """
            flows:
              f:
                description: d
                persisted_slots: [amont]
                steps:
                  - collect: amount
            """,
            3,
            "persisted slot 'amont' is not collected or set",
        ),
        (
            """
            flows:
              f:
                description: d
                persisted_slots: [amount]
                steps:
                  - collect: amount
                  - collect: other
                    reset_after_flow_ends: false
            """,
            8,
            "'reset_after_flow_ends' cannot be used",
        ),
    ],
)
def test_cross_flow_problems(text, line, message) -> None:
    (problem,) = build_problems(text)
    assert problem.source.line == line, problem
    assert message in problem.message, problem


def test_cross_flow_problems_have_hints_and_are_all_reported() -> None:
    found = build_problems(
        """
        flows:
          f:
            description: d
            steps:
              - call: nothing
              - link: transfer_mony
          transfer_money:
            description: d
            steps: [{action: x}]
        """
    )
    assert [(p.source.line, p.hint) for p in found] == [
        (6, "expected one of: f, transfer_money"),
        (7, "did you mean 'transfer_money'?"),
    ]


def test_duplicate_flow_ids_across_files() -> None:
    first = flows_from_yaml(parse_yaml(SIMPLE, "data/a.yml"))
    second = flows_from_yaml(parse_yaml(SIMPLE, "data/b.yml"))
    with pytest.raises(ProjectError) as caught:
        build_flows([*first, *second])
    (problem,) = caught.value.problems
    assert str(problem.source) == "data/b.yml:2"
    assert "defined twice (also at data/a.yml:2)" in problem.message


def test_allowed_links_to_patterns() -> None:
    flows = build(
        """
        flows:
          f:
            description: d
            steps:
              - noop: true
                next:
                  - if: slots.a
                    then:
                      - link: pattern_human_handoff
                  - if: slots.b
                    then:
                      - link: pattern_search
                  - else:
                      - link: pattern_chitchat
          pattern_cannot_handle:
            description: d
            steps:
              - link: f
        """
    )
    assert "f" in flows
    # pattern_human_handoff may be linked even when the defaults are left out.
    build(
        "flows:\n  f:\n    description: d\n    steps: [{link: pattern_human_handoff}]\n",
        with_default_patterns=False,
    )


def test_persisted_slots_may_come_from_called_flows() -> None:
    flows = build(
        """
        flows:
          outer:
            description: d
            persisted_slots: [deep, set_here]
            steps:
              - call: middle
              - set_slots:
                  - set_here: 1
          middle:
            description: d
            steps:
              - call: inner
          inner:
            description: d
            steps:
              - collect: deep
        """
    )
    outer = flows.get("outer")
    assert outer is not None
    assert [flow.id for flow in flows.called_flows(outer)] == ["middle", "inner"]


def test_nlu_trigger_lookup_respects_thresholds_and_order() -> None:
    flows = build(
        """
        flows:
          a:
            description: d
            nlu_trigger:
              - intent: {name: pay, confidence_threshold: 0.7}
            steps: [{action: x}]
        """
    )
    found = flows.flow_by_nlu_trigger("pay", 0.7)
    assert found is not None and found.id == "a"
    assert flows.flow_by_nlu_trigger("pay", 0.69) is None
    assert flows.flow_by_nlu_trigger(None, 1.0) is None


def test_fingerprints_cover_every_flow() -> None:
    flows = build(SIMPLE)
    fingerprints = flows.fingerprints
    assert set(fingerprints) == {flow.id for flow in flows}
    assert fingerprints["greet"] == build(SIMPLE).fingerprints["greet"]
    assert len(set(fingerprints.values())) == len(fingerprints)


# -- the acceptance projects ----------------------------------------------------------------------


@pytest.fixture(params=["flows", "bank"])
def acceptance(request) -> FlowsList:
    path = require(ACCEPTANCE / request.param / "data" / "flows.yml")
    return build_flows(flows_from_yaml(read_yaml(path)))


def test_acceptance_flows_load(acceptance: FlowsList) -> None:
    assert [flow.id for flow in acceptance.user_flows] == [
        "transfer_money", "check_balance", "authenticate", "block_card", "security_tips",
    ]  # fmt: skip
    assert {flow.id for flow in acceptance.patterns} == PATTERN_IDS
    completed = acceptance.get("pattern_completed")
    assert completed is not None
    assert completed.steps[0] == ActionStep(
        id="pattern_completed_0_utter_anything_else", next=completed.steps[0].next,
        action="utter_anything_else",
    )  # fmt: skip
    assert completed.file_path is not None and completed.file_path.endswith("data/flows.yml")


def test_acceptance_transfer_money(acceptance: FlowsList) -> None:
    assert next_of(acceptance, "transfer_money") == {
        "transfer_money_0_collect_transfer_recipient": [
            (None, "transfer_money_1_collect_transfer_amount")
        ],
        "transfer_money_1_collect_transfer_amount": [
            (None, "transfer_money_2_action_check_sufficient_funds")
        ],
        "transfer_money_2_action_check_sufficient_funds": [
            ("slots.has_sufficient_funds", "confirm_transfer"),
            (None, "transfer_money_3_utter_insufficient_funds"),
        ],
        "transfer_money_3_utter_insufficient_funds": [(None, END)],
        "confirm_transfer": [
            ("slots.transfer_confirmed", "transfer_money_5_utter_transfer_complete"),
            (None, "transfer_money_6_utter_transfer_not_sent"),
        ],
        "transfer_money_5_utter_transfer_complete": [(None, END)],
        "transfer_money_6_utter_transfer_not_sent": [(None, END)],
    }
    flow = acceptance.get("transfer_money")
    assert flow is not None
    confirm = flow.step_by_id("confirm_transfer")
    assert isinstance(confirm, CollectStep) and confirm.ask_before_filling
    assert confirm.utter == "utter_ask_transfer_confirmed"


def test_acceptance_block_card(acceptance: FlowsList) -> None:
    flow = acceptance.get("block_card")
    assert flow is not None
    call, noop, failed, ask, set_slots, blocked, link = flow.steps
    assert isinstance(call, CallStep) and call.id == "block_card_0_call_authenticate"
    assert call.call == "authenticate" and call.next[0].target == "block_card_1_noop"
    assert isinstance(noop, NoopStep)
    assert noop.successor({}, {"is_authenticated": True}) == "ask_card_digits"
    assert noop.successor({}, {"is_authenticated": None}) == failed.id
    assert failed.id == "block_card_2_utter_authentication_failed"
    assert isinstance(ask, CollectStep) and ask.collect == "card_last_digits"
    assert isinstance(set_slots, SetSlotsStep) and set_slots.id == "block_card_4_set_slots"
    assert set_slots.slots == (("card_status", "blocked"),)
    assert blocked.id == "block_card_5_utter_card_blocked"
    assert blocked.next[0].target == "block_card_6_link_security_tips"
    assert isinstance(link, LinkStep) and link.link == "security_tips" and link.next == ()
    assert [f.id for f in acceptance.called_flows(flow)] == ["authenticate"]
    found = acceptance.flow_by_nlu_trigger("block_card", 0.9)
    assert found is flow


def test_acceptance_authenticate_is_link_only(acceptance: FlowsList) -> None:
    authenticate = acceptance.get("authenticate")
    assert authenticate is not None
    assert authenticate.guard == "False" and authenticate.is_link_only
    assert not authenticate.is_startable({}, {})
    assert authenticate.is_startable({"flow_id": "authenticate"}, {})
    assert next_of(acceptance, "authenticate") == {
        "authenticate_0_noop": [("slots.is_authenticated", END), (None, "ask_pin")],
        "ask_pin": [(None, "authenticate_2_action_verify_pin")],
        "authenticate_2_action_verify_pin": [(None, END)],
    }
    others = [flow for flow in acceptance.user_flows if flow.id != "authenticate"]
    assert not any(flow.is_link_only for flow in others)


def test_acceptance_check_balance(acceptance: FlowsList) -> None:
    flow = acceptance.get("check_balance")
    assert flow is not None
    assert flow.persisted_slots == ("account_type",)
    assert [step.id for step in flow.steps] == [
        "check_balance_0_collect_account_type",
        "check_balance_1_action_check_balance",
        "check_balance_2_utter_current_balance",
    ]
