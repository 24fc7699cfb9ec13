"""The graphs ``tandem visualize`` draws: the stories merged into one, and each flow.

Stories are merged as a prefix tree: two stories share nodes for as long as their steps
agree from the start (or from a shared checkpoint), so common openings are drawn once and
the picture forks where the stories differ. A checkpoint is one node wherever it is used,
which joins the stories that end in it to those that start from it; an ``or`` step makes
one path per alternative. A flow is drawn step by step with its ``next`` links.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from tandem.conversation.events import ActionExecuted, ActiveLoop, Event, SlotSet, UserUttered
from tandem.project.flows.model import (
    END,
    ActionStep,
    CallStep,
    CollectStep,
    Flow,
    LinkStep,
    SetSlotsStep,
    Step,
)
from tandem.project.training_data import Checkpoint, OrStep, StoryBlock, StoryStep


@dataclass(frozen=True, slots=True)
class Node:
    label: str  # one line per text line
    kind: str  # start, end, user, action, event, checkpoint, step


@dataclass(frozen=True, slots=True)
class Edge:
    source: int
    target: int
    label: str = ""


@dataclass
class Graph:
    title: str
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    def add(self, label: str, kind: str) -> int:
        self.nodes.append(Node(label, kind))
        return len(self.nodes) - 1

    def link(self, source: int, target: int, label: str = "") -> None:
        edge = Edge(source, target, label)
        if edge not in self.edges:
            self.edges.append(edge)


# -- stories -----------------------------------------------------------------------------------


def story_graph(stories: Sequence[StoryBlock]) -> Graph:
    """All ``stories`` in one graph from START to END, merged where their prefixes match."""
    graph = Graph("Stories")
    start, end = graph.add("START", "start"), graph.add("END", "end")
    children: dict[tuple[int, str, str], int] = {}  # (parent, kind, label) -> node
    checkpoints: dict[str, int] = {}
    for story in stories:
        for path in _paths(story.steps):
            current: int | None = None if isinstance(path[0], Checkpoint) else start
            for step in path:
                if isinstance(step, Checkpoint):
                    if step.name not in checkpoints:
                        checkpoints[step.name] = graph.add(step.name, "checkpoint")
                    node = checkpoints[step.name]
                    if current is not None:
                        graph.link(current, node)
                    current = node
                    continue
                assert current is not None  # a path starts at START or at a checkpoint
                kind, label = _describe(step)
                if (current, kind, label) not in children:
                    children[current, kind, label] = graph.add(label, kind)
                    graph.link(current, children[current, kind, label])
                current = children[current, kind, label]
            if current is not None and not isinstance(path[-1], Checkpoint):
                graph.link(current, end)
    return graph


def _paths(steps: Sequence[StoryStep]) -> Iterator[list[Event | Checkpoint]]:
    """The ways through ``steps``: one per choice of alternative at each ``or`` step."""
    choices = [step.alternatives if isinstance(step, OrStep) else (step,) for step in steps]
    for path in itertools.product(*choices):
        if path:
            yield list(path)


def _describe(event: Event) -> tuple[str, str]:
    if isinstance(event, UserUttered):
        entities = ", ".join(str(e.get("entity")) for e in event.entities)
        label = event.intent_name or f'"{event.text}"'
        return "user", f"{label}\n({entities})" if entities else label
    if isinstance(event, ActionExecuted):
        return "action", event.name or f'bot: "{event.action_text}"'
    if isinstance(event, SlotSet):
        return "event", f"slot {event.name}\n= {json.dumps(event.value)}"
    if isinstance(event, ActiveLoop):
        return "event", f"active_loop\n{event.name or 'null'}"
    return "event", type(event).__name__


# -- flows -------------------------------------------------------------------------------------


def flow_graph(flow: Flow) -> Graph:
    """``flow``'s steps (id and what it does), its START and END, and every ``next``."""
    graph = Graph(f"Flow {flow.id}")
    start, end = graph.add("START", "start"), graph.add(END, "end")
    nodes = {step.id: graph.add(f"{step.id}\n{_step_text(step)}", "step") for step in flow.steps}
    if flow.steps:
        graph.link(start, nodes[flow.steps[0].id])
    for step in flow.steps:
        for branch in step.next:
            if branch.target not in nodes and branch.target != END:
                nodes[branch.target] = graph.add(branch.target, "event")
            target = end if branch.target == END else nodes[branch.target]
            label = "" if len(step.next) == 1 else (branch.condition or "else")
            graph.link(nodes[step.id], target, label)
        if not step.next:  # a link step: the flow ends there (and the linked one starts)
            graph.link(nodes[step.id], end)
    return graph


def _step_text(step: Step) -> str:
    if isinstance(step, CollectStep):
        return f"collect {step.collect}"
    if isinstance(step, ActionStep):
        return f"action {step.action}"
    if isinstance(step, LinkStep):
        return f"link to {step.link}"
    if isinstance(step, CallStep):
        return f"call {step.call}"
    if isinstance(step, SetSlotsStep):
        return "set " + ", ".join(f"{name}={json.dumps(value)}" for name, value in step.slots)
    return "noop"
