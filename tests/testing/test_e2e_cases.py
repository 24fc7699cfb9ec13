"""Reading e2e test files: the typed test cases, and errors with file:line for broken ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_testkit import load, write

from shared_files import ACCEPTANCE, require
from tandem.project.errors import Problem, ProjectError
from tandem.testing.assertions import BotUttered, FlowStarted, RoutedTo, SlotExpectation
from tandem.testing.cases import (
    BotStep,
    SlotStep,
    TestCase,
    UserStep,
    UtterStep,
    load_test_cases,
)


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ProjectError) as caught:
        load(tmp_path, text)
    return str(caught.value)


def test_step_form_is_read_into_typed_steps(tmp_path: Path) -> None:
    (case,) = load(
        tmp_path,
        """
        metadata:
          - phone: {device: phone, os: ios}
          - desktop: {device: desktop}
        test_cases:
          - test_case: greets
            metadata: phone
            steps:
              - user: hello there
                metadata: desktop
              - utter: utter_greet
              - bot: Hello!
              - slot_was_set:
                  - vip
                  - amount: 50
              - slot_was_not_set:
                  - balance
              - user: 2580
        """,
    )
    user, utter, bot, was_set, not_set, number = case.steps
    assert user == UserStep(
        "hello there", user.source, {"device": "desktop", "os": "ios"}, (), False
    )
    assert user.source.line == 9 and case.source.line == 6
    assert utter == UtterStep("utter_greet", utter.source)
    assert bot == BotStep("Hello!", bot.source)
    assert was_set == SlotStep(
        (SlotExpectation("vip"), SlotExpectation("amount", 50, has_value=True)),
        True,
        was_set.source,
    )
    assert not_set.was_set is False and not_set.slots == (SlotExpectation("balance"),)
    assert isinstance(number, UserStep) and number.text == "2580"
    assert number.metadata == {"device": "phone", "os": "ios"}
    assert not case.uses_assertions


def test_assertion_form_and_fixtures(tmp_path: Path) -> None:
    (case,) = load(
        tmp_path,
        """
        fixtures:
          - vip_user:
              - vip: true
              - route_session_to_calm: true
        test_cases:
          - test_case: asserts
            fixtures: [vip_user]
            steps:
              - user: /transfer
                assertion_order_enabled: true
                assertions:
                  - flow_started: transfer
                  - bot_uttered: {utter_name: utter_ask_amount, text_matches: "How"}
                  - routed_to: {system: calm, sticky: true}
        """,
    )
    assert case.uses_assertions and case.fixtures == (
        ("vip", True),
        ("route_session_to_calm", True),
    )
    (step,) = case.steps
    assert isinstance(step, UserStep) and step.assertion_order_enabled
    started, uttered, routed = step.assertions
    assert isinstance(started, FlowStarted) and started.flow_ids == ("transfer",)
    assert isinstance(uttered, BotUttered) and uttered.message.text_matches == "How"
    assert routed == RoutedTo(source=routed.source, system="calm", sticky=True)
    assert routed.source.line == 15


@pytest.mark.parametrize(
    ("steps", "line", "message"),
    [
        ("- uter: utter_greet", 5, "a step needs one of: user, bot, utter, "),
        ("- uter: utter_greet", 5, "(did you mean 'utter'?)"),
        (
            "- slot_was_set: [a]\n  slot_was_not_set: [b]",
            6,
            "`slot_was_set` and `slot_was_not_set` cannot be in the same step",
        ),
        (
            "- utter: utter_greet\n  assertions:\n    - action_executed: x",
            6,
            "`assertions` is only allowed on a `user` step, not on `utter`",
        ),
        (
            "- user: hi\n  assertions:\n    - bot_utered: {utter_name: x}",
            7,
            "unknown assertion 'bot_utered' (did you mean 'bot_uttered'?)",
        ),
        (
            "- user: hi\n  assertions:\n    - skill_started: x",
            7,
            "assertion 'skill_started' is not supported for CALM assistants",
        ),
        (
            "- user: hi\n  assertion_order_enabled: true",
            6,
            "`assertion_order_enabled` needs `assertions` in its step",
        ),
        (
            "- user: hi\n  assertions:\n    - bot_uttered: {text_matches: '('}",
            7,
            "`text_matches` is not a valid regex",
        ),
        (
            "- user: hi\n  assertions:\n    - routed_to: {system: calm, sticky: false}",
            7,
            "a message is never routed to CALM for one turn only",
        ),
        (
            "- user: hi\n  assertions:\n    - routed_to: {system: both}",
            7,
            "`system` must be calm or nlu, not 'both'",
        ),
        (
            "- user: hi\n  assertions:\n    - flow_started: {flow_ids: [a], operator: most}",
            7,
            "unknown operator 'most'",
        ),
        (
            "- user: hi\n  assertions:\n    - generative_response_is_relevant: {utter_name: x}",
            7,
            "`generative_response_is_relevant` needs `threshold`",
        ),
        (
            "- user: hi\n  assertions:\n    - generative_response_is_grounded: {threshold: 2}",
            7,
            "`threshold` must be between 0 and 1",
        ),
    ],
)
def test_invalid_steps_are_reported_with_file_and_line(
    tmp_path: Path, steps: str, line: int, message: str
) -> None:
    indented = "\n".join("      " + row for row in steps.splitlines())
    text = f"test_cases:\n  - test_case: broken\n    steps:\n      - user: start\n{indented}\n"
    error = error_of(tmp_path, text)
    assert f"tests.yml:{line}: error: " in error
    assert message in error


def test_every_broken_step_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    error = error_of(
        tmp_path,
        """
        test_cases:
          - test_case: one
            steps:
              - usr: hi
          - test_case: two
            steps:
              - user: hi
              - bot_says: hello
        """,
    )
    assert "tests.yml:5:" in error and "tests.yml:9:" in error


def warnings_of(tmp_path: Path, text: str) -> tuple[list[TestCase], list[str]]:
    warnings: list[Problem] = []
    cases = load_test_cases([str(write(tmp_path, "tests.yml", text))], warnings=warnings)
    return cases, [str(warning) for warning in warnings]


def test_bad_stub_events_are_errors(tmp_path: Path) -> None:
    error = error_of(
        tmp_path,
        """
        stub_custom_actions:
          check_balance:
            events: [{event: slot, name: balance}]
          fetch:
            events: [{event: flow_started, flow_id: x}]
        test_cases:
          - test_case: one
            steps: [{user: hi}]
        """,
    )
    assert "tests.yml:4: error: a `slot` event needs `name` and `value`" in error
    assert "tests.yml:6: error: a stub cannot return event 'flow_started'" in error


def test_what_the_reference_reads_past_is_a_warning_and_every_test_case_runs(
    tmp_path: Path,
) -> None:
    cases, warnings = warnings_of(
        tmp_path,
        """
        fixtures:
          - premium: [{vip: true}]
        stub_custom_actions:
          nobody::check_balance: {events: []}
        description: a key the format does not have
        test_cases:
          - test_case: one
            steps: [{user: hi}]
          - test_case: one
            steps: [{user: hello}]
          - test_case: two
            fixtures: [premum, premium]
            tags: [smoke]
            steps:
              - user: hi
                metadata: tablet
              - user: hi
                bot: hello
        """,
    )
    assert [(case.name, case.source.line) for case in cases] == [
        ("one", 8),
        ("one", 10),
        ("two", 12),
    ]
    assert cases[1].user_steps[0].text == "hello"
    assert cases[2].fixtures == (("vip", True),)  # the known fixture still applies
    assert cases[2].user_steps[0].metadata == {}
    assert [type(step) for step in cases[2].steps] == [UserStep, UserStep]
    expected = [
        "tests.yml:6: warning: unknown key 'description' in an e2e test file is ignored",
        "tests.yml:5: warning: no test case named 'nobody' in this file: the stub is not used",
        "tests.yml:10: warning: test case 'one' is also defined on line 8; both run",
        "tests.yml:13: warning: no fixture named 'premum': the test case runs without it "
        "(did you mean 'premium'?)",
        "tests.yml:14: warning: unknown key 'tags' in a test case is ignored",
        "tests.yml:17: warning: no metadata named 'tablet': the test case runs without it",
        "tests.yml:19: warning: a step has one kind, this one has user and bot: only `user` "
        "is read",
    ]
    for line in expected:
        assert any(line in warning for warning in warnings), (line, warnings)
    assert len(warnings) == len(expected)


def test_plain_steps_in_a_test_case_with_assertions_are_warned_about(tmp_path: Path) -> None:
    (case,), warnings = warnings_of(
        tmp_path,
        """
        test_cases:
          - test_case: mixed
            steps:
              - user: hi
                assertions:
                  - bot_uttered: {utter_name: utter_greet}
              - utter: utter_greet
              - user: bye
              - bot: Bye!
        """,
    )
    assert [step.source.line for step in case.unchecked_steps] == [8, 10]
    assert warnings == [
        f"{tmp_path}/tests.yml:{line}: warning: test case 'mixed' uses assertions, so this step "
        "is not checked (write it as an assertion of the user step above it (e.g. "
        "`bot_uttered`, `slot_was_set`), or drop the assertions of this test case)"
        for line in (8, 10)
    ]


def test_stubs_apply_per_file_and_per_test_case(tmp_path: Path) -> None:
    first, second = load(
        tmp_path,
        """
        stub_custom_actions:
          action_fetch_balance:
            events: [{event: slot, name: balance, value: 10}]
          second::action_fetch_balance:
            events: [{event: slot, name: balance, value: 20}]
            responses: [{text: twenty}]
        test_cases:
          - test_case: first
            steps: [{user: hi}]
          - test_case: second
            steps: [{user: hi}]
        """,
    )
    assert first.stubs is not None and second.stubs is not None
    assert first.stubs["action_fetch_balance"].reply()["events"][0]["value"] == 10
    assert second.stubs["action_fetch_balance"].reply() == {
        "events": [{"event": "slot", "name": "balance", "value": 20}],
        "responses": [{"text": "twenty"}],
    }
    (without,) = load(tmp_path, "test_cases: [{test_case: x, steps: [{user: hi}]}]", "other.yml")
    assert without.stubs is None


def test_folders_selection_and_non_test_files(tmp_path: Path) -> None:
    write(tmp_path, "e2e/b.yml", "test_cases: [{test_case: b1, steps: [{user: hi}]}]")
    write(
        tmp_path,
        "e2e/a/a.yml",
        "test_cases:\n- {test_case: a1, steps: [{user: hi}]}\n- {test_case: a2, steps: []}",
    )
    write(tmp_path, "e2e/conftest.yml", "llm_judge: {model: x}")
    folder = str(tmp_path / "e2e")
    # a folder's own files come before its subfolders' (as for every project folder)
    assert [c.name for c in load_test_cases([folder])] == ["b1", "a1", "a2"]
    assert [c.name for c in load_test_cases([f"{folder}/a/a.yml::a2"])] == ["a2"]
    assert [c.name for c in load_test_cases([f"{folder}::b1", folder])] == ["b1", "a1", "a2"]
    with pytest.raises(ProjectError, match="no test case named 'a3' \\(expected one of: a1, a2\\)"):
        load_test_cases([f"{folder}/a/a.yml::a3"])
    with pytest.raises(ProjectError, match="not an e2e test file"):
        load_test_cases([f"{folder}/conftest.yml"])
    with pytest.raises(ProjectError, match="no such file or directory"):
        load_test_cases([str(tmp_path / "missing")])


def test_every_acceptance_test_file_is_read() -> None:
    folders = sorted(str(p) for p in require(ACCEPTANCE).glob("*/e2e_tests*"))
    cases = load_test_cases(folders)
    assert len(cases) == 48
    assert sum(not case.uses_assertions for case in cases) >= 5
