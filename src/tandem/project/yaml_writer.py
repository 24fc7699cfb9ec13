"""Writing training data as Rasa 3 YAML files that ``tandem.project.data_files`` reads back.

The text is built line by line rather than dumped, because NLU examples belong in block
scalars (``examples: |``) with their entity annotations written inline, which a YAML
dumper does not produce; single values go through ``scalar`` so quoting is always right.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from itertools import groupby
from typing import Any

import yaml

from tandem.conversation.events import ActionExecuted, ActiveLoop, Event, SlotSet, UserUttered
from tandem.project.training_data import Checkpoint, NluData, NluExample, OrStep, StoryBlock

FORMAT_VERSION = '"3.1"'  # of the files written


def scalar(value: Any) -> str:
    """``value`` as a one-line YAML scalar (quoted only where YAML needs it)."""
    dumped = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=2**31)
    return dumped.removesuffix("\n").removesuffix("\n...").strip()


# -- entity annotations --------------------------------------------------------------------


def annotated(text: str, entities: Iterable[Mapping[str, Any]]) -> str:
    """``text`` with its entities written in as training files annotate them:
    ``[Berlin](city)``, ``[NY](city:New York)``, ``[Berlin]{"entity": "city", ...}`` or, for
    several entities on one span, ``[Berlin][{...}, {...}]``. A span overlapping the one
    before it cannot be written and is left out."""
    spans = sorted((e for e in entities if _has_span(e)), key=lambda e: (e["start"], e["end"]))
    parts: list[str] = []
    position = 0
    for (start, end), group in groupby(spans, key=lambda e: (int(e["start"]), int(e["end"]))):
        if start < position:
            continue
        surface = text[start:end]
        on_span = list(group)
        if len(on_span) == 1:
            written = _annotation(on_span[0], surface)
        else:
            specs = dict.fromkeys(_json_annotation(entity, surface) for entity in on_span)
            written = "[" + ", ".join(specs) + "]"
        parts += [text[position:start], f"[{surface}]{written}"]
        position = end
    parts.append(text[position:])
    return "".join(parts)


def _annotation(entity: Mapping[str, Any], surface: str) -> str:
    value = entity.get("value")
    has_extras = entity.get("role") is not None or entity.get("group") is not None
    if isinstance(value, str) and not has_extras:
        return f"({entity['entity']})" if value == surface else f"({entity['entity']}:{value})"
    # The JSON form keeps roles, groups and values that are not text (numbers, lists).
    return _json_annotation(entity, surface)


def _json_annotation(entity: Mapping[str, Any], surface: str) -> str:
    value = entity.get("value")
    spec = {k: entity[k] for k in ("entity", "role", "group") if entity.get(k) is not None}
    if value != surface:
        spec["value"] = value
    return json.dumps(spec, ensure_ascii=False)


def _has_span(entity: Mapping[str, Any]) -> bool:
    return isinstance(entity.get("start"), int) and isinstance(entity.get("end"), int)


# -- NLU -------------------------------------------------------------------------------------


def nlu_yaml(nlu: NluData, responses: Mapping[str, Sequence[Mapping[str, Any]]] = {}) -> str:
    """An NLU file: intents (in the order they first appear) with their examples, then
    synonyms, regexes and lookup tables, then ``responses`` (of retrieval intents)."""
    lines = [f"version: {FORMAT_VERSION}"]
    items = _intent_items(nlu.examples) + _synonym_items(nlu.synonyms)
    items += [_item("regex", name, [pattern]) for name, pattern in nlu.regexes]
    items += [_item("lookup", name, entries) for name, entries in nlu.lookups.items()]
    if items:
        lines += ["nlu:", *(line for item in items for line in item)]
    if responses:
        dumped = yaml.safe_dump(
            {"responses": {name: list(map(dict, v)) for name, v in responses.items()}},
            sort_keys=False,
            allow_unicode=True,
        )
        lines += dumped.rstrip("\n").split("\n")
    return "\n".join(lines) + "\n"


def _intent_items(examples: Sequence[NluExample]) -> list[list[str]]:
    by_intent: dict[str, list[NluExample]] = {}
    for example in examples:
        by_intent.setdefault(example.intent or "", []).append(example)
    items = []
    for intent, group in by_intent.items():
        texts = [annotated(e.text, (a.as_dict() for a in e.entities)) for e in group]
        metadata = [e.metadata.get("example") for e in group]
        item = [f"- intent: {scalar(intent)}"]
        if group[0].metadata.get("intent") is not None:
            item.append(f"  metadata: {_flow(group[0].metadata['intent'])}")
        if any(m is not None for m in metadata):  # only the list form carries example metadata
            item.append("  examples:")
            for text, meta in zip(texts, metadata, strict=True):
                item.append(f"  - text: {scalar(text)}")
                if meta is not None:
                    item.append(f"    metadata: {_flow(meta)}")
        else:
            item += _examples_block(texts)
        items.append(item)
    return items


def _synonym_items(synonyms: Mapping[str, str]) -> list[list[str]]:
    """One item per value, naming the texts that mean it (a value is its own synonym)."""
    by_value: dict[str, list[str]] = {}
    for text, value in synonyms.items():
        if text.lower() != value.lower():
            by_value.setdefault(value, []).append(text)
    return [_item("synonym", value, texts) for value, texts in by_value.items()]


def _item(kind: str, name: str, entries: Iterable[str]) -> list[str]:
    return [f"- {kind}: {scalar(name)}", *_examples_block(entries)]


def _examples_block(entries: Iterable[str]) -> list[str]:
    # A literal block keeps every character; an example is one line by construction.
    return ["  examples: |", *(f"    - {entry}" for entry in entries)]


def _flow(value: Any) -> str:
    """A mapping or list on one line (metadata keeps its structure, not its layout)."""
    return json.dumps(value, ensure_ascii=False)


# -- stories -----------------------------------------------------------------------------------


def stories_yaml(stories: Sequence[StoryBlock]) -> str:
    """A story file holding ``stories`` (their names and steps; sources are not kept)."""
    lines = [f"version: {FORMAT_VERSION}"]
    if stories:
        lines.append("stories:")
    for story in stories:
        lines += [f"- story: {scalar(story.name)}", "  steps:"]
        for step in story.steps:
            lines += ["  " + line for line in step_lines(step)]
    return "\n".join(lines) + "\n"


def step_lines(step: Event | Checkpoint | OrStep) -> list[str]:
    """One story step as the lines of a ``steps:`` list item."""
    if isinstance(step, Checkpoint):
        return [f"- checkpoint: {scalar(step.name)}", *_slot_lines(step.conditions, "  ")]
    if isinstance(step, OrStep):
        alternatives = [step_lines(event) for event in step.alternatives]
        return ["- or:", *("  " + line for lines in alternatives for line in lines)]
    if isinstance(step, UserUttered):
        return user_lines(step)
    if isinstance(step, ActionExecuted):
        if step.name is None:
            return [f"- bot: {scalar(step.action_text)}"]
        return [f"- action: {scalar(step.name)}"]
    if isinstance(step, SlotSet):
        return _slot_lines([step], "- ")
    if isinstance(step, ActiveLoop):
        return [f"- active_loop: {scalar(step.name)}"]
    raise ValueError(f"a {type(step).__name__} event cannot be written as a story step")


def _slot_lines(events: Sequence[Event], indent: str) -> list[str]:
    slots = [e for e in events if isinstance(e, SlotSet)]
    if not slots:
        return []
    return [
        f"{indent}slot_was_set:",
        *(f"  - {scalar(e.name)}: {scalar(e.value)}" for e in slots),
    ]


def user_lines(event: UserUttered) -> list[str]:
    """A user step: its intent, its text (entities annotated in it) and the entities that
    have no place in the text, as ``entities:`` items."""
    lines = []
    if event.intent_name:
        intent = event.intent.get("full_retrieval_intent_name") or event.intent_name
        lines.append(f"- intent: {scalar(intent)}")
    if event.text:
        text = annotated(event.text, event.entities)
        key = "  user:" if lines else "- user:"
        if text[:1].isspace():  # a block would lose it: the reader strips user texts
            lines.append(f"{key} {scalar(text)}")
        else:
            lines += [f"{key} |-", *(f"    {line}" for line in text.split("\n"))]
    written = [e for e in event.entities if not _has_span(e)]
    if written:
        lines.append("  entities:" if lines else "- entities:")
        lines += [f"  - {_story_entity(e)}" for e in written]
    return lines


def _story_entity(entity: Mapping[str, Any]) -> str:
    extras = {k: entity[k] for k in ("role", "group") if entity.get(k) is not None}
    if not extras:
        return f"{scalar(entity.get('entity'))}: {scalar(entity.get('value'))}"
    return _flow({entity.get("entity"): entity.get("value"), **extras})
