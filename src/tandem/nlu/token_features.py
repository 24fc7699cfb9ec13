"""Per-token features named in the ``features`` windows of LexicalSyntacticFeaturizer and CRF.

A window is a list of lists: one list of feature names per position around the token, the
middle list for the token itself (three lists: previous token, token, next token).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from typing import Any

from tandem.nlu.component import NluError
from tandem.project.errors import suggest

TOKEN_VALUES: dict[str, Callable[[str], str | bool]] = {
    "title": str.istitle,
    "upper": str.isupper,
    "digit": str.isdigit,
    "prefix5": lambda text: text[:5],
    "prefix2": lambda text: text[:2],
    "suffix5": lambda text: text[-5:],
    "suffix3": lambda text: text[-3:],
    "suffix2": lambda text: text[-2:],
    "suffix1": lambda text: text[-1:],
}

# Part-of-speech features need a spaCy model, which Tandem does not run.
_NEEDS_POS = frozenset({"pos", "pos2"})


def check_windows(component: str, windows: Any, names: Collection[str]) -> None:
    if (
        not isinstance(windows, list)
        or len(windows) % 2 == 0
        or not all(isinstance(position, list) for position in windows)
    ):
        raise NluError(
            f"{component}: 'features' must be an odd-length list of lists of feature names "
            "(before, token, after)"
        )
    for position in windows:
        for name in position:
            if name in _NEEDS_POS:
                raise NluError(f"{component}: feature '{name}' needs spaCy part-of-speech tags")
            if name not in names:
                hint = suggest(name, names)
                raise NluError(
                    f"{component}: unknown feature '{name}'" + (f" ({hint})" if hint else "")
                )


def positions(
    windows: list[list[str]], index: int, length: int
) -> Iterator[tuple[int, int | None, list[str]]]:
    """(offset, token index or None when outside the text, names) for each window position."""
    middle = len(windows) // 2
    for k, names in enumerate(windows):
        offset = k - middle
        j = index + offset
        yield offset, (j if 0 <= j < length else None), names
