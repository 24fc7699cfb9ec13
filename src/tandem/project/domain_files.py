"""Reading the domain from one YAML file or a directory of them.

Each file is read into a ``Domain`` of its own declarations; the files of a directory are
then merged (first loaded wins) and the defaults every domain has are added: default
intents and the built-in slots. Readers raise on the first problem of an item and the
callers ``gather`` per item, so one run reports every broken slot, response, form, ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from tandem import names
from tandem.conversation.slots import (
    MAPPING_TYPES,
    MISSING,
    SLOT_TYPES,
    MappingCondition,
    Slot,
    SlotMapping,
    to_bool,
)
from tandem.project.domain import Domain, EntityConfig, Form, IntentConfig, SessionConfig
from tandem.project.errors import (
    Problem,
    ProjectError,
    Source,
    closest,
    gather,
    raise_errors,
    suggest,
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

# A YAML file with any of these top-level keys is a domain file.
DOMAIN_KEYS = (
    "intents",
    "entities",
    "slots",
    "responses",
    "actions",
    "forms",
    "e2e_actions",
    "session_config",
)
# The domain's `config` (store_entities_as_slots) and the keys of the other project files,
# which one YAML file may hold beside the domain.
OTHER_TOP_LEVEL_KEYS = (
    "config",
    "version",
    "nlu",
    "stories",
    "rules",
    "flows",
    "recipe",
    "language",
    "pipeline",
    "policies",
    "assistant_id",
)

STRICT_CATEGORICAL = "strict_categorical"  # [3.21] a categorical slot that rejects other values
# Slot keys read into ``Slot`` fields; any other key (CALM's `validation`, custom slot
# classes' settings) is kept in ``Slot.extra``.
SLOT_FIELD_KEYS = (
    "type",
    "influence_conversation",
    "initial_value",
    "values",
    "min_value",
    "max_value",
    "mappings",
    "shared_for_coexistence",
)
SLOT_KEYS = (*SLOT_FIELD_KEYS, "validation", "allow_llm_set")
LEGACY_CUSTOM_MAPPING = "custom"  # read as ``controlled``
COEXISTENCE_SYSTEMS = ("NLU", "CALM", "SHARED")
CONDITION_KEYS = ("active_loop", "requested_slot", "active_flow")

VARIATION_KEYS = (
    "text",
    "image",
    "buttons",
    "button_type",
    "quick_replies",
    "attachment",
    "elements",
    "custom",
    "channel",
    "condition",
    "id",
    "metadata",
    "allow_interruptions",
    "translation",
)
# A variation must say something: at least one of these.
CONTENT_KEYS = ("text", "image", "buttons", "quick_replies", "attachment", "elements", "custom")

INTENT_KEYS = ("use_entities", "ignore_entities")
ENTITY_KEYS = ("roles", "groups", "influence_conversation")
ACTION_KEYS = ("send_domain",)
FORM_KEYS = ("required_slots", "ignored_intents")
SESSION_KEYS = (
    "session_expiration_time",
    "carry_over_slots_to_new_session",
    "start_session_after_expiry",
)
DOMAIN_CONFIG_KEYS = ("store_entities_as_slots",)

ACTION_QUERY_KNOWLEDGE_BASE = "action_query_knowledge_base"
KNOWLEDGE_BASE_SLOTS = (
    ("knowledge_base_listed_objects", "list"),
    ("knowledge_base_last_object", "any"),
    ("knowledge_base_last_object_type", "any"),
)


def load_domain(path: Path | str, warnings: list[Problem] | None = None) -> Domain:
    """The domain of a file or of every domain file below a directory, with defaults added.

    Raises one ``ProjectError`` listing every problem; warnings go to ``warnings``.
    """
    path = Path(path)
    if not path.exists():
        raise ProjectError(
            Source(str(path)),
            "the domain file or directory does not exist",
            "check the domain path",
        )
    problems: list[Problem] = []
    parts = []
    for file in yaml_files(path):
        with gather(problems):
            data = read_project_file(file, problems)
            # In a directory only domain files count; a file given by name is the domain.
            if data is not None and (file == path or _looks_like_domain(data)):
                parts.append(domain_from_yaml(data, problems))
    domain = with_defaults(merge_domains(parts, problems))
    raise_errors(problems, warnings)
    return domain


def _looks_like_domain(data: YamlMap) -> bool:
    """Whether a file of a domain directory is a domain file: it has a domain key, or a
    misspelt one (which is then reported rather than the file skipped)."""
    return any(key in DOMAIN_KEYS or _misspelt_domain_key(str(key)) for key in data)


def _misspelt_domain_key(key: str) -> str | None:
    """The domain key that an unknown top-level ``key`` is likely a misspelling of."""
    return None if _is_known_top_level(key) else closest(key, DOMAIN_KEYS)


def _is_known_top_level(key: str) -> bool:
    return key in DOMAIN_KEYS or key in OTHER_TOP_LEVEL_KEYS


def _top_level_problems(data: YamlMap) -> Iterator[Problem]:
    """Unknown top-level keys. A misspelt domain key is an error: the reference skips it
    silently, and every response or slot under it then looks undefined wherever it is used.
    Other unknown keys are ignored, as by the reference, with a warning."""
    for key in data:
        if _is_known_top_level(str(key)):
            continue
        near = closest(str(key), DOMAIN_KEYS)
        if near is not None:
            yield Problem(data.at(key), f"unknown key '{key}'", f"did you mean '{near}'?")
        else:
            yield Problem(
                data.at(key),
                f"unknown top-level key '{key}' in a domain file is ignored",
                "expected one of: " + ", ".join(DOMAIN_KEYS),
                "warning",
            )


def domain_from_yaml(data: YamlMap, problems: list[Problem]) -> Domain:
    """The declarations of one domain file, without defaults (problems go to ``problems``)."""
    problems.extend(_top_level_problems(data))
    sources: dict[str, Source] = {}
    fields: dict[str, Any] = {}

    def section(key: str, read: Callable[[Any, Source], Any]) -> None:
        if data.get(key) is not None:
            with gather(problems):
                fields[key] = read(data[key], data.at(key))

    def slot(name: str, value: Any, at: Source) -> Slot:
        return _slot(name, value, at, sources, problems)

    def form(name: str, value: Any, at: Source) -> Form:
        return _form(name, value, at, sources, problems)

    def intent(name: str, properties: YamlMap | None, at: Source) -> IntentConfig:
        return _intent(name, properties, at, problems)

    def action(name: str, properties: YamlMap | None, at: Source) -> bool:
        return _action(name, properties, at, problems)

    section("intents", lambda v, at: _names(v, at, "intent", intent, sources, problems))
    section("entities", lambda v, at: _names(v, at, "entity", _entity, sources, problems))
    section("slots", lambda v, at: _entries(v, at, "slot", slot, sources, problems))
    section("responses", lambda v, at: read_responses(v, at, sources, problems))
    section("forms", lambda v, at: _entries(v, at, "form", form, sources, problems))
    section("actions", lambda v, at: _names(v, at, "action", action, sources, problems))
    section("session_config", lambda v, at: _session_config(v, at, problems))
    section("config", lambda v, at: _store_entities_as_slots(v, at, problems))
    section("e2e_actions", lambda v, at: as_list(v, at, "`e2e_actions`"))

    actions = fields.pop("actions", {})
    fields.pop("e2e_actions", None)  # bot texts of end-to-end stories: not used by tandem
    return Domain(
        intents=fields.get("intents", {}),
        entities=fields.get("entities", {}),
        slots=fields.get("slots", {}),
        responses=fields.get("responses", {}),
        actions=tuple(actions),
        send_domain_actions=frozenset(name for name, send in actions.items() if send),
        forms=fields.get("forms", {}),
        session_config=fields.get("session_config", SessionConfig()),
        store_entities_as_slots=fields.get("config", True),
        sources=sources,
    )


def _store_entities_as_slots(value: Any, at: Source, warnings: list[Problem]) -> bool:
    config = as_map(value, at, "`config`", DOMAIN_CONFIG_KEYS, warnings=warnings)
    key = "store_entities_as_slots"
    return bool(expect(config.get(key, True), bool, config.at(key), f"`{key}`"))


# -- lists of names (intents, entities, actions) ---------------------------------------------


def _names(
    value: Any,
    at: Source,
    kind: str,
    read: Callable[[str, YamlMap | None, Source], Any],
    sources: dict[str, Source],
    problems: list[Problem],
) -> dict[str, Any]:
    """A list whose items are ``name`` or ``{name: {properties}}``, read into name -> config."""
    items = as_list(value, at, f"the {kind} list")
    result: dict[str, Any] = {}
    for index, item in enumerate(items):
        with gather(problems):
            source = items.at(index)
            name, properties = _named_item(item, source, kind)
            if name in result:
                first = sources[f"{kind}:{name}"]
                raise ProjectError(
                    source,
                    f"{kind} '{name}' is listed twice (first on line {first.line})",
                    "remove one of the two entries",
                )
            result[name] = read(name, properties, source)
            sources[f"{kind}:{name}"] = source
    return result


def _named_item(item: Any, source: Source, kind: str) -> tuple[str, YamlMap | None]:
    if not isinstance(item, dict):
        return str(expect(item, str, source, f"an {kind} name")), None
    if len(item) != 1:
        raise ProjectError(
            source,
            f"an item of the {kind} list must be a name or a single `name: {{properties}}`",
            "write each name on its own `- ` line",
        )
    name, properties = next(iter(item.items()))
    if properties is None:
        raise ProjectError(
            source,
            f"{kind} '{name}' has an empty value after the colon",
            f"remove the colon after '{name}' or give its properties",
        )
    return str(name), as_map(properties, source, f"the properties of {kind} '{name}'")


def _intent(
    name: str, properties: YamlMap | None, source: Source, problems: list[Problem]
) -> IntentConfig:
    if properties is None:
        return IntentConfig()
    as_map(properties, source, f"intent '{name}'", INTENT_KEYS, extra_ok=True)
    use: Any = properties.get("use_entities", True)
    if use is None or use == []:
        use = False
    elif not isinstance(use, bool):
        use = _strings(use, properties.at("use_entities"), f"`use_entities` of intent '{name}'")
    ignore: tuple[str, ...] = ()
    if properties.get("ignore_entities") is not None:
        at = properties.at("ignore_entities")
        ignore = _strings(
            properties["ignore_entities"], at, f"`ignore_entities` of intent '{name}'"
        )
        both = sorted(set(use) & set(ignore)) if isinstance(use, tuple) else []
        if both:
            problems.append(
                Problem(
                    at,
                    f"intent '{name}' both uses and ignores " + ", ".join(both) + "; ignored wins",
                    "list each entity under one of use_entities / ignore_entities",
                    "warning",
                )
            )
    return IntentConfig(use_entities=use, ignore_entities=ignore)


def _entity(name: str, properties: YamlMap | None, source: Source) -> EntityConfig:
    if properties is None:
        return EntityConfig()
    as_map(properties, source, f"entity '{name}'", ENTITY_KEYS, extra_ok=True)

    def labels(key: str) -> tuple[str, ...]:
        value = properties.get(key)
        return (
            ()
            if value is None
            else _strings(value, properties.at(key), f"`{key}` of entity '{name}'")
        )

    influence = properties.get("influence_conversation", True)
    at = properties.at("influence_conversation")
    return EntityConfig(
        roles=labels("roles"),
        groups=labels("groups"),
        influence_conversation=expect(influence, bool, at, "`influence_conversation`"),
    )


def _action(name: str, properties: YamlMap | None, source: Source, warnings: list[Problem]) -> bool:
    """Whether the action wants the domain sent along with every call."""
    if properties is None:
        return False
    as_map(properties, source, f"action '{name}'", ACTION_KEYS, warnings=warnings)
    return bool(expect(properties.get("send_domain", False), bool, source, "`send_domain`"))


def _strings(value: Any, at: Source, what: str) -> tuple[str, ...]:
    """A string or a list of strings (numbers are read as the text they are written as)."""
    if isinstance(value, str):
        return (value,)
    items = as_list(value, at, what)
    return tuple(
        str(expect(v, (str, int, float), items.at(i), f"an item of {what}"))
        for i, v in enumerate(items)
    )


# -- maps of definitions (slots, forms) -------------------------------------------------------


def _entries(
    value: Any,
    at: Source,
    kind: str,
    read: Callable[[str, Any, Source], Any],
    sources: dict[str, Source],
    problems: list[Problem],
) -> dict[str, Any]:
    """A map ``name -> definition``, each read on its own so one broken entry hides no other."""
    entries = as_map(value, at, f"`{kind}s`")
    result: dict[str, Any] = {}
    for name, definition in entries.items():
        with gather(problems):
            source = entries.at(name)
            sources[f"{kind}:{name}"] = source
            result[str(name)] = read(str(name), definition, source)
    return result


def _slot(
    name: str, value: Any, source: Source, sources: dict[str, Source], problems: list[Problem]
) -> Slot:
    what = f"slot '{name}'"
    data = as_map(value, source, what, SLOT_KEYS, extra_ok=True)
    if "type" not in data:
        raise ProjectError(
            source, f"{what} has no `type`", "add `type:` with one of: " + ", ".join(SLOT_TYPES)
        )
    slot_type = expect(data["type"], str, data.at("type"), f"the type of {what}")
    extra = {key: plain(v) for key, v in data.items() if key not in SLOT_FIELD_KEYS}
    if slot_type == STRICT_CATEGORICAL:
        slot_type, extra["strict"] = "categorical", True
    elif slot_type not in SLOT_TYPES and "." not in slot_type:  # a dotted path: custom class
        raise ProjectError(
            data.at("type"),
            f"unknown slot type '{slot_type}'",
            suggest(slot_type, (*SLOT_TYPES, STRICT_CATEGORICAL)),
        )

    def get(key: str, kind: type | tuple[type, ...], default: Any) -> Any:
        if data.get(key) is None:
            return default
        return expect(data[key], kind, data.at(key), f"`{key}` of {what}")

    influence = get("influence_conversation", bool, slot_type != "any")
    if slot_type == "any" and influence:
        raise ProjectError(
            data.at("influence_conversation"),
            f"{what} has type `any`, which cannot influence the conversation",
            "remove `influence_conversation: true` or choose another slot type",
        )
    values: tuple[str, ...] = ()
    if slot_type == "categorical" and data.get("values") is not None:
        values = _categories(data, what, problems)
    low, high = get("min_value", (int, float), 0.0), get("max_value", (int, float), 1.0)
    if slot_type == "float" and not low < high:
        raise ProjectError(
            data.at("min_value"),
            f"{what} has min_value {low} >= max_value {high}",
            "make min_value smaller than max_value",
        )
    slot = Slot(
        name=name,
        type=slot_type,
        mappings=_mappings(data, what, name, sources),
        initial_value=plain(data.get("initial_value")),
        influence_conversation=influence,
        values=values,
        min_value=float(low),
        max_value=float(high),
        shared_for_coexistence=get("shared_for_coexistence", bool, False),
        extra=extra,
    )
    bounded = "min_value" in data or "max_value" in data
    _check_initial_value(slot, data.at("initial_value"), bounded)
    return slot


def _categories(data: YamlMap, what: str, problems: list[Problem]) -> tuple[str, ...]:
    """The values of a categorical slot, as strings; ``null`` is dropped with a warning."""
    items = as_list(data["values"], data.at("values"), f"`values` of {what}")
    for index, value in enumerate(items):
        if value is None:
            problems.append(
                Problem(
                    items.at(index),
                    f"{what} lists null among its `values`; it is ignored",
                    "remove it: an unset slot already stands for 'no value'",
                    "warning",
                )
            )
    return tuple(str(v) for v in items if v is not None)


def _check_initial_value(slot: Slot, at: Source, bounded: bool) -> None:
    """Reject initial values the slot could never hold (float: within explicit bounds)."""
    value = slot.initial_value
    if value is None:
        return
    problem = ""
    if slot.type == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problem = "is not a number"
        elif bounded and not slot.min_value <= value <= slot.max_value:
            problem = f"is outside min_value..max_value ({slot.min_value}..{slot.max_value})"
    elif slot.type == "bool" and to_bool(value) is None:
        problem = "is not true or false"
    elif (
        slot.type == "categorical"
        and slot.values
        and str(value).lower() not in {v.lower() for v in slot.values}
    ):
        problem = "is not one of its `values`"
    if problem:
        raise ProjectError(
            at,
            f"the initial value {value!r} of slot '{slot.name}' {problem}",
            "change the initial value or the slot's settings",
        )


def _mappings(
    data: YamlMap, what: str, name: str, sources: dict[str, Source]
) -> tuple[SlotMapping, ...]:
    if "mappings" not in data:
        # [3.21] a slot without mappings can only be filled by an LLM (CALM command generators).
        return (SlotMapping("from_llm"),)
    items = as_list(data["mappings"], data.at("mappings"), f"`mappings` of {what}")
    mappings = []
    for index, item in enumerate(items):
        sources[f"slot:{name}:mapping:{index}"] = items.at(index)
        mappings.append(_mapping(item, items.at(index), what))
    return tuple(mappings)


def _mapping(item: Any, source: Source, slot_what: str) -> SlotMapping:
    mapping = as_map(item, source, f"a mapping of {slot_what}")
    if "type" not in mapping:
        raise ProjectError(
            source,
            f"a mapping of {slot_what} has no `type`",
            "add `type:` with one of: " + ", ".join(MAPPING_TYPES),
        )
    kind = expect(mapping["type"], str, mapping.at("type"), "the mapping type")
    if kind == LEGACY_CUSTOM_MAPPING:
        kind = "controlled"
    if kind not in MAPPING_TYPES:
        raise ProjectError(
            mapping.at("type"), f"unknown mapping type '{kind}'", suggest(kind, MAPPING_TYPES)
        )
    what = f"a `{kind}` mapping of {slot_what}"
    as_map(mapping, source, what, MAPPING_TYPES[kind] | {"type"})
    required = {
        "from_entity": "entity",
        "from_intent": "value",
        "from_trigger_intent": "value",
    }.get(kind)
    if required and required not in mapping:
        raise ProjectError(source, f"{what} has no `{required}`", f"add `{required}:`")

    def text(key: str) -> str | None:
        value = mapping.get(key)
        return (
            None
            if value is None
            else str(expect(value, (str, int, float), mapping.at(key), f"`{key}` of {what}"))
        )

    system = text("coexistence_system")
    if system is not None and system not in COEXISTENCE_SYSTEMS:
        raise ProjectError(
            mapping.at("coexistence_system"),
            f"unknown coexistence_system '{system}'",
            suggest(system, COEXISTENCE_SYSTEMS),
        )
    intents = {
        key: ()
        if mapping.get(key) is None
        else _strings(mapping[key], mapping.at(key), f"`{key}` of {what}")
        for key in ("intent", "not_intent")
    }
    return SlotMapping(
        type=kind,
        entity=text("entity"),
        role=text("role"),
        group=text("group"),
        value=plain(mapping.get("value")),
        intent=intents["intent"],
        not_intent=intents["not_intent"],
        conditions=_conditions(mapping, what),
        # ``action`` is the deprecated name of ``run_action_every_turn``.
        action=text("run_action_every_turn") or text("action"),
        coexistence_system=system,
        allow_nlu_correction=expect(
            mapping.get("allow_nlu_correction", False),
            bool,
            mapping.at("allow_nlu_correction"),
            "`allow_nlu_correction`",
        ),
    )


def _conditions(mapping: YamlMap, what: str) -> tuple[MappingCondition, ...]:
    if mapping.get("conditions") is None:
        return ()
    items = as_list(mapping["conditions"], mapping.at("conditions"), f"`conditions` of {what}")
    conditions = []
    for index, item in enumerate(items):
        condition = as_map(item, items.at(index), f"a condition of {what}", CONDITION_KEYS)
        for key, value in condition.items():
            if value is not None:
                expect(value, str, condition.at(key), f"`{key}` of a condition")
        conditions.append(
            MappingCondition(
                active_loop=condition.get("active_loop", MISSING),
                requested_slot=condition.get("requested_slot"),
                active_flow=condition.get("active_flow"),
            )
        )
    return tuple(conditions)


def _form(
    name: str, value: Any, source: Source, sources: dict[str, Source], warnings: list[Problem]
) -> Form:
    what = f"form '{name}'"
    if value is None:
        return Form()
    ignored: tuple[str, ...] = ()
    if isinstance(value, dict) and any(key in value for key in FORM_KEYS):
        form = as_map(value, source, what, FORM_KEYS, warnings=warnings)
        required, at = form.get("required_slots"), form.at("required_slots")
        if form.get("ignored_intents") is not None:
            at_ignored = form.at("ignored_intents")
            ignored = _strings(form["ignored_intents"], at_ignored, f"`ignored_intents` of {what}")
    else:
        # Legacy shorthand: the value is the list of required slots (or a slot -> mappings
        # map). A key that looks like a misspelt `required_slots` is a typo, not a slot.
        if isinstance(value, dict):
            as_map(value, source, what, FORM_KEYS, extra_ok=True)
        required, at = value, source
    slots: list[str] = []
    if isinstance(required, dict):
        required = as_map(required, at, f"the required slots of {what}")
        for slot in required:
            slots.append(str(slot))
            sources[f"form:{name}:slot:{slot}"] = required.at(slot)
    elif required is not None:
        items = as_list(required, at, f"the required slots of {what}")
        for index, slot in enumerate(items):
            slots.append(expect(slot, str, items.at(index), f"a required slot of {what}"))
            sources[f"form:{name}:slot:{slot}"] = items.at(index)
    return Form(required_slots=tuple(slots), ignored_intents=ignored)


def _session_config(value: Any, at: Source, warnings: list[Problem]) -> SessionConfig:
    data = as_map(value, at, "`session_config`", SESSION_KEYS, warnings=warnings)
    defaults = SessionConfig()
    minutes = data.get("session_expiration_time", defaults.session_expiration_time)
    minutes = expect(
        minutes, (int, float), data.at("session_expiration_time"), "`session_expiration_time`"
    )
    if minutes < 0:
        raise ProjectError(
            data.at("session_expiration_time"),
            "`session_expiration_time` must not be negative",
            "use 0 to keep one session forever",
        )

    def flag(key: str) -> bool:
        return expect(data.get(key, getattr(defaults, key)), bool, data.at(key), f"`{key}`")

    return SessionConfig(
        session_expiration_time=float(minutes),
        carry_over_slots_to_new_session=flag("carry_over_slots_to_new_session"),
        start_session_after_expiry=flag("start_session_after_expiry"),
    )


# -- responses -------------------------------------------------------------------------------


def read_responses(
    value: Any, at: Source, sources: dict[str, Source], problems: list[Problem]
) -> dict[str, tuple[Mapping[str, Any], ...]]:
    """``responses``: name -> variations (also used for responses written in NLU files)."""
    entries = as_map(value, at, "`responses`")
    responses = {}
    for name, variations in entries.items():
        with gather(problems):
            responses[str(name)] = _variations(str(name), variations, entries.at(name), problems)
            sources[f"response:{name}"] = entries.at(name)
    return responses


def _variations(
    name: str, value: Any, source: Source, warnings: list[Problem]
) -> tuple[Mapping[str, Any], ...]:
    """The variations of a response; keys the format does not name are kept, with a warning
    (the reference's schema allows them)."""
    items = as_list(value, source, f"response '{name}'")
    variations = []
    for index, item in enumerate(items):
        at = items.at(index)
        what = f"a variation of response '{name}'"
        variation = as_map(item, at, what, VARIATION_KEYS, warnings=warnings)
        if not any(variation.get(key) is not None for key in CONTENT_KEYS):
            raise ProjectError(
                at,
                f"a variation of response '{name}' has nothing to say",
                "add `text:` (or one of: " + ", ".join(CONTENT_KEYS[1:]) + ")",
            )
        if variation.get("text") is not None:
            expect(
                variation["text"], (str, int, float), variation.at("text"), "the text of a response"
            )
        if variation.get("buttons") is not None:
            as_list(variation["buttons"], variation.at("buttons"), "`buttons`")
        variations.append(plain(variation))
    return tuple(variations)


# -- merging and defaults ------------------------------------------------------------------


def merge_domains(parts: Iterable[Domain], problems: list[Problem]) -> Domain:
    """Merge the domains of several files; the first loaded definition wins.

    Responses and slots defined in two files are errors (which one is meant is a guess);
    other duplicates only warn.
    """
    merged = Domain()
    for part in parts:
        merged = _merge(merged, part, problems)
    return merged


def _merge(first: Domain, second: Domain, problems: list[Problem]) -> Domain:
    def union(
        kind: str, a: Mapping[str, Any], b: Mapping[str, Any], severity: str
    ) -> dict[str, Any]:
        result = dict(a)
        for name, value in b.items():
            if name not in result:
                result[name] = value
                continue
            here, there = second.sources.get(f"{kind}:{name}"), first.sources.get(f"{kind}:{name}")
            fix = (
                "keep one definition"
                if severity == "error"
                else "remove one of them; the first is used"
            )
            problems.append(
                Problem(
                    here or Source("<domain>"),
                    f"{kind} '{name}' is also defined at {there}",
                    fix,
                    severity,
                )
            )
        return result

    # A form name listed under another file's `actions` is dropped from that list.
    actions = [a for a in first.actions if a not in second.forms]
    actions += [a for a in second.actions if a not in first.forms and a not in first.actions]
    return Domain(
        intents=union("intent", first.intents, second.intents, "warning"),
        entities=union("entity", first.entities, second.entities, "warning"),
        slots=union("slot", first.slots, second.slots, "error"),
        responses=union("response", first.responses, second.responses, "error"),
        actions=tuple(actions),
        send_domain_actions=first.send_domain_actions | second.send_domain_actions,
        forms=union("form", first.forms, second.forms, "warning"),
        # The first non-default session configuration / store setting wins.
        session_config=first.session_config
        if first.session_config != SessionConfig()
        else second.session_config,
        store_entities_as_slots=first.store_entities_as_slots and second.store_entities_as_slots,
        sources={**second.sources, **first.sources},
    )


def with_defaults(domain: Domain) -> Domain:
    """Add what every domain has: the default intents and the built-in slots."""
    intents = dict(domain.intents)
    for intent in names.DEFAULT_INTENTS:
        intents.setdefault(intent, IntentConfig())
    slots = dict(domain.slots)
    for slot in _builtin_slots(domain):
        slots.setdefault(slot.name, slot)
    return replace(domain, intents=intents, slots=slots)


def _builtin_slots(domain: Domain) -> list[Slot]:
    builtin = []
    if domain.forms:
        builtin.append(Slot(names.SLOT_REQUESTED, "text", influence_conversation=False))
    builtin.append(Slot(names.SLOT_SESSION_STARTED_METADATA, "any", influence_conversation=False))
    if ACTION_QUERY_KNOWLEDGE_BASE in domain.actions:
        builtin += [
            Slot(name, kind, influence_conversation=False) for name, kind in KNOWLEDGE_BASE_SLOTS
        ]
    builtin.append(Slot(names.SLOT_FLOW_HASHES, "any", influence_conversation=False))
    builtin.append(
        Slot(
            names.SLOT_MOCKED_DATETIME,
            "text",
            (SlotMapping("controlled"),),
            influence_conversation=False,
        )
    )
    return builtin
