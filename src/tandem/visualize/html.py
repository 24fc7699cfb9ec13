"""Drawing graphs as inline SVG in one self-contained HTML page (no scripts, no links)."""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

from tandem.visualize.graph import Edge, Graph
from tandem.visualize.layout import LINE_HEIGHT, PADDING, Box, Layout, layout

# Fill colour of each kind of node.
COLOURS = {
    "start": "#d9ead3",
    "end": "#d9ead3",
    "user": "#cfe2f3",
    "action": "#fff2cc",
    "event": "#eeeeee",
    "checkpoint": "#ead1dc",
    "step": "#fff2cc",
}

STYLE = """
body { font-family: sans-serif; margin: 2em; }
svg { display: block; margin-bottom: 2em; }
svg text { font-family: monospace; font-size: 12px; }
svg .edge { stroke: #555; fill: none; }
svg .label { fill: #a61c00; font-size: 11px; }
"""


def page(title: str, graphs: Sequence[Graph]) -> str:
    """The HTML page with one heading and one SVG picture per graph."""
    sections = [
        f"<h2>{escape(graph.title)}</h2>\n{svg(graph, f'arrow{index}')}"
        for index, graph in enumerate(graphs)
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8"/>\n'
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{escape(title)}</h1>\n" + "\n".join(sections) + "\n</body>\n</html>\n"
    )


def svg(graph: Graph, marker: str) -> str:
    """``graph`` as an ``<svg>`` element; ``marker`` names its arrow head (unique per page)."""
    placed = layout(graph)
    parts = [
        f'<svg width="{placed.width:.0f}" height="{placed.height:.0f}" '
        f'viewBox="0 0 {placed.width:.0f} {placed.height:.0f}">',
        f'<defs><marker id="{marker}" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="8" markerHeight="8" orient="auto-start-reverse">'
        '<path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>',
    ]
    parts += [_edge(edge, placed, marker) for edge in graph.edges]
    for node, box in zip(graph.nodes, placed.boxes, strict=True):
        parts.append(_node(node.label, node.kind, box))
    parts.append("</svg>")
    return "\n".join(parts)


def _node(label: str, kind: str, box: Box) -> str:
    radius = box.height / 2 if kind in ("start", "end") else 6
    shape = (
        f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" '
        f'height="{box.height:.1f}" rx="{radius:.1f}" fill="{COLOURS.get(kind, "#ffffff")}" '
        'stroke="#333"/>'
    )
    lines = [
        f'<tspan x="{box.center:.1f}" y="{box.y + PADDING / 2 + LINE_HEIGHT * (i + 0.75):.1f}">'
        f"{escape(line)}</tspan>"
        for i, line in enumerate(label.split("\n"))
    ]
    text = f'<text text-anchor="middle">{"".join(lines)}</text>'
    return f"<g class={quoteattr(kind)}><title>{escape(label)}</title>{shape}{text}</g>"


def _edge(edge: Edge, placed: Layout, marker: str) -> str:
    source, target = placed.boxes[edge.source], placed.boxes[edge.target]
    start = (source.center, source.y + source.height)
    if target.row > source.row:
        end = (target.center, target.y)
        bend = (end[1] - start[1]) / 2
        path = (
            f"M {start[0]:.1f} {start[1]:.1f} C {start[0]:.1f} {start[1] + bend:.1f} "
            f"{end[0]:.1f} {end[1] - bend:.1f} {end[0]:.1f} {end[1]:.1f}"
        )
    else:  # back up to an earlier row (a loop): round the right side of both nodes
        start = (source.x + source.width, source.y + source.height / 2)
        end = (target.x + target.width, target.y + target.height / 2)
        out = max(start[0], end[0]) + 40
        path = (
            f"M {start[0]:.1f} {start[1]:.1f} C {out:.1f} {start[1]:.1f} "
            f"{out:.1f} {end[1]:.1f} {end[0]:.1f} {end[1]:.1f}"
        )
    drawn = f'<path class="edge" d="{path}" marker-end="url(#{marker})"/>'
    if not edge.label:
        return drawn
    x, y = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
    return drawn + f'<text class="label" x="{x + 4:.1f}" y="{y:.1f}">{escape(edge.label)}</text>'
