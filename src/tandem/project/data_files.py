"""Reading training data: NLU examples, synonyms, regexes, lookups, stories, rules and flows.

Every YAML file below the data paths is read (recursively, sorted); one file may hold any
of ``nlu``, ``responses``, ``stories``, ``rules`` and ``flows``. Files named ``test_*`` that
hold stories or rules are test stories and are left out (``load_test_stories`` reads them).
Steps of stories and rules become the events a tracker would hold (plus ``Checkpoint``/
``OrStep`` markers).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tandem.conversation.events import (
    ActionExecuted,
    ActiveLoop,
    DialogueStackUpdated,
    Event,
    SlotSet,
    UserUttered,
)
from tandem.conversation.parse_data import EntityPrediction, IntentPrediction
from tandem.conversation.slots import Slot
from tandem.project.domain_files import read_responses
from tandem.project.errors import Problem, ProjectError, Source, gather, raise_errors
from tandem.project.flows.model import Flow
from tandem.project.flows.reader import flows_from_yaml
from tandem.project.training_data import (
    Checkpoint,
    EntityAnnotation,
    NluData,
    NluExample,
    OrStep,
    StoryBlock,
    StoryStep,
    TrainingData,
)
from tandem.project.yaml import (
    YamlMap,
    as_list,
    as_map,
    expect,
    plain,
    read_project_file,
    yaml_files,
)

TEST_FILE_PREFIX = "test_"

# NLU items: the key that names the kind, and the keys each kind accepts.
NLU_ITEM_KEYS = {
    "intent": ("intent", "examples", "metadata"),
    "synonym": ("synonym", "examples"),
    "regex": ("regex", "examples"),
    "lookup": ("lookup", "examples"),
}
EXAMPLE_KEYS = ("text", "metadata")
ANNOTATION_KEYS = ("entity", "role", "group", "value")

STORY_KEYS = ("story", "steps", "metadata")
RULE_KEYS = ("rule", "steps", "condition", "conversation_start", "wait_for_user_input", "metadata")
# Step kinds in the order they are recognised: (kind, keys that mark it, keys it accepts).
STEP_KINDS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("user", ("intent", "user"), ("intent", "user", "entities", "metadata")),
    ("or", ("or",), ("or", "metadata")),
    ("action", ("action",), ("action", "metadata")),
    ("bot", ("bot",), ("bot", "metadata")),
    ("checkpoint", ("checkpoint",), ("checkpoint", "slot_was_set", "metadata")),
    ("slot_was_set", ("slot_was_set",), ("slot_was_set", "metadata")),
    ("active_loop", ("active_loop",), ("active_loop", "metadata")),
    ("stack", ("stack",), ("stack", "metadata")),
)
STEP_KEYS = tuple(dict.fromkeys(key for _, _, keys in STEP_KINDS for key in keys))
RULE_STEP_KINDS = ("user", "action", "active_loop", "slot_was_set", "or")
OR_STEP_KINDS = ("user", "slot_was_set")
CONDITION_KINDS = ("active_loop", "slot_was_set")

# What a bare slot name in `slot_was_set` means ("some value") for these slot types.
FILLED_VALUES: Mapping[str, Any] = {"text": "filled", "list": ["filled"]}

# [text](entity) [text](entity:value) [text]{"entity": ...} [text][{...}, {...}]
ANNOTATION = re.compile(
    r"\[(?P<text>[^\]]+?)\]"
    r"(\((?P<entity>[^:)]+?)(?::(?P<value>[^)]+))?\)"
    r"|\{(?P<dict>[^}]+?)\}"
    r"|\[(?P<list>.*?)\])"
)


def load_training_data(
    paths: Iterable[Path | str],
    slots: Mapping[str, Slot] | None = None,
    warnings: list[Problem] | None = None,
) -> tuple[TrainingData, list[Flow]]:
    """The training data and user flows of every YAML file under ``paths``.

    ``slots`` (the domain's) give bare slot names in ``slot_was_set`` their value. Raises one
    ``ProjectError`` listing every problem; warnings go to ``warnings``.
    """
    collected = _Collected(dict(slots or {}))
    for path in paths:
        path = Path(path)
        if not path.exists():
            collected.warn(
                Source(str(path)), "the training data path does not exist", "check the data path"
            )
            continue
        for file in yaml_files(path):
            with gather(collected.problems):
                collected.read_file(file)
    raise_errors(collected.problems, warnings)
    return collected.training_data(), collected.flows


def load_test_stories(
    paths: Iterable[Path | str],
    slots: Mapping[str, Slot] | None = None,
    warnings: list[Problem] | None = None,
    *,
    test_files_only: bool = False,
) -> tuple[StoryBlock, ...]:
    """The stories of the YAML files under ``paths`` (with ``test_files_only``, of the
    ``test_*`` files only), read like training stories; user steps may carry their text.

    Raises one ``ProjectError`` listing every problem (a missing path is one).
    """
    collected = _Collected(dict(slots or {}))
    for path in paths:
        path = Path(path)
        if not path.exists():
            missing = Problem(
                Source(str(path)), "the test stories path does not exist", "check the path"
            )
            collected.problems.append(missing)
            continue
        for file in yaml_files(path):
            if test_files_only and not file.name.startswith(TEST_FILE_PREFIX):
                continue
            with gather(collected.problems):
                collected.read_stories(file)
    raise_errors(collected.problems, warnings)
    return tuple(collected.stories)


def load_document(
    document: YamlMap,
    slots: Mapping[str, Slot] | None = None,
    warnings: list[Problem] | None = None,
) -> TrainingData:
    """The NLU items, stories and rules of a document built in memory rather than read
    from YAML (Rasa 2 Markdown, see ``tandem.project.markdown``), checked as a file's are.

    Raises one ``ProjectError`` listing every problem; warnings go to ``warnings``.
    """
    collected = _Collected(dict(slots or {}))
    for key in ("nlu", "stories", "rules"):
        collected._read_items(document, key)
    raise_errors(collected.problems, warnings)
    return collected.training_data()


# -- entity annotations ------------------------------------------------------------------------


def parse_annotated(text: str, source: Source) -> tuple[str, tuple[EntityAnnotation, ...]]:
    """Split an annotated example into its plain text and entities (offsets into the plain text)."""
    plain_text: list[str] = []
    entities: list[EntityAnnotation] = []
    position = 0  # in the annotated text
    length = 0  # of the plain text so far
    for match in ANNOTATION.finditer(text):
        before = text[position : match.start()]
        plain_text += [before, match["text"]]
        start = length + len(before)
        end = start + len(match["text"])
        length = end
        position = match.end()
        for spec in _annotation_specs(match, source):
            entities.append(EntityAnnotation(start=start, end=end, **spec))
    plain_text.append(text[position:])
    return "".join(plain_text), tuple(entities)


def _annotation_specs(match: re.Match[str], source: Source) -> list[dict[str, Any]]:
    if match["entity"] is not None:
        return [{"entity": match["entity"], "value": match["value"] or match["text"]}]
    try:
        loaded = json.loads(
            "{" + match["dict"] + "}" if match["dict"] else "[" + match["list"] + "]"
        )
    except json.JSONDecodeError as error:
        raise ProjectError(
            source,
            f"the entity annotation {match[0]} is not valid JSON: {error.msg}",
            'write it like [text]{"entity": "name", "value": "value"}',
        ) from None
    specs = []
    for item in loaded if isinstance(loaded, list) else [loaded]:
        spec = as_map(item, source, f"the entity annotation {match[0]}", ANNOTATION_KEYS)
        if "entity" not in spec:
            raise ProjectError(
                source,
                f'the entity annotation {match[0]} has no "entity"',
                'add "entity": "<name>"',
            )
        specs.append(
            {
                "entity": str(spec["entity"]),
                "value": spec.get("value", match["text"]),
                "role": None if spec.get("role") is None else str(spec["role"]),
                "group": None if spec.get("group") is None else str(spec["group"]),
            }
        )
    return specs


# -- collecting everything -----------------------------------------------------------------


@dataclass
class _Collected:
    """What has been read so far (mutable while reading; frozen into ``TrainingData``)."""

    slots: dict[str, Slot]
    problems: list[Problem] = field(default_factory=list)
    examples: list[NluExample] = field(default_factory=list)
    # Lower-cased entity text -> the text as first written, its canonical value, where.
    synonyms: dict[str, tuple[str, str, Source]] = field(default_factory=dict)
    regexes: list[tuple[str, str]] = field(default_factory=list)
    lookups: dict[str, list[str]] = field(default_factory=dict)
    stories: list[StoryBlock] = field(default_factory=list)
    rules: list[StoryBlock] = field(default_factory=list)
    responses: dict[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)
    flows: list[Flow] = field(default_factory=list)
    runtime_files: list[Path] = field(default_factory=list)

    def warn(self, source: Source, message: str, hint: str) -> None:
        self.problems.append(Problem(source, message, hint, "warning"))

    def training_data(self) -> TrainingData:
        nlu = NluData(
            examples=tuple(self.examples),
            synonyms={written: value for written, value, _ in self.synonyms.values()},
            regexes=tuple(self.regexes),
            lookups={name: tuple(entries) for name, entries in self.lookups.items()},
        )
        return TrainingData(
            nlu=nlu,
            stories=tuple(self.stories),
            rules=tuple(self.rules),
            responses=self.responses,
            runtime_files=tuple(self.runtime_files),
        )

    def read_file(self, path: Path) -> None:
        data = read_project_file(path, self.problems)
        if data is None:
            return
        if path.name.startswith(TEST_FILE_PREFIX) and ("stories" in data or "rules" in data):
            return  # test stories are for `tandem test`, not training
        for key in ("nlu", "stories", "rules"):
            self._read_items(data, key)
        if "flows" in data or data.get("responses") is not None:
            self.runtime_files.append(path)
        if data.get("responses") is not None:
            with gather(self.problems):
                responses = read_responses(
                    data["responses"], data.at("responses"), {}, self.problems
                )
                self.responses.update(
                    (k, v) for k, v in responses.items() if k not in self.responses
                )
        if "flows" in data:
            with gather(self.problems):
                self.flows += flows_from_yaml(data)

    def read_stories(self, path: Path) -> None:
        """Only the ``stories`` of a file (test stories: other keys belong to other tools)."""
        data = read_project_file(path, self.problems)
        if data is not None:
            self._read_items(data, "stories")

    def _read_items(self, data: YamlMap, key: str) -> None:
        if data.get(key) is None:
            return
        with gather(self.problems):
            items = as_list(data[key], data.at(key), f"`{key}`")
            for index, item in enumerate(items):
                with gather(self.problems):
                    self._read_item(key, item, items.at(index))

    def _read_item(self, key: str, item: Any, source: Source) -> None:
        if key == "nlu":
            self._nlu_item(item, source)
        elif key == "stories":
            self.stories.append(self._block(item, source, "story"))
        else:
            self.rules.append(self._block(item, source, "rule"))

    # -- NLU -------------------------------------------------------------------------------

    def _nlu_item(self, value: Any, source: Source) -> None:
        item = as_map(value, source, "an NLU item")
        kind = next((k for k in NLU_ITEM_KEYS if k in item), None)
        if kind is None:
            as_map(item, source, "an NLU item", NLU_ITEM_KEYS)  # reports misspelt kinds
            raise ProjectError(
                source,
                "an NLU item needs one of: " + ", ".join(NLU_ITEM_KEYS),
                "start it with `- intent: <name>`",
            )
        as_map(item, source, f"an NLU {kind} item", NLU_ITEM_KEYS[kind])
        name = str(item[kind] or "")
        if "examples" not in item:
            raise ProjectError(
                source,
                f"{kind} '{name}' has no `examples`",
                "add `examples: |` with one `- example` per line",
            )
        if not name:
            self.warn(
                item.at(kind),
                f"an NLU item has an empty {kind} name and is skipped",
                f"name the {kind}",
            )
            return
        examples = _examples(item["examples"], item.at("examples"), self.problems)
        if kind == "intent":
            intent_metadata = plain(item.get("metadata"))
            for text, metadata, at in examples:
                plain_text, entities = parse_annotated(text, at)
                for annotation in entities:  # `[NY](city:New York)`: "NY" means "New York"
                    written = plain_text[annotation.start : annotation.end]
                    if str(annotation.value) != written:
                        self._synonym(written, str(annotation.value), at)
                meta = {"intent": intent_metadata, "example": metadata}
                meta = {k: v for k, v in meta.items() if v is not None}
                self.examples.append(NluExample(plain_text, name, entities, meta, at))
        elif kind == "synonym":
            for text, _, at in examples:
                self._synonym(text, name, at)
        elif kind == "regex":
            for pattern, _, at in examples:
                try:
                    re.compile(pattern)
                except re.error as error:
                    raise ProjectError(
                        at,
                        f"invalid regular expression '{pattern}' in regex '{name}': {error.msg}",
                        "fix the pattern (Python `re` syntax)",
                    ) from None
                self.regexes.append((name, pattern))
        else:
            self.lookups.setdefault(name, []).extend(text for text, _, _ in examples)

    def _synonym(self, text: str, value: str, source: Source) -> None:
        """Texts are synonyms whatever their case; the first spelling is kept (for writing
        the data out again)."""
        key = text.lower()
        known = self.synonyms.get(key)
        if known is not None and known[1] != value:
            self.warn(
                source,
                f"'{text}' is a synonym of both '{known[1]}' (at {known[2]}) and '{value}'",
                f"'{value}' is used; remove the other definition",
            )
        self.synonyms[key] = (text if known is None else known[0], value, source)

    # -- stories and rules ------------------------------------------------------------------

    def _block(self, value: Any, source: Source, kind: str) -> StoryBlock:
        block = as_map(value, source, f"a {kind}", STORY_KEYS if kind == "story" else RULE_KEYS)
        if kind not in block:
            raise ProjectError(
                source, f"a {kind} has no `{kind}:` name", f"start it with `- {kind}: <name>`"
            )
        name = str(block[kind])
        allowed = RULE_STEP_KINDS if kind == "rule" else tuple(k for k, _, _ in STEP_KINDS)
        steps, sources = self._steps(block, "steps", allowed, f"{kind} '{name}'")
        condition: list[StoryStep] = []
        if kind == "rule" and block.get("condition") is not None:
            condition, _ = self._steps(block, "condition", CONDITION_KINDS, f"rule '{name}'")

        def flag(key: str, default: bool) -> bool:
            return bool(expect(block.get(key, default), bool, block.at(key), f"`{key}`"))

        return StoryBlock(
            name=name,
            kind=kind,
            steps=tuple(steps),
            step_sources=tuple(sources),
            source=source,
            condition=tuple(event for event in condition if isinstance(event, Event)),
            conversation_start=flag("conversation_start", False),
            wait_for_user_input=flag("wait_for_user_input", True),
        )

    def _steps(
        self, block: YamlMap, key: str, allowed: tuple[str, ...], owner: str
    ) -> tuple[list[StoryStep], list[Source]]:
        """The steps under ``block[key]`` and where each was written; broken ones are reported."""
        items = as_list(block.get(key), block.at(key), f"`{key}` of {owner}")
        steps: list[StoryStep] = []
        sources: list[Source] = []
        for index, item in enumerate(items):
            with gather(self.problems):
                step = self._step(item, items.at(index), allowed, owner)
                steps += step
                sources += [items.at(index)] * len(step)
        return steps, sources

    def _step(
        self, value: Any, source: Source, allowed: tuple[str, ...], owner: str
    ) -> list[StoryStep]:
        """The events (or markers) one step stands for; none for a metadata-only step."""
        step = as_map(value, source, f"a step of {owner}")
        kind, keys = next(
            ((k, accepted) for k, marks, accepted in STEP_KINDS if any(m in step for m in marks)),
            (None, STEP_KEYS),
        )
        as_map(step, source, f"a `{kind}` step" if kind else f"a step of {owner}", keys)
        if kind is None and "metadata" in step:
            return []
        if kind is None:
            marks = ", ".join(m for _, kind_marks, _ in STEP_KINDS for m in kind_marks)
            raise ProjectError(
                source,
                f"a step of {owner} has none of: {marks}",
                "write e.g. `- intent: greet` or `- action: utter_greet`",
            )
        if kind not in allowed:
            raise ProjectError(
                source,
                f"a `{kind}` step is not allowed in {owner}",
                "use one of: " + ", ".join(allowed),
            )
        value, at = step.get(keys[0]), step.at(keys[0])
        match kind:
            case "user":
                return [self._user(step)]
            case "or":
                return [self._or(value, at)]
            case "action":
                return [ActionExecuted(name=expect(value, str, at, "an action name"))]
            case "bot":
                return [ActionExecuted(action_text=expect(value, str, at, "a bot text"))]
            case "checkpoint":
                return [self._checkpoint(step)]
            case "slot_was_set":
                return list(self._slot_events(value, at))
            case "active_loop":
                loop = None if value is None else expect(value, str, at, "a form name")
                return [ActiveLoop(name=loop)]
        operations = as_list(value, at, "a `stack` step")
        return [DialogueStackUpdated(update=json.dumps(plain(operations)))]

    def _or(self, value: Any, source: Source) -> OrStep:
        items = as_list(value, source, "the alternatives of an `or` step")
        alternatives: list[Event] = []
        for index, item in enumerate(items):
            events = self._step(item, items.at(index), OR_STEP_KINDS, "an `or` step")
            if len(events) != 1 or not isinstance(events[0], Event):
                raise ProjectError(
                    items.at(index),
                    "each alternative of an `or` step must be one intent or one slot",
                    "split it into several alternatives",
                )
            alternatives.append(events[0])
        return OrStep(tuple(alternatives))

    def _checkpoint(self, step: YamlMap) -> Checkpoint:
        name = expect(step["checkpoint"], str, step.at("checkpoint"), "a checkpoint name")
        conditions = []
        if step.get("slot_was_set") is not None:
            conditions = self._slot_events(step["slot_was_set"], step.at("slot_was_set"))
        return Checkpoint(name, tuple(conditions))

    def _user(self, step: YamlMap) -> UserUttered:
        intent = None
        if step.get("intent") is not None:
            intent = str(expect(step["intent"], str, step.at("intent"), "an intent name"))
            if intent.startswith("/"):
                self.warn(
                    step.at("intent"),
                    f"intent '{intent}' starts with '/'",
                    "write the intent name without '/'",
                )
                intent = intent[1:]
        entities: list[EntityPrediction] = []
        text = None
        if "user" in step:
            # Stripped as the reference strips it: `user: |` blocks end with a newline.
            written = expect(step["user"], str, step.at("user"), "a user message").strip()
            text, annotations = parse_annotated(written, step.at("user"))
            entities += [annotation.as_dict() for annotation in annotations]
        elif intent is not None and "/" in intent:
            # Stories speak of the retrieval intent as a whole (`faq`, not `faq/ask_name`).
            base = intent.split("/")[0]
            self.warn(
                step.at("intent"),
                f"retrieval intent '{intent}' is used with its response key",
                f"write `intent: {base}`",
            )
            intent = base
        if step.get("entities") is not None:
            entities += _story_entities(step["entities"], step.at("entities"))
        return UserUttered.create(text, _gold_intent(intent), entities)

    def _slot_events(self, value: Any, source: Source) -> list[SlotSet]:
        items = as_list(value, source, "`slot_was_set`")
        events = []
        for index, item in enumerate(items):
            at = items.at(index)
            if isinstance(item, dict):
                events += [SlotSet(name=str(name), value=plain(v)) for name, v in item.items()]
            else:
                events.append(
                    SlotSet(
                        name=str(expect(item, str, at, "a slot name")),
                        value=self._filled(str(item), at),
                    )
                )
        return events

    def _filled(self, name: str, source: Source) -> Any:
        """The value a bare slot name in ``slot_was_set`` stands for."""
        slot = self.slots.get(name)
        if slot is None or slot.type in FILLED_VALUES:
            return FILLED_VALUES.get(slot.type) if slot else None
        if slot.influence_conversation:
            self.warn(
                source,
                f"slot '{name}' is written without a value; null is assumed",
                f"write `- {name}: <value>`",
            )
        return None


def _examples(value: Any, source: Source, problems: list[Problem]) -> list[tuple[str, Any, Source]]:
    """(text, metadata, source) of each example: a block of `- ` lines or a list of maps."""
    if isinstance(value, str):
        examples = []
        # In a block scalar (`examples: |`) line i of the text is line i + 1 after the key.
        first = source.line + 1 if "\n" in value else source.line
        for offset, line in enumerate(value.split("\n")):
            at = Source(source.path, first + offset)
            line = line.strip()
            if not line:
                continue
            if not line.startswith("-"):
                problems.append(
                    Problem(
                        at,
                        f"the example line '{line}' does not start with '-' and is skipped",
                        "start each example with '- '",
                        "warning",
                    )
                )
                continue
            examples.append((line[1:].strip(), None, at))
        return examples
    items = as_list(value, source, "`examples`")
    examples = []
    for index, item in enumerate(items):
        example = as_map(item, items.at(index), "an example", EXAMPLE_KEYS)
        if "text" not in example:
            raise ProjectError(items.at(index), "an example has no `text`", "add `text: <example>`")
        text = expect(example["text"], str, example.at("text"), "the text of an example")
        examples.append((text, plain(example.get("metadata")), items.at(index)))
    return examples


def _gold_intent(intent: str | None) -> IntentPrediction | None:
    """A story's intent as the NLU gives it: ``faq/ask_name`` is intent ``faq`` with its
    ``full_retrieval_intent_name`` (the policies know ``faq``)."""
    if intent is None:
        return None
    parsed: IntentPrediction = {"name": intent.split("/")[0], "confidence": 1.0}
    if "/" in intent:
        parsed["full_retrieval_intent_name"] = intent
    return parsed


def _story_entities(value: Any, source: Source) -> list[EntityPrediction]:
    """`entities:` of a user step: bare names (value "") or `{name: value}` (+ role/group)."""
    items = as_list(value, source, "`entities`")
    entities: list[EntityPrediction] = []
    for index, item in enumerate(items):
        at = items.at(index)
        if not isinstance(item, dict):
            entities.append({"entity": str(expect(item, str, at, "an entity name")), "value": ""})
            continue
        names = [key for key in item if key not in ("role", "group")]
        if len(names) != 1:
            raise ProjectError(
                at,
                "an entity of a user step must be `<entity>: <value>`",
                "write one entity per item; `role`/`group` may be added",
            )
        entity: EntityPrediction = {"entity": str(names[0]), "value": plain(item[names[0]])}
        if item.get("role") is not None:
            entity["role"] = str(item["role"])
        if item.get("group") is not None:
            entity["group"] = str(item["group"])
        entities.append(entity)
    return entities
