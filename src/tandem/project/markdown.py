"""Reading Rasa 2 Markdown training data: NLU files (``## intent:greet``) and stories.

Markdown is only syntax here: each file becomes the document its YAML conversion would be
(``nlu`` items, ``stories`` with steps), with the Markdown file and line recorded for every
key and item, and ``load_document`` reads that as it reads a YAML file. So the checks and
their messages are the YAML ones, and every problem names the Markdown ``file:line``.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tandem.project.data_files import load_document
from tandem.project.errors import Problem, ProjectError, Source, gather, raise_errors
from tandem.project.training_data import TrainingData
from tandem.project.yaml import YamlList, YamlMap

COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
NLU_SECTION = re.compile(r"^##\s*(?P<kind>intent|synonym|regex|lookup)\s*:\s*(?P<name>.*?)\s*$")
LIST_ITEM = re.compile(r"^[-*+]\s+(?P<text>.*)$")
# `name` or `name{"json": ...}`; a user step may end in `: text` (the end-to-end form).
STEP = re.compile(r"^(?P<name>[^{:\s]+)\s*(?P<args>\{.*\})?\s*(?::\s*(?P<text>.*))?$")
FORM_PREFIX = "form: "  # Rasa 1 form stories mark the steps inside a form with it
LOOP_EVENTS = ("form", "active_loop")
# Events of Markdown stories that a Rasa 3 story has no step for.
UNWRITABLE_EVENTS = frozenset(
    {
        "action_execution_rejected",
        "export",
        "followup",
        "pause",
        "reset_slots",
        "restart",
        "resume",
        "rewind",
        "undo",
    }
)


def is_markdown_nlu(text: str) -> bool:
    """Whether Markdown ``text`` is NLU data (it has an intent, synonym, regex or lookup)."""
    return any(NLU_SECTION.match(line.strip()) for line in text.splitlines())


def is_markdown_stories(text: str) -> bool:
    """Whether Markdown ``text`` is stories: a ``## `` heading whose first line is a user
    step (``* greet``) or a checkpoint (``> start``), as every Rasa 2 story begins."""
    lines = [line.strip() for line in COMMENT.sub("", text).splitlines()]
    content = [line for line in lines if line]
    return any(
        heading.startswith("##") and not NLU_SECTION.match(heading) and first[:2] in ("* ", "> ")
        for heading, first in itertools.pairwise(content)
    )


def read_markdown_nlu(path: Path, warnings: list[Problem]) -> TrainingData:
    """The NLU data of a Markdown NLU file; raises one ``ProjectError`` with every problem."""
    problems: list[Problem] = []
    items = YamlList(Source(str(path), 1))
    section: _Section | None = None
    for at, line in _lines(path):
        with gather(problems):
            if line.startswith("##"):
                section = _section(line, at)
                items.append(section.item)
                items.item_lines.append(at.line)
            elif (item := LIST_ITEM.match(line)) is not None:
                if section is None:
                    raise ProjectError(
                        at, "an example before any section", "put `## intent:<name>` above it"
                    )
                section.add(item["text"].strip(), at)
            elif section is not None and section.kind == "lookup":
                section.add_file(line, at)
            elif not line.startswith("# "):  # a title is fine; anything else is lost
                message = f"the line '{line}' is not an example and is left out"
                problems.append(Problem(at, message, "start examples with '- '", "warning"))
    document = YamlMap(Source(str(path), 1))
    document["nlu"] = items
    return _load(document, problems, warnings)


def read_markdown_stories(path: Path, warnings: list[Problem]) -> TrainingData:
    """The stories of a Markdown story file; raises one ``ProjectError`` with every problem."""
    problems: list[Problem] = []
    stories = YamlList(Source(str(path), 1))
    steps: YamlList | None = None
    for at, line in _lines(path):
        with gather(problems):
            if line.startswith("##"):
                steps = YamlList(at)
                stories.append(_map(at, story=line[2:].strip(), steps=steps))
                stories.item_lines.append(at.line)
            elif line.startswith("# "):
                continue  # a title
            elif steps is None:
                raise ProjectError(
                    at, "a story step before any story", "put `## <story name>` above it"
                )
            else:
                steps.append(_story_step(line, at))
                steps.item_lines.append(at.line)
    document = YamlMap(Source(str(path), 1))
    document["stories"] = stories
    return _load(document, problems, warnings)


def _load(document: YamlMap, problems: list[Problem], warnings: list[Problem]) -> TrainingData:
    data = TrainingData()
    with gather(problems):
        data = load_document(document, warnings=problems)
    raise_errors(problems, warnings)
    return data


def _lines(path: Path) -> Iterator[tuple[Source, str]]:
    """(where, text) of every line with content; comments are blanked out first, line
    breaks kept, so the line numbers stay those of the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ProjectError(Source(str(path)), f"cannot read the file: {error.strerror}") from None
    text = COMMENT.sub(lambda match: "\n" * match[0].count("\n"), text)
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield Source(str(path), number), line.strip()


def _map(source: Source, **values: Any) -> YamlMap:
    """A mapping whose keys are all written at ``source``."""
    result = YamlMap(source)
    for key, value in values.items():
        result[key] = value
        result.key_lines[key] = source.line
    return result


def _list(source: Source, items: list[Any]) -> YamlList:
    result = YamlList(source)
    result.extend(items)
    result.item_lines.extend(source.line for _ in items)
    return result


# -- NLU ---------------------------------------------------------------------------------------


@dataclass
class _Section:
    """One `## kind:name` section: the NLU item it becomes, its examples added line by line."""

    kind: str
    item: YamlMap
    header: Source
    lines: list[str] = field(default_factory=list)  # of the block, from the line after the header

    def add(self, text: str, at: Source) -> None:
        # The examples become a block whose line i is file line header + 1 + i, so the
        # loader's line numbers are the Markdown file's; gaps stay as empty lines.
        self.lines += [""] * (at.line - self.header.line - 1 - len(self.lines))
        self.lines.append(f"- {text}")
        self.item["examples"] = "\n".join(self.lines) + "\n"

    def add_file(self, name: str, at: Source) -> None:
        """A lookup table written as the path of a file with one entry per line."""
        path = Path(name)
        if not path.is_file():  # relative to where tandem runs, else to the Markdown file
            path = Path(self.header.path).parent / name
        try:
            entries = path.read_text(encoding="utf-8").splitlines()
        except OSError:
            raise ProjectError(
                at,
                f"the lookup table file '{name}' cannot be read",
                "give a path relative to the project or to this file, or list the entries",
            ) from None
        for entry in filter(None, map(str.strip, entries)):
            self.add(entry, at)


def _section(line: str, at: Source) -> _Section:
    match = NLU_SECTION.match(line)
    if match is None:
        raise ProjectError(
            at,
            f"unknown section '{line}'",
            "use ## intent:<name>, ## synonym:<value>, ## regex:<name> or ## lookup:<name>",
        )
    item = _map(at, **{match["kind"]: match["name"]}, examples="")
    return _Section(match["kind"], item, at)


# -- stories -----------------------------------------------------------------------------------


def _story_step(line: str, at: Source) -> YamlMap:
    if line.startswith(">"):
        return _map(at, checkpoint=line[1:].strip())
    if line.startswith("*"):
        return _user_step(line[1:].strip(), at)
    if line.startswith("-"):
        return _bot_step(line[1:].strip(), at)
    raise ProjectError(
        at,
        f"cannot read the story line '{line}'",
        "write `* <intent>`, `- <action>`, `> <checkpoint>` or `## <story name>`",
    )


def _user_step(text: str, at: Source) -> YamlMap:
    alternatives = [
        _user(part.strip(), at) for part in text.removeprefix(FORM_PREFIX).split(" OR ")
    ]
    if len(alternatives) == 1:
        return alternatives[0]
    return _map(at, **{"or": _list(at, alternatives)})


def _user(text: str, at: Source) -> YamlMap:
    match = _step_match(text, at, "* <intent>")
    step = _map(at, intent=match["name"])
    entities = [
        _map(at, **{name: item})
        for name, value in _arguments(match, at).items()
        for item in (value if isinstance(value, list) else [value])
    ]
    if entities:
        step["entities"] = _list(at, entities)
        step.key_lines["entities"] = at.line
    if match["text"]:
        step["user"] = match["text"]
        step.key_lines["user"] = at.line
    return step


def _bot_step(text: str, at: Source) -> YamlMap:
    match = _step_match(text.removeprefix(FORM_PREFIX), at, "- <action>")
    name, arguments = match["name"], _arguments(match, at)
    if name == "slot":
        slots = [_map(at, **{slot: value}) for slot, value in arguments.items()]
        return _map(at, slot_was_set=_list(at, slots))
    if name in LOOP_EVENTS:
        return _map(at, active_loop=arguments.get("name"))
    if name in UNWRITABLE_EVENTS:
        raise ProjectError(
            at,
            f"the event '{name}' has no step in Rasa 3 stories",
            "remove it (a custom action can return the event)",
        )
    if match["args"] or match["text"]:
        raise ProjectError(
            at, f"unknown event '{text}'", 'events are slot{...} and form{"name": ...}'
        )
    return _map(at, action=name)


def _step_match(text: str, at: Source, form: str) -> re.Match[str]:
    match = STEP.match(text)
    if match is None:
        raise ProjectError(at, f"cannot read the step '{text}'", f"write it like `{form}`")
    return match


def _arguments(match: re.Match[str], at: Source) -> dict[str, Any]:
    if not match["args"]:
        return {}
    try:
        arguments = json.loads(match["args"])
    except json.JSONDecodeError as error:
        raise ProjectError(
            at,
            f"{match['args']} is not valid JSON: {error.msg}",
            'write it like {"name": "value"}',
        ) from None
    if not isinstance(arguments, dict):
        raise ProjectError(at, f"{match['args']} must be a JSON object", 'write {"name": "value"}')
    return arguments
