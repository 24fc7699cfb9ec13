"""What RulePolicy learnt and how it decides.

A ``Rule`` says: when the last states of the conversation contain these states (each rule
state's features present with the same value; ``SHOULD_NOT_BE_SET`` features absent), predict
this action. ``LoopHint``s record where the training data continues with something other
than the active loop, so that neither the loop's happy path nor its resumption takes over there.

``RuleBook.decide`` applies, in order: the turn after a rewind listens; rules about the
text of the message just received (end-to-end rules); built-in intents
(``/restart``, ``/back``, ``/session_start``); the active loop's happy path; the most specific
matching rule, where a rule that would listen while a loop is active resumes the loop instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tandem import names
from tandem.conversation import events as ev
from tandem.conversation.tracker import Tracker
from tandem.policies.featurization import (
    ACTIVE_LOOP,
    PREV_ACTION,
    SHOULD_NOT_BE_SET,
    TEXT,
    State,
    builder_for,
    states_from_json,
    states_to_json,
)
from tandem.project.domain import Domain

BUILTIN_INTENT_ACTIONS = {
    names.INTENT_RESTART: names.ACTION_RESTART,
    names.INTENT_BACK: names.ACTION_BACK,
    names.INTENT_SESSION_START: names.ACTION_SESSION_START,
}


@dataclass(frozen=True, slots=True)
class Rule:
    """Predict ``action`` when the conversation ends in states containing ``states``."""

    states: tuple[State, ...]
    action: str
    at_start: bool = False  # a conversation_start rule: ``states`` are the whole conversation
    origins: tuple[str, ...] = ()  # the rules it was learnt from, for reports
    in_stories: bool = False  # it reproduces a step of some story

    @property
    def specificity(self) -> tuple[int, int]:
        """Longer keys win; among equally long ones, the one asking for more features."""
        return len(self.states), sum(len(state) for state in self.states)

    @property
    def mentions_loop(self) -> bool:
        return any(key == ACTIVE_LOOP for state in self.states for key, _ in state)

    @property
    def end_to_end(self) -> bool:
        """The rule's user message is a text rather than an intent."""
        return any(key == TEXT for key, _ in self.states[-1])

    @property
    def last_action(self) -> str | None:
        """The previous action the rule's last state requires (None: any)."""
        return next((str(v) for k, v in self.states[-1] if k == PREV_ACTION), None)

    def as_json(self) -> dict[str, Any]:
        return {
            "states": states_to_json(self.states),
            "action": self.action,
            "at_start": self.at_start,
            "origins": list(self.origins),
            "in_stories": self.in_stories,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Rule:
        return cls(
            states_from_json(data["states"]),
            data["action"],
            data["at_start"],
            tuple(data["origins"]),
            data["in_stories"],
        )


@dataclass(frozen=True, slots=True)
class LoopHint:
    """In these states the training data continues with something other than ``loop``."""

    states: tuple[State, ...]
    loop: str

    def as_json(self) -> dict[str, Any]:
        return {"states": states_to_json(self.states), "loop": self.loop}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoopHint:
        return cls(states_from_json(data["states"]), data["loop"])


@dataclass(frozen=True, slots=True)
class Situation:
    """What a decision depends on, read from a tracker or a training conversation."""

    states: Sequence[State]  # the last states (at least as many as the longest rule)
    length: int  # how many states the whole conversation has
    latest_action: str | None
    intent: str | None
    intent_confidence: float = 1.0
    active_loop: str | None = None
    loop_rejected: bool = False
    just_rewound: bool = False  # the latest action rewound the user's message
    # Right after a user message: the current state with its text instead of its intent.
    text_state: State | None = None

    @classmethod
    def of_tracker(cls, tracker: Tracker, domain: Domain, max_history: int) -> Situation:
        builder = builder_for(tracker, domain)
        message = tracker.latest_message
        loop = tracker.active_loop
        return cls(
            states=builder.history(max_history=max_history),
            length=builder.length(),
            latest_action=tracker.latest_action_name,
            intent=message.intent_name if message else None,
            intent_confidence=float(message.intent.get("confidence") or 0.0) if message else 1.0,
            active_loop=loop.name if loop else None,
            loop_rejected=bool(loop and loop.rejected),
            just_rewound=_just_rewound(tracker.events),
            text_state=builder.current_text_state()
            if tracker.latest_action_name == names.ACTION_LISTEN
            else None,
        )


def _just_rewound(events: Sequence[ev.Event]) -> bool:
    for event in reversed(events):
        if isinstance(event, ev.UserUtteranceReverted):
            return True
        if isinstance(event, ev.ActionExecuted):
            return False
    return False


@dataclass(frozen=True, slots=True)
class Decision:
    action: str
    rule: Rule | None = None
    happy_path: bool = False  # the active loop's own turn
    resumes_loop: bool = False  # the loop continues after an interruption
    end_to_end: bool = False  # a rule about the message's text decided


class _Observed:
    """Conversation states prepared for matching (markers of rule data count as absent)."""

    def __init__(self, states: Sequence[State], length: int) -> None:
        self.states = [frozenset(f for f in s if f[1] != SHOULD_NOT_BE_SET) for s in states]
        self.keys = [{key for key, _ in state} for state in self.states]
        self.length = length

    def ends_with(self, states: Sequence[State], at_start: bool = False) -> bool:
        count = len(states)
        if count > len(self.states) or (at_start and count != self.length):
            return False
        offset = len(self.states) - count
        for index, required in enumerate(states):
            state, keys = self.states[offset + index], self.keys[offset + index]
            for feature in required:
                if feature[1] == SHOULD_NOT_BE_SET:
                    if feature[0] in keys:
                        return False
                elif feature not in state:
                    return False
        return True


class RuleBook:
    def __init__(self, rules: Iterable[Rule], hints: Iterable[LoopHint]) -> None:
        self.rules = list(rules)
        self.hints = list(hints)
        self._index()

    def _index(self) -> None:
        # Rules by the previous action their last state requires: a prediction only looks at
        # the rules for the conversation's previous action and those that require none.
        self._by_action: dict[str | None, list[tuple[int, Rule]]] = {}
        for position, rule in enumerate(self.rules):
            self._by_action.setdefault(rule.last_action, []).append((position, rule))
        lengths = [len(r.states) for r in self.rules] + [len(h.states) for h in self.hints]
        self.max_length = max(lengths, default=0)

    def remove(self, rule: Rule) -> None:
        self.rules = [r for r in self.rules if r is not rule]
        self._index()

    def decide(self, situation: Situation) -> Decision | None:
        """The action the rules call for, or None when no rule applies."""
        if situation.just_rewound:
            return Decision(names.ACTION_LISTEN)
        if situation.text_state is not None:
            by_text = _Observed([*situation.states[:-1], situation.text_state], situation.length)
            rule = self.best_rule(by_text, end_to_end=True)
            if rule is not None:
                return Decision(rule.action, rule=rule, end_to_end=True)
        if situation.latest_action == names.ACTION_LISTEN:
            builtin = BUILTIN_INTENT_ACTIONS.get(situation.intent or "")
            if builtin is not None:
                return Decision(builtin)
        observed = _Observed(situation.states, situation.length)
        loop = situation.active_loop
        if loop is not None and not situation.loop_rejected:
            if situation.latest_action == loop:
                return Decision(names.ACTION_LISTEN, happy_path=True)
            if not self.hinted(observed, loop):
                return Decision(loop, happy_path=True)
        rule = self.best_rule(observed)
        if rule is None:
            return None
        if loop is not None:
            resumes = rule.action == names.ACTION_LISTEN and not rule.mentions_loop
            if resumes and not self.hinted(observed, loop):
                return Decision(loop, rule=rule, resumes_loop=True)
            if rule.action == loop and situation.latest_action != names.ACTION_LISTEN:
                return Decision(loop, rule=rule, resumes_loop=True)
        return Decision(rule.action, rule=rule)

    def best_rule(self, observed: _Observed, *, end_to_end: bool = False) -> Rule | None:
        """The most specific rule matching the end of ``observed`` (only rules about a
        message's text with ``end_to_end``)."""
        last = observed.states[-1] if observed.states else frozenset()
        previous = next((str(v) for k, v in last if k == PREV_ACTION), None)
        candidates = sorted([*self._by_action.get(previous, []), *self._by_action.get(None, [])])
        best: Rule | None = None
        for _, rule in candidates:
            if end_to_end and not rule.end_to_end:
                continue
            if (best is None or rule.specificity > best.specificity) and observed.ends_with(
                rule.states, rule.at_start
            ):
                best = rule
        return best

    def hinted(self, observed: _Observed, loop: str) -> bool:
        return any(h.loop == loop and observed.ends_with(h.states) for h in self.hints)

    def as_json(self) -> dict[str, Any]:
        return {
            "rules": [rule.as_json() for rule in self.rules],
            "hints": [hint.as_json() for hint in self.hints],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RuleBook:
        return cls(
            (Rule.from_json(r) for r in data["rules"]),
            (LoopHint.from_json(h) for h in data["hints"]),
        )
