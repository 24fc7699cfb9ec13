"""``validate_project``: cross-file checks, each problem with file:line and a hint."""

from __future__ import annotations

from pathlib import Path

import pytest
from project_testkit import Write, find

from tandem.model.validation import validate_project
from tandem.project.errors import Problem
from tandem.project.loader import load_project

NLU_CONFIG = """\
recipe: default.v1
language: en
assistant_id: test
pipeline:
  - name: WhitespaceTokenizer
policies:
  - name: RulePolicy
"""
CALM_CONFIG = """\
recipe: default.v1
language: en
assistant_id: test
pipeline:
  - name: WhitespaceTokenizer
  - name: NLUCommandAdapter
policies:
  - name: FlowPolicy
"""
FLOW_DOMAIN = """\
intents: [greet]
responses:
  utter_ask_city:
    - text: Which city?
  utter_done:
    - text: Done.
slots:
  city:
    type: text
    mappings: [{type: from_llm}]
  kind:
    type: categorical
    values: [gold, silver]
  ok:
    type: bool
  tags:
    type: list
"""
NLU = "nlu:\n  - intent: greet\n    examples: |\n      - hi\n"


@pytest.fixture
def validate(write: Write, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Write a project (config, domain.yml, data files) and validate it."""

    def validate(domain: str, config: str = NLU_CONFIG, **data: str) -> list[Problem]:
        write("config.yml", config)
        write("domain.yml", domain)
        for name, text in {"nlu": NLU, **data}.items():
            write(f"data/{name}.yml", text)
        return validate_project(load_project(tmp_path))

    return validate


def errors(problems: list[Problem]) -> list[Problem]:
    return [problem for problem in problems if problem.severity == "error"]


def test_a_clean_project_has_no_problems(validate) -> None:  # type: ignore[no-untyped-def]
    rules = "rules:\n  - rule: r\n    steps:\n      - intent: greet\n      - action: utter_hi\n"
    domain = "intents: [greet]\nresponses:\n  utter_hi:\n    - text: hi\n"
    assert validate(domain, rules=rules) == []


def test_misspelt_names_in_stories_and_rules(validate, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    domain = """\
        intents: [greet, inform]
        entities: [city]
        slots:
          city:
            type: text
            mappings: []
        forms:
          city_form:
            required_slots: [city]
        actions: [action_lookup]
        responses:
          utter_greet:
            - text: hi
        """
    stories = """\
        stories:
          - story: s
            steps:
              - intent: gret
              - action: utter_gret
              - action: action_lokup
              - intent: inform
                entities:
                  - cty: Berlin
        rules:
          - rule: r
            condition:
              - active_loop: city_from
            steps:
              - intent: greet
              - slot_was_set:
                  - citty: Berlin
              - action: action_unknown_thing
        """
    problems = validate(domain, stories=stories)
    where = tmp_path / "data" / "stories.yml"
    intent = find(problems, "intent 'gret' is not declared")
    assert (intent.source.path, intent.source.line) == (str(where), 4)
    assert intent.hint == "did you mean 'greet'?"
    response = find(problems, "response 'utter_gret' is not defined")
    assert response.source.line == 5 and response.hint == "did you mean 'utter_greet'?"
    assert find(problems, "action 'action_lokup'").hint == "did you mean 'action_lookup'?"
    assert find(problems, "entity 'cty'").source.line == 7  # the user step
    slot = find(problems, "slot 'citty' is not declared")
    assert slot.source.line == 16 and slot.hint == "did you mean 'city'?"
    assert find(problems, "form 'city_from'").hint == "did you mean 'city_form'?"
    unknown = find(problems, "action 'action_unknown_thing'")
    assert unknown.hint == "declare it under `actions:` in the domain"
    assert len(errors(problems)) == 7


def test_nlu_data_checks(validate) -> None:  # type: ignore[no-untyped-def]
    nlu = """\
        nlu:
          - intent: greet
            examples: |
              - hi
              - hello [Bob](name)
          - intent: bye
            examples: |
              - hi
        """
    problems = validate("intents: [greet, unused]\n", nlu=nlu)
    duplicate = find(problems, "the example 'hi' is given for intent 'bye'")
    assert duplicate.source.line == 8 and duplicate.severity == "warning"  # as the reference
    assert "nlu.yml:4" in duplicate.message
    assert find(problems, "intent 'bye' is not declared").severity == "warning"
    assert find(problems, "entity 'name' is not declared").severity == "warning"
    unused = find(problems, "intent 'unused' has no training examples")
    assert unused.severity == "warning" and unused.source.line == 1


def test_forms_mappings_and_actions_in_the_domain(validate) -> None:  # type: ignore[no-untyped-def]
    domain = """\
        intents: [greet]
        entities: [city]
        slots:
          city:
            type: text
            mappings:
              - type: from_entity
                entity: town
                intent: gret
                conditions:
                  - active_loop: trip_from
                    requested_slot: cty
              - type: controlled
                run_action_every_turn: action_missing
        forms:
          trip_form:
            required_slots: [city, date]
            ignored_intents: [chitchat]
        actions:
          - utter_forgotten
        """
    problems = validate(domain)
    assert find(problems, "entity 'town'").source.line == 7
    misspelt = find(problems, "intent 'gret'")
    assert misspelt.hint == "did you mean 'greet'?" and misspelt.severity == "warning"
    assert find(problems, "form 'trip_from'").hint == "did you mean 'trip_form'?"
    assert find(problems, "slot 'cty'").hint == "did you mean 'city'?"
    assert find(problems, "action 'action_missing'").source.line == 13
    assert find(problems, "slot 'date'").source.line == 17
    assert find(problems, "intent 'chitchat'").severity == "warning"
    assert find(problems, "action 'utter_forgotten' has no response").severity == "warning"


def test_mappings_without_flows_or_adapter(validate) -> None:  # type: ignore[no-untyped-def]
    domain = "intents: [greet]\nslots:\n  llm_only:\n    type: text\n"
    implicit = find(validate(domain), "has no `mappings`, so it gets a `from_llm` mapping")
    assert implicit.source.line == 3 and "mappings: []" in implicit.hint

    nlu_mapping = FLOW_DOMAIN + "  name:\n    type: text\n    mappings: [{type: from_text}]\n"
    flows = "flows:\n  f:\n    description: d\n    steps:\n      - action: utter_done\n"
    no_adapter = CALM_CONFIG.replace("  - name: NLUCommandAdapter\n", "")
    problem = find(validate(nlu_mapping, no_adapter, flows=flows), "has a `from_text` mapping")
    assert problem.hint.startswith("add NLUCommandAdapter")


def test_coexistence_rules_of_mappings(validate) -> None:  # type: ignore[no-untyped-def]
    domain = """\
        slots:
          shared:
            type: bool
            shared_for_coexistence: true
            mappings:
              - type: controlled
                coexistence_system: CALM
          mixed:
            type: text
            mappings:
              - type: controlled
                coexistence_system: CALM
              - type: controlled
                coexistence_system: NLU
              - type: from_llm
                allow_nlu_correction: true
        """
    problems = validate(domain)
    assert find(problems, "must be SHARED").source.line == 6
    assert find(problems, "name different coexistence systems").source.line == 13
    assert find(problems, "`allow_nlu_correction` on slot 'mixed'").source.line == 15


def test_flows_use_declared_slots_actions_and_responses(validate, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    flows = """\
        flows:
          order:
            description: order something
            nlu_trigger:
              - intent: gret
            steps:
              - collect: citty
              - collect: tags
              - collect: kind
              - set_slots:
                  - ok: true
                  - nope: 1
              - action: utter_dne
              - action: "{{context.utter}}"
              - action: action_nowhere
                next:
                  - if: slots.kind = 'bronze'
                    then: END
                  - if: slots.ok = 'yes'
                    then: END
                  - if: slots.kind = gold
                    then: END
                  - if: slots.unknown > 3
                    then: END
                  - else: END
        """
    problems = validate(FLOW_DOMAIN, CALM_CONFIG, flows=flows)
    where = str(tmp_path / "data" / "flows.yml")
    trigger = find(problems, "intent 'gret'")
    assert (trigger.source.path, trigger.source.line) == (where, 5)
    assert find(problems, "slot 'citty' is not declared").hint == "did you mean 'city'?"
    assert find(problems, "flows cannot fill the list slot 'tags'").source.line == 8
    asks = find(problems, "nothing asks for slot 'tags'")
    assert asks.hint == "add the response 'utter_ask_tags' to the domain"
    assert find(problems, "nothing asks for slot 'kind'").source.line == 9
    assert find(problems, "slot 'nope'").source.line == 10
    assert find(problems, "response 'utter_dne'").hint == "did you mean 'utter_done'?"
    nowhere = find(problems, "action 'action_nowhere'")
    assert nowhere.source.line == 15 and nowhere.hint == "declare it under `actions:` in the domain"
    assert find(problems, "'bronze' is not a value").hint == "compare with one of: gold, silver"
    assert find(problems, "the bool slot 'ok' is compared with 'yes'").severity == "error"
    assert find(problems, "'gold' in the condition").severity == "warning"
    assert find(problems, "slot 'unknown'").source.line == 15
    assert len(errors(problems)) == 11


def test_conditions_must_use_slots_or_context(validate) -> None:  # type: ignore[no-untyped-def]
    flows = """\
        flows:
          f:
            description: d
            steps:
              - noop: true
                next:
                  - if: "true"
                    then: END
                  - else: END
        """
    problem = find(
        validate(FLOW_DOMAIN, CALM_CONFIG, flows=flows), "uses neither slots nor context"
    )
    assert problem.source.line == 5


def test_flow_names_and_descriptions_are_unique(validate) -> None:  # type: ignore[no-untyped-def]
    flows = """\
        flows:
          pay_bill:
            description: Pay a bill.
            steps: [{action: utter_done}]
          pay-bill:
            description: pay a bill
            steps: [{action: utter_done}]
          other:
            description: Pay, a bill!
            steps: [{action: utter_done}]
        """
    problems = validate(FLOW_DOMAIN, CALM_CONFIG, flows=flows)
    assert find(problems, "flows 'pay_bill' and 'pay-bill' have the same name").source.line == 5
    assert find(problems, "have the same description").source.line == 8


ROUTER = """\
  - name: IntentBasedRouter
    nlu_entry:
      sticky: [greet]
    calm_entry:
      sticky: [order]
"""


def test_coexistence_configuration(validate) -> None:  # type: ignore[no-untyped-def]
    config = CALM_CONFIG.replace(
        "  - name: NLUCommandAdapter\n",
        "  - name: CompactLLMCommandGenerator\n"
        + ROUTER
        + "  - name: LLMBasedRouter\n  - name: SingleStepLLMCommandGenerator\n",
    )
    problems = validate(FLOW_DOMAIN, config)
    assert find(problems, "both IntentBasedRouter and LLMBasedRouter").source.line == 12
    assert find(problems, "more than one LLM command generator").source.line == 13
    assert find(problems, "IntentBasedRouter comes after").source.line == 7
    assert find(problems, "IntentBasedRouter needs `nlu_entry.non_sticky`").hint
    assert find(problems, "LLMBasedRouter needs `calm_entry.sticky`").source.line == 12
    assert "route_session_to_calm: {type: bool" in find(problems, "needs the bool slot").hint


def test_routing_slot_without_router_and_reset_without_router(validate) -> None:  # type: ignore[no-untyped-def]
    domain = FLOW_DOMAIN + "  route_session_to_calm:\n    type: text\n    mappings: []\n"
    flows = "flows:\n  f:\n    description: d\n    steps:\n      - action: action_reset_routing\n"
    problems = validate(domain, CALM_CONFIG, flows=flows)
    assert find(problems, "is declared but no router").source.line == 18
    assert find(problems, "like an LLM").severity == "warning"
    assert find(problems, "resets the routing, but there is no router").source.line == 5


def test_load_warnings_come_with_the_validation(validate) -> None:  # type: ignore[no-untyped-def]
    domain = 'version: "2.0"\nintents: [greet]\n'
    problem = find(validate(domain), "format version 2.0 is older")
    assert problem.severity == "warning" and problem.source.line == 1


def test_a_form_in_a_mapping_intent_list_and_the_two_stage_fallback_loop_are_accepted(
    validate,  # type: ignore[no-untyped-def]
) -> None:
    """Projects written for the reference do both: neither is an error."""
    domain = """\
        intents: [greet, inform]
        slots:
          name:
            type: text
            mappings:
              - type: from_text
                not_intent: [name_form]
        forms:
          name_form:
            required_slots: [name]
        responses:
          utter_greet:
            - text: hi
        """
    rules = """\
        rules:
          - rule: two-stage fallback
            steps:
              - intent: nlu_fallback
              - action: action_two_stage_fallback
              - active_loop: action_two_stage_fallback
        """
    problems = validate(domain, rules=rules)
    assert errors(problems) == []
    assert find(problems, "intent 'name_form' is not declared").severity == "warning"


def test_retrieval_actions_and_responses_declared_as_actions(validate) -> None:  # type: ignore[no-untyped-def]
    """Rules speak of ``utter_chitchat`` when only ``utter_chitchat/<key>`` responses exist, and
    projects list responses under ``actions:``; only an ``utter_`` action without any response
    is worth a word (it says nothing)."""
    domain = """\
        intents: [greet, chitchat]
        actions: [utter_greet, utter_chitchat, utter_forgotten]
        responses:
          utter_greet:
            - text: hi
          utter_chitchat/ask_name:
            - text: I am a bot.
        """
    rules = """\
        rules:
          - rule: small talk
            steps:
              - intent: chitchat
              - action: utter_chitchat
        """
    nlu = "nlu:\n  - intent: chitchat/ask_name\n    examples: |\n      - who are you\n"
    problems = validate(domain, rules=rules, chitchat=nlu)
    assert errors(problems) == []
    assert [p.message for p in problems] == [
        "action 'utter_forgotten' has no response of that name, so it says nothing"
    ]


PIPELINE_CONFIG = """\
recipe: default.v1
language: en
assistant_id: test
pipeline:
  - name: WhitespaceTokenizer
  - name: CountVectorsFeaturizer
    max_ngrams: 2
  - name: LogisticRegressionClassifier
    max_iter: many
policies:
  - name: RulePolicy
"""


def test_the_pipeline_is_checked_as_training_builds_it(validate, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """An option training would refuse is an error at its component's line; an option the
    component does not know is a warning at its own line (the reference drops it silently)."""
    problems = validate("intents: [greet]\n", config=PIPELINE_CONFIG)
    unknown = find(problems, "unknown option 'max_ngrams' of CountVectorsFeaturizer; it is ignored")
    assert (unknown.severity, unknown.source.line) == ("warning", 7)
    assert unknown.hint == "did you mean 'max_ngram'?"
    bad = find(problems, "option 'max_iter' must be int, got 'many'")
    assert (bad.severity, bad.source.line) == ("error", 8)
    assert bad.source.path == str(tmp_path / "config.yml")
    order = validate(
        "intents: [greet]\n",
        config=PIPELINE_CONFIG.replace("  - name: WhitespaceTokenizer\n", "").replace(
            "    max_iter: many\n", ""
        ),
    )
    assert find(order, "needs a tokenizer").source.line == 5
