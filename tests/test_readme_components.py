"""The README's "Supported components" table lists exactly the names Tandem accepts."""

from __future__ import annotations

import re
from pathlib import Path

from tandem.calm.dsl import DSL_VERSIONS
from tandem.model.components import PIPELINE, POLICIES, UNSUPPORTED, Kind
from tandem.nlu.registry import COMPONENTS
from tandem.policies.registry import NLU_POLICIES, UNSUPPORTED_POLICIES

README = Path(__file__).resolve().parents[1] / "README.md"
HEADING = "## Supported components"


def _section() -> str:
    text = README.read_text(encoding="utf-8")
    assert HEADING in text, f"README.md has no '{HEADING}' section"
    section = text.split(HEADING, 1)[1]
    return section.split("\n## ", 1)[0]


def _table_names() -> list[str]:
    names = []
    for line in _section().splitlines():
        match = re.match(r"\|\s*`([A-Za-z]+)`\s*\|", line)
        if match:
            names.append(match.group(1))
    return names


def _accepted() -> set[str]:
    return set(PIPELINE) | set(POLICIES)


def test_the_registry_covers_every_part_that_builds_components():
    assert {name for name, kind in PIPELINE.items() if kind is Kind.NLU} == set(COMPONENTS)
    assert set(NLU_POLICIES) | set(UNSUPPORTED_POLICIES) <= set(POLICIES)
    assert all(PIPELINE[name] is Kind.COMMAND_GENERATOR for name in DSL_VERSIONS)


def test_every_accepted_name_is_in_the_table():
    missing = _accepted() - set(_table_names())
    assert not missing, f"missing from the README's table: {sorted(missing)}"


def test_the_table_lists_only_accepted_names_once_each():
    names = _table_names()
    assert len(names) == len(set(names)), "a name appears twice in the table"
    extra = set(names) - _accepted()
    assert not extra, f"the README's table lists names Tandem does not accept: {sorted(extra)}"
    assert not set(names) & UNSUPPORTED


def test_the_refused_names_are_named_below_the_table():
    section = _section()
    for name in UNSUPPORTED:
        assert f"`{name}`" in section, name


def test_the_validation_message_names_the_section():
    source = (README.parent / "src/tandem/model/validation.py").read_text(encoding="utf-8")
    assert f"see '{HEADING.removeprefix('## ')}' in the README" in source
