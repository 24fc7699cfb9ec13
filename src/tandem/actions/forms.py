"""The built-in form action: a loop that asks for its required slots.

One run of form F:

1. activation (F is not active yet): ``active_loop{F}``, the slots the activating message
   fills once F is active (``action_extract_slots`` on a tracker with F active), and the
   validation of every required slot that already has a value;
2. otherwise, if the user just answered (previous action ``action_listen``, F not
   interrupted): validation of the slots extracted this turn — with nothing extracted for
   the requested slot, F rejects and other policies take over;
3. ask for the next empty required slot (or the one validation asked for) with the first of
   ``action_ask_<F>_<slot>``, ``utter_ask_<F>_<slot>``, ``action_ask_<slot>``,
   ``utter_ask_<slot>``; with none left, ``requested_slot`` is cleared and F deactivates.

Validation is the custom action ``validate_<F>`` if the domain lists it; it sees the
candidates as the trailing ``slot`` events of the tracker.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from tandem import names
from tandem.actions.base import Action, ActionContext, ActionRejected
from tandem.actions.custom import RemoteAction
from tandem.actions.extract_slots import ExtractSlotsAction
from tandem.actions.registry import ActionRegistry
from tandem.actions.responses import ResponseAction
from tandem.conversation.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActiveLoop,
    Event,
    SlotSet,
    UserUttered,
)
from tandem.conversation.tracker import Tracker
from tandem.project.domain import Form

log = logging.getLogger(__name__)

REQUESTED = names.SLOT_REQUESTED


def register_forms(registry: ActionRegistry) -> None:
    """Run the built-in form action for every form the domain does not implement itself."""
    domain = registry.domain
    for name in domain.forms:
        if not domain.is_custom_action(name):
            registry.register(name, FormAction)


class FormAction(Action):
    def __init__(self, name: str) -> None:
        self.name = name

    async def run(self, tracker: Tracker, context: ActionContext) -> list[Event]:
        form = context.domain.forms.get(self.name) or Form()
        if tracker.active_loop_name != self.name:
            events = await self._activate(tracker, context, form)
            validation = events
        else:
            events = validation = await self._validate(tracker, context, form)
        if any(isinstance(e, ActionExecutionRejected) for e in events):
            return events  # the validation action rejected: not done, nothing to ask
        if not _done(events):
            events = [*events, *await self._request(tracker, events, validation, context, form)]
        last_loop = next((e for e in reversed(events) if isinstance(e, ActiveLoop)), None)
        if _done(events) and (last_loop is None or last_loop.name is not None):
            events.append(ActiveLoop(name=None))
        return events

    async def _activate(self, tracker: Tracker, context: ActionContext, form: Form) -> list[Event]:
        events: list[Event] = [ActiveLoop(name=self.name)]
        active = _with(tracker, events)
        extracted = [
            e for e in await ExtractSlotsAction().run(active, context) if isinstance(e, SlotSet)
        ]
        active.update_many(extracted)
        prefilled = [
            SlotSet(name=slot, value=active.get_slot(slot))
            for slot in form.required_slots
            if active.get_slot(slot) is not None
        ]
        validated = await self._call_validation(active, context, prefilled)
        if validated is None:
            return [*events, *extracted]
        # What validation said about a slot replaces what was extracted for it.
        mentioned = {e.name for e in validated if isinstance(e, SlotSet)}
        return [*events, *(e for e in extracted if e.name not in mentioned), *validated]

    async def _validate(self, tracker: Tracker, context: ActionContext, form: Form) -> list[Event]:
        """Validate this turn's answer; reject when the requested slot got nothing."""
        loop = tracker.active_loop
        answered = tracker.latest_action_name == names.ACTION_LISTEN and not (
            loop is not None and loop.is_interrupted
        )
        requested = tracker.get_slot(REQUESTED)
        candidates = (
            _extracted_this_turn(tracker, {*form.required_slots, requested}) if answered else []
        )
        # Called even without candidates: the action may extract slots or pick the next one.
        validated = await self._call_validation(tracker, context, candidates) or []
        got_something = candidates or any(
            isinstance(e, SlotSet) and e.name != REQUESTED for e in validated
        )
        self_rejected = any(isinstance(e, ActionExecutionRejected) for e in validated)
        if answered and requested is not None and not got_something and not self_rejected:
            raise ActionRejected(
                f"form '{self.name}' got no value for the requested slot '{requested}'"
            )
        return validated

    async def _call_validation(
        self, tracker: Tracker, context: ActionContext, candidates: Sequence[SlotSet]
    ) -> list[Event] | None:
        """The events of ``validate_<form>``, or None if the domain has no such action."""
        name = names.VALIDATE_PREFIX + self.name
        if not context.domain.is_custom_action(name):
            return None
        # The server finds the candidates as the trailing slot events after the form's run.
        probe = Tracker(
            tracker.sender_id,
            tracker.slot_defs,
            [
                *tracker.events_after_restart(),
                SlotSet(name=REQUESTED, value=tracker.get_slot(REQUESTED)),
                ActionExecuted(name=self.name),
                *candidates,
            ],
        )
        return await RemoteAction(name).run(probe, context)

    async def _request(
        self,
        tracker: Tracker,
        events: list[Event],
        validation: Sequence[Event],
        context: ActionContext,
        form: Form,
    ) -> list[Event]:
        """Ask for the next slot: the one validation named, else the first empty one."""
        current = _with(tracker, events)
        named = [e for e in validation if isinstance(e, SlotSet) and e.name == REQUESTED]
        asked: list[Event] = []
        if named:
            slot = named[-1].value
        else:
            slot = next((s for s in form.required_slots if current.get_slot(s) is None), None)
            asked.append(SlotSet(name=REQUESTED, value=slot))
            current.update_many(asked)
        if slot is not None:
            asked += await self._ask(str(slot), current, context)
        return asked

    async def _ask(self, slot: str, tracker: Tracker, context: ActionContext) -> list[Event]:
        domain = context.domain
        for name in (
            f"{names.ASK_ACTION_PREFIX}{self.name}_{slot}",
            f"{names.ASK_RESPONSE_PREFIX}{self.name}_{slot}",
            f"{names.ASK_ACTION_PREFIX}{slot}",
            f"{names.ASK_RESPONSE_PREFIX}{slot}",
        ):
            if domain.is_custom_action(name):
                return await RemoteAction(name).run(tracker, context)
            if name in domain.responses:
                return await ResponseAction(name).run(tracker, context)
        log.warning("Form '%s' has no response or action to ask for slot '%s'.", self.name, slot)
        return []


def _done(events: Sequence[Event]) -> bool:
    """Done when the last ``requested_slot`` event clears it or the last loop event ends it."""
    requested = next(
        (e for e in reversed(events) if isinstance(e, SlotSet) and e.name == REQUESTED), None
    )
    loop = next((e for e in reversed(events) if isinstance(e, ActiveLoop)), None)
    return (requested is not None and requested.value is None) or (
        loop is not None and loop.name is None
    )


def _extracted_this_turn(tracker: Tracker, slots: set[str | None]) -> list[SlotSet]:
    """The ``slot`` events for ``slots`` since the latest user message."""
    found: list[SlotSet] = []
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            break
        if isinstance(event, SlotSet) and event.name in slots:
            found.append(event)
    return found[::-1]


def _with(tracker: Tracker, events: Sequence[Event]) -> Tracker:
    updated = tracker.copy()
    updated.update_many(events)
    return updated
