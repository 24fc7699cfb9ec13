"""Helpers for tests that write small projects into a temporary directory."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from tandem.project.errors import Problem, ProjectError

# ``write(name, text)``: the ``write`` fixture of conftest.py.
Write = Callable[[str, str], Path]


def find(problems: ProjectError | Iterable[Problem], text: str) -> Problem:
    """The one problem whose message contains ``text``."""
    found = problems.problems if isinstance(problems, ProjectError) else list(problems)
    matching = [problem for problem in found if text in problem.message]
    assert len(matching) == 1, f"{text!r} in {[str(p) for p in found]}"
    return matching[0]
