"""Stories and rules as training conversations."""

from __future__ import annotations

from pathlib import Path

from policies_testkit import write_project

from tandem.conversation import events as ev
from tandem.policies.training_trackers import (
    PolicyTrainingData,
    rule_conversations,
    story_conversations,
)

DOMAIN = """
intents: [greet, inform, affirm, deny, book]
entities: [city, date]
slots:
  city:
    type: text
    mappings: [{type: from_entity, entity: city}]
  date:
    type: text
    mappings:
      - type: from_entity
        entity: date
        conditions: [{active_loop: booking_form}]
  mood:
    type: categorical
    values: [happy, sad]
    mappings: []
forms:
  booking_form: {required_slots: [date]}
responses:
  utter_greet: [{text: hi}]
  utter_ask: [{text: which city?}]
  utter_happy: [{text: great}]
  utter_sad: [{text: sorry}]
  utter_bye: [{text: bye}]
"""


def shape(events: tuple[ev.Event, ...]) -> list[str]:
    result = []
    for event in events:
        if isinstance(event, ev.ActionExecuted):
            result.append(str(event.name))
        elif isinstance(event, ev.UserUttered):
            result.append(f"/{event.intent_name}")
        elif isinstance(event, ev.SlotSet):
            result.append(f"{event.name}={event.value}")
        elif isinstance(event, ev.ActiveLoop):
            result.append(f"loop={event.name}")
    return result


def test_listens_and_entity_slots_are_added_to_stories(tmp_path: Path) -> None:
    project = write_project(
        tmp_path,
        DOMAIN,
        """
        stories:
          - story: greet and book
            steps:
              - intent: greet
              - action: utter_greet
              - intent: inform
                entities: [{city: Rome}, {date: today}]
              - action: utter_ask
        """,
    )
    [conversation] = story_conversations(project.data.stories, project.domain)
    # date's mapping only applies while the form is active, so no slot event for it
    assert shape(conversation.events) == [
        "action_listen",
        "/greet",
        "utter_greet",
        "action_listen",
        "/inform",
        "city=Rome",
        "utter_ask",
        "action_listen",
    ]
    assert str(conversation.origins[4].source).endswith("dialogue.yml:8")


def test_checkpoints_join_stories_when_their_slot_conditions_hold(tmp_path: Path) -> None:
    project = write_project(
        tmp_path,
        DOMAIN,
        """
        stories:
          - story: ask the mood
            steps:
              - intent: greet
              - or:
                  - slot_was_set: [{mood: happy}]
                  - slot_was_set: [{mood: sad}]
              - checkpoint: mood_known
          - story: happy
            steps:
              - checkpoint: mood_known
                slot_was_set: [{mood: happy}]
              - action: utter_happy
          - story: sad
            steps:
              - checkpoint: mood_known
                slot_was_set: [{mood: sad}]
              - action: utter_sad
              - checkpoint: done
          - story: after sadness
            steps:
              - checkpoint: done
              - intent: deny
              - action: utter_bye
        """,
    )
    conversations = story_conversations(project.data.stories, project.domain)
    assert sorted(shape(c.events) for c in conversations) == [
        ["action_listen", "/greet", "mood=happy", "utter_happy", "action_listen"],
        [
            "action_listen",
            "/greet",
            "mood=sad",
            "utter_sad",
            "action_listen",
            "/deny",
            "utter_bye",
            "action_listen",
        ],
    ]
    sad = next(c for c in conversations if len(c.events) > 5)
    assert [b.name for b in sad.blocks] == ["ask the mood", "sad", "after sadness"]


def test_rules_start_with_the_snippet_and_their_condition_and_end_by_listening(
    tmp_path: Path,
) -> None:
    project = write_project(
        tmp_path,
        DOMAIN,
        """
        rules:
          - rule: in the middle
            condition:
              - active_loop: booking_form
              - slot_was_set: [{city: null}]
            steps:
              - or:
                  - intent: greet
                  - intent: inform
              - action: utter_greet
          - rule: at the start
            conversation_start: true
            steps:
              - intent: greet
              - action: utter_greet
          - rule: open end
            wait_for_user_input: false
            steps:
              - intent: book
              - action: utter_ask
        """,
    )
    middle, start, open_end = project.data.rules
    assert [shape(c.events) for c in rule_conversations(middle, project.domain)] == [
        [
            "loop=booking_form",
            "city=None",
            "...",
            "action_listen",
            f"/{intent}",
            "utter_greet",
            "action_listen",
        ]
        for intent in ("greet", "inform")
    ]
    [conversation] = rule_conversations(start, project.domain)
    assert conversation.conversation_start
    assert shape(conversation.events) == ["action_listen", "/greet", "utter_greet", "action_listen"]
    [conversation] = rule_conversations(open_end, project.domain)
    assert shape(conversation.events) == ["...", "action_listen", "/book", "utter_ask", "..."]


def test_slots_and_loops_only_rules_use_are_hidden_from_ml_policies(tmp_path: Path) -> None:
    project = write_project(
        tmp_path,
        DOMAIN,
        """
        rules:
          - rule: book
            steps:
              - intent: book
              - action: booking_form
              - active_loop: booking_form
              - slot_was_set: [{mood: happy}]
        stories:
          - story: city
            steps:
              - intent: inform
                entities: [{city: Rome}]
              - action: utter_ask
        """,
    )
    data = project.data
    with_rules = PolicyTrainingData.build(
        data.stories, data.rules, project.domain, with_rule_policy=True
    )
    assert with_rules.ml_view.rule_only_slots == {"mood"}
    assert with_rules.ml_view.rule_only_loops == {"booking_form"}
    assert with_rules.ml_view.hide_rule_turns
    alone = PolicyTrainingData.build(
        data.stories, data.rules, project.domain, with_rule_policy=False
    )
    assert not alone.ml_view.rule_only_slots and not alone.ml_view.hide_rule_turns
