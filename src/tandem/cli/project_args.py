"""Flags shared by the commands that read a project, named as the reference names them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tandem.project.loader import Project


def add_project_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c", "--config", default="config.yml", help="the config file (default: config.yml)"
    )
    parser.add_argument(
        "-d",
        "--domain",
        default="domain",
        help="domain file or folder (default: domain.yml, else domain/)",
    )
    parser.add_argument(
        "--data", nargs="+", default=["data"], help="training data files or folders (default: data)"
    )
    parser.add_argument(
        "--endpoints", default="endpoints.yml", help="endpoints file (default: endpoints.yml)"
    )


def load_project_or_report(args: argparse.Namespace) -> Project | None:
    """Load the project; print every problem (file:line) and return None if it is broken."""
    from tandem.project.errors import ProjectError
    from tandem.project.loader import load_project

    try:
        return load_project(
            Path("."),
            config=args.config,
            domain=args.domain,
            data=args.data,
            endpoints=args.endpoints,
        )
    except ProjectError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        print(f"{len(error.problems)} problem(s) found; nothing was done.", file=sys.stderr)
        return None
