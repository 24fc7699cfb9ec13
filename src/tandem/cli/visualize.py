"""``tandem visualize``: the stories and flows as pictures in one self-contained HTML file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser, verb: str) -> None:
    parser.add_argument(
        "-s", "--stories", default="data", help="story file or folder (default: data)"
    )
    parser.add_argument("--flows", help="flow file or folder (default: the one of --stories)")
    parser.add_argument(
        "--out", default="graph.html", help="the HTML file to write (default: graph.html)"
    )


def run(args: argparse.Namespace) -> int:
    from tandem.project.data_files import load_training_data
    from tandem.project.errors import Problem, ProjectError
    from tandem.visualize.graph import flow_graph, story_graph
    from tandem.visualize.html import page

    warnings: list[Problem] = []
    try:
        data, flows = load_training_data([args.stories], warnings=warnings)
        if args.flows not in (None, args.stories):
            _, flows = load_training_data([args.flows], warnings=warnings)
    except ProjectError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return 1
    for warning in warnings:
        print(warning, file=sys.stderr)
    graphs = [story_graph(data.stories)] if data.stories else []
    graphs += [flow_graph(flow) for flow in flows]
    if not graphs:
        print("No stories or flows to draw.", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.write_text(page("Stories and flows", graphs), encoding="utf-8")
    print(f"{len(data.stories)} stories and {len(flows)} flows drawn in {out}")
    return 0
