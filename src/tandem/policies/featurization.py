"""Dialogue states: what the NLU policies see of a conversation.

A *state* is the set of features that hold when an action is about to be predicted: the
latest user message (intent, or text for end-to-end turns, plus its used entities with their
``#role``/``#group`` variants), the previous action, the featurised slots with a non-zero
feature vector, and the active loop. A conversation is the sequence of the states before each
of its applied actions, plus the current one.

States are frozensets of ``(key, value)`` features, so a rule state "is contained in" a
conversation state exactly when the conversation has every feature the rule asks for. Rule
data also uses ``SHOULD_NOT_BE_SET`` as a value ("this slot / loop must be absent").

``StateBuilder`` follows a growing event list and keeps the state before each applied action,
so predicting on a long conversation costs only the new events, not a walk over the history.
The runtime keeps the builders of recent conversations (``builder_for``).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tandem import names
from tandem.conversation import events as ev
from tandem.conversation.tracker import AppliedEvents, Tracker
from tandem.project.domain import Domain

SHOULD_NOT_BE_SET = "should_not_be_set"

INTENT = "intent"
TEXT = "text"
ENTITY = "entity"
PREV_ACTION = "prev_action"
ACTION_TEXT = "action_text"
ACTIVE_LOOP = "active_loop"
_SLOT = "slot:"

Feature = tuple[str, Hashable]
State = frozenset[Feature]


def slot_key(name: str) -> str:
    return _SLOT + name


def is_slot_feature(feature: Feature) -> bool:
    return feature[0].startswith(_SLOT)


# -- JSON ----------------------------------------------------------------------------------


def states_to_json(states: Sequence[State]) -> list[list[list[Any]]]:
    """States as JSON-ready lists (sorted, so equal states give equal JSON)."""
    return [sorted([key, list(v) if isinstance(v, tuple) else v] for key, v in s) for s in states]


def states_from_json(data: Sequence[Sequence[Sequence[Any]]]) -> tuple[State, ...]:
    return tuple(
        frozenset((key, tuple(v) if isinstance(v, list) else v) for key, v in state)
        for state in data
    )


def states_key(states: Sequence[State]) -> str:
    """A canonical string for a state sequence (lookup key of memoization and rules)."""
    return json.dumps(states_to_json(states), separators=(",", ":"))


# -- what a policy sees ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StateView:
    """What a policy leaves out of the states.

    ML policies running next to RulePolicy do not see slots and loops that only rules use,
    nor the turns of rules that never occur in stories (``hide_rule_turn`` on the action).
    """

    rule_only_slots: frozenset[str] = frozenset()
    rule_only_loops: frozenset[str] = frozenset()
    hide_rule_turns: bool = False

    def as_json(self) -> dict[str, Any]:
        """The persisted form; sorted, so that the same training gives the same archive."""
        return {
            "rule_only_slots": sorted(self.rule_only_slots),
            "rule_only_loops": sorted(self.rule_only_loops),
            "hide_rule_turns": self.hide_rule_turns,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StateView:
        return cls(
            frozenset(data["rule_only_slots"]),
            frozenset(data["rule_only_loops"]),
            data["hide_rule_turns"],
        )

    def __call__(self, state: State) -> State:
        if not self.rule_only_slots and not self.rule_only_loops:
            return state
        hidden_slots = {slot_key(name) for name in self.rule_only_slots}
        return frozenset(
            (key, value)
            for key, value in state
            if key not in hidden_slots
            and not (key == ACTIVE_LOOP and value in self.rule_only_loops)
        )


FULL_VIEW = StateView()


def last_states(states: Sequence[State], view: StateView, max_history: int | None) -> list[State]:
    """What a policy with ``view`` and ``max_history`` sees of training states."""
    seen = [view(state) for state in states]
    return seen[-max_history:] if max_history is not None else seen


# -- following events ---------------------------------------------------------------------


@dataclass(slots=True)
class _Running:
    """The featurisable part of the conversation after the events applied so far."""

    slots: dict[str, Any]  # slot name -> feature tuple (or SHOULD_NOT_BE_SET in rule data)
    loop: str | None = None
    user: ev.UserUttered | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    action: Feature | None = None
    use_text: bool = False  # the latest message is featurised by its text (end-to-end)

    def copy(self) -> _Running:
        return _Running(
            dict(self.slots), self.loop, self.user, list(self.entities), self.action, self.use_text
        )


class StateBuilder:
    """The state sequence of a growing event list, kept up to date one event at a time.

    ``rule_data`` featurises rules: only slots set by the rule count (no initial values),
    and a slot or loop set to null means "must not be set".
    """

    def __init__(self, domain: Domain, *, rule_data: bool = False) -> None:
        self.domain = domain
        self.rule_data = rule_data
        self._featurised = {name: s for name, s in domain.slots.items() if s.features(None)}
        self._applied = AppliedEvents()
        # For each applied action: where it is, the running state before it, and that state.
        self._positions: list[int] = []
        self._before: list[_Running] = []
        self._states: list[State] = []
        self._hidden: list[bool] = []
        self._running = self._fresh()
        self._folded = 0  # applied events folded into _running
        self._current: State | None = None
        self.events_seen = 0
        self._first_event: ev.Event | None = None
        self._last_event: ev.Event | None = None

    def _fresh(self) -> _Running:
        if self.rule_data:
            return _Running({})
        return _Running(
            {
                name: slot.features(slot.store(slot.initial_value))
                for name, slot in self._featurised.items()
            }
        )

    # -- feeding ------------------------------------------------------------------------

    def add(self, event: ev.Event) -> None:
        if not self.events_seen:
            self._first_event = event
        self.events_seen += 1
        self._last_event = event
        if isinstance(event, ev.RoutingSessionEnded):
            # Coexistence: the NLU policies' view starts afresh, keeping shared slots only.
            self._applied.replace_all(
                e for e in self._applied.events if isinstance(e, ev.SlotSet) and self._shared(e)
            )
        else:
            self._applied.add(event)

    def continues(self, events: Sequence[ev.Event], domain: Domain) -> bool:
        """Whether ``events`` begin with the events this builder has seen (same domain)."""
        seen = self.events_seen
        return (
            domain is self.domain
            and not self.rule_data
            and seen <= len(events)
            and (
                not seen
                or (events[0] == self._first_event and events[seen - 1] == self._last_event)
            )
        )

    def _shared(self, event: ev.SlotSet) -> bool:
        slot = self.domain.slots.get(event.name)
        return slot is not None and slot.shared_for_coexistence

    def _sync(self) -> None:
        applied = self._applied.events
        changed = self._applied.take_changes()
        if changed < self._folded:
            self._rewind_to(changed)
        elif self._folded == len(applied):
            return
        for index in range(self._folded, len(applied)):
            event = applied[index]
            if isinstance(event, ev.ActionExecuted):
                self._positions.append(index)
                self._before.append(self._running.copy())
                self._states.append(self._state(self._running))
                self._hidden.append(event.hide_rule_turn)
            self._apply(self._running, event)
        self._folded = len(applied)
        self._current = None

    def _rewind_to(self, length: int) -> None:
        """Forget what was derived from applied events at ``length`` and after."""
        while self._positions and self._positions[-1] >= length:
            for kept in (self._positions, self._before, self._states, self._hidden):
                kept.pop()
        if self._positions:
            # Restart from the last action still applied: its state, then the action itself.
            position = self._positions[-1]
            self._running = self._before[-1].copy()
            self._apply(self._running, self._applied.events[position])
            self._folded = position + 1
        else:
            self._running = self._fresh()
            self._folded = 0
        self._current = None

    def _apply(self, running: _Running, event: ev.Event) -> None:
        listening = running.action == (PREV_ACTION, names.ACTION_LISTEN)
        if isinstance(event, ev.UserUttered):
            running.user = event
            running.entities = list(event.entities)
            running.use_text = False
        elif isinstance(event, ev.UserFeaturization):
            if listening:
                running.use_text = event.use_text_for_featurization
        elif isinstance(event, ev.EntitiesAdded):
            if running.user is not None and listening:
                running.entities += [e for e in event.entities if e not in running.entities]
        elif isinstance(event, ev.SlotSet):
            slot = self._featurised.get(event.name)
            if slot is not None:
                features = slot.features(slot.store(event.value))
                running.slots[event.name] = (
                    SHOULD_NOT_BE_SET if self.rule_data and not any(features) else features
                )
        elif isinstance(event, ev.ActiveLoop):
            running.loop = event.name or (SHOULD_NOT_BE_SET if self.rule_data else None)
        elif isinstance(event, ev.ActionExecuted):
            running.action = (
                (PREV_ACTION, event.name)
                if event.name is not None
                else (ACTION_TEXT, event.action_text)
            )
        elif isinstance(event, ev.AllSlotsReset):
            running.slots = self._fresh().slots

    def _state(self, running: _Running, *, text: bool = False) -> State:
        features: list[Feature] = []
        if running.user is not None:
            features += self._user_features(
                running.user, running.entities, text or running.use_text
            )
        if running.action is not None:
            features.append(running.action)
        for name, value in running.slots.items():
            if value == SHOULD_NOT_BE_SET or any(value):
                features.append((slot_key(name), value))
        if running.loop is not None:
            features.append((ACTIVE_LOOP, running.loop))
        return frozenset(features)

    def _user_features(
        self, user: ev.UserUttered, entities: Iterable[dict[str, Any]], text: bool
    ) -> list[Feature]:
        intent_name = None if text else user.intent_name
        if intent_name:
            features: list[Feature] = [(INTENT, intent_name)]
        elif user.text is not None:
            features = [(TEXT, user.text)]  # an end-to-end turn
        else:
            return []
        used = self.domain.used_entities(intent_name)
        for entity in entities:
            name = entity.get("entity")
            labels = [name, *(f"{name}#{entity[k]}" for k in ("role", "group") if entity.get(k))]
            features += [(ENTITY, label) for label in labels if label in used]
        return features

    # -- reading ------------------------------------------------------------------------

    def current_state(self) -> State:
        self._sync()
        if self._current is None:
            self._current = self._state(self._running)
        return self._current

    def current_text_state(self) -> State | None:
        """The current state with the latest message's text in place of its intent (what
        end-to-end rules match), or None if the message has no text."""
        self._sync()
        user = self._running.user
        if user is None or user.text is None:
            return None
        return self._state(self._running, text=True)

    def history(self, view: StateView = FULL_VIEW, max_history: int | None = None) -> list[State]:
        """The states before each applied action plus the current one, oldest first; only
        the last ``max_history`` when given."""
        current = self.current_state()
        wanted = max_history if max_history is not None else len(self._states) + 1
        if wanted <= 0:
            return []
        result = [view(current)]
        for index in range(len(self._states) - 1, -1, -1):
            if len(result) >= wanted:
                break
            if view.hide_rule_turns and self._hidden[index]:
                continue
            result.append(view(self._states[index]))
        result.reverse()
        return result

    @property
    def applied_events(self) -> list[ev.Event]:
        """The applied events as NLU policies see them (read-only)."""
        return self._applied.events

    def length(self) -> int:
        """How many states the conversation has (applied actions plus the current state)."""
        self._sync()
        return len(self._states) + 1

    @property
    def latest_user(self) -> ev.UserUttered | None:
        self._sync()
        return self._running.user

    @property
    def latest_action(self) -> str | None:
        self._sync()
        action = self._running.action
        return str(action[1]) if action is not None and action[0] == PREV_ACTION else None

    @property
    def active_loop(self) -> str | None:
        self._sync()
        loop = self._running.loop
        return None if loop == SHOULD_NOT_BE_SET else loop


# -- conversations at runtime ---------------------------------------------------------------

# Builders of recent conversations by sender id. A turn loads its tracker afresh from the
# tracker store, so the builder of the previous turn is found by conversation, and it is
# reused only if the new tracker starts with exactly the events it has seen.
_BUILDERS: OrderedDict[str, StateBuilder] = OrderedDict()
_MAX_CONVERSATIONS = 512


def builder_for(tracker: Tracker, domain: Domain) -> StateBuilder:
    """The conversation's state builder, fed with the events it has not seen yet."""
    events = tracker.events
    builder = _BUILDERS.pop(tracker.sender_id, None)
    if builder is None or not builder.continues(events, domain):
        builder = StateBuilder(domain)
    _BUILDERS[tracker.sender_id] = builder
    if len(_BUILDERS) > _MAX_CONVERSATIONS:
        _BUILDERS.popitem(last=False)
    for event in events[builder.events_seen :]:
        builder.add(event)
    return builder


def conversation_states(
    tracker: Tracker,
    domain: Domain,
    view: StateView = FULL_VIEW,
    max_history: int | None = None,
) -> list[State]:
    """The states a policy sees for ``tracker`` (NLU-policy view of the applied events)."""
    return builder_for(tracker, domain).history(view, max_history)


# -- training data ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Point:
    """One place in a training conversation where an action is predicted."""

    index: int  # of the action event in the conversation's events
    action: ev.ActionExecuted
    states: tuple[State, ...]  # before the action, oldest first (full view)
    latest_action: str | None
    latest_user: ev.UserUttered | None
    active_loop: str | None


def prediction_points(
    events: Sequence[ev.Event], domain: Domain, *, rule_data: bool = False
) -> Iterator[Point]:
    """Each named action of ``events`` with the states that lead to it (end-to-end bot
    texts are not something our policies predict; they only shape later states)."""
    builder = StateBuilder(domain, rule_data=rule_data)
    for index, event in enumerate(events):
        if isinstance(event, ev.ActionExecuted) and event.name is not None:
            yield Point(
                index=index,
                action=event,
                states=tuple(builder.history()),
                latest_action=builder.latest_action,
                latest_user=builder.latest_user,
                active_loop=builder.active_loop,
            )
        builder.add(event)
