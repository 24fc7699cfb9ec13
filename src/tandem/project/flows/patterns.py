"""The default patterns (``default_flows.yml``), what they need in the domain, and how they join
a project's flows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from tandem.conversation.slots import Slot, SlotMapping
from tandem.project.errors import Problem, ProjectError
from tandem.project.flows.checks import cross_flow_problems
from tandem.project.flows.model import (
    BUILTIN_PATH,
    Flow,
    FlowsList,
)
from tandem.project.flows.reader import flows_from_yaml
from tandem.project.yaml import (
    parse_yaml,
    plain,
)


@dataclass(frozen=True, slots=True)
class DefaultPatternDomain:
    """Responses and slots the default patterns need; merged into the domain (user wins)."""

    responses: Mapping[str, tuple[Mapping[str, Any], ...]]
    slots: Mapping[str, Slot]


def default_patterns() -> tuple[Flow, ...]:
    return _defaults()[0]


def default_pattern_domain() -> DefaultPatternDomain:
    return _defaults()[1]


@cache
def _defaults() -> tuple[tuple[Flow, ...], DefaultPatternDomain]:
    text = (resources.files(__package__) / "default_flows.yml").read_text(encoding="utf-8")
    data = parse_yaml(text, BUILTIN_PATH)
    responses = {name: tuple(plain(variations)) for name, variations in data["responses"].items()}
    slots = {name: _default_slot(name, spec) for name, spec in data["slots"].items()}
    return tuple(flows_from_yaml(data)), DefaultPatternDomain(responses, slots)


def _default_slot(name: str, spec: Mapping[str, Any]) -> Slot:
    kind = spec["type"]
    return Slot(
        name=name,
        type=kind,
        mappings=tuple(SlotMapping(type=mapping["type"]) for mapping in spec.get("mappings", ())),
        initial_value=spec.get("initial_value"),
        influence_conversation=spec.get("influence_conversation", kind != "any"),
        values=tuple(spec.get("values", ())),
        min_value=float(spec.get("min_value", 0.0)),
        max_value=float(spec.get("max_value", 1.0)),
    )


def build_flows(user_flows: Iterable[Flow], *, with_default_patterns: bool = True) -> FlowsList:
    """The project's flows with the default patterns merged in, checked all together.

    Patterns are only added when the project has at least one flow; a user flow with a
    pattern's id replaces that pattern. Raises ``ProjectError`` listing every problem.
    """
    problems: list[Problem] = []
    chosen: dict[str, Flow] = {}
    for flow in user_flows:
        if flow.id in chosen:
            problems.append(
                Problem(
                    flow.source,
                    f"flow '{flow.id}' is defined twice (also at {chosen[flow.id].source})",
                    "flow ids must be unique across all flow files",
                )
            )
        else:
            chosen[flow.id] = flow
    flows = list(chosen.values())
    if with_default_patterns and flows:
        flows += [pattern for pattern in default_patterns() if pattern.id not in chosen]
    result = FlowsList(tuple(flows))
    problems += cross_flow_problems(result)
    if problems:
        raise ProjectError.of(problems)
    return result
