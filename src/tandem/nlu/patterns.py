"""Named patterns from the NLU data's regexes and lookup tables.

Shared by RegexFeaturizer (features) and RegexEntityExtractor (entities), which both take the
options ``use_regexes``, ``use_lookup_tables``, ``use_word_boundaries`` and ``case_sensitive``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from tandem.nlu.component import Component, NluError
from tandem.nlu.storage import Store
from tandem.project.training_data import NluData

PATTERN_OPTIONS = {
    "use_regexes": True,
    "use_lookup_tables": True,
    "use_word_boundaries": True,  # lookup-table entries only match as whole words
}


@dataclass(frozen=True, slots=True)
class NamedPattern:
    name: str
    pattern: str


def collect(
    data: NluData, options: Mapping[str, Any], names: Collection[str] | None = None
) -> list[NamedPattern]:
    """Regexes then lookup tables, in file order; only those named in ``names`` if given."""
    found = []
    if options["use_regexes"]:
        found += [NamedPattern(name, pattern) for name, pattern in data.regexes]
    if options["use_lookup_tables"]:
        for name, entries in data.lookups.items():
            if entries:
                found.append(
                    NamedPattern(name, lookup_pattern(entries, options["use_word_boundaries"]))
                )
    return [p for p in found if names is None or p.name in names]


def lookup_pattern(entries: Collection[str], word_boundaries: bool) -> str:
    escaped = (re.escape(entry) for entry in entries)
    return "|".join(rf"\b{e}\b" if word_boundaries else e for e in escaped)


def compile_all(
    patterns: list[NamedPattern], case_sensitive: bool
) -> list[tuple[str, re.Pattern[str]]]:
    flags = 0 if case_sensitive else re.IGNORECASE
    compiled = []
    for p in patterns:
        try:
            compiled.append((p.name, re.compile(p.pattern, flags)))
        except re.error as error:
            raise NluError(f"invalid regex '{p.name}': {p.pattern!r}: {error}") from None
    return compiled


class PatternComponent(Component):
    """A component that matches named patterns; they are what it learns and persists."""

    def __init__(self, options: Mapping[str, Any], *, language: str) -> None:
        super().__init__(options, language=language)
        self.set_patterns([])

    def set_patterns(self, found: list[NamedPattern]) -> None:
        self.patterns = found
        self.compiled = compile_all(found, self.options["case_sensitive"])

    def persist(self, store: Store) -> None:
        store.write_json("patterns", [[p.name, p.pattern] for p in self.patterns])

    def restore(self, store: Store) -> None:
        self.set_patterns(
            [NamedPattern(name, pattern) for name, pattern in store.read_json("patterns")]
        )
