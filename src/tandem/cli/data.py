"""``tandem data validate``: report every problem of the project files at once."""

from __future__ import annotations

import argparse

from tandem.cli.project_args import add_project_arguments, load_project_or_report


def add_arguments(parser: argparse.ArgumentParser, verb: str) -> None:
    add_project_arguments(parser)
    parser.add_argument(
        "--fail-on-warnings", action="store_true", help="exit non-zero on warnings too"
    )


def run(args: argparse.Namespace) -> int:
    from tandem.model.validation import validate_project

    project = load_project_or_report(args)
    if project is None:
        return 1
    problems = validate_project(project)
    for problem in problems:
        print(problem)
    errors = sum(problem.severity == "error" for problem in problems)
    warnings = len(problems) - errors
    print(f"{errors} error(s), {warnings} warning(s)")
    return 1 if errors or (warnings and args.fail_on_warnings) else 0
