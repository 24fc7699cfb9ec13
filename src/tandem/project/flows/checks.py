"""The checks that need all of a project's flows at once: unique NLU triggers, calls and
links that reach what they may, and persisted slots."""

from __future__ import annotations

from tandem import names
from tandem.project.errors import Problem, suggest
from tandem.project.flows.model import (
    ALWAYS_LINKABLE_PATTERNS,
    LINKABLE_PATTERNS,
    CallStep,
    CollectStep,
    Flow,
    FlowsList,
    LinkStep,
    NluTrigger,
    SetSlotsStep,
)


def cross_flow_problems(flows: FlowsList) -> list[Problem]:
    """Triggers owned by two flows, calls and links to what they cannot reach, persisted
    slots that nothing fills."""
    problems: list[Problem] = []
    trigger_owners: dict[str, tuple[Flow, NluTrigger]] = {}
    for flow in flows:
        for trigger in flow.nlu_trigger:
            owner, first = trigger_owners.setdefault(trigger.intent, (flow, trigger))
            if owner is not flow:
                # Point at the project's own file rather than at a built-in pattern.
                at = first.source if flow.is_builtin else trigger.source
                problems.append(
                    Problem(
                        at,
                        f"intent '{trigger.intent}' triggers both '{owner.id}' and '{flow.id}'",
                        "an intent can start only one flow",
                    )
                )
    for flow in flows:
        for step in flow.steps:
            if isinstance(step, CallStep):
                problems += _call_problems(flow, step, flows)
            elif isinstance(step, LinkStep):
                problems += _link_problems(flow, step, flows)
        problems += _persisted_slot_problems(flow, flows)
    return problems


def _call_problems(flow: Flow, step: CallStep, flows: FlowsList) -> list[Problem]:
    target = flows.get(step.call)
    if flow.is_pattern:
        return [
            Problem(
                step.source,
                f"pattern '{flow.id}' cannot call other flows",
                "patterns may only link",
            )
        ]
    if step.call.startswith(names.PATTERN_PREFIX):
        return [
            Problem(
                step.source,
                f"flow '{flow.id}' calls pattern '{step.call}'",
                "patterns cannot be called",
            )
        ]
    if target is None:
        return [
            Problem(
                step.source,
                f"flow '{flow.id}' calls '{step.call}', which is not a flow",
                suggest(step.call, [f.id for f in flows.user_flows]),
            )
        ]
    links = [s for s in target.steps if isinstance(s, LinkStep)]
    if links:
        return [
            Problem(
                step.source,
                f"'{target.id}' is called here, so it cannot link (it does at {links[0].source})",
                "turn the link into a call, or link instead of calling",
            )
        ]
    return []


def _link_problems(flow: Flow, step: LinkStep, flows: FlowsList) -> list[Problem]:
    target = step.link
    if flow.id == "pattern_internal_error":
        return [Problem(step.source, "pattern_internal_error cannot link to other flows")]
    if target.startswith(names.PATTERN_PREFIX):
        if target not in LINKABLE_PATTERNS:
            return [
                Problem(
                    step.source,
                    f"flow '{flow.id}' links to pattern '{target}'",
                    "only " + ", ".join(sorted(LINKABLE_PATTERNS)) + " can be linked",
                )
            ]
        if target in flows or target in ALWAYS_LINKABLE_PATTERNS or flow.is_pattern:
            return []
    elif target in flows:
        return []
    return [
        Problem(
            step.source,
            f"flow '{flow.id}' links to '{target}', which is not a flow",
            suggest(target, [f.id for f in flows]),
        )
    ]


def _persisted_slot_problems(flow: Flow, flows: FlowsList) -> list[Problem]:
    if not flow.persisted_slots:
        return []
    filled: set[str] = set()
    for member in (flow, *flows.called_flows(flow)):
        for step in member.steps:
            if isinstance(step, CollectStep):
                filled.add(step.collect)
            elif isinstance(step, SetSlotsStep):
                filled.update(name for name, _ in step.slots)
    problems = [
        Problem(
            flow.source,
            f"persisted slot '{slot}' is not collected or set by flow '{flow.id}' or its calls",
            suggest(slot, filled),
        )
        for slot in flow.persisted_slots
        if slot not in filled
    ]
    problems += [
        Problem(
            step.source,
            f"flow '{flow.id}' has 'persisted_slots', so 'reset_after_flow_ends' cannot be used",
            f"add '{step.collect}' to persisted_slots instead",
        )
        for step in flow.collect_steps
        if not step.reset_after_flow_ends
    ]
    return problems
