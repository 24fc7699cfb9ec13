"""Errors about project files, always with the file and line they refer to."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Source:
    """A place in a project file (line 0 = the file as a whole)."""

    path: str
    line: int = 0

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding: what is wrong, where, and what would fix it."""

    source: Source
    message: str
    hint: str = ""
    severity: str = "error"  # or "warning"

    def __str__(self) -> str:
        text = f"{self.source}: {self.severity}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


class ProjectError(Exception):
    """A project file cannot be used; carries one or more problems."""

    def __init__(self, source: Source, message: str, hint: str = "") -> None:
        self.problems = [Problem(source, message, hint)]
        super().__init__(str(self.problems[0]))

    @classmethod
    def of(cls, problems: Iterable[Problem]) -> ProjectError:
        problems = list(problems)
        error = cls(problems[0].source, problems[0].message, problems[0].hint)
        error.problems = problems
        error.args = ("\n".join(str(problem) for problem in problems),)
        return error


def suggest(word: str, choices: Iterable[str]) -> str:
    """A 'did you mean' hint naming the closest valid choice, or listing the choices."""
    choices = sorted(set(choices))
    close = difflib.get_close_matches(str(word), choices, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    if len(choices) <= 12:
        return "expected one of: " + ", ".join(choices)
    return ""
