"""``tandem train`` and ``tandem train nlu``: build a model archive from the project."""

from __future__ import annotations

import argparse
import itertools
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
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
def report_step(name: str) -> Iterator[Callable[[str], None]]:
    """Show a training step while it runs and its duration. On a terminal a spinner names
    what the step is doing now (the component it trains); log lines written meanwhile
    clear the spinner's line first, so nothing is printed onto it."""
    started = time.perf_counter()
    if not sys.stdout.isatty():
        print(f"{name} ...", flush=True)
        yield lambda doing: None
    else:
        with _Spinner(name) as spinner:
            yield spinner.show
    print(f"\r{_CLEAR_LINE}{name}: done in {time.perf_counter() - started:.1f} s", flush=True)


_CLEAR_LINE = "\033[K"  # erases from the cursor to the end of the line


class _Spinner(logging.Handler):
    """A spinner on stdout that also stands between the root logger and its handlers."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.step = name
        self.doing = ""
        self.drawing = threading.Lock()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.handlers: list[logging.Handler] = []

    def show(self, doing: str) -> None:
        self.doing = doing

    def __enter__(self) -> _Spinner:
        root = logging.getLogger()
        self.handlers, root.handlers = root.handlers, [self]
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.done.set()
        self.thread.join()
        logging.getLogger().handlers = self.handlers

    def emit(self, record: logging.LogRecord) -> None:
        with self.drawing:  # the line is cleared and the record written before a redraw
            print(f"\r{_CLEAR_LINE}", end="", flush=True)
            for handler in self.handlers:
                if record.levelno >= handler.level:
                    handler.handle(record)

    def _spin(self) -> None:
        for frame in itertools.cycle("|/-\\"):
            if self.done.wait(0.1):
                return
            doing = f": {self.doing}" if self.doing else ""
            with self.drawing:
                print(f"\r{_CLEAR_LINE}{self.step}{doing} {frame}", end="", flush=True)


def run(args: argparse.Namespace) -> int:
    from tandem.model.training import train
    from tandem.model.validation import validate_project
    from tandem.nlu import NluError
    from tandem.project.errors import ProjectError

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
    except NluError as error:  # what only training finds, e.g. with --skip-validation
        print(f"Training failed: {error}", file=sys.stderr)
        return 1
    if result.skipped:
        print(f"Nothing changed since the last training; the model is {result.archive}")
    else:
        print(f"Your model is ready: {result.archive}")
    return 0
