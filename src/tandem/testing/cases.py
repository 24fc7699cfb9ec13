"""E2e test files read into typed test cases, every problem with its file:line.

A file has ``test_cases`` and optionally ``fixtures`` (named lists of slot values set before
the first message), ``metadata`` (named mappings attached to user messages) and
``stub_custom_actions`` (replies that replace the action server; ``<test case>::<action>``
keys apply to one test case only). Fixtures and metadata may also come from conftest.yml
files in the folders above (see ``definitions``). A test case is either in *step form*
(``bot``, ``utter``, ``slot_was_set``, ``slot_was_not_set`` steps after ``user`` steps) or in
*assertion form* (``assertions`` on ``user`` steps). Like the reference, a test case with
assertions checks only its assertions: a plain step in it is reported as a warning (and as not
checked in the results) and skipped.

What the reference reads past is a warning here, not an error: unknown keys, a test case
name used twice in a file (both run), a step with two kinds (the first is read), a fixture or
metadata name that is not defined, a stub for a test case that does not exist.

Stubs need no environment variable: the reference's beta switch
``RASA_PRO_BETA_STUB_CUSTOM_ACTION`` is not consulted, a file's stubs always apply.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tandem.project.errors import Problem, ProjectError, Source, gather, raise_errors, suggest
from tandem.project.yaml import (
    YamlMap,
    as_list,
    as_map,
    expect,
    plain,
    read_yaml,
    yaml_files,
)
from tandem.testing.assertions import Assertion, SlotExpectation, parse_assertion
from tandem.testing.definitions import CONFTEST, ConftestFiles, Definitions, read_definitions

FILE_KEYS = ("test_cases", "fixtures", "metadata", "stub_custom_actions")
# Where ``tandem test e2e -f`` re-writes failed test cases (+ a timestamp): copies of test
# cases, so a folder's discovery leaves them out (they run when named).
FAILED_TESTS_FOLDER = "e2e_failed_tests_"
CASE_KEYS = ("test_case", "steps", "fixtures", "metadata")
STEP_KINDS = ("user", "bot", "utter", "slot_was_set", "slot_was_not_set")
USER_STEP_KEYS = ("metadata", "assertions", "assertion_order_enabled")
# Event types a stubbed action may return.
STUB_EVENT_TYPES = frozenset(
    (
        *("user", "bot", "slot", "session_started", "action", "reset_slots", "restart"),
        *("reminder", "cancel_reminder", "pause", "resume", "followup", "export", "undo"),
        *("rewind", "entities", "active_loop", "agent", "loop_interrupted"),
        "action_execution_rejected",
    )
)
SELECTOR = "::"  # ``file.yml::test case name`` selects one test case

# -- the typed test case ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UserStep:
    text: str
    source: Source
    metadata: Mapping[str, Any] = field(default_factory=dict)  # test's and step's, merged
    assertions: tuple[Assertion, ...] = ()
    assertion_order_enabled: bool = False


@dataclass(frozen=True, slots=True)
class BotStep:
    """``bot: <text>``: a bot message with exactly this text."""

    text: str
    source: Source


@dataclass(frozen=True, slots=True)
class UtterStep:
    """``utter: <response>``: a bot message produced by this response."""

    name: str
    source: Source


@dataclass(frozen=True, slots=True)
class SlotStep:
    """``slot_was_set`` (``was_set``) or ``slot_was_not_set``."""

    slots: tuple[SlotExpectation, ...]
    was_set: bool
    source: Source


Expectation = BotStep | UtterStep | SlotStep
Step = UserStep | Expectation


@dataclass(frozen=True, slots=True)
class StubReply:
    """What a stubbed custom action answers, in the action server's reply format."""

    events: tuple[Mapping[str, Any], ...]
    responses: tuple[Mapping[str, Any], ...]
    source: Source

    def reply(self) -> dict[str, Any]:
        return {
            "events": copy.deepcopy(list(self.events)),
            "responses": copy.deepcopy(list(self.responses)),
        }


@dataclass(frozen=True)
class TestCase:
    __test__ = False  # not a pytest class

    name: str
    source: Source  # the ``test_case`` line
    steps: tuple[Step, ...]
    fixtures: tuple[tuple[str, Any], ...] = ()  # (slot, value) in the written order
    # ``None``: custom actions run on the action server; else only these stubs may run.
    stubs: Mapping[str, StubReply] | None = None
    # The test case as written, for result files and re-written failed tests.
    written: Mapping[str, Any] = field(default_factory=dict, compare=False)
    # The named fixtures and metadata it could use, and the LLM judge of its file.
    definitions: Definitions = field(default_factory=Definitions, compare=False)

    @property
    def id(self) -> str:
        return f"{self.source.path}{SELECTOR}{self.name}"

    @property
    def uses_assertions(self) -> bool:
        return any(isinstance(step, UserStep) and step.assertions for step in self.steps)

    @property
    def user_steps(self) -> tuple[UserStep, ...]:
        return tuple(step for step in self.steps if isinstance(step, UserStep))

    @property
    def unchecked_steps(self) -> tuple[Expectation, ...]:
        """Plain steps of a test case with assertions: assertion mode does not check them."""
        if not self.uses_assertions:
            return ()
        return tuple(step for step in self.steps if not isinstance(step, UserStep))


# -- finding and reading files --------------------------------------------------------------


def load_test_cases(
    targets: Sequence[str], *, top: Path | None = None, warnings: list[Problem] | None = None
) -> list[TestCase]:
    """The test cases of ``targets``: files, directories (every YAML file below with
    ``test_cases``) or ``file::test case name``; in the order given, files sorted.
    conftest.yml files are looked for up to ``top`` (default: the current directory).

    Raises ``ProjectError`` listing every error of every file; warnings go to ``warnings``.
    """
    problems: list[Problem] = []
    cases: list[TestCase] = []
    conftests = ConftestFiles(top)
    for target in targets:
        path_text, _, name = target.partition(SELECTOR)
        path = Path(path_text)
        if not path.exists():
            problems.append(Problem(Source(path_text), "no such file or directory"))
            continue
        found: list[TestCase] = []
        for file in _test_files(path):
            with gather(problems):
                shared = conftests.above(file, path)
                found += read_test_file(
                    file, explicit=not path.is_dir(), shared=shared, warnings=warnings
                )
        if name:
            with gather(problems):
                found = _select(found, name, path_text)
        cases += found
    raise_errors(problems)
    # A test case reached twice (``tests tests/a.yml``) runs once.
    return list({case.source: case for case in cases}.values())


def _test_files(target: Path) -> list[Path]:
    """The YAML files of ``target``, but below a folder of it, none of the re-written failed
    test cases of an earlier run."""
    return (
        [
            file
            for file in yaml_files(target)
            if not any(
                part.startswith(FAILED_TESTS_FOLDER) for part in file.relative_to(target).parts[:-1]
            )
        ]
        if target.is_dir()
        else [target]
    )


def _select(cases: list[TestCase], name: str, path: str) -> list[TestCase]:
    chosen = [case for case in cases if case.name == name]
    if not chosen:
        raise ProjectError(
            Source(path),
            f"no test case named '{name}'",
            suggest(name, [case.name for case in cases]),
        )
    return chosen


def read_test_file(
    path: Path,
    *,
    explicit: bool = True,
    shared: Definitions | None = None,
    warnings: list[Problem] | None = None,
) -> list[TestCase]:
    """The test cases of one file, which may use the ``shared`` definitions (those of the
    conftest.yml files above it). A file found in a directory without ``test_cases`` is
    not a test file (an empty list); a file named explicitly must have them."""
    data = read_yaml(path, expand=False)
    top = Source(str(path), 1)
    if not isinstance(data, dict) or "test_cases" not in data:
        if not explicit:
            return []
        raise ProjectError(top, "not an e2e test file: no `test_cases`", "add `test_cases:`")
    problems: list[Problem] = []  # errors and warnings
    data = as_map(data, top, "an e2e test file", FILE_KEYS, warnings=problems)
    definitions = shared or Definitions()
    with gather(problems):
        definitions = read_definitions(data).over(definitions)
    raw_cases = as_list(data["test_cases"] or [], data.at("test_cases"), "`test_cases`")
    cases: list[TestCase] = []
    for index, item in enumerate(raw_cases):
        with gather(problems):
            case = _read_case(item, raw_cases.at(index), definitions, problems)
            earlier = next((c for c in cases if c.name == case.name), None)
            if earlier is not None:
                problems.append(
                    Problem(
                        case.source,
                        f"test case '{case.name}' is also defined on line "
                        f"{earlier.source.line}; both run",
                        "give each test case of a file its own name",
                        "warning",
                    )
                )
            cases.append(case)
    if "stub_custom_actions" in data:
        with gather(problems):
            cases = _with_stubs(cases, data, problems)
    raise_errors(problems, warnings)
    return cases


def _read_case(
    item: Any, source: Source, definitions: Definitions, warnings: list[Problem]
) -> TestCase:
    case = as_map(item, source, "a test case", CASE_KEYS, warnings=warnings)
    for key in ("test_case", "steps"):
        if key not in case:
            raise ProjectError(source, f"a test case needs `{key}`", f"add `{key}:`")
    name = str(expect(case["test_case"], (str, int), case.at("test_case"), "`test_case`"))
    slots: list[tuple[str, Any]] = []
    if "fixtures" in case:
        used = as_list(case["fixtures"], case.at("fixtures"), "`fixtures` of a test case")
        for index, fixture in enumerate(used):
            slots += (
                _lookup(definitions.fixtures, fixture, used.at(index), "fixture", warnings) or ()
            )
    case_metadata: Mapping[str, Any] = {}
    if "metadata" in case:
        case_metadata = (
            _lookup(
                definitions.metadata, case["metadata"], case.at("metadata"), "metadata", warnings
            )
            or {}
        )
    raw_steps = as_list(case["steps"], case.at("steps"), "`steps`")
    problems: list[Problem] = []
    steps: list[Step] = []
    for index, raw in enumerate(raw_steps):
        with gather(problems):
            steps.append(
                _read_step(raw, raw_steps.at(index), case_metadata, definitions.metadata, warnings)
            )
    raise_errors(problems)
    result = TestCase(
        name,
        case.at("test_case"),
        tuple(steps),
        tuple(slots),
        written=plain(case),
        definitions=definitions,
    )
    warnings += [
        Problem(
            step.source,
            f"test case '{name}' uses assertions, so this step is not checked",
            "write it as an assertion of the user step above it (e.g. `bot_uttered`, "
            "`slot_was_set`), or drop the assertions of this test case",
            "warning",
        )
        for step in result.unchecked_steps
    ]
    return result


def _read_step(
    raw: Any,
    source: Source,
    case_metadata: Mapping[str, Any],
    named_metadata: Mapping[str, Mapping[str, Any]],
    warnings: list[Problem],
) -> Step:
    if not isinstance(raw, dict):
        raise ProjectError(source, "a step must be a mapping", "write e.g. `- user: hello`")
    step = as_map(raw, source, "a step", (*STEP_KINDS, *USER_STEP_KEYS), warnings=warnings)
    kinds = [key for key in STEP_KINDS if key in step]
    if {"slot_was_set", "slot_was_not_set"} <= set(kinds):
        raise ProjectError(
            step.at("slot_was_not_set"),
            "`slot_was_set` and `slot_was_not_set` cannot be in the same step",
            "write them as two steps",
        )
    if not kinds:
        unknown = next((str(key) for key in step if key not in USER_STEP_KEYS), "")
        raise ProjectError(
            source, "a step needs one of: " + ", ".join(STEP_KINDS), suggest(unknown, STEP_KINDS)
        )
    kind = kinds[0]
    if len(kinds) > 1:
        warnings.append(
            Problem(
                step.at(kinds[1]),
                f"a step has one kind, this one has {' and '.join(kinds)}: only `{kind}` is read",
                "write them as separate steps",
                "warning",
            )
        )
    at = step.at(kind)
    if kind != "user":
        extra = next((key for key in USER_STEP_KEYS if key in step), None)
        if extra is not None:
            raise ProjectError(
                step.at(extra),
                f"`{extra}` is only allowed on a `user` step, not on `{kind}`",
                "move it to the user step this step follows",
            )
    if kind == "user":
        return _user_step(step, at, case_metadata, named_metadata, warnings)
    if kind == "bot":
        return BotStep(_text(step["bot"], at, "`bot`"), at)
    if kind == "utter":
        return UtterStep(str(expect(step["utter"], str, at, "`utter`")), at)
    return SlotStep(_step_slots(step[kind], at, f"`{kind}`"), kind == "slot_was_set", at)


def _user_step(
    step: YamlMap,
    at: Source,
    case_metadata: Mapping[str, Any],
    named_metadata: Mapping[str, Mapping[str, Any]],
    warnings: list[Problem],
) -> UserStep:
    metadata = dict(case_metadata)
    if "metadata" in step:  # the step's values win over the test case's
        where = step.at("metadata")
        metadata.update(
            _lookup(named_metadata, step["metadata"], where, "metadata", warnings) or {}
        )
    assertions: list[Assertion] = []
    if "assertions" in step:
        items = as_list(step["assertions"], step.at("assertions"), "`assertions`")
        problems: list[Problem] = []
        for index, item in enumerate(items):
            with gather(problems):
                assertions.append(parse_assertion(item, items.at(index)))
        raise_errors(problems)
    ordered = False
    if "assertion_order_enabled" in step:
        where = step.at("assertion_order_enabled")
        ordered = expect(step["assertion_order_enabled"], bool, where, "`assertion_order_enabled`")
        if "assertions" not in step:
            raise ProjectError(where, "`assertion_order_enabled` needs `assertions` in its step")
    return UserStep(_text(step["user"], at, "`user`"), at, metadata, tuple(assertions), ordered)


def _text(value: Any, source: Source, what: str) -> str:
    # A number written as a message (``user: 2580``) is what the user typed.
    return str(expect(value, (str, int, float), source, what))


def _step_slots(value: Any, source: Source, what: str) -> tuple[SlotExpectation, ...]:
    """Step-form slots: ``- name`` or ``- name: value``."""
    items = as_list(value, source, what)
    result = []
    for index, item in enumerate(items):
        if isinstance(item, dict) and len(item) == 1:
            name, expected = next(iter(item.items()))
            result.append(SlotExpectation(str(name), expected, has_value=True))
        else:
            name = expect(item, str, items.at(index), f"a slot in {what}")
            result.append(SlotExpectation(name))
    return tuple(result)


# -- file-level sections ----------------------------------------------------------------


def _lookup(
    sections: Mapping[str, Any], name: Any, source: Source, kind: str, warnings: list[Problem]
) -> Any:
    """The named fixture (its slots) or metadata; ``None`` for an unknown name, a warning:
    the reference runs the test case without it."""
    name = expect(name, str, source, f"the name of a {kind}")
    if name not in sections:
        message = f"no {kind} named {name!r}: the test case runs without it"
        hint = suggest(name, sections) or f"define it in the file or a {CONFTEST} above it"
        warnings.append(Problem(source, message, hint, "warning"))
        return None
    return sections[name]


def _with_stubs(cases: list[TestCase], data: YamlMap, warnings: list[Problem]) -> list[TestCase]:
    section = as_map(
        data["stub_custom_actions"] or {}, data.at("stub_custom_actions"), "`stub_custom_actions`"
    )
    shared: dict[str, StubReply] = {}
    per_case: dict[str, dict[str, StubReply]] = {}
    names = [case.name for case in cases]
    problems: list[Problem] = []
    for key, value in section.items():
        with gather(problems):
            case_name, _, action = str(key).rpartition(SELECTOR)
            stub = _stub(value, section.at(key))
            if not case_name:
                shared[action] = stub
            elif case_name in names:
                per_case.setdefault(case_name, {})[action] = stub
            else:
                warnings.append(
                    Problem(
                        section.at(key),
                        f"no test case named '{case_name}' in this file: the stub is not used",
                        suggest(case_name, names),
                        "warning",
                    )
                )
    raise_errors(problems)
    return [
        dataclasses.replace(case, stubs={**shared, **per_case.get(case.name, {})}) for case in cases
    ]


def _stub(value: Any, source: Source) -> StubReply:
    data = as_map(value, source, "a stubbed action", ("events", "responses"))
    events = as_list(data.get("events") or [], data.at("events"), "`events`")
    for index, event in enumerate(events):
        event = as_map(event, events.at(index), "a stubbed event")
        if event.get("event") not in STUB_EVENT_TYPES:
            kind = event.get("event")
            raise ProjectError(
                events.at(index),
                f"a stub cannot return event {kind!r}",
                suggest(str(kind), STUB_EVENT_TYPES),
            )
        if event["event"] == "slot" and not {"name", "value"} <= event.keys():
            raise ProjectError(events.at(index), "a `slot` event needs `name` and `value`")
    responses = as_list(data.get("responses") or [], data.at("responses"), "`responses`")
    for index, response in enumerate(responses):
        as_map(response, responses.at(index), "a stubbed response")
    return StubReply(tuple(plain(events)), tuple(plain(responses)), source)
