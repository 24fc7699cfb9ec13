"""A small layered layout: nodes in rows from top to bottom, edges pointing down.

Each node goes one row below the lowest of its predecessors (longest path from the roots;
edges that close a cycle are left out of that), and the nodes of a row are ordered by the
mean position of their predecessors so that branches stay under the node they leave.
Sizes are estimated from the label (a fixed character width), which is all an SVG of
monospace text needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tandem.visualize.graph import Graph

CHAR_WIDTH = 7.2  # of the 12 px monospace font
LINE_HEIGHT = 15.0
PADDING = 10.0
ROW_GAP = 40.0
COLUMN_GAP = 24.0
MARGIN = 50.0  # room for the edges that loop back round the right side


@dataclass(frozen=True, slots=True)
class Box:
    x: float  # top left
    y: float
    width: float
    height: float
    row: int

    @property
    def center(self) -> float:
        return self.x + self.width / 2


@dataclass(frozen=True, slots=True)
class Layout:
    boxes: tuple[Box, ...]  # one per node, by node index
    width: float
    height: float


def layout(graph: Graph) -> Layout:
    rows = _rows(graph)
    grouped = _ordered_rows(graph, rows)
    sizes = [_size(node.label) for node in graph.nodes]
    widths = [sum(sizes[n][0] for n in row) + COLUMN_GAP * (len(row) - 1) for row in grouped]
    width = max(widths, default=0.0) + 2 * MARGIN
    boxes: dict[int, Box] = {}
    y = MARGIN
    for index, row in enumerate(grouped):
        x = (width - widths[index]) / 2  # each row centred
        height = max(sizes[n][1] for n in row)
        for node in row:
            node_width, node_height = sizes[node]
            boxes[node] = Box(x, y + (height - node_height) / 2, node_width, node_height, index)
            x += node_width + COLUMN_GAP
        y += height + ROW_GAP
    return Layout(tuple(boxes[n] for n in range(len(graph.nodes))), width, y - ROW_GAP + MARGIN)


def _size(label: str) -> tuple[float, float]:
    lines = label.split("\n")
    return (
        max(len(line) for line in lines) * CHAR_WIDTH + 2 * PADDING,
        len(lines) * LINE_HEIGHT + PADDING,
    )


def _rows(graph: Graph) -> list[int]:
    """The row of each node: one below its deepest predecessor over edges that go forward
    in a depth-first walk from the nodes nothing points to (or node 0, in a cycle)."""
    successors: list[list[int]] = [[] for _ in graph.nodes]
    for edge in graph.edges:
        successors[edge.source].append(edge.target)
    targets = {edge.target for edge in graph.edges}
    roots = [n for n in range(len(graph.nodes)) if n not in targets] or [0]
    finished: list[int] = []  # depth-first finishing order; reversed, a topological order
    state = [0] * len(graph.nodes)  # 0 unseen, 1 on the path, 2 done
    forward: list[list[int]] = [[] for _ in graph.nodes]
    for root in roots + list(range(len(graph.nodes))):
        if state[root]:
            continue
        stack = [(root, iter(successors[root]))]
        state[root] = 1
        while stack:
            node, pending = stack[-1]
            following = next(pending, None)
            if following is None:
                state[node] = 2
                finished.append(node)
                stack.pop()
            elif state[following] != 1:  # an edge back onto the path closes a cycle
                forward[node].append(following)
                if not state[following]:
                    state[following] = 1
                    stack.append((following, iter(successors[following])))
    rows = [0] * len(graph.nodes)
    for node in reversed(finished):
        for following in forward[node]:
            rows[following] = max(rows[following], rows[node] + 1)
    return rows


def _ordered_rows(graph: Graph, rows: Sequence[int]) -> list[list[int]]:
    grouped: list[list[int]] = [[] for _ in range(max(rows, default=-1) + 1)]
    for node, number in enumerate(rows):
        grouped[number].append(node)
    predecessors: list[list[int]] = [[] for _ in graph.nodes]
    for edge in graph.edges:
        if rows[edge.source] < rows[edge.target]:
            predecessors[edge.target].append(edge.source)
    position = {node: index for index, node in enumerate(grouped[0])} if grouped else {}
    for row in grouped[1:]:
        # Nodes keep the order they were added in among equals (sorted is stable).
        row.sort(key=lambda n: _mean([position[p] for p in predecessors[n]], len(position)))
        position.update({node: index for index, node in enumerate(row)})
    return grouped


def _mean(values: Sequence[int], default: int) -> float:
    return sum(values) / len(values) if values else default
