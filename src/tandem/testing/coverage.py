"""What the tests exercised: flow steps, custom actions, responses, rules and stories.

Read from the conversations' events only:

* flow steps: every step id a ``stack`` event moves a flow frame to (virtual steps such as
  ``START``/``END``/``NEXT:x`` excluded), plus flows seen in ``flow_started``; totals and
  missing steps (with file:line) need the flows of the model;
* custom actions and responses: ``action`` events and the ``utter_action`` of bot messages,
  against the domain;
* rules and stories: the ``rule`` / ``story`` names a policy puts in the metadata of the
  action it predicted. No policy records them yet, so this part stays empty until they do.

Coverage is computed separately over passed and failed test cases: only passed ones show
that the assistant does what was tested.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonpatch

from tandem.calm.flows import FlowsList
from tandem.conversation import events as ev
from tandem.project.domain import Domain
from tandem.testing.runner import TestResult

RULE_KEY = "rule"  # metadata of an ``action`` event: the rule that predicted it
STORY_KEY = "story"  # ... or the story
REPORT_FILE = "coverage.json"
_VIRTUAL_STEPS = ("START", "END")


@dataclass(frozen=True)
class Coverage:
    steps: Mapping[str, frozenset[str]]  # flow id -> step ids reached
    actions: frozenset[str]
    responses: frozenset[str]
    rules: frozenset[str]
    stories: frozenset[str]

    @classmethod
    def of(cls, conversations: Iterable[Sequence[ev.Event]]) -> Coverage:
        steps: dict[str, set[str]] = {}
        actions: set[str] = set()
        responses: set[str] = set()
        rules: set[str] = set()
        stories: set[str] = set()
        for events in conversations:
            for flow_id, step_id in _flow_steps(events):
                steps.setdefault(flow_id, set()).update([step_id] if step_id else [])
            for event in events:
                if isinstance(event, ev.ActionExecuted) and event.name:
                    actions.add(event.name)
                    rules.update(_names(event.metadata.get(RULE_KEY)))
                    stories.update(_names(event.metadata.get(STORY_KEY)))
                elif isinstance(event, ev.BotUttered) and event.utter_action:
                    responses.add(event.utter_action)
        return cls(
            {flow: frozenset(ids) for flow, ids in steps.items()},
            frozenset(actions),
            frozenset(responses),
            frozenset(rules),
            frozenset(stories),
        )

    def as_dict(self, domain: Domain, flows: FlowsList | None) -> dict[str, Any]:
        custom = [name for name in domain.actions if domain.is_custom_action(name)]
        responses = [name for name in domain.responses if _declared(domain, name)]
        return {
            "flows": self._flows(flows),
            "custom_actions": _split(custom, self.actions),
            "responses": _split(responses, self.responses),
            "rules": {"covered": sorted(self.rules)},
            "stories": {"covered": sorted(self.stories)},
        }

    def _flows(self, flows: FlowsList | None) -> dict[str, Any]:
        if flows is None:  # only what was reached is known
            return {
                flow: {"covered_steps": sorted(ids)} for flow, ids in sorted(self.steps.items())
            }
        report = {}
        for flow in flows.user_flows:
            reached = self.steps.get(flow.id, frozenset())
            missing = [step for step in flow.steps if step.id not in reached]
            report[flow.id] = {
                "steps": len(flow.steps),
                "covered": len(flow.steps) - len(missing),
                "missing_steps": [{"id": step.id, "at": str(step.source)} for step in missing],
            }
        return report


def _flow_steps(events: Sequence[ev.Event]) -> Iterable[tuple[str, str | None]]:
    """(flow id, step id) of every flow frame the stack held, and every flow started."""
    stack: list[dict[str, Any]] = []
    for event in events:
        if isinstance(event, ev.FlowStarted):
            yield event.flow_id, None
        elif isinstance(event, ev.DialogueStackUpdated):
            try:
                stack = jsonpatch.apply_patch(stack, event.patch)
            except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException):
                stack = []  # a patch against a stack we did not see (e.g. after a reset)
                continue
            for frame in stack:
                step = frame.get("step_id")
                if "flow_id" in frame and isinstance(step, str) and _is_real_step(step):
                    yield frame["flow_id"], step
        elif isinstance(event, (ev.RoutingSessionEnded, ev.Restarted, ev.SessionStarted)):
            stack = []  # these empty the stack without a ``stack`` event


def _is_real_step(step_id: str) -> bool:
    return step_id not in _VIRTUAL_STEPS and not step_id.startswith("NEXT:")


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(item) for item in value] if isinstance(value, list) else [str(value)]


def _declared(domain: Domain, response: str) -> bool:
    """Responses the project wrote (not the defaults every domain gets), when known."""
    declared = [key for key in domain.sources if key.startswith("response:")]
    return not declared or f"response:{response}" in domain.sources


def _split(names: Iterable[str], covered: frozenset[str]) -> dict[str, list[str]]:
    names = sorted(set(names))
    return {
        "covered": [name for name in names if name in covered],
        "missing": [name for name in names if name not in covered],
    }


def write_coverage(
    results: Sequence[TestResult], domain: Domain, flows: FlowsList | None, directory: Path
) -> dict[str, Any]:
    """Write ``coverage.json`` (passed and failed test cases apart) and return its content."""
    not_recorded = [
        "rules and stories: policies do not yet record which rule or story predicted an "
        f"action (action event metadata '{RULE_KEY}' / '{STORY_KEY}')"
    ]
    if flows is None:
        not_recorded.append("flow totals: the model's flows were not available")
    report: dict[str, Any] = {
        f"{status}_tests": Coverage.of(
            result.events for result in results if result.status == status
        ).as_dict(domain, flows)
        for status in ("passed", "failed")
    }
    report["not_recorded"] = not_recorded
    directory.mkdir(parents=True, exist_ok=True)
    (directory / REPORT_FILE).write_text(json.dumps(report, indent=2) + "\n")
    return report


def coverage_summary(report: Mapping[str, Any]) -> list[str]:
    """A few console lines on the passed test cases' coverage."""
    passed = report["passed_tests"]
    lines = ["coverage of passed test cases:"]
    for flow, data in passed["flows"].items():
        if "steps" in data:
            lines.append(f"  flow {flow}: {data['covered']} of {data['steps']} steps")
        else:
            lines.append(f"  flow {flow}: {len(data['covered_steps'])} steps reached")
    for kind in ("custom_actions", "responses"):
        data = passed[kind]
        total = len(data["covered"]) + len(data["missing"])
        lines.append(f"  {kind.replace('_', ' ')}: {len(data['covered'])} of {total}")
    return lines
