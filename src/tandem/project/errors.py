"""Errors about project files, always with the file and line they refer to."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
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
    """One finding: what is wrong, where, and what would fix it.

    ``code`` names the kind of problem where the reference has a name for it (e.g.
    ``engine.validation.coexistance.both_routers_defined``, in the reference's spelling), so
    the message can be looked up and matched by scripts.
    """

    source: Source
    message: str
    hint: str = ""
    severity: str = "error"  # or "warning"
    code: str = ""

    def __str__(self) -> str:
        code = f"[{self.code}] " if self.code else ""
        text = f"{self.source}: {self.severity}: {code}{self.message}"
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


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The valid choice that ``word`` is most likely a misspelling of, if any."""
    close = difflib.get_close_matches(str(word), sorted(set(choices)), n=1, cutoff=0.6)
    return close[0] if close else None


def suggest(word: str, choices: Iterable[str]) -> str:
    """A 'did you mean' hint naming the closest valid choice, or listing the choices."""
    choices = sorted(set(choices))
    close = closest(word, choices)
    if close:
        return f"did you mean '{close}'?"
    if len(choices) <= 12:
        return "expected one of: " + ", ".join(choices)
    return ""


@contextmanager
def gather(problems: list[Problem]) -> Iterator[None]:
    """Record a ``ProjectError`` raised in the block and go on with the next item.

    Readers raise on the first problem of an item (a slot, a story, a file); wrapping each
    item in ``gather`` reports every broken item at once instead of only the first.
    """
    try:
        yield
    except ProjectError as error:
        problems.extend(error.problems)


def raise_errors(problems: Iterable[Problem], warnings: list[Problem] | None = None) -> None:
    """Raise the errors among ``problems`` as one ``ProjectError``; pass warnings on."""
    problems = list(problems)
    if warnings is not None:
        warnings.extend(p for p in problems if p.severity != "error")
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise ProjectError.of(errors)
