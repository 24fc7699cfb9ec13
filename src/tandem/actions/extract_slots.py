"""``action_extract_slots``: fill slots from the latest user message.

Runs right after every user message. In order:

1. NLU turns only: every user slot (domain order) takes the value of its first applicable
   ``from_entity``/``from_text``/``from_intent``/``from_trigger_intent`` mapping.
2. Each distinct ``controlled`` mapping action (``run_action_every_turn``) runs once on the
   action server; only its ``slot`` and ``bot`` events are kept.
3. NLU turns only: if ``action_validate_slot_mappings`` is a domain action it validates the
   candidates; its events replace the candidates for the slots it mentions.

Coexistence: with the routing slot in the domain, only slots that belong to
this turn's system are considered. A turn is a CALM turn when the latest message carries a
command other than ``noop`` and the routing ``set slot``. CALM's slots are
those some ``collect`` step of some flow asks for (``context.flows``).

``MappingTurn`` and ``mapped_value`` are shared with CALM's NLUCommandAdapter, which
evaluates the same mappings for a message before it is logged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tandem import names
from tandem.actions.base import Action, ActionContext, ActionFailed, ActionRejected
from tandem.actions.custom import RemoteAction
from tandem.actions.responses import stack_context
from tandem.conversation.events import ActiveLoop, BotUttered, Event, SlotSet, UserUttered
from tandem.conversation.parse_data import ParseData, plain_entities
from tandem.conversation.routing import fill_in_this_system, is_calm_turn, is_coexistence
from tandem.conversation.slots import MISSING, MappingCondition, Slot, SlotMapping
from tandem.conversation.tracker import Tracker
from tandem.project.domain import Domain, Form
from tandem.project.domain_files import KNOWLEDGE_BASE_SLOTS

log = logging.getLogger(__name__)

# Slots the runtime adds and fills itself; mappings never touch them.
BUILTIN_SLOTS = frozenset(
    {
        names.SLOT_REQUESTED,
        names.SLOT_SESSION_STARTED_METADATA,
        names.SLOT_FLOW_HASHES,
        names.SLOT_MOCKED_DATETIME,
        *(name for name, _ in KNOWLEDGE_BASE_SLOTS),
    }
)
NO_VALUE = object()  # no mapping produced a value


class ExtractSlotsAction(Action):
    name = names.ACTION_EXTRACT_SLOTS

    async def run(self, tracker: Tracker, context: ActionContext) -> list[Event]:
        domain = context.domain
        calm_turn = is_calm_turn(tracker)
        slots = [slot for name, slot in domain.slots.items() if name not in BUILTIN_SLOTS]
        if is_coexistence(tracker):
            calm_slots = context.flows.collected_slots
            slots = [slot for slot in slots if fill_in_this_system(slot, calm_turn, calm_slots)]
        events: list[Event] = [] if calm_turn else _mapping_events(slots, tracker, domain)
        events += await _mapping_action_events(slots, tracker, events, context)
        if not calm_turn and domain.is_custom_action(names.ACTION_VALIDATE_SLOT_MAPPINGS):
            events = await _validated(events, tracker, context)
        return events


# -- predefined (NLU) mappings --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MappingTurn:
    """What the mappings look at: one user message and the conversation state around it."""

    tracker: Tracker
    domain: Domain
    intent: str | None
    text: str | None
    entities: list[dict[str, Any]]
    active_loop: str | None
    form: Form | None  # the active loop's definition, if it is a domain form
    loop_rejected: bool
    requested_slot: Any
    active_flow: str | None
    form_activated_now: bool  # the active form was activated by this message

    @classmethod
    def of(cls, tracker: Tracker, domain: Domain) -> MappingTurn:
        """The turn of the tracker's latest message."""
        message = tracker.latest_message
        return cls._build(
            tracker,
            domain,
            intent=message.intent_name if message else None,
            text=message.text if message else None,
            entities=tracker.latest_entities,
            form_activated_now=_activated_after_latest_message(tracker),
        )

    @classmethod
    def of_parse_data(cls, parse_data: ParseData, tracker: Tracker, domain: Domain) -> MappingTurn:
        """The turn of a message being parsed, which is not on the tracker yet (CALM's
        NLUCommandAdapter); no form can have been activated by it."""
        return cls._build(
            tracker,
            domain,
            intent=(parse_data.get("intent") or {}).get("name"),
            text=parse_data.get("text"),
            entities=list(plain_entities(parse_data.get("entities") or [])),
            form_activated_now=False,
        )

    @classmethod
    def _build(
        cls,
        tracker: Tracker,
        domain: Domain,
        *,
        intent: str | None,
        text: str | None,
        entities: list[dict[str, Any]],
        form_activated_now: bool,
    ) -> MappingTurn:
        loop = tracker.active_loop
        form = domain.forms.get(loop.name) if loop else None
        return cls(
            tracker=tracker,
            domain=domain,
            intent=intent,
            text=text,
            entities=entities,
            active_loop=loop.name if loop else None,
            form=form,
            loop_rejected=bool(loop and loop.rejected),
            requested_slot=tracker.get_slot(names.SLOT_REQUESTED),
            active_flow=stack_context(tracker).get("flow_id"),
            form_activated_now=form is not None and form_activated_now,
        )


def _activated_after_latest_message(tracker: Tracker) -> bool:
    for event in reversed(tracker.events):
        if isinstance(event, ActiveLoop) and event.name == tracker.active_loop_name:
            return True
        if isinstance(event, UserUttered):
            return False
    return False


def _mapping_events(slots: Iterable[Slot], tracker: Tracker, domain: Domain) -> list[Event]:
    """``slot`` events from the predefined mappings of ``slots`` for the latest message."""
    turn = MappingTurn.of(tracker, domain)
    events: list[Event] = []
    for slot in slots:
        value = mapped_value(slot, turn)
        if value is not NO_VALUE:
            events.append(SlotSet(name=slot.name, value=value))
    return events


def mapped_value(slot: Slot, turn: MappingTurn) -> Any:
    """The value of the first predefined mapping that yields one; ``NO_VALUE`` if none does.

    A mapping yielding ``None`` counts only when it clears a value the slot holds.
    """
    for mapping in slot.mappings:
        if not mapping.is_nlu or not _applies(mapping, slot, turn):
            continue
        values = _values(mapping, turn)
        if not values:
            continue
        value = values if slot.type == "list" else values[-1]
        if value is not None or turn.tracker.get_slot(slot.name) is not None:
            return value
    return NO_VALUE


def _values(mapping: SlotMapping, turn: MappingTurn) -> list[Any]:
    if mapping.type == "from_entity":
        return [
            entity.get("value")
            for entity in turn.entities
            # Exact match: a mapping without a role does not take an entity that has one.
            if entity.get("entity") == mapping.entity
            and entity.get("role") == mapping.role
            and entity.get("group") == mapping.group
        ]
    if mapping.type == "from_text":
        return [turn.text]
    return [mapping.value]  # from_intent, from_trigger_intent


def _applies(mapping: SlotMapping, slot: Slot, turn: MappingTurn) -> bool:
    if not _references_known_names(mapping, slot, turn.domain):
        return False
    if not mapping.intent_allows(turn.intent, _ignored_intents(mapping, turn)):
        return False
    if mapping.type == "from_trigger_intent":
        return turn.form_activated_now  # conditions do not apply to it
    if mapping.conditions and not _conditions_hold(mapping.conditions, slot, turn):
        return False
    return mapping.type != "from_entity" or _entity_unique_in_form(mapping, slot, turn)


def _references_known_names(mapping: SlotMapping, slot: Slot, domain: Domain) -> bool:
    # Debug only: validation reports such mappings once, and the IntentBasedRouter converts
    # with a domain stripped of intents and entities on purpose (as the reference does).
    if mapping.type == "from_entity" and mapping.entity not in domain.entities:
        log.debug(
            "Slot '%s' maps entity '%s', which is not in the domain.", slot.name, mapping.entity
        )
        return False
    unknown = [intent for intent in mapping.intent if intent not in domain.intents]
    if mapping.type == "from_intent" and unknown:
        log.debug("Slot '%s' maps intents %s, which are not in the domain.", slot.name, unknown)
        return False
    return True


def _ignored_intents(mapping: SlotMapping, turn: MappingTurn) -> frozenset[str]:
    """The active form's ``ignored_intents``, for mappings that are not about another loop."""
    if turn.form is None:
        return frozenset()
    if mapping.conditions and not any(
        c.active_loop == turn.active_loop for c in mapping.conditions
    ):
        return frozenset()
    return frozenset(turn.form.ignored_intents)


def _conditions_hold(conditions: Iterable[MappingCondition], slot: Slot, turn: MappingTurn) -> bool:
    if turn.active_flow is not None:  # while a flow runs only its id counts
        return any(condition.active_flow == turn.active_flow for condition in conditions)
    if turn.loop_rejected and turn.requested_slot == slot.name:
        return False  # the form just failed to fill this slot; let other policies handle it
    return any(_condition_holds(condition, turn) for condition in conditions)


def _condition_holds(condition: MappingCondition, turn: MappingTurn) -> bool:
    if condition.active_loop is MISSING:
        return False  # [3.21]: a condition must say which loop (or none) it is about
    if condition.active_loop != turn.active_loop:
        return False
    if condition.requested_slot is not None and condition.requested_slot != turn.requested_slot:
        return False
    return condition.active_flow is None  # no flow is running


def _entity_unique_in_form(mapping: SlotMapping, slot: Slot, turn: MappingTurn) -> bool:
    """While a form asks for another slot, an entity only fills ``slot`` if no other required
    slot of the form has the same mapping (otherwise it would fill several at once)."""
    form = turn.form
    if form is None or slot.name not in form.required_slots or slot.name == turn.requested_slot:
        return True
    key = _mapping_key(mapping)
    users = sum(
        1
        for name in form.required_slots
        if name in turn.domain.slots
        and any(_mapping_key(other) == key for other in turn.domain.slots[name].mappings)
    )
    return users == 1


def _mapping_key(mapping: SlotMapping) -> str:
    return json.dumps(mapping.as_dict(), sort_keys=True)


# -- custom actions -----------------------------------------------------------------------


async def _mapping_action_events(
    slots: Iterable[Slot], tracker: Tracker, events: list[Event], context: ActionContext
) -> list[Event]:
    """Run each distinct ``run_action_every_turn`` action of ``slots`` once."""
    actions = dict.fromkeys(
        mapping.action
        for slot in slots
        for mapping in slot.mappings
        if mapping.type == "controlled" and mapping.action is not None
    )
    produced: list[Event] = []
    for name in actions:
        if not context.domain.is_custom_action(name):
            log.warning("Slot mapping action '%s' is not a custom action of the domain.", name)
            continue
        produced += await _custom_events(name, _with(tracker, [*events, *produced]), context)
    return produced


async def _validated(events: list[Event], tracker: Tracker, context: ActionContext) -> list[Event]:
    """Let ``action_validate_slot_mappings`` see the candidates and override what it mentions."""
    candidates: list[Event] = [event for event in events if isinstance(event, SlotSet)]
    validated = await _custom_events(
        names.ACTION_VALIDATE_SLOT_MAPPINGS, _with(tracker, candidates), context
    )
    mentioned = {event.name for event in validated if isinstance(event, SlotSet)}
    return [
        *validated,
        *(e for e in events if not (isinstance(e, SlotSet) and e.name in mentioned)),
    ]


async def _custom_events(name: str, tracker: Tracker, context: ActionContext) -> list[Event]:
    """The ``slot`` and ``bot`` events of custom action ``name``; failures are only logged."""
    try:
        events = await RemoteAction(name).run(tracker, context)
    except (ActionFailed, ActionRejected) as error:
        log.error(
            "Custom action '%s' run by %s failed: %s", name, names.ACTION_EXTRACT_SLOTS, error
        )
        return []
    kept: list[Event] = [event for event in events if isinstance(event, (SlotSet, BotUttered))]
    if len(kept) < len(events):
        log.info("Dropped events of '%s' other than slot and bot events.", name)
    return kept


def _with(tracker: Tracker, events: list[Event]) -> Tracker:
    if not events:
        return tracker
    updated = tracker.copy()
    updated.update_many(events)
    return updated
