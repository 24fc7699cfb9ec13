"""Reading flow files: YAML to ``Flow``s, every problem at its ``file:line``.

Divergences, on purpose:

* A branch or rejection ``if`` written as a YAML boolean is accepted and read as the string
  ``"True"``/``"False"`` (the reference fails on it at runtime); the predicate language reads
  those as the constants.
* Conditions without Jinja markers are syntax-checked at load time (the reference's data
  validator does the same before training).
* A ``call`` to something that is not a flow is an error: agents and MCP tools are not supported."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from tandem.project.errors import Problem, ProjectError, Source, gather, suggest
from tandem.project.flows.conditions import (
    ConditionSyntaxError,
    Predicate,
    has_template,
)
from tandem.project.flows.model import (
    END,
    FLOW_ID_PATTERN,
    NEXT_PREFIX,
    SLOT_NAME_PATTERN,
    START,
    ActionStep,
    Branch,
    CallStep,
    CollectStep,
    Flow,
    LinkStep,
    NluTrigger,
    NoopStep,
    Rejection,
    SetSlotsStep,
    Step,
)
from tandem.project.yaml import (
    YamlList,
    YamlMap,
    as_list,
    as_map,
    expect,
    plain,
    where,
)

# -- reading flow files ---------------------------------------------------------------------------
#
# Each reader raises a ProjectError on the first problem of its item (a flow's attributes, a
# step, a branch); ``gather`` around every step and flow reports all broken items at once.

_FLOW_KEYS = frozenset(
    {
        "description",
        "steps",
        "name",
        "if",
        "always_include_in_prompt",
        "nlu_trigger",
        "persisted_slots",
        "run_pattern_completed",
        "file_path",  # the loader records the real origin; a written value is ignored
        "metadata",
        "translation",
        "on_activate",  # a hook of the reference's newer engine; accepted and ignored
    }
)
_STEP_TYPES = ("action", "collect", "link", "call", "set_slots", "noop")
_COMMON_STEP_KEYS = frozenset({"id", "next", "description", "metadata"})
_AGENT_CALL_KEYS = frozenset({"mcp_server", "mapping", "exit_if"})
_STEP_KEYS: dict[str, frozenset[str]] = {
    "action": _COMMON_STEP_KEYS | {"action"},
    "collect": _COMMON_STEP_KEYS
    | {
        "collect",
        "utter",
        "ask_before_filling",
        "reset_after_flow_ends",
        "rejections",
        "force_slot_filling",
        "silence_timeout",
        "dtmf",  # voice and newer-engine settings: accepted and ignored
        "collect-tool-binding",
    },
    "link": _COMMON_STEP_KEYS | {"link"},  # "next" is allowed here only to report it precisely
    "call": _COMMON_STEP_KEYS | {"call"} | _AGENT_CALL_KEYS,  # agent keys: reported precisely
    "set_slots": _COMMON_STEP_KEYS | {"set_slots"},
    "noop": _COMMON_STEP_KEYS | {"noop"},
}


def _mapping(
    value: Any, source: Source, what: str, keys: Iterable[str], required: tuple[str, ...] = ()
) -> YamlMap:
    """``value`` as a mapping that uses only ``keys`` and has every ``required`` one."""
    data = as_map(value, source, what, frozenset(keys))
    missing = [key for key in required if key not in data]
    if missing:
        raise ProjectError.of(
            Problem(source, f"{what} has no '{key}'", f"add '{key}:'") for key in missing
        )
    return data


def _value(
    data: YamlMap, key: str, kind: type | tuple[type, ...], what: str, default: Any = None
) -> Any:
    """``data[key]`` if it is of ``kind`` (``float``: any number), ``default`` if absent."""
    if key not in data:
        return default
    value = expect(
        data[key], (int, float) if kind is float else kind, data.at(key), f"'{key}' in {what}"
    )
    return float(value) if kind is float else value


def _condition(data: YamlMap, key: str, what: str) -> str | None:
    """A condition (``if``): a string, or a YAML boolean taken as its string form."""
    if key not in data:
        return None
    value = expect(data[key], (str, bool), data.at(key), f"'{key}' in {what}")
    text = str(value)
    if not has_template(text):  # templated conditions can only be parsed once rendered
        try:
            Predicate.parse(text)
        except ConditionSyntaxError as exc:
            raise ProjectError(
                data.at(key), f"invalid condition in {what}: {exc}", "check the condition's syntax"
            ) from None
    return text


def flows_from_yaml(data: Any) -> list[Flow]:
    """The flows of one flows file (the whole parsed file; its ``flows`` key is read).

    Every per-flow problem of all flows is collected and raised as one ``ProjectError``.
    """
    source = where(data)
    if not isinstance(data, Mapping) or "flows" not in data:
        raise ProjectError(source, "not a flows file: there is no top-level 'flows' key")
    if data["flows"] is None:
        return []
    definitions = as_map(data["flows"], where(data, "flows", source), "'flows'")
    problems: list[Problem] = []
    flows = []
    for flow_id, definition in definitions.items():
        flow = _load_flow(str(flow_id), definition, definitions.at(flow_id), problems)
        if flow is not None:
            flows.append(flow)
    if problems:
        raise ProjectError.of(problems)
    return flows


def _load_flow(
    flow_id: str, definition: Any, source: Source, problems: list[Problem]
) -> Flow | None:
    known = len(problems)
    if not FLOW_ID_PATTERN.match(flow_id):
        hint = "use letters, digits, '_' and '-' only, not starting with '-'"
        problems.append(Problem(source, f"invalid flow id '{flow_id}'", hint))
    what = f"flow '{flow_id}'"
    with gather(problems):
        data = _mapping(definition, source, what, _FLOW_KEYS, ("description", "steps"))
    if len(problems) > known:
        return None
    tree = _StepTree(flow_id, problems)
    with gather(problems):
        steps = as_list(data["steps"], data.at("steps"), f"'steps' of {what}")
        if not steps:
            raise ProjectError(data.at("steps"), f"{what} has no steps", "add at least one step")
        tree.sequence(steps, root=True)
    if len(problems) == known:
        tree.check()
    with gather(problems):
        flow = Flow(
            id=flow_id,
            description=_value(data, "description", str, what),
            steps=tree.steps(),
            name=_value(data, "name", str, what, ""),
            guard=_condition(data, "if", what),
            always_include_in_prompt=_value(data, "always_include_in_prompt", bool, what, False),
            nlu_trigger=_nlu_triggers(data, what),
            persisted_slots=_names(data, "persisted_slots", what),
            run_pattern_completed=_value(data, "run_pattern_completed", bool, what, True),
            metadata=plain(_value(data, "metadata", dict, what, {})),
            translation=_translation(data, what),
            file_path=source.path,
            fingerprint=_fingerprint(definition),
            source=source,
        )
    return flow if len(problems) == known else None


def _fingerprint(definition: Any) -> str:
    canonical = json.dumps(plain(definition), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.md5(canonical.encode("utf-8"), usedforsecurity=False).hexdigest()


def _nlu_triggers(data: YamlMap, what: str) -> tuple[NluTrigger, ...]:
    if "nlu_trigger" not in data:
        return ()
    items = as_list(data["nlu_trigger"], data.at("nlu_trigger"), f"'nlu_trigger' in {what}")
    if not items:
        raise ProjectError(data.at("nlu_trigger"), "'nlu_trigger' must list at least one intent")
    triggers = []
    for index, item in enumerate(items):
        entry = _mapping(item, items.at(index), "an nlu_trigger entry", {"intent"}, ("intent",))
        intent = expect(
            entry["intent"], (str, dict), entry.at("intent"), "'intent' of an nlu_trigger"
        )
        if isinstance(intent, str):
            triggers.append(NluTrigger(intent, 0.0, items.at(index)))
            continue
        spec_what = "an nlu_trigger intent"
        spec = _mapping(
            intent, entry.at("intent"), spec_what, {"name", "confidence_threshold"}, ("name",)
        )
        threshold = _value(spec, "confidence_threshold", float, spec_what, 0.0)
        triggers.append(
            NluTrigger(_value(spec, "name", str, spec_what), threshold, items.at(index))
        )
    return tuple(triggers)


def _names(data: YamlMap, key: str, what: str) -> tuple[str, ...]:
    if key not in data:
        return ()
    items = as_list(data[key], data.at(key), f"'{key}' in {what}")
    return tuple(
        expect(item, str, items.at(i), f"an entry of '{key}'") for i, item in enumerate(items)
    )


def _translation(data: YamlMap, what: str) -> dict[str, Any]:
    if "translation" not in data:
        return {}
    languages = as_map(data["translation"], data.at("translation"), f"'translation' in {what}")
    return {
        str(language): plain(
            as_map(
                entry, languages.at(language), f"the '{language}' translation", {"name", "metadata"}
            )
        )
        for language, entry in languages.items()
    }


@dataclass(slots=True)
class _Draft:
    """A step while its flow is loading: its ``next`` is resolved after all ids are known."""

    step: Step
    source: Source
    next: list[Branch] | None = None


class _StepTree:
    """Reads a flow's step tree: numbers steps in pre-order, resolves ``next``, validates."""

    def __init__(self, flow_id: str, problems: list[Problem]) -> None:
        self.flow_id = flow_id
        self.problems = problems
        self.drafts: list[_Draft] = []  # pre-order

    def steps(self) -> tuple[Step, ...]:
        return tuple(replace(d.step, next=tuple(d.next or ())) for d in self.drafts)

    def sequence(self, items: YamlList, *, root: bool) -> list[_Draft]:
        drafts = [self.step(item, items.at(index)) for index, item in enumerate(items)]
        # Default ``next``: the following sibling; after the last step of the flow, END. The last
        # step of a nested list gets none (an error unless it is a link step).
        for current, following in zip(drafts, [*drafts[1:], None], strict=True):
            if current.next is None and not isinstance(current.step, LinkStep):
                if following is not None:
                    current.next = [Branch(following.step.id)]
                elif root:
                    current.next = [Branch(END)]
        return drafts

    def step(self, value: Any, source: Source) -> _Draft:
        index = len(self.drafts)
        # Numbered before its branches are read; the placeholder only survives a broken step.
        draft = _Draft(NoopStep(id=f"{self.flow_id}_{index}_noop"), source)
        self.drafts.append(draft)
        with gather(self.problems):
            self.read_step(draft, value, source, index)
        return draft

    def read_step(self, draft: _Draft, value: Any, source: Source, index: int) -> None:
        data = as_map(value, source, "a step")
        kinds = [key for key in _STEP_TYPES if key in data]
        if len(kinds) != 1:
            raise _step_type_error(data, kinds, source)
        kind = kinds[0]
        what = f"{kind} step"
        data = _mapping(data, source, what, _STEP_KEYS[kind])
        common: dict[str, Any] = {
            "id": "",
            "description": _value(data, "description", str, what),
            "metadata": plain(_value(data, "metadata", dict, what, {})),
            "source": source,
        }
        step = _STEP_READERS[kind](data, what, common)
        explicit_id = _value(data, "id", str, what)
        if explicit_id is not None and (
            explicit_id in (START, END) or explicit_id.startswith(NEXT_PREFIX)
        ):
            hint = f"{START}, {END} and ids starting with {NEXT_PREFIX} are reserved"
            raise ProjectError(data.at("id"), f"'{explicit_id}' is a reserved step id", hint)
        draft.step = replace(step, id=explicit_id or f"{self.flow_id}_{index}_{_id_suffix(step)}")
        if "next" not in data:
            if kind == "noop":
                raise ProjectError(
                    source, "a noop step needs a 'next'", "add 'next:' with branches or a step id"
                )
        elif kind == "link":
            raise ProjectError(
                data.at("next"),
                "a link step cannot have a 'next'",
                "the flow ends after a link; remove 'next'",
            )
        else:
            draft.next = self.next(data["next"], data.at("next"))

    def next(self, value: Any, source: Source) -> list[Branch]:
        if isinstance(expect(value, (str, list), source, "'next'"), str):
            return [Branch(value, source=source)]
        if not value:
            raise ProjectError(source, "'next' has no branches", "name a step id or list branches")
        branches = []
        for index, item in enumerate(value):
            item_source = where(value, index, source)
            if isinstance(item, dict) and "else" in item:
                branch = as_map(item, item_source, "an 'else' branch", {"else"})
                target = self.target(branch["else"], branch.at("else"), "'else'")
                branches.append(Branch(target, None, item_source))
            else:
                branch = _mapping(item, item_source, "a branch", {"if", "then"}, ("if", "then"))
                condition = _condition(branch, "if", "a branch")
                target = self.target(branch["then"], branch.at("then"), "'then'")
                branches.append(Branch(target, condition, item_source))
        if all(branch.condition is not None for branch in branches):
            raise ProjectError(
                source,
                "the branches of this 'next' have no 'else'",
                "add '- else: END' or '- else: <step id>'",
            )
        return branches

    def target(self, value: Any, source: Source, what: str) -> str:
        if isinstance(expect(value, (str, list), source, f"the {what} branch"), str):
            return str(value)
        if not value:
            raise ProjectError(
                source,
                f"the {what} branch has an empty list of steps",
                "add steps or name a step id",
            )
        return self.sequence(as_list(value, source, what), root=False)[0].step.id

    def check(self) -> None:
        """Graph checks of a flow whose steps all read cleanly: unique step ids, a ``next``
        after every non-link step, ``next`` targets that exist, every step reachable."""
        known = len(self.problems)
        ids: dict[str, Source] = {}
        for draft in self.drafts:
            step_id = draft.step.id
            if step_id in ids:
                message = f"step id '{step_id}' is used twice (also at {ids[step_id]})"
                self.problems.append(Problem(draft.source, message, "give each step a unique id"))
            ids.setdefault(step_id, draft.source)
        for draft in self.drafts:
            if draft.next is None and not isinstance(draft.step, LinkStep):
                message = "the last step of a 'then'/'else' list needs a 'next'"
                hint = "add 'next: END' or the id of the step to continue with"
                self.problems.append(Problem(draft.source, message, hint))
            for branch in draft.next or ():
                if branch.target not in ids and branch.target not in (START, END):
                    message = f"'next' names '{branch.target}', which is not a step of this flow"
                    hint = suggest(branch.target, [*ids, END])
                    self.problems.append(Problem(branch.source, message, hint))
        if len(self.problems) > known:  # unreachable steps would only repeat those problems
            return
        successors = {draft.step.id: [b.target for b in draft.next or ()] for draft in self.drafts}
        reached: set[str] = set()
        pending = [self.drafts[0].step.id]
        while pending:
            step_id = pending.pop()
            if step_id not in reached and step_id in successors:
                reached.add(step_id)
                pending.extend(successors[step_id])
        for draft in self.drafts:
            if draft.step.id not in reached:
                message = f"step '{draft.step.id}' can never be reached"
                self.problems.append(
                    Problem(draft.source, message, "point a 'next' at it or remove it")
                )


def _step_type_error(data: YamlMap, kinds: list[str], source: Source) -> ProjectError:
    if kinds:
        message = f"a step has exactly one type, but this one has {', '.join(kinds)}"
        return ProjectError(source, message, "split it into several steps")
    unknown = [str(key) for key in data if key not in _COMMON_STEP_KEYS]
    hint = suggest(unknown[0], _STEP_TYPES) if unknown else ""
    return ProjectError(source, "a step needs one of: " + ", ".join(_STEP_TYPES), hint)


def _id_suffix(step: Step) -> str:
    if isinstance(step, CollectStep):
        return f"collect_{step.collect}"
    if isinstance(step, ActionStep):
        return step.action
    if isinstance(step, LinkStep):
        return f"link_{step.link}"
    if isinstance(step, CallStep):
        return f"call_{step.call}"
    if isinstance(step, SetSlotsStep):
        return "set_slots"
    return "noop"


def _action_step(data: YamlMap, what: str, common: dict[str, Any]) -> Step:
    return ActionStep(action=_value(data, "action", str, what), **common)


def _collect_step(data: YamlMap, what: str, common: dict[str, Any]) -> Step:
    slot = _value(data, "collect", str, what)
    if not SLOT_NAME_PATTERN.match(slot):
        hint = "slot names start with a letter or '_' and use only letters, digits, '_' and '-'"
        raise ProjectError(data.at("collect"), f"invalid slot name '{slot}'", hint)
    timeout = _value(data, "silence_timeout", (int, float, dict), what)
    return CollectStep(
        collect=slot,
        utter=_value(data, "utter", str, what, ""),
        ask_before_filling=_value(data, "ask_before_filling", bool, what, False),
        reset_after_flow_ends=_value(data, "reset_after_flow_ends", bool, what, True),
        rejections=_rejections(data, what),
        force_slot_filling=_value(data, "force_slot_filling", bool, what, False),
        silence_timeout=plain(timeout),
        **common,
    )


def _rejections(data: YamlMap, what: str) -> tuple[Rejection, ...]:
    if "rejections" not in data:
        return ()
    items = as_list(data["rejections"], data.at("rejections"), f"'rejections' in {what}")
    rejections = []
    for index, item in enumerate(items):
        entry = _mapping(item, items.at(index), "a rejection", {"if", "utter"}, ("if", "utter"))
        condition = _condition(entry, "if", "a rejection")
        rejections.append(Rejection(str(condition), _value(entry, "utter", str, "a rejection")))
    return tuple(rejections)


def _link_step(data: YamlMap, what: str, common: dict[str, Any]) -> Step:
    return LinkStep(link=_value(data, "link", str, what), **common)


def _call_step(data: YamlMap, what: str, common: dict[str, Any]) -> Step:
    for key in _AGENT_CALL_KEYS & data.keys():
        hint = "tandem can only call flows, not agents or MCP tools"
        raise ProjectError(data.at(key), f"'{key}' in a call step is not supported", hint)
    return CallStep(call=_value(data, "call", str, what), **common)


def _set_slots_step(data: YamlMap, what: str, common: dict[str, Any]) -> Step:
    items = as_list(data["set_slots"], data.at("set_slots"), f"'set_slots' in {what}")
    pairs = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or len(item) != 1:
            message = "each 'set_slots' entry must be one 'slot_name: value' pair"
            raise ProjectError(items.at(index), message, "write one '- slot: value' line per slot")
        ((name, value),) = item.items()
        pairs.append((str(name), plain(value)))
    return SetSlotsStep(slots=tuple(pairs), **common)


def _noop_step(data: YamlMap, what: str, common: dict[str, Any]) -> Step:
    return NoopStep(**common)


_STEP_READERS = {
    "action": _action_step,
    "collect": _collect_step,
    "link": _link_step,
    "call": _call_step,
    "set_slots": _set_slots_step,
    "noop": _noop_step,
}
