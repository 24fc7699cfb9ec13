"""The flow model: flows, their steps and branches, and a project's list of flows.

A flow file maps flow ids to definitions. Reading (``reader``) turns each definition
into an immutable ``Flow`` whose ``steps`` hold every step of the step tree in pre-order (the
order that numbers default step ids), each with its ``next`` already resolved to a tuple of
``Branch``es; ``patterns.build_flows`` adds the default patterns and runs the checks that need
all flows at once (``checks``)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from tandem import names
from tandem.names import END, NEXT_PREFIX, START
from tandem.project.errors import Source
from tandem.project.flows.conditions import (
    ConditionError,
    ConditionSyntaxError,
    Predicate,
    evaluate_condition,
    render_condition,
)

FLOW_ID_PATTERN = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9_-]*$")
SLOT_NAME_PATTERN = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_-]*$")

# Patterns a flow may link to although they are patterns (and even if they were removed).
ALWAYS_LINKABLE_PATTERNS = frozenset(
    {"pattern_human_handoff", "pattern_search", "pattern_customer_satisfaction"}
)
# ... plus pattern_chitchat, which patterns may link to even when it does not exist.
LINKABLE_PATTERNS = ALWAYS_LINKABLE_PATTERNS | {"pattern_chitchat"}

_NOWHERE = Source("<unknown>")
# Where the default patterns come from (``Flow.file_path`` of a built-in pattern).
BUILTIN_PATH = "tandem/project/flows/default_flows.yml"


# -- model ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Branch:
    """One way out of a step. ``condition`` is None for a static ``next`` and for ``else``."""

    target: str
    condition: str | None = None
    source: Source = field(default=_NOWHERE, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Rejection:
    """A collect step's ``rejections`` entry: if ``condition`` holds, utter ``utter``."""

    condition: str
    utter: str

    def as_dict(self) -> dict[str, str]:
        return {"if": self.condition, "utter": self.utter}


@dataclass(frozen=True, slots=True)
class NluTrigger:
    """Start the flow when the top intent is ``intent`` with at least this confidence."""

    intent: str
    confidence_threshold: float = 0.0
    source: Source = field(default=_NOWHERE, compare=False, repr=False)

    def matches(self, intent: str | None, confidence: float) -> bool:
        return intent == self.intent and confidence >= self.confidence_threshold


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    id: str
    next: tuple[Branch, ...] = ()
    description: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    source: Source = field(default=_NOWHERE, compare=False, repr=False)

    def successor(self, context: Mapping[str, Any], slots: Mapping[str, Any]) -> str | None:
        """The id of the step to run after this one, or None at the very end.

        ``if`` branches are tried in order (Jinja-rendered with the context, then evaluated
        against ``{context, slots}``); failing that, the first ``else`` branch is taken.
        """
        document = {"context": context, "slots": slots}
        for branch in self.next:
            if branch.condition is not None and _holds(branch.condition, context, document):
                return branch.target
        return next((branch.target for branch in self.next if branch.condition is None), None)


def _holds(condition: str, context: Mapping[str, Any], document: Mapping[str, Any]) -> bool:
    try:
        return evaluate_condition(render_condition(condition, context), document)
    except ConditionError:
        return False


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionStep(Step):
    action: str  # may be a Jinja template such as "{{context.utter}}"


@dataclass(frozen=True, slots=True, kw_only=True)
class CollectStep(Step):
    collect: str
    utter: str = ""  # defaults to utter_ask_<slot>
    ask_before_filling: bool = False
    reset_after_flow_ends: bool = True
    rejections: tuple[Rejection, ...] = ()
    force_slot_filling: bool = False
    silence_timeout: float | Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if not self.utter:
            object.__setattr__(self, "utter", names.ASK_RESPONSE_PREFIX + self.collect)

    @property
    def collect_action(self) -> str:
        return names.ASK_ACTION_PREFIX + self.collect


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkStep(Step):
    link: str

    def successor(self, context: Mapping[str, Any], slots: Mapping[str, Any]) -> str | None:
        return END


@dataclass(frozen=True, slots=True, kw_only=True)
class CallStep(Step):
    call: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SetSlotsStep(Step):
    slots: tuple[tuple[str, Any], ...]  # (slot name, literal value) in the written order


@dataclass(frozen=True, slots=True, kw_only=True)
class NoopStep(Step):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class VirtualStep(Step):
    """START, END or NEXT:<id>: not written in a flow, made up by ``Flow.step_by_id``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Flow:
    id: str
    description: str
    steps: tuple[Step, ...]  # every step of the tree, in pre-order; steps[0] runs first
    name: str = ""  # defaults to the id with "_" and "-" turned into spaces
    guard: str | None = None  # the flow-level ``if``
    always_include_in_prompt: bool = False
    nlu_trigger: tuple[NluTrigger, ...] = ()
    persisted_slots: tuple[str, ...] = ()
    run_pattern_completed: bool = True
    metadata: Mapping[str, Any] = field(default_factory=dict)
    translation: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    file_path: str | None = None
    fingerprint: str = ""  # hash of the YAML definition, for the flow_hashes slot
    source: Source = field(default=_NOWHERE, compare=False, repr=False)
    _index: Mapping[str, Step] = field(init=False, repr=False, compare=False)
    _collects: tuple[CollectStep, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", re.sub(r"[_-]", " ", self.id))
        object.__setattr__(self, "_index", {step.id: step for step in self.steps})
        collects = tuple(step for step in self.steps if isinstance(step, CollectStep))
        object.__setattr__(self, "_collects", collects)

    @property
    def first_step(self) -> Step:
        return self.steps[0]

    @property
    def is_pattern(self) -> bool:
        return self.id.startswith(names.PATTERN_PREFIX)

    @property
    def is_builtin(self) -> bool:
        """A default pattern, not one of the project's flows."""
        return self.file_path == BUILTIN_PATH

    @property
    def collect_steps(self) -> tuple[CollectStep, ...]:
        """This flow's own collect steps (called flows not included)."""
        return self._collects

    @property
    def is_link_only(self) -> bool:
        """A guard that is false whatever the state (``if: False``): reachable only by link/call."""
        if self.guard is None:
            return False
        try:
            predicate = Predicate.parse(self.guard)
        except ConditionSyntaxError:
            return False
        return not predicate.variables and not predicate.evaluate({})

    def step_by_id(self, step_id: str) -> Step | None:
        """The step with this id, a virtual step for START/END/NEXT:<id>, or None if stale.

        Ids stored by the reference before 3.11.4 lack the ``<flow_id>_`` prefix; they are
        found too.
        """
        if step_id == START:
            return VirtualStep(id=START, next=(Branch(self.first_step.id),))
        if step_id == END:
            return VirtualStep(id=END)
        if step_id.startswith(NEXT_PREFIX):
            target = step_id[len(NEXT_PREFIX) :]
            if target == END or target in self._index:
                return VirtualStep(id=step_id, next=(Branch(target),))
            return None
        return self._index.get(step_id) or self._index.get(f"{self.id}_{step_id}")

    def readable_name(self, language: str | None = None) -> str:
        translated = self.translation.get(language, {}) if language else {}
        return str(translated.get("name") or self.name or self.id)

    def is_startable(self, context: Mapping[str, Any], slots: Mapping[str, Any]) -> bool:
        """Whether the guard lets the flow start now.

        A running flow stays startable while it is on top, whatever its guard says.
        """
        if self.guard is None or context.get("flow_id") == self.id:
            return True
        return evaluate_condition(self.guard, {"context": context, "slots": slots})

    def triggered_by(self, intent: str | None, confidence: float) -> bool:
        return any(trigger.matches(intent, confidence) for trigger in self.nlu_trigger)


# -- all flows of a project -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FlowsList:
    """The project's flows in order (user flows, then the default patterns not overridden)."""

    flows: tuple[Flow, ...] = ()
    _by_id: Mapping[str, Flow] = field(init=False, repr=False, compare=False)
    # The slots some ``collect`` step of some flow (patterns included) asks for.
    collected_slots: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {flow.id: flow for flow in self.flows})
        collected = frozenset(step.collect for flow in self.flows for step in flow.collect_steps)
        object.__setattr__(self, "collected_slots", collected)

    def __iter__(self) -> Iterator[Flow]:
        return iter(self.flows)

    def __len__(self) -> int:
        return len(self.flows)

    def __contains__(self, flow_id: object) -> bool:
        return flow_id in self._by_id

    def get(self, flow_id: str) -> Flow | None:
        return self._by_id.get(flow_id)

    @property
    def user_flows(self) -> tuple[Flow, ...]:
        return tuple(flow for flow in self.flows if not flow.is_pattern)

    @property
    def patterns(self) -> tuple[Flow, ...]:
        return tuple(flow for flow in self.flows if flow.is_pattern)

    @property
    def fingerprints(self) -> dict[str, str]:
        """Flow id -> fingerprint: the value of the ``flow_hashes`` slot."""
        return {flow.id: flow.fingerprint for flow in self.flows}

    def flow_by_nlu_trigger(self, intent: str | None, confidence: float) -> Flow | None:
        """The first flow (patterns included) whose ``nlu_trigger`` accepts this intent."""
        return next((flow for flow in self.flows if flow.triggered_by(intent, confidence)), None)

    def called_flows(self, flow: Flow) -> tuple[Flow, ...]:
        """Flows ``flow`` calls, directly or through other calls, in first-call order."""
        found: dict[str, Flow] = {}

        def visit(caller: Flow) -> None:
            for step in caller.steps:
                target = self._by_id.get(step.call) if isinstance(step, CallStep) else None
                if target is not None and target.id != flow.id and target.id not in found:
                    found[target.id] = target
                    visit(target)

        visit(flow)
        return tuple(found.values())
