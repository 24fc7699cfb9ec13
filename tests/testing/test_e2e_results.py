"""Result files (``-o``) and failed test cases re-written as runnable files (``-f``)."""

from __future__ import annotations

from pathlib import Path

import yaml
from e2e_testkit import make_processor, write

from tandem.testing.cases import TestCase, UserStep, load_test_cases
from tandem.testing.results import standalone_test_file, write_failed_tests, write_results
from tandem.testing.runner import TestResult, run_cases

CONFTEST = """
fixtures:
  - calm: [{route_session_to_calm: true}]
metadata:
  - phone: {device: phone}
"""
SUITE = """
fixtures:
  - vip: [{vip: true}]
stub_custom_actions:
  action_fetch_balance:
    events: [{event: slot, name: balance, value: 100}]
test_cases:
  - test_case: passes
    steps:
      - user: /greet
      - utter: utter_greet
  - test_case: differs
    fixtures: [calm, vip]
    metadata: phone
    steps:
      - user: how much money do I have?
      - bot: You have 5 dollars.
  - test_case: asserts
    steps:
      - user: /greet
        assertions:
          - bot_uttered: {utter_name: utter_done}
  - test_case: unchecked
    steps:
      - user: /greet
        assertions:
          - generative_response_is_relevant: {threshold: 0.5}
"""


async def run_suite(folder: Path, *targets: str) -> list[TestResult]:
    write(folder, "conftest.yml", CONFTEST)
    write(folder, "suite.yml", SUITE)
    cases = load_test_cases(list(targets) or [str(folder / "suite.yml")], top=folder)
    return await run_cases(make_processor(), cases)


def read(path: Path) -> object:
    return yaml.safe_load(path.read_text())


async def test_results_are_written_per_outcome(tmp_path: Path) -> None:
    results = await run_suite(tmp_path / "e2e")
    files = write_results(results, tmp_path / "out")
    names = ["e2e_results_passed.yml", "e2e_results_failed.yml", "e2e_results_skipped.yml"]
    assert files == [tmp_path / "out" / name for name in names]
    passed, failed, skipped = (read(path) for path in files)
    suite = tmp_path / "e2e" / "suite.yml"
    assert passed == [
        {
            "name": "passes",
            "pass_status": True,
            "expected_steps": [{"user": "/greet"}, {"utter": "utter_greet"}],
        }
    ]
    differs, asserts = failed
    assert differs["pass_status"] is False and differs["error_path"] == f"{suite}:17"
    assert differs["expected_steps"][0] == {"user": "how much money do I have?"}
    assert differs["difference"] == [
        f"- bot: 'You have 5 dollars.'  ({suite}:17)",
        "+ bot: 'You have 100 dollars.'  [utter_balance]",
        "+ slot_was_set: balance: 100 (int)",
    ]
    assert asserts["error_path"] == f"{suite}:22"
    failure = asserts["assertion_failure"]
    assert failure["assertion"] == {"bot_uttered": {"utter_name": "utter_done"}}
    assert failure["error_message"].startswith("bot_uttered: no bot message with utter_name")
    assert "bot: 'Hello!'  [utter_greet]" in failure["actual_events_transcript"]
    [unchecked] = skipped
    assert unchecked["pass_status"] is False and "no LLM judge" in unchecked["not_checked"][0]


async def test_a_yml_target_names_the_files_and_nothing_skipped_writes_two(
    tmp_path: Path,
) -> None:
    results = await run_suite(tmp_path, f"{tmp_path / 'suite.yml'}::passes")
    files = write_results(results, tmp_path / "reports" / "nightly.yml")
    assert [path.name for path in files] == ["nightly_passed.yml", "nightly_failed.yml"]
    assert read(files[1]) == []


async def test_failed_test_cases_are_rewritten_to_run_on_their_own(tmp_path: Path) -> None:
    results = await run_suite(tmp_path / "e2e")
    (path,) = write_failed_tests(results, tmp_path / "out", stamp="20250101-120000")
    assert path == tmp_path / "out" / "e2e_failed_tests_20250101-120000" / "suite.yml"
    data = read(path)
    assert isinstance(data, dict)
    assert [case["test_case"] for case in data["test_cases"]] == ["differs", "asserts"]
    assert set(data["stub_custom_actions"]) == {
        "differs::action_fetch_balance",
        "asserts::action_fetch_balance",
    }

    originals = {r.case.name: r for r in results}
    rewritten = load_test_cases([str(path)], top=path.parent)  # no conftest.yml in reach
    assert [essentials(case) for case in rewritten] == [
        essentials(originals[case.name].case) for case in rewritten
    ]
    again = await run_cases(make_processor(), rewritten)
    assert [r.status for r in again] == ["failed", "failed"]
    for result in again:
        original = originals[result.case.name].failure
        assert result.failure is not None and original is not None
        assert result.failure.message == original.message
        assert without_places(result.failure.difference) == without_places(original.difference)


def without_places(lines: tuple[str, ...]) -> list[str]:
    return [line.split("  (/")[0] for line in lines]


def essentials(case: TestCase) -> tuple[object, ...]:
    """What a test case does, without where it was written."""
    users = [(s.text, dict(s.metadata)) for s in case.steps if isinstance(s, UserStep)]
    stubs = {name: stub.reply() for name, stub in (case.stubs or {}).items()}
    return case.name, users, case.fixtures, stubs


async def test_nothing_failed_writes_nothing(tmp_path: Path) -> None:
    results = await run_suite(tmp_path, f"{tmp_path / 'suite.yml'}::passes")
    assert write_failed_tests(results, tmp_path / "out") == []
    assert not (tmp_path / "out").exists()


async def test_a_file_without_stubs_is_rewritten_without_them(tmp_path: Path) -> None:
    write(tmp_path, "plain.yml", "test_cases: [{test_case: t, steps: [{user: hi}]}]")
    (case,) = load_test_cases([str(tmp_path / "plain.yml")])
    assert standalone_test_file([case]) == {
        "test_cases": [{"test_case": "t", "steps": [{"user": "hi"}]}]
    }
