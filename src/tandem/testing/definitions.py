"""What a test file's cases may refer to by name: fixtures, metadata and the LLM judge.

A test file defines ``fixtures`` (named lists of slot values set before the first message)
and ``metadata`` (named mappings attached to user messages); so may the ``conftest.yml``
files in the folders above it, up to the current directory, so that a suite shares them
without copying them into every file. The nearest definition of a name wins: the file's
own, then the conftest.yml of its folder, then those further up. A conftest.yml may also
configure the LLM judge of the generative-response assertions (``llm_judge``); the nearest
one that does applies.

``llm_judge`` takes the judge's LLM either under ``llm:`` (as Rasa writes it, next to an
``embeddings:`` block that is accepted and not used: the judge asks the LLM for a score) or
inline (``llm_judge: {model_group: judge}``). An empty block means the default judge model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tandem.project.errors import Problem, ProjectError, Source, gather, raise_errors
from tandem.project.yaml import YamlMap, as_list, as_map, plain, read_yaml

CONFTEST = "conftest.yml"
CONFTEST_KEYS = ("fixtures", "metadata", "llm_judge")
NAME_PATTERN = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_-]*$")
# Keys of ``llm_judge`` that are not LLM settings.
_JUDGE_SECTIONS = ("llm", "embeddings")

Fixture = tuple[tuple[str, Any], ...]  # (slot, value) in the written order


@dataclass(frozen=True, slots=True)
class JudgeSettings:
    """An ``llm_judge`` block: the judge's LLM settings as written (``{}``: the default)."""

    # Blocks are told apart by where they are written (the settings are not hashable).
    llm: Mapping[str, Any] = field(compare=False)
    source: Source  # the ``llm_judge`` key


@dataclass(frozen=True, slots=True)
class Definitions:
    fixtures: Mapping[str, Fixture] = field(default_factory=dict)
    metadata: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    judge: JudgeSettings | None = None

    def over(self, outer: Definitions) -> Definitions:
        """These definitions, with ``outer``'s for the names (and judge) not defined here."""
        return Definitions(
            {**outer.fixtures, **self.fixtures},
            {**outer.metadata, **self.metadata},
            self.judge or outer.judge,
        )


def read_definitions(data: YamlMap) -> Definitions:
    """The ``fixtures``, ``metadata`` and ``llm_judge`` sections of a test file or
    conftest.yml; raises ``ProjectError`` listing every problem."""
    problems: list[Problem] = []
    fixtures: dict[str, Fixture] = {}
    metadata: dict[str, Mapping[str, Any]] = {}
    judge = None
    with gather(problems):
        fixtures = _named_sections(data, "fixtures", _fixture_slots)
    with gather(problems):
        metadata = _named_sections(data, "metadata", _metadata_values)
    if "llm_judge" in data:
        with gather(problems):
            judge = _judge(data["llm_judge"], data.at("llm_judge"))
    raise_errors(problems)
    return Definitions(fixtures, metadata, judge)


class ConftestFiles:
    """The conftest.yml definitions that apply to test files, each file read once."""

    def __init__(self, top: Path | None = None) -> None:
        self.top = (top or Path.cwd()).resolve()
        self._read: dict[Path, Definitions] = {}

    def above(self, test_file: Path, target: Path) -> Definitions:
        """Those of the folders from ``test_file``'s up to the current directory (or, for a
        file outside it, up to the ``target`` the user named), nearest first."""
        result = Definitions()
        for folder in _folders(test_file.resolve().parent, self._stop(test_file, target)):
            result = result.over(self._definitions(folder / CONFTEST))
        return result

    def _stop(self, test_file: Path, target: Path) -> Path:
        if test_file.resolve().is_relative_to(self.top):
            return self.top
        target = target.resolve()
        return target if target.is_dir() else target.parent

    def _definitions(self, path: Path) -> Definitions:
        if path not in self._read:
            self._read[path] = _read_conftest(path) if path.is_file() else Definitions()
        return self._read[path]


def _folders(start: Path, stop: Path) -> list[Path]:
    """``start`` and its parents up to ``stop`` (inclusive), nearest first; only ``start``
    when ``stop`` is not above it."""
    if not start.is_relative_to(stop):
        return [start]
    return [start, *(p for p in start.parents if p.is_relative_to(stop))]


def _read_conftest(path: Path) -> Definitions:
    data = read_yaml(path, expand=False)
    if data is None:
        return Definitions()
    return read_definitions(as_map(data, Source(str(path), 1), "a conftest.yml", CONFTEST_KEYS))


def _judge(value: Any, source: Source) -> JudgeSettings:
    block = as_map(value or {}, source, "`llm_judge`")
    if "llm" not in block:
        settings = {k: v for k, v in block.items() if k not in _JUDGE_SECTIONS}
        return JudgeSettings(plain(settings), source)
    llm = as_map(block["llm"] or {}, block.at("llm"), "`llm` of `llm_judge`")
    as_map(block, source, "`llm_judge`", _JUDGE_SECTIONS)  # nothing next to `llm:`
    return JudgeSettings(plain(llm), source)


def _named_sections(data: YamlMap, key: str, read: Callable[[Any, Source], Any]) -> dict[str, Any]:
    """``fixtures`` / ``metadata``: a list of ``- <name>: <content>`` items."""
    if key not in data:
        return {}
    items = as_list(data[key], data.at(key), f"`{key}`")
    result: dict[str, Any] = {}
    for index, item in enumerate(items):
        at = items.at(index)
        if not isinstance(item, dict) or len(item) != 1:
            raise ProjectError(at, f"an item of `{key}` must be one `<name>: ...` entry")
        name, content = next(iter(item.items()))
        if not NAME_PATTERN.match(str(name)):
            raise ProjectError(at, f"invalid {key} name {name!r}", "use letters, digits, _ and -")
        result[str(name)] = read(content, at)
    return result


def _fixture_slots(value: Any, source: Source) -> Fixture:
    items = as_list(value, source, "a fixture")
    slots = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or len(item) != 1:
            raise ProjectError(items.at(index), "a fixture item must be one `slot: value` entry")
        name, slot_value = next(iter(item.items()))
        slots.append((str(name), plain(slot_value)))
    return tuple(slots)


def _metadata_values(value: Any, source: Source) -> Mapping[str, Any]:
    return plain(dict(as_map(value, source, "a metadata set")))


def as_written(definitions: Definitions) -> dict[str, Any]:
    """The fixtures and metadata in the test file format, for re-writing test files."""
    written: dict[str, Any] = {}
    if definitions.fixtures:
        written["fixtures"] = [
            {name: [{slot: value} for slot, value in slots]}
            for name, slots in definitions.fixtures.items()
        ]
    if definitions.metadata:
        written["metadata"] = [
            {name: dict(values)} for name, values in definitions.metadata.items()
        ]
    return written
