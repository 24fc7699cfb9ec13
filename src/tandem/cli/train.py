"""``tandem train`` and ``tandem train nlu``: build a model archive from the project."""

from __future__ import annotations

import argparse
import itertools
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tandem.cli.project_args import add_project_arguments, load_project_or_report


def add_arguments(parser: argparse.ArgumentParser, verb: str) -> None:
    add_project_arguments(parser)
    parser.add_argument(
        "--out", default="models", help="folder for the model archive (default: models)"
    )
    parser.add_argument(
        "--fixed-model-name", help="file name of the archive instead of a timestamp"
    )
    parser.add_argument("--force", action="store_true", help="train even if nothing changed")
    parser.add_argument(
        "--skip-validation", action="store_true", help="do not validate the project first"
    )
    parser.set_defaults(nlu_only=verb == "train nlu")


@contextmanager
def report_step(name: str) -> Iterator[None]:
    """Show a training step while it runs (with a spinner on a terminal) and its duration."""
    started = time.perf_counter()
    done = threading.Event()
    spinner = threading.Thread(target=_spin, args=(name, done), daemon=True)
    if sys.stdout.isatty():
        spinner.start()
    else:
        print(f"{name} ...", flush=True)
    try:
        yield
    finally:
        done.set()
        if spinner.is_alive():
            spinner.join()
        print(f"\r{name}: done in {time.perf_counter() - started:.1f} s", flush=True)


def _spin(name: str, done: threading.Event) -> None:
    for frame in itertools.cycle("|/-\\"):
        if done.wait(0.1):
            return
        print(f"\r{name} {frame}", end="", flush=True)


def run(args: argparse.Namespace) -> int:
    from tandem.model.training import train
    from tandem.project.errors import ProjectError
    from tandem.project.validate import validate_project

    project = load_project_or_report(args)
    if project is None:
        return 1
    if not args.skip_validation:
        problems = validate_project(project)
        errors = [p for p in problems if p.severity == "error"]
        for problem in problems:  # warnings too: what is ignored or read differently
            print(problem, file=sys.stderr)
        if errors:
            print(
                f"{len(errors)} error(s) in the project; fix them or use --skip-validation.",
                file=sys.stderr,
            )
            return 1
    try:
        result = train(
            project,
            Path(args.out),
            fixed_model_name=args.fixed_model_name,
            force=args.force,
            nlu_only=args.nlu_only,
            report=report_step,
        )
    except ProjectError as error:  # e.g. contradicting rules and stories
        for problem in error.problems:
            print(problem, file=sys.stderr)
        print(f"Training failed: {len(error.problems)} problem(s).", file=sys.stderr)
        return 1
    if result.skipped:
        print(f"Nothing changed since the last training; the model is {result.archive}")
    else:
        print(f"Your model is ready: {result.archive}")
    return 0
