"""RulePolicy's training checks and what it records for ML policies."""

from __future__ import annotations

from pathlib import Path

import pytest
from policies_testkit import Chat, processor, train, write_project

from tandem.conversation import events as ev
from tandem.policies.rule_policy import RulePolicy
from tandem.project.errors import ProjectError

DOMAIN = """
intents: [greet, ask_name, ask_hours, book, inform]
entities: [city]
slots:
  city:
    type: text
    mappings: [{type: from_entity, entity: city}]
forms:
  booking_form: {required_slots: [city]}
responses:
  utter_greet: [{text: hi}]
  utter_welcome: [{text: welcome}]
  utter_ask_name: [{text: your name?}]
  utter_hours: [{text: 9 to 5}]
  utter_thanks: [{text: thanks}]
"""
RULE_ONLY = "  - name: RulePolicy\n"


def training_error(tmp_path: Path, data: str, policies: str = RULE_ONLY) -> ProjectError:
    with pytest.raises(ProjectError) as caught:
        train(write_project(tmp_path, DOMAIN, data, policies))
    return caught.value


def test_a_story_that_contradicts_a_rule_fails_training_with_both_named(tmp_path: Path) -> None:
    error = training_error(
        tmp_path,
        """
        rules:
          - rule: greet back
            steps:
              - intent: greet
              - action: utter_greet
        stories:
          - story: warm welcome
            steps:
              - intent: greet
              - action: utter_welcome
        """,
    )
    [problem] = error.problems
    assert "Contradicting rules or stories found" in problem.message
    assert "story 'warm welcome'" in problem.message and "rule 'greet back'" in problem.message
    assert "'utter_welcome'" in problem.message and "'utter_greet'" in problem.message
    assert str(problem.source).endswith("data/dialogue.yml:12")  # the story's action step


def test_two_rules_for_the_same_situation_fail_training(tmp_path: Path) -> None:
    error = training_error(
        tmp_path,
        """
        rules:
          - rule: one
            steps: [{intent: greet}, {action: utter_greet}]
          - rule: other
            steps: [{intent: greet}, {action: utter_welcome}]
        """,
    )
    [problem] = error.problems
    assert "rule 'other'" in problem.message and "rule 'one'" in problem.message


async def test_a_rule_listening_after_one_action_gives_way_to_a_story_that_goes_on(
    tmp_path: Path,
) -> None:
    data = """
    rules:
      - rule: greet back
        steps: [{intent: greet}, {action: utter_greet}]
    stories:
      - story: greet and ask
        steps:
          - intent: greet
          - action: utter_greet
          - action: utter_ask_name
    """
    project = write_project(tmp_path, DOMAIN, data, RULE_ONLY + "  - name: MemoizationPolicy\n")
    assert await Chat(processor(project)).replies("/greet") == ["utter_greet", "utter_ask_name"]


def test_rules_with_several_user_messages_are_refused_unless_allowed(tmp_path: Path) -> None:
    data = """
    rules:
      - rule: a dialogue
        steps:
          - intent: greet
          - action: utter_greet
          - intent: ask_name
          - action: utter_ask_name
    """
    error = training_error(tmp_path, data)
    assert "rule 'a dialogue' has 2 user messages" in error.problems[0].message
    assert train(write_project(tmp_path, DOMAIN, data, RULE_ONLY + "    restrict_rules: false\n"))


def test_a_rule_that_leaves_out_what_an_action_sets_is_incomplete(tmp_path: Path) -> None:
    rules = """
    rules:
      - rule: start the form
        steps:
          - intent: book
          - action: booking_form
          - active_loop: booking_form
      - rule: start it differently
        steps:
          - intent: inform
          - action: booking_form
    """
    error = training_error(tmp_path, rules)
    [problem] = error.problems
    assert "rule 'start it differently'" in problem.message and "incomplete" in problem.message
    assert "the active loop" in problem.message and "rule 'start the form'" in problem.message
    open_ended = rules.replace(
        "- rule: start it differently\n",
        "- rule: start it differently\n        wait_for_user_input: false\n",
    )
    assert train(write_project(tmp_path, DOMAIN, open_ended, RULE_ONLY))


def test_an_unknown_core_fallback_action_is_reported(tmp_path: Path) -> None:
    error = training_error(
        tmp_path, "rules: []\n", RULE_ONLY + "    core_fallback_action_name: utter_nothing\n"
    )
    assert "utter_nothing" in error.problems[0].message
    assert str(error.problems[0].source).endswith("config.yml:7")  # the policy's entry


async def test_turns_of_rules_no_story_shows_are_hidden_from_ml_policies(tmp_path: Path) -> None:
    data = """
    rules:
      - rule: greet back
        steps: [{intent: greet}, {action: utter_greet}]
      - rule: hours
        steps: [{intent: ask_hours}, {action: utter_hours}]
    stories:
      - story: hours then thanks
        steps:
          - intent: ask_hours
          - action: utter_hours
          - intent: inform
          - action: utter_thanks
    """
    project = write_project(tmp_path, DOMAIN, data, RULE_ONLY)
    [policy] = train(project)
    assert isinstance(policy, RulePolicy)
    chat = Chat(processor(project, [policy]))
    hidden = [
        (e.name, e.hide_rule_turn)
        for e in [*await chat.say("/greet"), *await chat.say("/ask_hours")]
        if isinstance(e, ev.ActionExecuted) and e.policy
    ]
    assert hidden == [
        ("utter_greet", True),
        ("action_listen", True),
        ("utter_hours", False),
        ("action_listen", False),
    ]
