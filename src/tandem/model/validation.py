"""``data validate``: checks that need several project files together.

Each check is a function ``(project) -> Iterable[Problem]``; ``CHECKS`` lists them and
``validate_project`` runs them all, so every problem is reported at once, each with the file
and line to fix and a hint. Problems found while loading that did not stop it (warnings)
come first.
"""

from __future__ import annotations

import dataclasses
import re
import string
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from tandem import names
from tandem.calm.cleaning import CONTROLLED_MAPPING_TYPES, FROM_LLM
from tandem.conversation.events import ActionExecuted, ActiveLoop, Event, SlotSet, UserUttered
from tandem.conversation.slots import MISSING, Slot, SlotMapping
from tandem.model.components import PIPELINE, POLICIES, UNSUPPORTED, project_folders
from tandem.nlu import COMPONENTS, NluError
from tandem.nlu.component import Component
from tandem.nlu.pipeline import build
from tandem.policies.base import NluPolicy
from tandem.policies.registry import NLU_POLICIES
from tandem.project.config import ComponentConfig
from tandem.project.domain import Domain
from tandem.project.errors import Problem, Source, closest, suggest
from tandem.project.flows.conditions import ConditionSyntaxError, Predicate, has_template
from tandem.project.flows.model import ActionStep, CollectStep, Flow, SetSlotsStep
from tandem.project.flows.patterns import default_patterns
from tandem.project.loader import Project
from tandem.project.training_data import Checkpoint, OrStep, StoryBlock
from tandem.stores.errors import StoreConfigError
from tandem.stores.event_brokers import create_event_broker
from tandem.stores.factory import create_lock_store, create_tracker_store

Check = Callable[[Project], Iterable[Problem]]

INTENT_ROUTER = "IntentBasedRouter"
LLM_ROUTER = "LLMBasedRouter"
NLU_COMMAND_ADAPTER = "NLUCommandAdapter"
LLM_COMMAND_GENERATOR_SUFFIX = "LLMCommandGenerator"
# The settings each router needs: (entry, key, needed even when the entry is left out).
ROUTER_SETTINGS = {
    INTENT_ROUTER: (
        ("calm_entry", "sticky", True),
        ("nlu_entry", "sticky", True),
        ("nlu_entry", "non_sticky", True),
    ),
    LLM_ROUTER: (
        ("calm_entry", "sticky", True),
        ("nlu_entry", "sticky", False),
        ("nlu_entry", "non_sticky", False),
    ),
}


def validate_project(project: Project) -> list[Problem]:
    """Every error and warning about ``project``, in check order."""
    problems = list(project.warnings)
    for check in CHECKS:
        problems.extend(check(project))
    return problems


# -- helpers --------------------------------------------------------------------------------


def _undeclared(
    kind: str, name: str, choices: Iterable[str], source: Source, section: str
) -> Problem:
    near = _closest(name, choices)
    hint = f"did you mean '{near}'?" if near else f"declare it under `{section}:` in the domain"
    return Problem(source, f"{kind} '{name}' is not declared in the domain", hint)


def _closest(name: str, choices: Iterable[str]) -> str | None:
    """The likely intended name; the usual prefixes do not count as likeness."""
    by_stem = {_stem(choice): choice for choice in choices}
    near = closest(_stem(name), by_stem)
    return None if near is None else by_stem[near]


def _stem(name: str) -> str:
    return name.removeprefix(names.RESPONSE_PREFIX).removeprefix("action_")


def _domain_at(project: Project, *keys: str) -> Source:
    """Where the first of ``keys`` was declared (else the domain path as a whole)."""
    sources = project.domain.sources
    return next((sources[k] for k in keys if k in sources), Source(str(project.paths.domain)))


def _action_problem(domain: Domain, name: str, source: Source) -> Problem | None:
    """A problem if ``name`` is neither a known action nor an existing response."""
    if domain.has_action(name):
        return None
    if name.startswith(names.RESPONSE_PREFIX):
        near = _closest(name, domain.responses)
        hint = f"did you mean '{near}'?" if near else "add it under `responses:` in the domain"
        return Problem(source, f"response '{name}' is not defined", hint)
    return _undeclared("action", name, domain.action_names, source, "actions")


def _user_flows(project: Project) -> list[Flow]:
    """Flows written in the project (overridden patterns included, built-in ones not)."""
    builtin = {id(flow) for flow in default_patterns()}
    return [flow for flow in project.flows if id(flow) not in builtin]


def _has_flows(project: Project) -> bool:
    return bool(project.flows.user_flows)


# -- stories and rules ---------------------------------------------------------------------


def _story_events(block: StoryBlock) -> Iterator[tuple[Event, Source]]:
    for step, at in zip(block.steps, block.step_sources, strict=False):
        if isinstance(step, OrStep):
            yield from ((event, at) for event in step.alternatives)
        elif isinstance(step, Checkpoint):
            yield from ((event, at) for event in step.conditions)
        else:
            yield step, at
    yield from ((event, block.source) for event in block.condition)


def check_stories_and_rules(project: Project) -> Iterator[Problem]:
    """Intents, entities, actions, slots and forms used by stories and rules are declared."""
    return story_problems(project.domain, (*project.data.stories, *project.data.rules))


def story_problems(domain: Domain, blocks: Iterable[StoryBlock]) -> Iterator[Problem]:
    """The intents, entities, actions, slots and forms ``blocks`` use that ``domain`` lacks."""
    for block in blocks:
        for event, at in _story_events(block):
            if isinstance(event, UserUttered):
                intent = event.intent_name
                if intent and intent.split("/")[0] not in domain.intents:
                    yield _undeclared("intent", intent, domain.intents, at, "intents")
                for entity in event.entities:
                    if entity["entity"] not in domain.entities:
                        yield _undeclared(
                            "entity", entity["entity"], domain.entities, at, "entities"
                        )
            elif isinstance(event, ActionExecuted) and event.name is not None:
                problem = _action_problem(domain, event.name, at)
                if problem:
                    yield problem
            elif isinstance(event, SlotSet) and event.name not in domain.slots:
                yield _undeclared("slot", event.name, domain.slots, at, "slots")
            elif isinstance(event, ActiveLoop) and not _is_loop(domain, event.name):
                yield _undeclared("form", str(event.name), domain.forms, at, "forms")


def _is_loop(domain: Domain, name: str | None) -> bool:
    """``None`` (no loop), a form, the built-in two-stage fallback loop, or a custom action
    that behaves like one."""
    return (
        name is None
        or name in domain.forms
        or name in domain.actions
        or name == names.ACTION_TWO_STAGE_FALLBACK
    )


# -- NLU data ------------------------------------------------------------------------------


def check_nlu_data(project: Project) -> Iterator[Problem]:
    """Example intents and entities are declared; no example text belongs to two intents."""
    domain = project.domain
    first_seen: dict[str, tuple[str, Source]] = {}
    reported: set[str] = set()
    for example in project.data.nlu.examples:
        intent = example.intent or ""
        if intent.split("/")[0] not in domain.intents and intent not in reported:
            reported.add(intent)
            problem = _undeclared("intent", intent, domain.intents, example.source, "intents")
            yield Problem(
                problem.source,
                problem.message + "; policies will not know it",
                problem.hint,
                "warning",
            )
        for annotation in example.entities:
            if annotation.entity not in domain.entities and annotation.entity not in reported:
                reported.add(annotation.entity)
                problem = _undeclared(
                    "entity", annotation.entity, domain.entities, example.source, "entities"
                )
                yield dataclasses.replace(problem, severity="warning")
        other, at = first_seen.setdefault(example.text, (intent, example.source))
        if other != intent:
            # A warning, as for the reference (its own starter data has one such example).
            yield Problem(
                example.source,
                f"the example '{example.text}' is given for intent '{intent}' "
                f"and for '{other}' (at {at})",
                "keep it under one intent",
                "warning",
            )


def check_intents_have_examples(project: Project) -> Iterator[Problem]:
    trained = {intent.split("/")[0] for intent in project.data.nlu.intents}
    for intent in project.domain.intents:
        if intent not in trained and intent not in names.DEFAULT_INTENTS:
            yield Problem(
                _domain_at(project, f"intent:{intent}"),
                f"intent '{intent}' has no training examples",
                "add examples under `nlu:` or remove the intent",
                "warning",
            )


# -- domain ----------------------------------------------------------------------------------


def check_forms(project: Project) -> Iterator[Problem]:
    domain = project.domain
    for name, form in domain.forms.items():
        for slot in form.required_slots:
            if slot not in domain.slots:
                at = _domain_at(project, f"form:{name}:slot:{slot}", f"form:{name}")
                yield _undeclared("slot", slot, domain.slots, at, "slots")
        for intent in form.ignored_intents:
            if intent not in domain.intents:
                problem = _undeclared(
                    "intent", intent, domain.intents, _domain_at(project, f"form:{name}"), "intents"
                )
                yield dataclasses.replace(problem, severity="warning")


def check_responses_of_actions(project: Project) -> Iterator[Problem]:
    """``utter_`` names listed under ``actions`` usually mean a response was forgotten."""
    domain = project.domain
    for action in domain.actions:
        if (
            action.startswith(names.RESPONSE_PREFIX)
            and action not in domain.responses
            and not domain.is_retrieval_action(action)
        ):
            yield Problem(
                _domain_at(project, f"action:{action}"),
                f"action '{action}' has no response of that name, so it says nothing",
                "add the response under `responses:`; a custom action needs a name without "
                "`utter_`, as `utter_` actions never run on the action server",
                "warning",
            )


def check_slot_mappings(project: Project) -> Iterator[Problem]:
    """Mapping targets exist and the coexistence rules of mappings hold."""
    domain, flow_ids = project.domain, set(project.domain.flow_ids)
    has_flows = _has_flows(project)
    has_adapter = project.config.find(NLU_COMMAND_ADAPTER) is not None
    for name, slot in domain.slots.items():

        def at(index: int, slot_name: str = name) -> Source:
            return _domain_at(project, f"slot:{slot_name}:mapping:{index}", f"slot:{slot_name}")

        for index, mapping in enumerate(slot.mappings):
            if mapping.entity is not None and mapping.entity not in domain.entities:
                yield _undeclared("entity", mapping.entity, domain.entities, at(index), "entities")
            for intent in (*mapping.intent, *mapping.not_intent):
                if intent not in domain.intents:
                    # The reference warns (projects list form names here, for one).
                    undeclared = _undeclared("intent", intent, domain.intents, at(index), "intents")
                    yield dataclasses.replace(undeclared, severity="warning")
            for condition in mapping.conditions:
                loop = condition.active_loop
                if loop is not MISSING and loop is not None and loop not in domain.forms:
                    yield _undeclared("form", str(loop), domain.forms, at(index), "forms")
                if (
                    condition.requested_slot is not None
                    and condition.requested_slot not in domain.slots
                ):
                    yield _undeclared(
                        "slot", condition.requested_slot, domain.slots, at(index), "slots"
                    )
                if condition.active_flow is not None and condition.active_flow not in flow_ids:
                    near = closest(condition.active_flow, flow_ids)
                    yield Problem(
                        at(index),
                        f"flow '{condition.active_flow}' of a mapping condition does not exist",
                        f"did you mean '{near}'?" if near else "name a flow of the project",
                    )
            if mapping.action is not None:
                problem = _action_problem(domain, mapping.action, at(index))
                if problem:
                    yield problem
            if mapping.is_nlu and has_flows and not has_adapter:
                yield Problem(
                    at(index),
                    f"slot '{name}' has a `{mapping.type}` mapping, "
                    f"but the pipeline has no {NLU_COMMAND_ADAPTER}",
                    f"add {NLU_COMMAND_ADAPTER} to the pipeline so that flows can use NLU mappings",
                )
            if mapping.type == "from_llm" and not has_flows:
                implicit = (
                    "has no `mappings`, so it gets"
                    if index == 0 and len(slot.mappings) == 1
                    else "has"
                )
                yield Problem(
                    at(index),
                    f"slot '{name}' {implicit} a `from_llm` mapping, but the project has no flows",
                    "give the slot NLU mappings (or `mappings: []`), or add flows",
                )
            if mapping.allow_nlu_correction and not any(m.is_nlu for m in slot.mappings):
                yield Problem(
                    at(index),
                    f"`allow_nlu_correction` on slot '{name}', which has no NLU mapping to correct",
                    "remove `allow_nlu_correction` or add an NLU mapping",
                )
        yield from _coexistence_system_problems(slot, at)


def _coexistence_system_problems(slot: Slot, at: Callable[[int], Source]) -> Iterator[Problem]:
    systems = [
        (i, m.coexistence_system) for i, m in enumerate(slot.mappings) if m.coexistence_system
    ]
    for index, system in systems:
        if slot.shared_for_coexistence and system != "SHARED":
            yield Problem(
                at(index),
                f"slot '{slot.name}' is shared_for_coexistence, "
                "so its coexistence_system must be SHARED",
                "write `coexistence_system: SHARED` or remove it",
            )
    if len({system for _, system in systems}) > 1:
        yield Problem(
            at(systems[-1][0]),
            f"the controlled mappings of slot '{slot.name}' name different coexistence systems",
            "use one coexistence_system for all of them",
        )


# -- flows ------------------------------------------------------------------------------------


SLOT_NOT_FILLABLE = "tandem.validation.calm.collected_slot_not_fillable"


def check_collected_slots_fillable(project: Project) -> Iterator[Problem]:
    """Every slot a flow collects can be filled by a command generator of the pipeline: the
    NLUCommandAdapter fills from NLU mappings, LLM generators from `from_llm` mappings (or
    none), each only where the mapping's conditions allow the flow.
    An LLM generator that cannot fill such a slot is worth a warning even when the adapter
    can: its `set slot` commands are refused, so what the NLU misses stays unfilled."""
    pipeline = project.config.pipeline
    generators = [c.name for c in pipeline if _is_llm_generator(c) or c.name == NLU_COMMAND_ADAPTER]
    reported: set[str] = set()
    for flow in _user_flows(project):
        for step in flow.collect_steps:
            slot = project.domain.slots.get(step.collect)
            if slot is None or step.collect in reported or _controlled_only(slot):
                continue
            usable = [m for m in slot.mappings if _applies_in_flow(m, flow.id)]
            can_fill = {g: _generator_fills(g, slot, usable) for g in generators}
            llm_refused = [
                g for g, fills in can_fill.items() if not fills and g != NLU_COMMAND_ADAPTER
            ]
            if any(can_fill.values()) and not llm_refused:
                continue
            reported.add(step.collect)
            yield _unfillable_problem(project, flow, step, can_fill, llm_refused)


def _controlled_only(slot: Slot) -> bool:
    """Filled by custom actions, `set_slots` steps and buttons, by design."""
    return bool(slot.mappings) and all(m.type in CONTROLLED_MAPPING_TYPES for m in slot.mappings)


def _applies_in_flow(mapping: SlotMapping, flow_id: str) -> bool:
    return not mapping.conditions or any(c.active_flow == flow_id for c in mapping.conditions)


def _generator_fills(generator: str, slot: Slot, usable: Sequence[SlotMapping]) -> bool:
    if generator == NLU_COMMAND_ADAPTER:
        return any(m.is_nlu for m in usable)
    # `mappings: []` counts as `from_llm`, as in command cleaning.
    return any(m.type == FROM_LLM for m in usable) or not slot.mappings


def _unfillable_problem(
    project: Project,
    flow: Flow,
    step: CollectStep,
    can_fill: dict[str, bool],
    llm_refused: list[str],
) -> Problem:
    name, slot = step.collect, project.domain.slots[step.collect]
    where = f"slot '{name}' is collected by flow '{flow.id}' ({step.source})"
    fillers = [g for g, fills in can_fill.items() if fills]
    if llm_refused:
        refused = f"{llm_refused[0]}'s `set slot` commands for it are refused"
        message = f"{where}, but {refused}: no mapping of it is `from_llm` in this flow"
        if fillers:
            message += f"; only {fillers[0]} fills it, when the NLU finds its value"
        hint = f"add `- type: from_llm` to the mappings of '{name}'"
        if any(m.is_nlu for m in slot.mappings):
            hint += (
                "; keep its NLU mappings, and `allow_nlu_correction: true` lets the LLM "
                "correct what the NLU filled"
            )
        elif slot.mappings:
            hint += f" without `conditions`, or with `active_flow: {flow.id}`"
    elif NLU_COMMAND_ADAPTER in can_fill:
        message = f"{where}, but it has no NLU mapping that {NLU_COMMAND_ADAPTER} can use here"
        hint = f"give '{name}' an NLU mapping (e.g. `from_entity`), or add an LLM command generator"
    else:
        message = f"{where}, but the pipeline has no command generator to fill it"
        hint = f"add {NLU_COMMAND_ADAPTER} or an LLM command generator to the pipeline"
    at = _domain_at(project, f"slot:{name}")
    return Problem(at, message, hint, "warning", code=SLOT_NOT_FILLABLE)


def check_flows(project: Project) -> Iterator[Problem]:
    """Slots, actions, responses, intents and conditions used by the project's flows exist."""
    domain = project.domain
    for flow in _user_flows(project):
        for trigger in flow.nlu_trigger:
            if trigger.intent not in domain.intents:
                yield _undeclared(
                    "intent", trigger.intent, domain.intents, trigger.source, "intents"
                )
        for step in flow.steps:
            if isinstance(step, CollectStep):
                yield from _collect_problems(domain, step)
            elif isinstance(step, SetSlotsStep):
                for slot_name, _ in step.slots:
                    yield from _flow_slot_problems(domain, slot_name, step.source)
            elif isinstance(step, ActionStep) and not has_template(step.action):
                problem = _action_problem(domain, step.action, step.source)
                if problem:
                    yield problem
            conditions = [branch.condition for branch in step.next if branch.condition]
            if isinstance(step, CollectStep):
                conditions += [rejection.condition for rejection in step.rejections]
            for condition in conditions:
                yield from _condition_problems(domain, condition, step.source)


def _collect_problems(domain: Domain, step: CollectStep) -> Iterator[Problem]:
    slot_name = step.collect
    yield from _flow_slot_problems(domain, slot_name, step.source)
    slot = domain.slots.get(slot_name)
    asks = step.utter in domain.responses or domain.has_action(step.collect_action)
    if slot is not None and not asks and slot.initial_value is None:
        yield Problem(
            step.source,
            f"nothing asks for slot '{slot_name}': there is no response '{step.utter}' "
            f"and no action '{step.collect_action}'",
            f"add the response '{step.utter}' to the domain",
        )
    for rejection in step.rejections:
        if rejection.utter not in domain.responses:
            yield _action_problem(domain, rejection.utter, step.source) or Problem(
                step.source,
                f"response '{rejection.utter}' is not defined",
                "add it under `responses:`",
            )


def _flow_slot_problems(domain: Domain, slot_name: str, source: Source) -> Iterator[Problem]:
    slot = domain.slots.get(slot_name)
    if slot is None:
        yield _undeclared("slot", slot_name, domain.slots, source, "slots")
    elif slot.type == "list":
        yield Problem(
            source, f"flows cannot fill the list slot '{slot_name}'", "use a slot of another type"
        )


# `slots.<name> <operator> <value>` with the value written right after the operator.
_COMPARISON = re.compile(
    r"slots\.([A-Za-z_][\w-]*)\s*(?:==|=|!=|\bis\s+not\b|\bis\b)\s*('[^']*'|\"[^\"]*\"|[^\s()]+)"
)
_CONSTANTS = frozenset({"true", "false", "null", "undefined", "empty"})


def _condition_problems(domain: Domain, condition: str, source: Source) -> Iterator[Problem]:
    if has_template(condition):  # rendered at run time; only the result can be checked
        return
    try:
        variables = Predicate.parse(condition).variables
    except ConditionSyntaxError:
        return  # reported when the flows were loaded
    if not any(v.startswith(("slots.", "context.")) for v in variables):
        yield Problem(
            source,
            f"the condition '{condition}' uses neither slots nor context",
            "compare a `slots.<name>` or `context.<key>` value",
        )
    for variable in variables:
        namespace, _, name = variable.partition(".")
        if namespace == "slots" and name.split(".")[0] not in domain.slots:
            yield _undeclared("slot", name.split(".")[0], domain.slots, source, "slots")
        elif namespace not in ("slots", "context"):
            yield Problem(
                source,
                f"'{variable}' in the condition '{condition}' is read as a name, not as text",
                f"write '{variable}' in quotes",
                "warning",
            )
    for match in _COMPARISON.finditer(condition):
        slot = domain.slots.get(match[1])
        if slot is not None:
            yield from _compared_value_problems(slot, match[2], source)


def _compared_value_problems(slot: Slot, literal: str, source: Source) -> Iterator[Problem]:
    quoted = literal[:1] in ("'", '"')
    value = literal[1:-1] if quoted else literal
    if (
        slot.type == "categorical"
        and quoted
        and value.lower() not in {v.lower() for v in slot.values}
    ):
        yield Problem(
            source,
            f"'{value}' is not a value of the categorical slot '{slot.name}'",
            "compare with one of: " + ", ".join(slot.values),
        )
    if slot.type == "bool" and (quoted or value.lower() not in _CONSTANTS):
        yield Problem(
            source,
            f"the bool slot '{slot.name}' is compared with {literal}",
            "compare it with true or false (without quotes)",
        )


def check_flow_names(project: Project) -> Iterator[Problem]:
    """Flow names and descriptions (ignoring punctuation) are unique."""
    user_flows = {id(flow) for flow in _user_flows(project)}
    for attribute, normalise in (("name", str), ("description", _without_punctuation)):
        seen: dict[str, Flow] = {}
        for flow in project.flows:
            key = normalise(getattr(flow, attribute))
            other = seen.setdefault(key, flow)
            if other is not flow:
                at = flow if id(flow) in user_flows else other
                yield Problem(
                    at.source,
                    f"flows '{other.id}' and '{flow.id}' have the same {attribute}",
                    f"give each flow its own {attribute}",
                )


def _without_punctuation(text: str) -> str:
    return text.translate(str.maketrans("", "", string.punctuation)).strip()


# -- coexistence ----------------------------------------------------------

# The reference's codes for its training-time errors, in its spelling ("coexistance").
_COEXISTENCE_CODE = "engine.validation.coexistance."
BOTH_ROUTERS_DEFINED = _COEXISTENCE_CODE + "both_routers_defined"
WRONG_ORDER_OF_COMPONENTS = _COEXISTENCE_CODE + "wrong_order_of_components"
ROUTING_SLOT_NOT_IN_DOMAIN = _COEXISTENCE_CODE + "route_session_to_calm_not_in_domain"
ROUTING_SLOT_WITHOUT_ROUTER = (
    _COEXISTENCE_CODE + "route_session_to_calm_in_domain_with_no_router_defined"
)
INVALID_ROUTER_CONFIGURATION = _COEXISTENCE_CODE + "invalid_configuration"
RESET_ROUTING_WITHOUT_ROUTING = (
    _COEXISTENCE_CODE
    + "action_reset_routing_present_in_flow_without_router_or_route_session_to_calm_slot"
)
MULTIPLE_COMMAND_GENERATORS = (
    "engine.validation.command_generator.multiple_command_generator_defined"
)
# Codes of warnings the reference does not give: setups it accepts that then route or fill
# slots in ways the author probably did not mean.
_GOTCHA_CODE = "tandem.validation.coexistence."
ROUTER_AFTER_COMMAND_GENERATOR = _GOTCHA_CODE + "router_after_command_generator"
UNLISTED_INTENTS_ROUTED_TO_CALM = _GOTCHA_CODE + "unlisted_intents_routed_to_calm"
ROUTING_NEVER_RESET = _GOTCHA_CODE + "routing_session_never_ends"
ROUTING_SLOT_NOT_SETTABLE = _GOTCHA_CODE + "routing_slot_not_settable_by_commands"


def check_coexistence(project: Project) -> Iterator[Problem]:
    """The training-time errors of a coexistence setup, and warnings about setups that train
    but are likely mistakes (a router after a command generator, a routing never reset, ...)."""
    routers = [c for c in project.config.pipeline if c.name in (INTENT_ROUTER, LLM_ROUTER)]
    yield from _pipeline_order_problems(project.config.pipeline, routers)
    for router in routers:
        yield from _router_setting_problems(router.name, router.options, router.source)
    yield from _routing_slot_problems(project, routers)
    yield from _reset_routing_problems(project, routers)
    if any(router.name == INTENT_ROUTER for router in routers):
        yield from _slots_routing_unlisted_intents_to_calm(project)


def _is_llm_generator(component: ComponentConfig) -> bool:
    return component.name.endswith(LLM_COMMAND_GENERATOR_SUFFIX)


def _pipeline_order_problems(
    pipeline: Sequence[ComponentConfig], routers: list[ComponentConfig]
) -> Iterator[Problem]:
    second = next((r for r in routers if r.name != routers[0].name), None)
    if second is not None:
        yield Problem(
            second.source,
            "both IntentBasedRouter and LLMBasedRouter are configured",
            "keep one router",
            code=BOTH_ROUTERS_DEFINED,
        )
    generators = [c for c in pipeline if _is_llm_generator(c)]
    if len(generators) > 1:
        yield Problem(
            generators[1].source,
            "more than one LLM command generator is configured",
            "keep one of them",
            code=MULTIPLE_COMMAND_GENERATORS,
        )
    for router in routers:
        earlier = pipeline[: pipeline.index(router)]
        before = next((c for c in earlier if _is_llm_generator(c)), None)
        if before is not None and router.name == INTENT_ROUTER:
            yield Problem(
                router.source,
                f"IntentBasedRouter comes after the command generator {before.name} "
                f"(line {before.source.line})",
                "move the router before the command generators",
                code=WRONG_ORDER_OF_COMPONENTS,
            )
            continue
        # Not checked by the reference, but as wrong: the router replaces the commands.
        before = before or next((c for c in earlier if c.name == NLU_COMMAND_ADAPTER), None)
        if before is not None:
            yield Problem(
                router.source,
                f"{router.name} comes after {before.name} (line {before.source.line}), so it "
                f"overwrites the commands {before.name} predicts",
                "move the router before the command generators",
                "warning",
                code=ROUTER_AFTER_COMMAND_GENERATOR,
            )


def _router_setting_problems(router: str, options: Any, source: Source) -> Iterator[Problem]:
    for entry, key, always in ROUTER_SETTINGS[router]:
        settings = options.get(entry)
        if (always or entry in options) and (
            not isinstance(settings, dict) or settings.get(key) is None
        ):
            needs = "needs" if always else f"has `{entry}`, so it needs"
            yield Problem(
                source,
                f"{router} {needs} `{entry}.{key}`",
                f"add `{key}:` under `{entry}:`",
                code=INVALID_ROUTER_CONFIGURATION,
            )


def _routing_slot_problems(project: Project, routers: list[ComponentConfig]) -> Iterator[Problem]:
    routing_slot = project.domain.slots.get(names.ROUTING_SLOT)
    slot_at = _domain_at(project, f"slot:{names.ROUTING_SLOT}")
    declare = f"declare `{names.ROUTING_SLOT}: {{type: bool, mappings: [{{type: from_llm}}]}}`"
    if routers and routing_slot is None:
        yield Problem(
            routers[0].source,
            f"a router is configured, so the domain needs the bool slot '{names.ROUTING_SLOT}'",
            declare,
            code=ROUTING_SLOT_NOT_IN_DOMAIN,
        )
    elif routers and routing_slot is not None and routing_slot.type != "bool":
        yield Problem(
            slot_at,
            f"the slot '{names.ROUTING_SLOT}' is of type {routing_slot.type}, "
            "but routers need it to be a bool",
            "write `type: bool`",
            code=ROUTING_SLOT_NOT_IN_DOMAIN,
        )
    if routing_slot is not None and not routers:
        yield Problem(
            slot_at,
            f"the slot '{names.ROUTING_SLOT}' is declared but no router is configured",
            "add a router to the pipeline or remove the slot",
            code=ROUTING_SLOT_WITHOUT_ROUTER,
        )
    if routing_slot is not None and not any(
        m.type == "from_llm" and not m.conditions for m in routing_slot.mappings
    ):
        yield Problem(
            slot_at,
            f"routers set '{names.ROUTING_SLOT}' like an LLM, but its mappings do not allow it",
            "give it the mapping `- type: from_llm`",
            "warning",
            code=ROUTING_SLOT_NOT_SETTABLE,
        )


def _reset_steps(project: Project) -> list[tuple[Flow, ActionStep]]:
    """The ``action_reset_routing`` steps of the project's flows (overridden patterns too)."""
    return [
        (flow, step)
        for flow in _user_flows(project)
        for step in flow.steps
        if isinstance(step, ActionStep) and step.action == names.ACTION_RESET_ROUTING
    ]


def _reset_routing_problems(project: Project, routers: list[ComponentConfig]) -> Iterator[Problem]:
    routing_slot = project.domain.slots.get(names.ROUTING_SLOT)
    reset_steps = _reset_steps(project)
    if not routers:
        if routing_slot is None or routing_slot.type != "bool":
            for flow, step in reset_steps:
                yield Problem(
                    step.source,
                    f"flow '{flow.id}' resets the routing, but there is no router",
                    "remove the action_reset_routing step",
                    code=RESET_ROUTING_WITHOUT_ROUTING,
                )
        return
    data = project.data
    nlu_resets = any(
        isinstance(event, ActionExecuted) and event.name == names.ACTION_RESET_ROUTING
        for block in (*data.stories, *data.rules)
        for event, _ in _story_events(block)
    )
    unless = "(unless a custom action resets the routing)"
    if not nlu_resets:
        yield Problem(
            routers[0].source,
            "no rule or story runs action_reset_routing, so a routing session of the "
            "NLU-based system never ends: every later message goes to it",
            f"end the rules and stories that complete a skill with "
            f"`- action: {names.ACTION_RESET_ROUTING}` {unless}",
            "warning",
            code=ROUTING_NEVER_RESET,
        )
    if not reset_steps:
        yield Problem(
            routers[0].source,
            "no flow runs action_reset_routing, so a routing session of CALM never ends: "
            "every later message goes to it",
            "override pattern_completed with a last step "
            f"`- action: {names.ACTION_RESET_ROUTING}` {unless}",
            "warning",
            code=ROUTING_NEVER_RESET,
        )


def _slots_routing_unlisted_intents_to_calm(project: Project) -> Iterator[Problem]:
    """The IntentBasedRouter sends an intent none of its lists names to CALM if it converts
    to any command, and a slot that flows may fill ahead from any message converts always."""
    fillable: dict[str, Flow] = {}
    for flow in project.flows:
        for step in flow.collect_steps:
            if not step.ask_before_filling:
                fillable.setdefault(step.collect, flow)
    for name, flow in fillable.items():
        slot = project.domain.slots.get(name)
        for index, mapping in enumerate(slot.mappings if slot else ()):
            if mapping.type in ("from_text", "from_intent") and not (
                mapping.intent or mapping.conditions
            ):
                yield Problem(
                    _domain_at(project, f"slot:{name}:mapping:{index}", f"slot:{name}"),
                    f"slot '{name}' is collected by flow '{flow.id}' and has a "
                    f"`{mapping.type}` mapping without `intent` and `conditions`, so the "
                    "IntentBasedRouter sends every intent it does not list to CALM",
                    f"add `conditions: [{{active_flow: {flow.id}}}]` to the mapping, or "
                    "`ask_before_filling: true` to the collect step",
                    "warning",
                    code=UNLISTED_INTENTS_ROUTED_TO_CALM,
                )
                break


def check_component_names(project: Project) -> Iterator[Problem]:
    """Every pipeline component and policy must be one Tandem knows (listing them if not)."""
    for items, known, what in (
        (project.config.pipeline, set(PIPELINE), "pipeline component"),
        (project.config.policies, set(POLICIES), "policy"),
    ):
        for item in items:
            if item.name in UNSUPPORTED:
                yield Problem(
                    item.source,
                    f"the {what} '{item.name}' is not supported by Tandem",
                    "see 'Supported components' in the README",
                )
            elif item.name not in known:
                hint = closest(item.name, known)
                yield Problem(
                    item.source,
                    f"unknown {what} '{item.name}'",
                    f"did you mean '{hint}'?" if hint else "known: " + ", ".join(sorted(known)),
                )


def check_component_options(project: Project) -> Iterator[Problem]:
    """The options of the NLU components and NLU policies, each at its own line.

    An option the component does not read is a warning with a did-you-mean: the reference
    drops it silently, so a misspelt option would quietly do nothing, but a project it accepts
    is not refused. An option the reference reads and Tandem does not is a warning saying what
    is done instead, given once for all the items of one name.
    """
    ignored: dict[tuple[str, str], tuple[Source, str]] = {}
    for item in (*project.config.pipeline, *project.config.policies):
        kind = _options_owner(item.name)
        if kind is None:  # built elsewhere (CALM, routing), or an unknown name
            continue
        for key in item.options:
            if key in kind.ignored:
                ignored.setdefault((item.name, key), (item.at(key), kind.ignored[key]))
            elif key not in kind.known_options():
                yield Problem(
                    item.at(key),
                    f"unknown option '{key}' of {item.name}; it is ignored",
                    suggest(key, kind.known_options()) or "remove it",
                    "warning",
                )
    for (name, key), (at, instead) in ignored.items():
        yield Problem(
            at,
            f"option '{key}' of {name} does nothing in Tandem: {instead}",
            "remove it to silence this warning",
            "warning",
        )


def _options_owner(name: str) -> type[Component] | type[NluPolicy] | None:
    """The class that reads the options of the pipeline item or policy ``name``."""
    return COMPONENTS.get(name) or NLU_POLICIES.get(name)


def check_nlu_components(project: Project) -> Iterator[Problem]:
    """The pipeline builds as training builds it (option values, order)."""
    items = [item for item in project.config.pipeline if item.name in COMPONENTS]
    try:
        build(
            [(item.name, item.options) for item in items], language=project.config.language or "en"
        )
    except NluError as error:
        index = error.component_index
        yield Problem(
            items[index].source if index is not None else project.config.source, str(error)
        )


def check_project_folders(project: Project) -> Iterator[Problem]:
    """The folders that pipeline entries name (``JiebaTokenizer``'s dictionaries) exist."""
    for item, key, folder in project_folders(project.config):
        if not (project.root / folder).is_dir():
            yield Problem(item.at(key), f"{item.name}: {key} '{folder}' is not a folder")


def check_endpoints(project: Project) -> Iterator[Problem]:
    """The tracker store, lock store and event broker build as ``tandem run`` builds them
    (nothing is connected), so a setting they refuse is reported here, at its line."""
    endpoints, root = project.endpoints, project.root
    builders: tuple[Callable[[], object], ...] = (
        lambda: create_tracker_store(endpoints.tracker_store, project.domain.slots, root),
        lambda: create_lock_store(endpoints.lock_store),
        lambda: create_event_broker(endpoints.event_broker, root),
    )
    for build_store in builders:
        try:
            build_store()
        except StoreConfigError as error:
            yield Problem(error.source or Source(str(project.paths.endpoints)), error.message)


CHECKS: tuple[Check, ...] = (
    check_component_names,
    check_component_options,
    check_nlu_components,
    check_project_folders,
    check_stories_and_rules,
    check_nlu_data,
    check_intents_have_examples,
    check_forms,
    check_responses_of_actions,
    check_slot_mappings,
    check_collected_slots_fillable,
    check_flows,
    check_flow_names,
    check_coexistence,
    check_endpoints,
)
