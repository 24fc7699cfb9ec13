"""Domain files: every section, the checks with file:line and hints, merging, defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from project_testkit import Write, find

from tandem import names
from tandem.conversation.slots import MISSING, MappingCondition, SlotMapping
from tandem.project.domain import IntentConfig, SessionConfig
from tandem.project.domain_files import load_domain
from tandem.project.errors import Problem, ProjectError


def load_error(path: Path) -> ProjectError:
    with pytest.raises(ProjectError) as info:
        load_domain(path)
    return info.value


def test_intents_entities_and_actions_in_both_forms(write: Write) -> None:
    path = write(
        "domain.yml",
        """\
        intents:
          - greet
          - inform:
              use_entities: [city]
              ignore_entities: [date]
          - chitchat:
              use_entities: []
        entities:
          - date
          - city:
              roles: [from, to]
              groups: ["1"]
          - mood:
              influence_conversation: false
        actions:
          - action_hello
          - validate_form:
              send_domain: true
        """,
    )
    domain = load_domain(path)
    assert domain.intents["greet"] == IntentConfig()
    assert domain.intents["inform"] == IntentConfig(("city",), ("date",))
    assert domain.intents["chitchat"].use_entities is False
    assert domain.entities["city"].roles == ("from", "to")
    assert domain.entities["city"].groups == ("1",)
    assert domain.entities["mood"].influence_conversation is False
    assert domain.actions == ("action_hello", "validate_form")
    assert domain.send_domain_actions == {"validate_form"}
    assert str(domain.sources["intent:inform"]) == f"{path}:3"
    assert str(domain.sources["action:validate_form"]) == f"{path}:17"


def test_an_entity_both_used_and_ignored_is_ignored_with_a_warning(write: Write) -> None:
    path = write(
        "domain.yml",
        "intents:\n  - inform:\n      use_entities: [a, b]\n      ignore_entities: [b]\n",
    )
    warnings: list[Problem] = []
    assert load_domain(path, warnings).intents["inform"] == IntentConfig(("a", "b"), ("b",))
    assert find(warnings, "both uses and ignores b").source.line == 4


def test_default_intents_and_builtin_slots_are_added(write: Write) -> None:
    domain = load_domain(write("domain.yml", "intents: [greet]\n"))
    assert list(domain.intents) == ["greet", *names.DEFAULT_INTENTS]
    assert names.SLOT_REQUESTED not in domain.slots  # only with forms
    assert domain.slots[names.SLOT_SESSION_STARTED_METADATA].type == "any"
    assert domain.slots[names.SLOT_MOCKED_DATETIME].mappings == (SlotMapping("controlled"),)
    assert names.SLOT_FLOW_HASHES in domain.slots

    with_form = load_domain(write("form.yml", "forms:\n  f:\n    required_slots: []\n"))
    requested = with_form.slots[names.SLOT_REQUESTED]
    assert (requested.type, requested.influence_conversation, requested.mappings) == (
        "text",
        False,
        (),
    )


def test_slots_of_every_type(write: Write) -> None:
    path = write(
        "domain.yml",
        """\
        slots:
          name:
            type: text
          confirmed:
            type: bool
            initial_value: false
            mappings: []
          cuisine:
            type: categorical
            values: [Italian, 3, true]
          amount:
            type: float
            min_value: 10
            max_value: 100
            initial_value: 50
          tags:
            type: list
            influence_conversation: false
          raw:
            type: any
          strict:
            type: strict_categorical
            values: [a, b]
        """,
    )
    slots = load_domain(path).slots
    # No `mappings` key: only an LLM can fill the slot.
    assert slots["name"].mappings == (SlotMapping("from_llm"),)
    assert slots["confirmed"].mappings == () and slots["confirmed"].initial_value is False
    assert slots["cuisine"].values == ("Italian", "3", "True")
    assert (slots["amount"].min_value, slots["amount"].max_value) == (10.0, 100.0)
    assert slots["tags"].influence_conversation is False
    assert slots["raw"].influence_conversation is False  # `any` never influences
    assert slots["strict"].type == "categorical" and slots["strict"].extra == {"strict": True}


def test_slot_mappings(write: Write) -> None:
    path = write(
        "domain.yml",
        """\
        slots:
          city:
            type: text
            mappings:
              - type: from_entity
                entity: location
                role: to
                intent: [inform, book]
                not_intent: greet
                conditions:
                  - active_loop: travel_form
                    requested_slot: city
                  - active_flow: travel
                  - active_loop: null
              - type: custom
                action: action_fill_city
              - type: controlled
                run_action_every_turn: action_other
                coexistence_system: NLU
              - type: from_llm
                allow_nlu_correction: true
        """,
    )
    entity, custom, controlled, llm = load_domain(path).slots["city"].mappings
    assert (entity.entity, entity.role, entity.intent, entity.not_intent) == (
        "location",
        "to",
        ("inform", "book"),
        ("greet",),
    )
    assert entity.conditions == (
        MappingCondition("travel_form", "city"),
        MappingCondition(MISSING, active_flow="travel"),
        MappingCondition(None),
    )
    assert (custom.type, custom.action) == ("controlled", "action_fill_city")
    assert (controlled.action, controlled.coexistence_system) == ("action_other", "NLU")
    assert llm.allow_nlu_correction is True


def test_unknown_slot_keys_are_kept_but_a_misspelt_key_is_an_error(write: Write) -> None:
    kept = load_domain(
        write(
            "ok.yml",
            "slots:\n  s:\n    type: text\n    validation: {rejections: []}\n    my_option: 3\n",
        )
    )
    assert kept.slots["s"].extra == {"validation": {"rejections": []}, "my_option": 3}

    path = write(
        "domain.yml",
        """\
        slots:
          city:
            tpye: text
        """,
    )
    problem = find(load_error(path), "unknown key 'tpye'")
    assert str(problem.source) == f"{path}:3"
    assert "slot 'city'" in problem.message
    assert problem.hint == "did you mean 'type'?"


@pytest.mark.parametrize(
    ("slot", "message", "line", "hint"),
    [
        ("type: txt", "unknown slot type 'txt'", 3, "did you mean 'text'?"),
        ("mappings: []", "has no `type`", 2, "add `type:`"),
        ("type: any\n    influence_conversation: true", "cannot influence", 4, "remove"),
        (
            "type: float\n    min_value: 5\n    max_value: 1",
            "min_value 5 >= max_value 1",
            4,
            "smaller",
        ),
        ("type: float\n    max_value: 10\n    initial_value: 20", "outside", 5, "change"),
        ("type: bool\n    initial_value: maybe", "is not true or false", 4, "change"),
        ("type: categorical\n    values: [a]\n    initial_value: c", "not one of its", 5, "change"),
        (
            "type: text\n    mappings:\n      - type: from_entity",
            "has no `entity`",
            5,
            "add `entity:`",
        ),
        (
            "type: text\n    mappings:\n      - type: from_entiy",
            "unknown mapping type",
            5,
            "from_entity",
        ),
        (
            "type: text\n    mappings:\n      - type: from_entity\n        entitty: city",
            "unknown key 'entitty'",
            6,
            "did you mean 'entity'?",
        ),
        (
            "type: text\n    mappings:\n      - type: from_entity\n        entity: e\n"
            "        coexistence_system: NLU",
            "unknown key 'coexistence_system' in a `from_entity` mapping",
            7,
            "expected one of",
        ),
        (
            "type: text\n    mappings:\n      - type: controlled\n        coexistence_system: BOTH",
            "unknown coexistence_system 'BOTH'",
            6,
            "expected one of: CALM, NLU, SHARED",
        ),
        (
            "type: text\n    mappings:\n      - type: from_text\n        conditions:\n"
            "          - active_lop: f",
            "unknown key 'active_lop'",
            7,
            "did you mean 'active_loop'?",
        ),
    ],
)
def test_slot_problems(write: Write, slot: str, message: str, line: int, hint: str) -> None:
    path = write("domain.yml", f"slots:\n  s:\n    {slot}\n")
    problem = find(load_error(path), message)
    assert problem.source.line == line
    assert hint in problem.hint


def test_null_categorical_value_is_dropped_with_a_warning(write: Write) -> None:
    path = write(
        "domain.yml", "slots:\n  s:\n    type: categorical\n    values:\n      - a\n      - null\n"
    )
    warnings: list[Problem] = []
    assert load_domain(path, warnings).slots["s"].values == ("a",)
    assert [(w.severity, w.source.line) for w in warnings] == [("warning", 6)]


def test_every_broken_item_is_reported_at_once(write: Write) -> None:
    path = write(
        "domain.yml",
        """\
        intents:
          - greet
          - greet
        slots:
          a:
            tpye: text
          b:
            type: nope
          c:
            type: text
        responses:
          utter_x:
            - txt: hello
        """,
    )
    error = load_error(path)
    assert [p.source.line for p in error.problems] == [3, 6, 8, 13]
    assert "listed twice (first on line 2)" in error.problems[0].message


def test_responses(write: Write) -> None:
    path = write(
        "domain.yml",
        """\
        responses:
          utter_greet:
            - text: "Hi {name}!"
              channel: slack
            - text: Hello
              buttons:
                - title: yes
                  payload: /affirm
            - custom: {blocks: []}
              condition:
                - type: slot
                  name: logged_in
                  value: true
        """,
    )
    variations = load_domain(path).responses["utter_greet"]
    assert variations[0] == {"text": "Hi {name}!", "channel": "slack"}
    assert variations[1]["buttons"] == [{"title": "yes", "payload": "/affirm"}]
    assert type(variations[2]["custom"]) is dict  # plain data, not the YAML reader's types


@pytest.mark.parametrize(
    ("variation", "message", "hint"),
    [
        ("txt: hello", "has nothing to say", "add `text:`"),
        ("channel: slack", "has nothing to say", "add `text:`"),
        ("text: [a, b]", "must be a string", "write"),
    ],
)
def test_response_problems(write: Write, variation: str, message: str, hint: str) -> None:
    path = write("domain.yml", f"responses:\n  utter_x:\n    - {variation}\n")
    problem = find(load_error(path), message)
    assert problem.source.line == 3
    assert hint in problem.hint


def test_forms_including_the_legacy_shorthand(write: Write) -> None:
    path = write(
        "domain.yml",
        """\
        forms:
          modern:
            required_slots: [a, b]
            ignored_intents: chitchat
          as_list: [c]
          as_map:
            d:
              - type: from_text
          empty:
        """,
    )
    domain = load_domain(path)
    assert domain.forms["modern"].required_slots == ("a", "b")
    assert domain.forms["modern"].ignored_intents == ("chitchat",)
    assert domain.forms["as_list"].required_slots == ("c",)
    assert domain.forms["as_map"].required_slots == ("d",)
    assert domain.forms["empty"].required_slots == ()
    assert domain.sources["form:as_map:slot:d"].line == 7

    typo = write("typo.yml", "forms:\n  f:\n    required_slot: [a]\n")
    problem = find(load_error(typo), "unknown key 'required_slot'")
    assert problem.hint == "did you mean 'required_slots'?"


def test_session_config_and_domain_config(write: Write) -> None:
    path = write(
        "domain.yml",
        """\
        session_config:
          session_expiration_time: 0
          carry_over_slots_to_new_session: false
        config:
          store_entities_as_slots: false
        """,
    )
    domain = load_domain(path)
    assert domain.session_config.sessions_enabled is False
    assert domain.session_config.carry_over_slots_to_new_session is False
    assert domain.store_entities_as_slots is False

    # The reference reads past keys it does not know: a warning, and the default applies.
    bad = write("bad.yml", "session_config:\n  session_expiration_tim: 5\n")
    warnings: list[Problem] = []
    assert load_domain(bad, warnings).session_config == SessionConfig()
    assert find(warnings, "unknown key").hint == "did you mean 'session_expiration_time'?"
    negative = write("neg.yml", "session_config:\n  session_expiration_time: -1\n")
    assert find(load_error(negative), "must not be negative").source.line == 2


def test_empty_value_after_an_intent_colon_is_an_error(write: Write) -> None:
    path = write("domain.yml", "intents:\n  - greet:\n")
    problem = find(load_error(path), "empty value after the colon")
    assert problem.source.line == 2


def test_bad_indentation_names_the_line(write: Write) -> None:
    path = write("domain.yml", "slots:\n  city:\n    type: text\n   mappings: []\n")
    problem = load_error(path).problems[0]
    assert problem.source.path == str(path) and problem.source.line == 4
    assert "indentation" in problem.hint


# -- directories --------------------------------------------------------------------------


def test_directory_files_merge_first_loaded_wins(write: Write, tmp_path: Path) -> None:
    write("domain/a.yml", "intents:\n  - greet\nactions:\n  - book_form\n  - action_a\n")
    write(
        "domain/sub/b.yml",
        """\
        intents:
          - greet:
              use_entities: []
          - bye
        forms:
          book_form:
            required_slots: []
        session_config:
          session_expiration_time: 5
        """,
    )
    write("domain/nlu.yml", "nlu:\n  - intent: greet\n    examples: '- hi'\n")  # not a domain file
    warnings: list[Problem] = []
    domain = load_domain(tmp_path / "domain", warnings)
    assert domain.intents["greet"] == IntentConfig()  # a.yml is loaded first
    assert "bye" in domain.intents
    assert domain.actions == ("action_a",)  # a form of another file is not a custom action
    assert domain.session_config.session_expiration_time == 5.0
    assert [w.message for w in warnings] == [
        f"intent 'greet' is also defined at {tmp_path}/domain/a.yml:2"
    ]


def test_duplicate_responses_and_slots_across_files_are_errors(
    write: Write, tmp_path: Path
) -> None:
    write("domain/a.yml", "responses:\n  utter_hi:\n    - text: hi\nslots:\n  s:\n    type: text\n")
    write(
        "domain/b.yml", "slots:\n  s:\n    type: bool\nresponses:\n  utter_hi:\n    - text: hello\n"
    )
    error = load_error(tmp_path / "domain")
    slot = find(error, "slot 's' is also defined at")
    assert str(slot.source) == f"{tmp_path}/domain/b.yml:2"
    assert f"{tmp_path}/domain/a.yml:5" in slot.message
    response = find(error, "response 'utter_hi' is also defined")
    assert response.source.line == 5 and "a.yml:2" in response.message


def test_a_newer_format_version_skips_the_file(write: Write, tmp_path: Path) -> None:
    write("domain/a.yml", 'version: "3.1"\nintents: [a]\n')
    write("domain/b.yml", 'version: "4.0"\nintents: [b]\n')
    write("domain/c.yml", 'version: "2.0"\nintents: [c]\n')
    warnings: list[Problem] = []
    domain = load_domain(tmp_path / "domain", warnings)
    assert "b" not in domain.intents and "c" in domain.intents
    assert [(Path(w.source.path).name, w.source.line) for w in warnings] == [
        ("b.yml", 1),
        ("c.yml", 1),
    ]


def test_environment_variables_are_expanded_except_in_responses(
    write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME_CITY", "Berlin")
    monkeypatch.delenv("balance", raising=False)
    path = write(
        "domain.yml",
        """\
        slots:
          city:
            type: text
            initial_value: ${HOME_CITY}
        responses:
          utter_balance:
            - text: "You have ${balance}."
        """,
    )
    domain = load_domain(path)
    assert domain.slots["city"].initial_value == "Berlin"
    assert domain.responses["utter_balance"][0]["text"] == "You have ${balance}."

    monkeypatch.delenv("HOME_CITY")
    problem = load_error(path).problems[0]
    assert "HOME_CITY" in problem.message and problem.source.line == 4


def test_a_missing_domain_is_an_error(tmp_path: Path) -> None:
    problem = load_error(tmp_path / "nowhere").problems[0]
    assert "does not exist" in problem.message and problem.hint


def test_keys_the_reference_reads_past_are_warnings(write: Write) -> None:
    """Response variations, forms and action properties with keys Tandem does not know load
    (as they do for the reference), with one warning each naming the file and line."""
    path = write(
        "domain.yml",
        """\
        responses:
          utter_hi:
            - text: hi
              voice: friendly
        forms:
          f:
            required_slots: [s]
            description: asks for s
        slots:
          s:
            type: text
            mappings: [{type: from_text}]
        actions:
          - action_x:
              send_domain: true
              timeout: 5
        """,
    )
    warnings: list[Problem] = []
    domain = load_domain(path, warnings)
    assert domain.responses["utter_hi"] == ({"text": "hi", "voice": "friendly"},)
    assert domain.forms["f"].required_slots == ("s",)
    assert "action_x" in domain.send_domain_actions
    assert [(w.source.line, w.message) for w in warnings] == [
        (4, "unknown key 'voice' in a variation of response 'utter_hi' is ignored"),
        (8, "unknown key 'description' in form 'f' is ignored"),
        (16, "unknown key 'timeout' in action 'action_x' is ignored"),
    ]
