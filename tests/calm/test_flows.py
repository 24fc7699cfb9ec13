import textwrap

import pytest

from tandem.project.errors import Problem, ProjectError
from tandem.project.flows.model import (
    END,
    ActionStep,
    Branch,
    CallStep,
    CollectStep,
    Flow,
    LinkStep,
    NluTrigger,
    NoopStep,
    Rejection,
    SetSlotsStep,
    VirtualStep,
)
from tandem.project.flows.reader import flows_from_yaml
from tandem.project.yaml import parse_yaml


def load(text: str) -> list[Flow]:
    return flows_from_yaml(parse_yaml(textwrap.dedent(text), "data/flows.yml"))


def load_one(text: str) -> Flow:
    (flow,) = load(text)
    return flow


def problems(text: str) -> list[Problem]:
    with pytest.raises(ProjectError) as caught:
        load(text)
    return caught.value.problems


def only_problem(text: str) -> Problem:
    (problem,) = problems(text)
    assert problem.source.path == "data/flows.yml"
    return problem


def next_of(flow: Flow) -> dict[str, list[tuple[str | None, str]]]:
    return {step.id: [(b.condition, b.target) for b in step.next] for step in flow.steps}


# -- default ids and next resolution --------------------------------------------------------------

NESTED = """
flows:
  nested:
    description: nested branches
    steps:
      - collect: first
        next:
          - if: slots.first = 'a'
            then:
              - action: utter_a
              - noop: true
                next:
                  - if: slots.deep
                    then:
                      - set_slots:
                          - deep: null
                        next: END
                  - else:
                      - link: other
          - if: slots.first = 'b'
            then: named
          - else:
              - call: helper
                next: named
      - id: named
        action: utter_named
      - action: action_last
"""


def test_default_step_ids_follow_the_pre_order_of_the_step_tree() -> None:
    flow = load_one(NESTED)
    assert [step.id for step in flow.steps] == [
        "nested_0_collect_first",
        "nested_1_utter_a",
        "nested_2_noop",
        "nested_3_set_slots",
        "nested_4_link_other",
        "nested_5_call_helper",
        "named",  # explicit ids still take a position in the numbering
        "nested_7_action_last",
    ]
    assert [type(step) for step in flow.steps] == [
        CollectStep,
        ActionStep,
        NoopStep,
        SetSlotsStep,
        LinkStep,
        CallStep,
        ActionStep,
        ActionStep,
    ]


def test_next_is_resolved_to_siblings_branches_and_end() -> None:
    flow = load_one(NESTED)
    assert next_of(flow) == {
        "nested_0_collect_first": [
            ("slots.first = 'a'", "nested_1_utter_a"),
            ("slots.first = 'b'", "named"),
            (None, "nested_5_call_helper"),
        ],
        "nested_1_utter_a": [(None, "nested_2_noop")],  # next sibling inside a then list
        "nested_2_noop": [("slots.deep", "nested_3_set_slots"), (None, "nested_4_link_other")],
        "nested_3_set_slots": [(None, END)],
        "nested_4_link_other": [],  # a link never gets a next
        "nested_5_call_helper": [(None, "named")],
        "named": [(None, "nested_7_action_last")],
        "nested_7_action_last": [(None, END)],  # last step of the flow
    }


def test_step_payloads() -> None:
    flow = load_one(NESTED)
    set_slots = flow.step_by_id("nested_3_set_slots")
    assert isinstance(set_slots, SetSlotsStep)
    assert set_slots.slots == (("deep", None),)
    link = flow.step_by_id("nested_4_link_other")
    assert isinstance(link, LinkStep) and link.link == "other"
    call = flow.step_by_id("nested_5_call_helper")
    assert isinstance(call, CallStep) and call.call == "helper"


def test_steps_know_where_they_are_written() -> None:
    flow = load_one(NESTED)
    assert flow.source.line == 3
    assert flow.first_step.source.line == 6
    assert flow.step_by_id("named").source.line == 25
    assert flow.file_path == "data/flows.yml"


def test_jump_targets_may_name_steps_inside_branches() -> None:
    flow = load_one(
        """
        flows:
          loop:
            description: loops
            steps:
              - noop: true
                next:
                  - if: slots.done
                    then:
                      - id: inner
                        action: utter_inner
                        next: END
                  - else: again
              - id: again
                action: utter_again
                next: inner
        """
    )
    assert next_of(flow)["again"] == [(None, "inner")]


# -- successor selection --------------------------------------------------------------------------

BRANCHY = """
flows:
  branchy:
    description: branches
    steps:
      - noop: true
        next:
          - else: fallback
          - if: "slots.{{context.collect}} = 'x'"
            then: templated
          - if: slots.flag
            then: flagged
      - id: templated
        action: utter_templated
        next: END
      - id: flagged
        action: utter_flagged
        next: END
      - id: fallback
        action: utter_fallback
        next: END
"""


@pytest.mark.parametrize(
    ("context", "slots", "expected"),
    [
        ({"collect": "item"}, {"item": "x", "flag": True}, "templated"),  # first true if wins
        ({"collect": "item"}, {"item": "y", "flag": True}, "flagged"),
        ({"collect": "item"}, {"item": "y", "flag": False}, "fallback"),  # else, though first
        ({}, {"flag": None}, "fallback"),
    ],
)
def test_successor_tries_if_branches_in_order_before_else(context, slots, expected) -> None:
    flow = load_one(BRANCHY)
    assert flow.first_step.successor(context, slots) == expected


def test_successor_of_link_is_end_and_end_has_none() -> None:
    flow = load_one(NESTED)
    assert flow.step_by_id("nested_4_link_other").successor({}, {}) == END
    assert flow.step_by_id(END).successor({}, {}) is None


def test_a_failing_branch_condition_counts_as_false() -> None:
    flow = load_one(
        """
        flows:
          f:
            description: d
            steps:
              - noop: true
                next:
                  - if: slots.text > 100
                    then: END
                  - else: other
              - id: other
                action: utter_other
        """
    )
    assert flow.first_step.successor({}, {"text": "150"}) == "other"


# -- virtual steps and lookups --------------------------------------------------------------------


def test_step_by_id_knows_virtual_steps_and_legacy_ids() -> None:
    flow = load_one(NESTED)
    start = flow.step_by_id("START")
    assert isinstance(start, VirtualStep)
    assert start.successor({}, {}) == "nested_0_collect_first"
    assert flow.step_by_id("END") == VirtualStep(id="END")
    assert flow.step_by_id("NEXT:named").successor({}, {}) == "named"
    assert flow.step_by_id("NEXT:END").successor({}, {}) == END
    assert flow.step_by_id("NEXT:gone") is None
    assert flow.step_by_id("gone") is None
    # Trackers from before the flow-id prefix store "<idx>_<suffix>".
    assert flow.step_by_id("7_action_last") is flow.step_by_id("nested_7_action_last")


def test_flow_level_keys() -> None:
    flow = load_one(
        """
        flows:
          my_flow-name:
            description: all keys
            if: slots.allowed
            always_include_in_prompt: true
            nlu_trigger:
              - intent: plain
              - intent:
                  name: picky
                  confidence_threshold: 0.8
            persisted_slots: [x]
            run_pattern_completed: false
            metadata: {owner: team}
            translation:
              de:
                name: Mein Flow
            on_activate: ignored
            file_path: ignored
            steps:
              - collect: x
        """
    )
    assert flow.name == "my flow name"
    assert flow.guard == "slots.allowed"
    assert flow.always_include_in_prompt is True
    assert flow.nlu_trigger == (NluTrigger("plain", 0.0), NluTrigger("picky", 0.8))
    assert flow.persisted_slots == ("x",)
    assert flow.run_pattern_completed is False
    assert flow.metadata == {"owner": "team"}
    assert flow.readable_name("de") == "Mein Flow"
    assert flow.readable_name("fr") == flow.readable_name() == "my flow name"
    assert flow.triggered_by("plain", 0.0)
    assert flow.triggered_by("picky", 0.8) and not flow.triggered_by("picky", 0.79)
    assert not flow.triggered_by(None, 1.0)
    assert not flow.is_link_only


def test_explicit_name_wins() -> None:
    flow = load_one("flows: {f: {description: d, name: Nice Name, steps: [{action: a}]}}")
    assert flow.name == "Nice Name"


def test_collect_step_defaults_and_options() -> None:
    flow = load_one(
        """
        flows:
          f:
            description: d
            steps:
              - collect: amount
              - collect: pin
                utter: utter_custom
                description: four digits
                ask_before_filling: true
                reset_after_flow_ends: false
                force_slot_filling: true
                silence_timeout: 12
                rejections:
                  - if: slots.pin matches '\\D'
                    utter: utter_digits_only
                  - if: false
                    utter: utter_never
        """
    )
    plain, custom = flow.collect_steps
    assert (plain.utter, plain.collect_action) == ("utter_ask_amount", "action_ask_amount")
    assert (plain.ask_before_filling, plain.reset_after_flow_ends) == (False, True)
    assert custom.utter == "utter_custom"
    assert custom.description == "four digits"
    assert custom.ask_before_filling and custom.force_slot_filling
    assert not custom.reset_after_flow_ends
    assert custom.silence_timeout == 12
    assert custom.rejections == (
        Rejection("slots.pin matches '\\D'", "utter_digits_only"),
        Rejection("False", "utter_never"),
    )
    assert custom.rejections[0].as_dict() == {
        "if": "slots.pin matches '\\D'",
        "utter": "utter_digits_only",
    }


def test_boolean_conditions_become_strings() -> None:
    flow = load_one(
        """
        flows:
          hidden:
            description: d
            if: False
            steps:
              - noop: true
                next:
                  - if: true
                    then: END
                  - else: END
        """
    )
    assert flow.guard == "False"
    assert flow.is_link_only
    assert flow.first_step.next == (Branch(END, "True"), Branch(END))


@pytest.mark.parametrize(
    ("guard", "link_only"),
    [("False", True), ("1 = 2", True), ("True", False), ("slots.x", False), ("not slots.x", False)],
)
def test_link_only_means_a_guard_without_variables_that_is_false(guard, link_only) -> None:
    flow = Flow(id="f", description="d", steps=(NoopStep(id="s"),), guard=guard)
    assert flow.is_link_only is link_only


def test_guards_decide_startability_except_for_the_running_flow() -> None:
    flow = Flow(id="f", description="d", steps=(NoopStep(id="s"),), guard="slots.ok")
    assert flow.is_startable({}, {"ok": True})
    assert not flow.is_startable({}, {"ok": False})
    assert not flow.is_startable({"flow_id": "other"}, {})
    assert flow.is_startable({"flow_id": "f"}, {})
    assert Flow(id="g", description="d", steps=(NoopStep(id="s"),)).is_startable({}, {})


def test_fingerprint_follows_the_definition_not_its_layout() -> None:
    base = load_one("flows: {f: {description: d, steps: [{action: a}, {action: b}]}}")
    reordered = load_one(
        """
        flows:
          f:
            # comments and key order do not matter
            steps:
              - action: a
              - action: b
            description: d
        """
    )
    changed = load_one("flows: {f: {description: d, steps: [{action: a}, {action: c}]}}")
    assert len(base.fingerprint) == 32
    assert base.fingerprint == reordered.fingerprint
    assert base.fingerprint != changed.fingerprint


def test_several_flows_keep_file_order() -> None:
    flows = load(
        """
        version: "3.1"
        flows:
          b: {description: d, steps: [{action: x}]}
          a: {description: d, steps: [{action: y}]}
        """
    )
    assert [flow.id for flow in flows] == ["b", "a"]
    assert load("flows:\n") == []


# -- validation: one problem each, with file and line ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "message", "hint"),
    [
        # A flow without steps.
        ("flows:\n  f:\n    description: d\n    steps: []\n", 4, "has no steps", ""),
        # item 2: an empty then/else list.
        (
            """
            flows:
              f:
                description: d
                steps:
                  - noop: true
                    next:
                      - if: slots.x
                        then: []
                      - else: END
            """,
            9,
            "empty list of steps",
            "",
        ),
        # item 3: the last step of a nested list needs a next ...
        (
            """
            flows:
              f:
                description: d
                steps:
                  - noop: true
                    next:
                      - if: slots.x
                        then:
                          - action: utter_a
                      - else: END
            """,
            10,
            "needs a 'next'",
            "add 'next: END'",
        ),
        # ... and a link step cannot have one.
        (
            """
            flows:
              f:
                description: d
                steps:
                  - link: other
                    next: END
            """,
            7,
            "link step cannot have a 'next'",
            "",
        ),
        # item 4: unresolved target, with a suggestion.
        (
            """
            flows:
              f:
                description: d
                steps:
                  - action: utter_a
                    next: ask_amont
                  - id: ask_amount
                    collect: amount
            """,
            7,
            "'ask_amont'",
            "did you mean 'ask_amount'?",
        ),
        # item 5: unreachable step.
        (
            """
            flows:
              f:
                description: d
                steps:
                  - action: utter_a
                    next: END
                  - action: utter_b
            """,
            8,
            "can never be reached",
            "",
        ),
        # item 6: if without else.
        (
            """
            flows:
              f:
                description: d
                steps:
                  - noop: true
                    next:
                      - if: slots.x
                        then: END
            """,
            7,
            "no 'else'",
            "",
        ),
        # item 7: reserved ids.
        (
            """
            flows:
              f:
                description: d
                steps:
                  - id: END
                    action: utter_a
            """,
            6,
            "'END' is a reserved step id",
            "",
        ),
        (
            """
            flows:
              f:
                description: d
                steps:
                  - id: "NEXT:x"
                    action: utter_a
            """,
            6,
            "reserved step id",
            "",
        ),
        # item 8: slot names.
        (
            """
            flows:
              f:
                description: d
                steps:
                  - collect: 1st-slot
            """,
            6,
            "invalid slot name '1st-slot'",
            "",
        ),
        # item 9: flow ids.
        (
            "flows:\n  -bad:\n    description: d\n    steps: [{action: a}]\n",
            2,
            "invalid flow id",
            "",
        ),
        (
            "flows:\n  'a b':\n    description: d\n    steps: [{action: a}]\n",
            2,
            "invalid flow id",
            "",
        ),
        # item 17: duplicate step ids, also against a generated id.
        (
            """
            flows:
              f:
                description: d
                steps:
                  - action: utter_a
                  - id: f_0_utter_a
                    action: utter_b
            """,
            7,
            "used twice (also at data/flows.yml:6)",
            "",
        ),
        # Unknown keys, with "did you mean".
        (
            "flows:\n  f:\n    description: d\n    descripton: x\n    steps: [{action: a}]\n",
            4,
            "unknown key 'descripton' in flow 'f'",
            "did you mean 'description'?",
        ),
        (
            """
            flows:
              f:
                description: d
                steps:
                  - collect: x
                    ask_before_filing: true
            """,
            7,
            "unknown key 'ask_before_filing' in collect step",
            "did you mean 'ask_before_filling'?",
        ),
        (
            """
            flows:
              f:
                description: d
                steps:
                  - action: utter_a
                    utter: utter_b
            """,
            7,
            "unknown key 'utter' in action step",
            "",
        ),
        (
            """
            flows:
              f:
                description: d
                steps:
                  - colect: x
            """,
            6,
            "a step needs one of",
            "did you mean 'collect'?",
        ),
        (
            """
            flows:
              f:
                description: d
                steps:
                  - action: a
                    collect: b
            """,
            6,
            "has action, collect",
            "",
        ),
        # Required keys and types.
        ("flows:\n  f:\n    steps: [{action: a}]\n", 2, "flow 'f' has no 'description'", ""),
        ("flows:\n  f:\n    description: d\n", 2, "has no 'steps'", ""),
        ("flows:\n  f: [1]\n", 2, "flow 'f' must be a mapping", ""),
        (
            "flows:\n  f:\n    description: d\n    run_pattern_completed: 'no'\n"
            "    steps: [{action: a}]\n",
            4,
            "'run_pattern_completed' in flow 'f' must be true or false, not 'no'",
            "",
        ),
        (
            """
            flows:
              f:
                description: d
                steps:
                  - noop: true
            """,
            6,
            "a noop step needs a 'next'",
            "",
        ),
        (
            """
            flows:
              f:
                description: d
                steps:
                  - action: a
                    next: 3
            """,
            7,
            "'next' must be a string or a list, not 3",
            "",
        ),
        (
            """
            flows:
              f:
                description: d
                steps:
                  - set_slots:
                      - a: 1
                        b: 2
            """,
            7,
            "one 'slot_name: value' pair",
            "",
        ),
        # Conditions are syntax-checked unless they are templates.
        (
            """
            flows:
              f:
                description: d
                steps:
                  - noop: true
                    next:
                      - if: slots.x = = 1
                        then: END
                      - else: END
            """,
            8,
            "invalid condition",
            "",
        ),
        (
            "flows:\n  f:\n    description: d\n    if: (slots.x\n    steps: [{action: a}]\n",
            4,
            "invalid condition",
            "",
        ),
        (
            "flows:\n  f:\n    description: d\n    nlu_trigger: []\n    steps: [{action: a}]\n",
            4,
            "at least one intent",
            "",
        ),
        (
            """
            flows:
              f:
                description: d
                steps:
                  - call: helper
                    exit_if: slots.done
            """,
            7,
            "'exit_if' in a call step is not supported",
            "",
        ),
    ],
)
def test_each_problem_names_file_line_and_hint(text, line, message, hint) -> None:
    problem = only_problem(textwrap.dedent(text))
    assert problem.source.line == line, problem
    assert message in problem.message, problem
    assert hint in problem.hint, problem


def test_templated_conditions_are_not_syntax_checked_before_rendering() -> None:
    flow = load_one(
        """
        flows:
          f:
            description: d
            steps:
              - noop: true
                next:
                  - if: "slots.{{ context.collect }} is not null"
                    then: END
                  - else: END
        """
    )
    assert flow.first_step.next[0].condition == "slots.{{ context.collect }} is not null"


def test_problems_of_all_flows_and_steps_are_reported_together() -> None:
    found = problems(
        """
        flows:
          one:
            description: d
            steps:
              - action: utter_a
                next: nowhere
          two:
            description: d
            stepz: []
          three:
            description: d
            steps:
              - collect: 2fast
              - action: utter_b
                utter: utter_c
              - noop: true
                next:
                  - if: slots.x
                    then:
                      - link: one
                        next: END
                  - else: END
        """
    )
    assert [(p.source.line, p.message) for p in found] == [
        (7, "'next' names 'nowhere', which is not a step of this flow"),
        (10, "unknown key 'stepz' in flow 'two'"),
        (14, "invalid slot name '2fast'"),
        (16, "unknown key 'utter' in action step"),
        (22, "a link step cannot have a 'next'"),
    ]
    assert "data/flows.yml:7: error:" in str(ProjectError.of(found))


def test_a_file_without_flows_key_is_rejected() -> None:
    with pytest.raises(ProjectError, match="no top-level 'flows' key"):
        flows_from_yaml(parse_yaml("nlu: []\n", "data/nlu.yml"))
