"""The flow view of the page: the active flow drawn as ``tandem visualize`` draws it, with
the step the conversation is at marked (its node gets the class ``current``)."""

from __future__ import annotations

from tandem.project.flows.model import FlowsList
from tandem.visualize.graph import Graph, Node, flow_graph
from tandem.visualize.html import svg

CURRENT = "current"
SVG_NAMESPACE = "http://www.w3.org/2000/svg"


def flow_svg(flows: FlowsList, flow_id: str, step_id: str | None) -> str | None:
    """``flow_id`` as an SVG picture with ``step_id`` marked; None for an unknown flow."""
    flow = flows.get(flow_id)
    if flow is None:
        return None
    graph = flow_graph(flow)
    current = _node_of(graph, step_id)
    if current is not None:
        graph.nodes[current] = Node(graph.nodes[current].label, CURRENT)
    # Served on its own (image/svg+xml), the picture needs the namespace that inline SVG in
    # ``tandem visualize``'s HTML does without.
    return svg(graph, "inspect-arrow").replace("<svg ", f'<svg xmlns="{SVG_NAMESPACE}" ', 1)


def _node_of(graph: Graph, step_id: str | None) -> int | None:
    """The node of ``step_id``: a step node's label starts with its id on the first line
    (START and END are their own labels)."""
    if step_id is None:
        return None
    for index, node in enumerate(graph.nodes):
        if node.label.split("\n", 1)[0] == step_id:
            return index
    return None
