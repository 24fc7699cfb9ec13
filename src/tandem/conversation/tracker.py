"""The tracker: a conversation's events and the state derived by replaying them.

State is never stored on its own; every change comes from an event. Appending an event
updates the derived state incrementally; events that undo history (``rewind``, ``undo``)
rebuild it from the applied events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tandem import names
from tandem.conversation import events as ev
from tandem.conversation.json_patch import apply_patch, copy_json
from tandem.conversation.parse_data import ParseData, as_entities
from tandem.conversation.slots import Slot
from tandem.conversation.stack import Frame

# ``include_events`` values of the HTTP API.
VERBOSITIES = ("ALL", "AFTER_RESTART", "APPLIED", "NONE")


@dataclass(slots=True)
class ActiveLoopState:
    name: str
    is_interrupted: bool = False
    rejected: bool = False
    trigger_message: ParseData | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "is_interrupted": self.is_interrupted,
            "rejected": self.rejected,
            "trigger_message": self.trigger_message,
        }


@dataclass(slots=True)
class _State:
    """Everything derived from events; reset as a whole by restarts and replays."""

    slots: dict[str, Any]
    latest_message: ev.UserUttered | None = None
    latest_bot_utterance: ev.BotUttered | None = None
    latest_action: dict[str, Any] = field(default_factory=dict)
    active_loop: ActiveLoopState | None = None
    followup_action: str | None = None
    paused: bool = False
    inactive: bool = False
    stack: list[Frame] = field(default_factory=list)
    # Entities of the latest message, plus any added by ``entities`` events.
    latest_entities: list[dict[str, Any]] = field(default_factory=list)
    # Slots that received a ``slot`` event since the last reset, and who filled them.
    filled_by: dict[str, str | None] = field(default_factory=dict)


class Tracker:
    """One conversation. ``slot_defs`` are the domain's slots (values are coerced by them)."""

    def __init__(
        self,
        sender_id: str,
        slot_defs: Mapping[str, Slot] | None = None,
        events: Iterable[ev.Event] = (),
    ) -> None:
        self.sender_id = sender_id
        self.slot_defs: Mapping[str, Slot] = slot_defs or {}
        self.events: list[ev.Event] = []
        self.terminated = False  # a ``session_ended`` event ends the conversation for good
        self.saved_event_count = 0  # how many of ``events`` the tracker store already holds
        # Where ``events[0]`` sits in the stored conversation (a store may load only the
        # latest session); ``None`` if not loaded from a store: new events go after the end.
        self.stored_offset: int | None = None
        # Slots set and flows started by any of ``events`` (kept as events are appended, so
        # that asking does not read a long conversation from the start).
        self._slots_in_events: set[str] = set()
        self._flows_in_events: set[str] = set()
        self._state = self._fresh_state()
        for event in events:
            self.update(event)

    # -- reading state ----------------------------------------------------------------

    @property
    def slots(self) -> dict[str, Any]:
        return self._state.slots

    def get_slot(self, name: str) -> Any:
        return self._state.slots.get(name)

    def has_slot(self, name: str) -> bool:
        return name in self.slot_defs

    def slot_was_set(self, name: str) -> bool:
        """Whether a ``slot`` event for ``name`` was applied since the last reset."""
        return name in self._state.filled_by

    def slot_filled_by(self, name: str) -> str | None:
        return self._state.filled_by.get(name)

    @property
    def latest_message(self) -> ev.UserUttered | None:
        return self._state.latest_message

    @property
    def latest_entities(self) -> list[dict[str, Any]]:
        """Entities of the latest user message, including ones added by ``entities`` events."""
        return self._state.latest_entities

    @property
    def latest_bot_utterance(self) -> ev.BotUttered | None:
        return self._state.latest_bot_utterance

    @property
    def latest_action(self) -> dict[str, Any]:
        return self._state.latest_action

    @property
    def latest_action_name(self) -> str | None:
        return self._state.latest_action.get("action_name")

    @property
    def active_loop(self) -> ActiveLoopState | None:
        return self._state.active_loop

    @property
    def active_loop_name(self) -> str | None:
        loop = self._state.active_loop
        return loop.name if loop else None

    @property
    def followup_action(self) -> str | None:
        return self._state.followup_action

    @property
    def paused(self) -> bool:
        return self._state.paused

    @property
    def inactive(self) -> bool:
        return self._state.inactive

    @property
    def stack(self) -> list[Frame]:
        """The dialogue stack as serialised frames, bottom first (read-only view)."""
        return self._state.stack

    @property
    def latest_event_time(self) -> float | None:
        return self.events[-1].timestamp if self.events else None

    def slots_in_events(self) -> frozenset[str]:
        """Names of the slots a ``slot`` event among ``events`` sets (whatever came after)."""
        return frozenset(self._slots_in_events)

    def flows_started_in_events(self) -> frozenset[str]:
        """Ids of the flows a ``flow_started`` event among ``events`` names."""
        return frozenset(self._flows_in_events)

    def latest_input_channel(self) -> str | None:
        for event in reversed(self.events):
            if isinstance(event, ev.UserUttered):
                return event.input_channel
        return None

    # -- changing state ---------------------------------------------------------------

    def update(self, event: ev.Event) -> None:
        """Append ``event`` and apply it to the derived state."""
        if self.terminated:
            return
        self.events.append(event)
        if isinstance(event, ev.SlotSet):
            self._slots_in_events.add(event.name)
        elif isinstance(event, ev.FlowStarted):
            self._flows_in_events.add(event.flow_id)
        if isinstance(event, (ev.UserUtteranceReverted, ev.ActionReverted)):
            self._replay()
        else:
            _apply(self, event)

    def update_many(self, events: Iterable[ev.Event]) -> None:
        for event in events:
            self.update(event)

    def copy(self) -> Tracker:
        clone = Tracker.__new__(Tracker)
        clone.sender_id = self.sender_id
        clone.slot_defs = self.slot_defs
        clone.events = list(self.events)
        clone.terminated = self.terminated
        clone.saved_event_count = self.saved_event_count
        clone.stored_offset = self.stored_offset
        clone._slots_in_events = set(self._slots_in_events)
        clone._flows_in_events = set(self._flows_in_events)
        # Field by field: copy.copy of a slots dataclass goes through the generic
        # __reduce_ex__ protocol, and trackers are copied several times per turn.
        state = self._state
        loop = state.active_loop
        clone._state = _State(
            slots=dict(state.slots),
            latest_message=state.latest_message,
            latest_bot_utterance=state.latest_bot_utterance,
            latest_action=dict(state.latest_action),
            active_loop=None if loop is None else _copy_loop(loop),
            followup_action=state.followup_action,
            paused=state.paused,
            inactive=state.inactive,
            stack=copy_json(state.stack),
            latest_entities=list(state.latest_entities),
            filled_by=dict(state.filled_by),
        )
        return clone

    def _fresh_state(self) -> _State:
        return _State(slots={name: slot.initial_value for name, slot in self.slot_defs.items()})

    def _reset(self, keep_slots: Callable[[str], bool] | None = None) -> None:
        old_slots, old_filled = self._state.slots, self._state.filled_by
        self._state = self._fresh_state()
        if keep_slots is not None:
            for name in old_slots:
                if keep_slots(name):
                    self._state.slots[name] = old_slots[name]
                    if name in old_filled:
                        self._state.filled_by[name] = old_filled[name]

    def _replay(self) -> None:
        self._reset()
        for event in applied_events(self.events):
            _apply(self, event)

    # -- views ------------------------------------------------------------------------

    def applied_events(self) -> list[ev.Event]:
        return applied_events(self.events)

    def events_after_restart(self) -> list[ev.Event]:
        for index in range(len(self.events) - 1, -1, -1):
            if isinstance(self.events[index], ev.Restarted):
                return self.events[index:]
        return list(self.events)

    def events_for_verbosity(self, verbosity: str) -> list[ev.Event] | None:
        if verbosity == "ALL":
            return list(self.events)
        if verbosity == "AFTER_RESTART":
            return self.events_after_restart()
        if verbosity == "APPLIED":
            return self.applied_events()
        return None

    def latest_message_dict(self) -> ParseData:
        message = self._state.latest_message
        if message is None:
            return {"intent": {}, "entities": [], "text": None, "message_id": None, "metadata": {}}
        data = message.parse_data.copy()
        data.setdefault("intent", {})
        data["entities"] = as_entities(list(self._state.latest_entities))
        data.setdefault("text", message.text)
        data.setdefault("message_id", message.message_id)
        data.setdefault("metadata", message.metadata)
        return data

    def current_state(self, verbosity: str = "AFTER_RESTART") -> dict[str, Any]:
        """The tracker JSON of the HTTP API and the action server protocol."""
        events = self.events_for_verbosity(verbosity)
        loop = self._state.active_loop
        return {
            "sender_id": self.sender_id,
            "slots": dict(self._state.slots),
            "latest_message": self.latest_message_dict(),
            "latest_event_time": self.latest_event_time,
            "followup_action": self._state.followup_action,
            "paused": self._state.paused,
            "events": None if events is None else [event.as_dict() for event in events],
            "latest_input_channel": self.latest_input_channel(),
            "active_loop": loop.as_dict() if loop else {},
            "latest_action": dict(self._state.latest_action),
            "latest_action_name": self.latest_action_name,
            "inactive": self._state.inactive,
            "terminated": self.terminated,
            "stack": copy_json(self._state.stack),
        }

    def __repr__(self) -> str:
        return f"Tracker({self.sender_id!r}, {len(self.events)} events)"


def _copy_loop(loop: ActiveLoopState) -> ActiveLoopState:
    return ActiveLoopState(loop.name, loop.is_interrupted, loop.rejected, loop.trigger_message)


# -- applying events ------------------------------------------------------------------------


def _set_slot(tracker: Tracker, event: ev.SlotSet) -> None:
    slot = tracker.slot_defs.get(event.name)
    if slot is None:
        return  # unknown slot: ignored, as in the reference
    tracker._state.slots[event.name] = slot.store(event.value)
    tracker._state.filled_by[event.name] = event.filled_by


def _user(tracker: Tracker, event: ev.UserUttered) -> None:
    state = tracker._state
    state.latest_message = event
    state.latest_entities = list(event.entities)
    state.followup_action = None
    state.inactive = False


def _action(tracker: Tracker, event: ev.ActionExecuted) -> None:
    state = tracker._state
    state.latest_action = (
        {"action_name": event.name}
        if event.name is not None
        else {"action_text": event.action_text}
    )
    state.followup_action = None
    if state.active_loop is not None:
        state.active_loop.is_interrupted = False
        if event.name == state.active_loop.name:
            state.active_loop.rejected = False


def _active_loop(tracker: Tracker, event: ev.ActiveLoop) -> None:
    state = tracker._state
    if event.name is None:
        state.active_loop = None
        return
    trigger = None
    if state.latest_message is not None:
        trigger = tracker.latest_message_dict()
    state.active_loop = ActiveLoopState(event.name, trigger_message=trigger)


def _loop_interrupted(tracker: Tracker, event: ev.LoopInterrupted) -> None:
    if tracker._state.active_loop is not None:
        tracker._state.active_loop.is_interrupted = event.is_interrupted


def _rejected(tracker: Tracker, event: ev.ActionExecutionRejected) -> None:
    loop = tracker._state.active_loop
    if loop is not None and loop.name == event.name:
        loop.rejected = True


def _restart(tracker: Tracker, event: ev.Event) -> None:
    tracker._reset()
    tracker._state.followup_action = names.ACTION_SESSION_START


def _routing_session_ended(tracker: Tracker, event: ev.Event) -> None:
    """Coexistence reset: everything but ``shared_for_coexistence`` slots starts afresh."""
    tracker._reset(keep_slots=lambda name: tracker.slot_defs[name].shared_for_coexistence)
    tracker._state.followup_action = names.ACTION_LISTEN


def _stack(tracker: Tracker, event: ev.DialogueStackUpdated) -> None:
    tracker._state.stack = apply_patch(tracker._state.stack, event.update)


def _session_ended(tracker: Tracker, event: ev.Event) -> None:
    tracker.terminated = True


def _set(attribute: str, value: Any) -> Callable[[Tracker, ev.Event], None]:
    return lambda tracker, event: setattr(tracker._state, attribute, value)


def _resume(tracker: Tracker, event: ev.Event) -> None:
    tracker._state.paused = False
    tracker._state.inactive = False


def _reset_slots(tracker: Tracker, event: ev.Event) -> None:
    tracker._state.slots = tracker._fresh_state().slots
    tracker._state.filled_by = {}


def _entities(tracker: Tracker, event: ev.EntitiesAdded) -> None:
    state = tracker._state
    if state.latest_message is None or tracker.latest_action_name != names.ACTION_LISTEN:
        return
    state.latest_entities.extend(e for e in event.entities if e not in state.latest_entities)


_APPLY: dict[type[ev.Event], Callable[[Tracker, Any], None]] = {
    ev.UserUttered: _user,
    ev.BotUttered: lambda tracker, event: setattr(tracker._state, "latest_bot_utterance", event),
    ev.SlotSet: _set_slot,
    ev.ActionExecuted: _action,
    ev.ActiveLoop: _active_loop,
    ev.LoopInterrupted: _loop_interrupted,
    ev.ActionExecutionRejected: _rejected,
    ev.Restarted: _restart,
    ev.SessionStarted: lambda tracker, event: tracker._reset(),
    ev.RoutingSessionEnded: _routing_session_ended,
    ev.AllSlotsReset: _reset_slots,
    ev.FollowupAction: lambda tracker, event: setattr(
        tracker._state, "followup_action", event.name
    ),
    ev.ConversationPaused: _set("paused", True),
    ev.ConversationResumed: _resume,
    ev.ConversationInactive: _set("inactive", True),
    ev.SessionEnded: _session_ended,
    ev.DialogueStackUpdated: _stack,
    ev.EntitiesAdded: _entities,
}


def _apply(tracker: Tracker, event: ev.Event) -> None:
    handler = _APPLY.get(type(event))
    if handler is not None:
        handler(tracker, event)


# -- applied events -----------------------------------------------------------------------


def applied_events(events: Iterable[ev.Event]) -> list[ev.Event]:
    """The events that still count after restarts, rewinds, undos and form-loop collapsing."""
    events = list(events)
    applied = AppliedEvents({e.name for e in events if isinstance(e, ev.ActiveLoop) and e.name})
    for event in events:
        applied.add(event)
    return applied.events


class AppliedEvents:
    """The applied events of a growing event list, maintained one event at a time.

    Most events are appended; restarts, rewinds, undos and loop collapsing remove events from
    the end. ``take_changes`` tells an incremental reader (the policies' featurisation) from
    which index the list differs from what it saw last, so it need not re-read the rest.
    ``loop_names`` are the names treated as loops; names of ``active_loop`` events are added
    as they arrive.
    """

    def __init__(self, loop_names: Iterable[str] = ()) -> None:
        self.events: list[ev.Event] = []
        self.loop_names = set(loop_names)
        self._unchanged = 0  # events[:_unchanged] are as the last ``take_changes`` saw them

    def add(self, event: ev.Event) -> None:
        events = self.events
        if isinstance(event, ev.ActiveLoop) and event.name:
            self.loop_names.add(event.name)
        if isinstance(event, (ev.Restarted, ev.SessionStarted)):
            self.replace_all([])
        elif isinstance(event, ev.ActionReverted):
            self._undo_till(ev.ActionExecuted)
        elif isinstance(event, ev.UserUtteranceReverted):
            self._undo_till(ev.UserUttered)
            self._undo_till(ev.ActionExecuted)
        elif (
            isinstance(event, ev.ActionExecuted)
            and event.name in self.loop_names
            and not _first_loop_run_or_unhappy(events, event.name)
        ):
            # The previous run of the loop stands for this one; the turns between vanish.
            self._collapse_loop_turns(event.name)
        else:
            events.append(event)

    def replace_all(self, events: Iterable[ev.Event]) -> None:
        self.events = list(events)
        self._unchanged = 0

    def take_changes(self) -> int:
        """The first index that changed since the previous call (``len(events)`` if none)."""
        first = min(self._unchanged, len(self.events))
        self._unchanged = len(self.events)
        return first

    def _truncate(self, length: int) -> None:
        del self.events[length:]
        self._unchanged = min(self._unchanged, length)

    def _undo_till(self, kind: type[ev.Event]) -> None:
        events = self.events
        for index in range(len(events) - 1, -1, -1):
            if isinstance(events[index], kind):
                self._truncate(index)
                return
        self._truncate(0)

    def _collapse_loop_turns(self, loop: str | None) -> None:
        """Drop actions and user turns since the loop's previous run, keeping other events."""
        events = self.events
        for index in range(len(events) - 1, -1, -1):
            event = events[index]
            if isinstance(event, ev.ActionExecuted) and event.name == loop:
                tail = events[index + 1 :]
                self._truncate(index + 1)
                events.extend(
                    e
                    for e in tail
                    if not isinstance(e, (ev.ActionExecuted, ev.UserUttered, ev.UserFeaturization))
                )
                return


def _first_loop_run_or_unhappy(applied: list[ev.Event], loop: str | None) -> bool:
    """True if ``loop`` has not run yet, or an unhappy path happened since its last run.

    Unhappy: the loop was rejected, or a user message was answered by another action.
    """
    next_action = None
    for event in reversed(applied):
        if isinstance(event, ev.ActiveLoop) and event.name is None:
            return True  # earlier runs belonged to an earlier activation
        if isinstance(event, ev.ActionExecutionRejected) and event.name == loop:
            return True
        if isinstance(event, ev.ActionExecuted):
            if event.name == loop:
                return False
            next_action = event.name
        if isinstance(event, ev.UserUttered) and next_action is not None and next_action != loop:
            return True
    return True
