"""What the tests exercised: flow steps, custom actions, responses, rules and stories.

Read from the conversations' events only:

* flow steps: every step id a ``stack`` event moves a flow frame to (virtual steps such as
  ``START``/``END``/``NEXT:x`` excluded), plus flows seen in ``flow_started``; totals and
  missing steps (with file:line) need the flows of the model;
* custom actions and responses: ``action`` events and the ``utter_action`` of bot messages,
  against the domain;
* rules and stories: one counts as exercised when a conversation's events contain its
  steps in order (other events may come between them): intents (or texts) of user
  messages, actions, bot texts, slot values (a slot written by name alone, or as null:
  any value) and active loops; checkpoints and ``stack`` steps are not compared. The rules
  and stories come from the project's training data, which the model does not hold.

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

from tandem.conversation import events as ev
from tandem.project.data_files import FILLED_VALUES
from tandem.project.domain import Domain
from tandem.project.flows.model import FlowsList
from tandem.project.training_data import Checkpoint, OrStep, StoryBlock, StoryStep, TrainingData
from tandem.testing.runner import TestResult

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
    def of(
        cls, conversations: Iterable[Sequence[ev.Event]], training: TrainingData | None = None
    ) -> Coverage:
        """What ``conversations`` exercised; rules and stories only those of ``training``."""
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
                elif isinstance(event, ev.BotUttered) and event.utter_action:
                    responses.add(event.utter_action)
            if training is not None:
                rules.update(_exercised(training.rules, events))
                stories.update(_exercised(training.stories, events))
        return cls(
            {flow: frozenset(ids) for flow, ids in steps.items()},
            frozenset(actions),
            frozenset(responses),
            frozenset(rules),
            frozenset(stories),
        )

    def as_dict(
        self, domain: Domain, flows: FlowsList | None, training: TrainingData | None = None
    ) -> dict[str, Any]:
        custom = [name for name in domain.actions if domain.is_custom_action(name)]
        responses = [name for name in domain.responses if _declared(domain, name)]
        report = {
            "flows": self._flows(flows),
            "custom_actions": _split(custom, self.actions),
            "responses": _split(responses, self.responses),
        }
        if training is not None:
            report["rules"] = _split([rule.name for rule in training.rules], self.rules)
            report["stories"] = _split([story.name for story in training.stories], self.stories)
        return report

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


def _exercised(blocks: Iterable[StoryBlock], events: Sequence[ev.Event]) -> list[str]:
    """The names of the rules or stories whose steps ``events`` contain in order."""
    return [block.name for block in blocks if _contains_in_order(events, _compared(block))]


def _compared(block: StoryBlock) -> list[StoryStep]:
    return [
        step for step in block.steps if not isinstance(step, (Checkpoint, ev.DialogueStackUpdated))
    ]


def _contains_in_order(events: Sequence[ev.Event], steps: Sequence[StoryStep]) -> bool:
    if not steps:
        return False  # nothing to recognise it by
    position = 0
    for event in events:
        if _matches(steps[position], event):
            position += 1
            if position == len(steps):
                return True
    return False


def _matches(step: StoryStep, event: ev.Event) -> bool:
    """Whether ``event`` is what the story step ``step`` describes."""
    if isinstance(step, OrStep):
        return any(_matches(alternative, event) for alternative in step.alternatives)
    if isinstance(step, ev.UserUttered):
        if not isinstance(event, ev.UserUttered):
            return False
        if step.intent_name is not None:
            return event.intent_name == step.intent_name
        return event.text == step.text
    if isinstance(step, ev.ActionExecuted) and step.name is None:  # a ``bot: <text>`` step
        return isinstance(event, ev.BotUttered) and event.text == step.action_text
    if isinstance(step, ev.ActionExecuted):
        return isinstance(event, ev.ActionExecuted) and event.name == step.name
    if isinstance(step, ev.SlotSet):
        return (
            isinstance(event, ev.SlotSet) and event.name == step.name and _same_value(step, event)
        )
    if isinstance(step, ev.ActiveLoop):
        return isinstance(event, ev.ActiveLoop) and event.name == step.name
    return False


def _same_value(step: ev.SlotSet, event: ev.SlotSet) -> bool:
    """A slot written by name alone matches any value. The story reader gives such a slot
    the placeholder of its type ("filled") or ``None``, so ``None`` matches anything too."""
    if step.value is None or any(step.value == filled for filled in FILLED_VALUES.values()):
        return True
    return bool(event.value == step.value)


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
    results: Sequence[TestResult],
    domain: Domain,
    flows: FlowsList | None,
    directory: Path,
    training: TrainingData | None = None,
) -> dict[str, Any]:
    """Write ``coverage.json`` (passed and failed test cases apart) and return its content.

    ``training`` holds the project's rules and stories; without it they are not reported.
    """
    not_recorded = []
    if training is None:
        not_recorded.append("rules and stories: the project's training data was not read")
    if flows is None:
        not_recorded.append("flow totals: the model's flows were not available")
    report: dict[str, Any] = {
        f"{status}_tests": Coverage.of(
            (result.events for result in results if result.status == status), training
        ).as_dict(domain, flows, training)
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
    for kind in ("custom_actions", "responses", "rules", "stories"):
        if kind not in passed:
            continue
        data = passed[kind]
        total = len(data["covered"]) + len(data["missing"])
        lines.append(f"  {kind.replace('_', ' ')}: {len(data['covered'])} of {total}")
    return lines
