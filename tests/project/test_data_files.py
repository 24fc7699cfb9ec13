"""Training data files: NLU items, entity annotations, stories, rules, flows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from project_testkit import Write, find

from tandem.conversation.events import (
    ActionExecuted,
    ActiveLoop,
    DialogueStackUpdated,
    SlotSet,
    UserUttered,
)
from tandem.conversation.slots import Slot
from tandem.project.data_files import load_training_data, parse_annotated
from tandem.project.errors import Problem, ProjectError, Source
from tandem.project.training_data import Checkpoint, EntityAnnotation, OrStep, TrainingData

HERE = Source("x.yml", 7)


def load(path: Path, slots: dict[str, Slot] | None = None) -> TrainingData:
    return load_training_data([path], slots)[0]


def load_error(path: Path) -> ProjectError:
    with pytest.raises(ProjectError) as info:
        load_training_data([path])
    return info.value


# -- entity annotations ------------------------------------------------------------------------


def test_annotations_become_entities_with_offsets_into_the_plain_text() -> None:
    text, entities = parse_annotated("fly from [Berlin](city) to [NYC](city:New York) now", HERE)
    assert text == "fly from Berlin to NYC now"
    assert entities == (
        EntityAnnotation("city", "Berlin", 9, 15),
        EntityAnnotation("city", "New York", 19, 22),
    )
    assert [text[e.start : e.end] for e in entities] == ["Berlin", "NYC"]


def test_json_annotations_with_roles_groups_and_several_entities_per_span() -> None:
    text, entities = parse_annotated(
        '[LA]{"entity": "city", "role": "to", "group": 1, "value": "Los Angeles"} and '
        '[iphone][{"entity": "brand", "value": "apple"}, {"entity": "product"}]',
        HERE,
    )
    assert text == "LA and iphone"
    assert entities == (
        EntityAnnotation("city", "Los Angeles", 0, 2, role="to", group="1"),
        EntityAnnotation("brand", "apple", 7, 13),
        EntityAnnotation("product", "iphone", 7, 13),
    )


@pytest.mark.parametrize(
    ("example", "message", "hint"),
    [
        ('[a]{"entity": "x", "rol": "y"}', "unknown key 'rol'", "did you mean 'role'?"),
        ('[a]{"value": "y"}', 'has no "entity"', '"entity"'),
        ("[a]{entity: x}", "is not valid JSON", '"entity": "name"'),
    ],
)
def test_bad_json_annotations(example: str, message: str, hint: str) -> None:
    with pytest.raises(ProjectError) as info:
        parse_annotated(example, HERE)
    problem = find(info.value, message)
    assert problem.source == HERE and hint in problem.hint


# -- NLU items ------------------------------------------------------------------------------


def test_nlu_items(write: Write) -> None:
    path = write(
        "nlu.yml",
        """\
        version: "3.1"
        nlu:
          - intent: inform
            metadata: {sentiment: neutral}
            examples: |
              - I live in [Berlin](city)
              - [NY](city:New York) please
          - intent: greet
            examples:
              - text: hello
                metadata: {lang: en}
          - synonym: credit
            examples: |
              - Credit Card
          - regex: zipcode
            examples: |
              - \\d{5}
          - lookup: city
            examples: |
              - Paris
          - lookup: city
            examples: |
              - Rome
        """,
    )
    nlu = load(path).nlu
    first, second, hello = nlu.examples
    assert (first.text, first.intent, first.source.line) == ("I live in Berlin", "inform", 6)
    assert first.metadata == {"intent": {"sentiment": "neutral"}}
    assert second.entities == (EntityAnnotation("city", "New York", 0, 2),)
    assert second.source.line == 7
    assert (hello.text, hello.metadata, hello.source.line) == (
        "hello",
        {"example": {"lang": "en"}},
        10,
    )
    # "NY" annotated with another value is an implicit synonym; texts keep their spelling.
    assert nlu.synonyms == {"NY": "New York", "Credit Card": "credit"}
    assert nlu.regexes == (("zipcode", r"\d{5}"),)
    assert nlu.lookups == {"city": ("Paris", "Rome")}
    assert nlu.intents == ("greet", "inform")


def test_nlu_problems(write: Write) -> None:
    path = write(
        "nlu.yml",
        """\
        nlu:
          - intnet: greet
            examples: |
              - hi
          - regex: broken
            examples: |
              - ok
              - (unclosed
          - intent: bye
            example: |
              - bye
          - intent: ask
            examples: |
              - fine
              no dash
        """,
    )
    warnings: list[Problem] = []
    with pytest.raises(ProjectError) as info:
        load_training_data([path], warnings=warnings)
    misspelt = find(info.value, "unknown key 'intnet'")
    assert misspelt.source.line == 2 and misspelt.hint == "did you mean 'intent'?"
    regex = find(info.value, "invalid regular expression '(unclosed'")
    assert regex.source.line == 8 and "pattern" in regex.hint
    examples = find(info.value, "unknown key 'example'")
    assert examples.source.line == 10 and examples.hint == "did you mean 'examples'?"
    skipped = find(warnings, "does not start with '-'")
    assert skipped.source.line == 15 and skipped.severity == "warning"


def test_conflicting_synonyms_warn_and_the_last_wins(write: Write) -> None:
    path = write(
        "nlu.yml",
        "nlu:\n- synonym: a\n  examples: |\n    - x\n- synonym: b\n  examples: |\n    - X\n",
    )
    warnings: list[Problem] = []
    data, _ = load_training_data([path], warnings=warnings)
    assert data.nlu.synonyms == {"x": "b"}
    assert find(warnings, "synonym of both").source.line == 7


# -- stories and rules ----------------------------------------------------------------------


def test_story_steps_become_events(write: Write) -> None:
    path = write(
        "stories.yml",
        """\
        stories:
          - story: everything
            steps:
              - checkpoint: start
                slot_was_set:
                  - city: Berlin
              - intent: inform
                entities:
                  - city: Berlin
                    role: to
                  - date
              - action: utter_ok
              - bot: Fine.
              - user: I go to [Paris](city)
                intent: inform
              - or:
                  - intent: affirm
                  - slot_was_set:
                      - confirmed: true
              - slot_was_set:
                  - city: null
                  - name
                  - tags
                  - count
              - active_loop: null
              - stack:
                  - op: add
                    path: /0
                    value: {type: flow}
              - metadata: {note: ignored}
        """,
    )
    slots = {
        "name": Slot("name", "text"),
        "tags": Slot("tags", "list"),
        "count": Slot("count", "float"),
    }
    warnings: list[Problem] = []
    data, _ = load_training_data([path], slots, warnings)
    (story,) = data.stories
    checkpoint, user, action, bot, e2e, alternatives, *slot_events, loop, stack = story.steps
    assert isinstance(checkpoint, Checkpoint) and checkpoint.name == "start"
    assert [(e.name, e.value) for e in checkpoint.conditions if isinstance(e, SlotSet)] == [
        ("city", "Berlin")
    ]
    assert isinstance(user, UserUttered) and user.text is None
    assert user.intent == {"name": "inform", "confidence": 1.0}
    assert user.entities == [
        {"entity": "city", "value": "Berlin", "role": "to"},
        {"entity": "date", "value": ""},
    ]
    assert isinstance(action, ActionExecuted) and action.name == "utter_ok"
    assert isinstance(bot, ActionExecuted) and (bot.name, bot.action_text) == (None, "Fine.")
    assert isinstance(e2e, UserUttered) and e2e.text == "I go to Paris"
    assert e2e.entities == [{"entity": "city", "start": 8, "end": 13, "value": "Paris"}]
    assert e2e.intent_name == "inform"
    assert isinstance(alternatives, OrStep)
    affirm, confirmed = alternatives.alternatives
    assert isinstance(affirm, UserUttered) and affirm.intent_name == "affirm"
    assert isinstance(confirmed, SlotSet) and confirmed.value is True
    assert [(e.name, e.value) for e in slot_events if isinstance(e, SlotSet)] == [
        ("city", None),
        ("name", "filled"),
        ("tags", ["filled"]),
        ("count", None),
    ]
    assert find(warnings, "slot 'count' is written without a value").source.line == 24
    assert isinstance(loop, ActiveLoop) and loop.name is None
    assert isinstance(stack, DialogueStackUpdated)
    assert stack.patch == [{"op": "add", "path": "/0", "value": {"type": "flow"}}]
    assert [s.line for s in story.step_sources] == [4, 7, 12, 13, 14, 16, 20, 20, 20, 20, 25, 26]


def test_rules(write: Write) -> None:
    path = write(
        "rules.yml",
        """\
        rules:
          - rule: submit
            condition:
              - active_loop: restaurant_form
              - slot_was_set:
                  - requested_slot: city
            conversation_start: true
            wait_for_user_input: false
            steps:
              - action: restaurant_form
              - active_loop: null
        """,
    )
    (rule,) = load(path).rules
    assert rule.is_rule and rule.name == "submit"
    loop, slot = rule.condition
    assert isinstance(loop, ActiveLoop) and loop.name == "restaurant_form"
    assert isinstance(slot, SlotSet) and (slot.name, slot.value) == ("requested_slot", "city")
    assert (rule.conversation_start, rule.wait_for_user_input) == (True, False)
    assert [type(step) for step in rule.steps] == [ActionExecuted, ActiveLoop]


def test_story_and_rule_problems(write: Write) -> None:
    path = write(
        "data.yml",
        """\
        stories:
          - story: s
            steps:
              - intent: greet
              - actoin: utter_greet
              - intent: /greet
              - intent: faq/ask_name
        rules:
          - rule: r
            steps:
              - checkpoint: c
          - rule: r2
            condition:
              - action: x
            stepz: []
        """,
    )
    warnings: list[Problem] = []
    with pytest.raises(ProjectError) as info:
        load_training_data([path], warnings=warnings)
    step = find(info.value, "unknown key 'actoin'")
    assert step.source.line == 5 and step.hint == "did you mean 'action'?"
    checkpoint = find(info.value, "a `checkpoint` step is not allowed in rule 'r'")
    assert checkpoint.source.line == 11
    assert find(info.value, "unknown key 'stepz'").hint == "did you mean 'steps'?"
    assert find(warnings, "starts with '/'").source.line == 6
    assert find(warnings, "retrieval intent 'faq/ask_name'").hint == "write `intent: faq`"


def test_test_stories_and_missing_paths_are_skipped(write: Write, tmp_path: Path) -> None:
    write("data/test_stories.yml", "stories:\n  - story: t\n    steps:\n      - intent: greet\n")
    write("data/stories.yml", "stories:\n  - story: s\n    steps:\n      - intent: greet\n")
    warnings: list[Problem] = []
    data, _ = load_training_data([tmp_path / "data", tmp_path / "missing"], warnings=warnings)
    assert [story.name for story in data.stories] == ["s"]
    assert find(warnings, "does not exist").source.path == str(tmp_path / "missing")


def test_one_file_may_hold_nlu_responses_and_flows(write: Write) -> None:
    path = write(
        "all.yml",
        """\
        nlu:
          - intent: faq/ask_name
            examples: |
              - what is your name
        responses:
          utter_faq/ask_name:
            - text: I am Tandem.
        flows:
          greet_flow:
            description: say hello
            steps:
              - action: utter_greet
        """,
    )
    data, flows = load_training_data([path])
    assert data.nlu.examples[0].intent == "faq/ask_name"
    assert data.responses == {"utter_faq/ask_name": ({"text": "I am Tandem."},)}
    assert [flow.id for flow in flows] == ["greet_flow"]


def test_flow_problems_keep_their_file_and_line(write: Write) -> None:
    path = write("flows.yml", "flows:\n  f:\n    description: d\n    steps:\n      - colect: x\n")
    problem = load_error(path).problems[0]
    assert problem.source.path == str(path) and problem.source.line == 5


def test_each_broken_story_is_reported(write: Write) -> None:
    path = write(
        "stories.yml",
        "stories:\n- story: a\n  steps:\n  - intent: [x]\n- story: b\n  steps:\n  - bot: [y]\n",
    )
    assert [p.source.line for p in load_error(path).problems] == [4, 7]


def test_stack_steps_keep_the_patch_as_json(write: Write) -> None:
    path = write("s.yml", "stories:\n- story: a\n  steps:\n  - stack: [{op: remove, path: /0}]\n")
    (step,) = load(path).stories[0].steps
    assert isinstance(step, DialogueStackUpdated)
    assert json.loads(step.update) == [{"op": "remove", "path": "/0"}]
