"""The summary line, failure reports, JUnit XML and the coverage report."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from e2e_testkit import load, make_domain, run, write

from tandem.conversation import events as ev
from tandem.project.data_files import load_training_data
from tandem.project.flows.model import FlowsList
from tandem.project.flows.reader import flows_from_yaml
from tandem.project.yaml import parse_yaml
from tandem.testing.coverage import Coverage, coverage_summary, write_coverage
from tandem.testing.report import failure_report, result_line, summary_line, write_junit
from tandem.testing.runner import TestResult

SUITE = """
test_cases:
  - test_case: passes
    steps:
      - user: /greet
      - utter: utter_greet
  - test_case: fails
    steps:
      - user: /greet
        assertions:
          - bot_uttered: {utter_name: utter_done}
  - test_case: unchecked
    steps:
      - user: /greet
        assertions:
          - generative_response_is_grounded: {threshold: 0.9}
"""


async def test_summary_and_result_lines(tmp_path: Path) -> None:
    results = await run(tmp_path, SUITE)
    assert summary_line(results) == "1 failed, 1 passed, 1 skipped"
    assert summary_line(results[:1]) == "0 failed, 1 passed"
    assert summary_line([]) == "0 failed, 0 passed"
    path = results[0].case.source.path
    assert [result_line(r) for r in results] == [
        f"PASSED  {path}::passes",
        f"FAILED  {path}::fails",
        f"SKIPPED {path}::unchecked",
    ]


async def test_a_failure_report_names_the_test_and_the_mismatch(tmp_path: Path) -> None:
    results = await run(tmp_path, SUITE)
    path = results[0].case.source.path
    report = failure_report(results[1])
    assert report[:3] == [
        f"'fails' in {path}:7 failed",
        f"Mismatch starting at {path}:11",
        "  bot_uttered: no bot message with utter_name 'utter_done'; the bot said: "
        "utter_greet: 'Hello!'",
    ]
    assert f"  events of the turn of user: '/greet' ({path}:9)" in report
    assert failure_report(results[0]) == []


async def test_junit_xml_is_well_formed_with_the_right_counts(tmp_path: Path) -> None:
    results = await run(tmp_path, SUITE)
    target = tmp_path / "out" / "junit.xml"
    write_junit(results, target)
    root = ET.parse(target).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    for element in (root, suite):
        assert (element.get("tests"), element.get("failures"), element.get("skipped")) == (
            "3",
            "1",
            "1",
        )
    cases = suite.findall("testcase")
    assert [(c.get("name"), c.get("line")) for c in cases] == [
        ("passes", "3"),
        ("fails", "7"),
        ("unchecked", "12"),
    ]
    failure = cases[1].find("failure")
    assert failure is not None and "Mismatch starting at" in (failure.text or "")
    skipped = cases[2].find("skipped")
    assert skipped is not None and "no LLM judge" in (skipped.get("message") or "")
    assert cases[0].find("failure") is None and cases[0].find("skipped") is None


FLOWS = """
flows:
  transfer:
    description: send money
    steps:
      - collect: amount
      - action: action_send
        next:
          - if: slots.amount > 10
            then:
              - action: utter_big
                next: END
          - else: END
"""


def stack_moves(*steps: str) -> list[ev.Event]:
    frame = '{"frame_id": "a", "type": "flow", "flow_id": "transfer", "step_id": "START"}'
    events: list[ev.Event] = [
        ev.DialogueStackUpdated(update=f'[{{"op": "add", "path": "/0", "value": {frame}}}]'),
        ev.FlowStarted(flow_id="transfer"),
    ]
    events += [
        ev.DialogueStackUpdated(
            update=f'[{{"op": "replace", "path": "/0/step_id", "value": "{step}"}}]'
        )
        for step in steps
    ]
    return events


def test_coverage_of_flow_steps_actions_responses_and_rules(tmp_path: Path) -> None:
    flows = FlowsList(tuple(flows_from_yaml(parse_yaml(FLOWS))))
    first = stack_moves("transfer_0_collect_amount", "transfer_1_action_send", "END")
    first += [
        ev.ActionExecuted(name="action_fetch_balance"),
        ev.BotUttered(text="Hello!", metadata={"utter_action": "utter_greet"}),
    ]
    second = stack_moves("transfer_2_utter_big")
    coverage = Coverage.of([first])
    assert coverage.steps == {
        "transfer": frozenset({"transfer_0_collect_amount", "transfer_1_action_send"})
    }
    assert coverage.rules == frozenset() and coverage.stories == frozenset()

    results = [
        TestResult(load(tmp_path, SUITE)[0], "passed", events=tuple(first)),
        TestResult(load(tmp_path, SUITE)[1], "failed", events=tuple(second)),
    ]
    report = write_coverage(results, make_domain(), flows, tmp_path / "coverage")
    assert json.loads((tmp_path / "coverage" / "coverage.json").read_text()) == report
    passed = report["passed_tests"]
    assert passed["flows"]["transfer"] == {
        "steps": 3,
        "covered": 2,
        "missing_steps": [{"id": "transfer_2_utter_big", "at": "<string>:11"}],
    }
    assert passed["custom_actions"] == {"covered": ["action_fetch_balance"], "missing": []}
    assert "utter_greet" in passed["responses"]["covered"]
    assert "utter_done" in passed["responses"]["missing"]
    assert "rules" not in passed and "stories" not in passed
    assert report["failed_tests"]["flows"]["transfer"]["covered"] == 1
    assert report["not_recorded"] and "rules and stories" in report["not_recorded"][0]
    assert coverage_summary(report)[:2] == [
        "coverage of passed test cases:",
        "  flow transfer: 2 of 3 steps",
    ]


def test_coverage_without_the_flows_lists_the_steps_reached(tmp_path: Path) -> None:
    results = [TestResult(load(tmp_path, SUITE)[0], "passed", events=tuple(stack_moves("x_1")))]
    report = write_coverage(results, make_domain(), None, tmp_path / "coverage")
    assert report["passed_tests"]["flows"] == {"transfer": {"covered_steps": ["x_1"]}}
    assert "flow totals" in report["not_recorded"][1]


STORIES = """
version: "3.1"
stories:
  - story: balance then greet
    steps:
      - intent: balance
      - action: action_fetch_balance
      - slot_was_set: [balance]
      - checkpoint: somewhere
      - or:
          - intent: greet
          - intent: chitchat
      - action: utter_greet
  - story: greet then balance
    steps:
      - intent: greet
      - action: utter_greet
      - intent: balance
  - story: texts
    steps:
      - user: hello there
      - bot: Hello!
rules:
  - rule: text and loop
    steps:
      - user: hello there
      - action: utter_greet
      - active_loop: null
  - rule: never
    steps:
      - intent: transfer
"""


def user(text: str, intent: str) -> ev.UserUttered:
    return ev.UserUttered.create(text, {"name": intent, "confidence": 1.0}, [])


def test_rules_and_stories_count_when_their_steps_occur_in_order(tmp_path: Path) -> None:
    write(tmp_path, "data/stories.yml", STORIES)
    training, _ = load_training_data([tmp_path / "data"], make_domain().slots)
    conversation = [
        user("how much money do I have?", "balance"),
        ev.ActionExecuted(name="action_fetch_balance"),
        ev.SlotSet(name="balance", value=100),
        ev.BotUttered(text="You have 100 dollars.", metadata={"utter_action": "utter_balance"}),
        user("hello there", "chitchat"),
        ev.ActionExecuted(name="utter_greet"),
        ev.BotUttered(text="Hello!", metadata={"utter_action": "utter_greet"}),
        ev.ActiveLoop(name=None),
    ]
    coverage = Coverage.of([conversation], training)
    # "greet then balance" needs the greeting first
    assert coverage.stories == {"balance then greet", "texts"}
    assert coverage.rules == {"text and loop"}
    without_slot = [e for e in conversation if not isinstance(e, ev.SlotSet)]
    assert Coverage.of([without_slot], training).stories == {"texts"}

    results = [TestResult(load(tmp_path, SUITE)[0], "passed", events=tuple(conversation))]
    report = write_coverage(results, make_domain(), None, tmp_path / "coverage", training)
    passed = report["passed_tests"]
    assert passed["stories"] == {
        "covered": ["balance then greet", "texts"],
        "missing": ["greet then balance"],
    }
    assert passed["rules"] == {"covered": ["text and loop"], "missing": ["never"]}
    assert report["failed_tests"]["rules"]["covered"] == []
    assert not any("rules" in note for note in report["not_recorded"])
    assert "  rules: 1 of 2" in coverage_summary(report)
