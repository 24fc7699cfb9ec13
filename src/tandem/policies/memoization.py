"""MemoizationPolicy and AugmentedMemoizationPolicy: stories remembered verbatim.

Training maps the last ``max_history`` states before every story action to that action; a
situation that stories continue in two different ways is forgotten. Prediction is an exact
lookup with probability 1.0. The augmented variant retries without the oldest part of the
conversation (so slots set long ago do not prevent a match).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tandem.conversation.events import ActionExecuted
from tandem.conversation.tracker import Tracker
from tandem.nlu.storage import Store
from tandem.policies.base import NluPolicy, Prediction, options_of
from tandem.policies.featurization import (
    StateBuilder,
    StateView,
    builder_for,
    conversation_states,
    last_states,
    prediction_points,
    states_key,
)
from tandem.policies.training_trackers import PolicyTrainingData
from tandem.project.config import ComponentConfig
from tandem.project.domain import Domain


@dataclass(frozen=True, slots=True)
class MemoOptions:
    max_history: int | None = None
    use_nlu_confidence_as_score: bool = False
    priority: int | None = None


class MemoizationPolicy(NluPolicy):
    name = "MemoizationPolicy"
    default_priority = 3
    options_class = MemoOptions
    ignored = {
        **NluPolicy.ignored,
        "enable_feature_string_compression": "the lookup is stored as plain JSON",
    }

    def __init__(self, lookup: Mapping[str, str], options: MemoOptions, view: StateView) -> None:
        super().__init__(options.priority)
        self.lookup = dict(lookup)
        self.options = options
        self.view = view

    def predict_nlu(self, tracker: Tracker, domain: Domain) -> Prediction:
        action = self.lookup.get(
            states_key(conversation_states(tracker, domain, self.view, self.options.max_history))
        )
        if action is None:
            action = self.recall_without_the_past(tracker, domain)
        if action is None or action not in domain.action_index:
            return Prediction.abstain(domain, self.name, self.priority)
        message = tracker.latest_message
        confidence = 1.0
        if self.options.use_nlu_confidence_as_score and message is not None:
            confidence = float(message.intent.get("confidence") or 0.0)
        return Prediction.for_action(domain, action, self.name, self.priority, confidence)

    def recall_without_the_past(self, tracker: Tracker, domain: Domain) -> str | None:
        """The augmented variant's second chance; plain memoization has none."""
        return None

    # -- training and storage -------------------------------------------------------------

    @classmethod
    def train(cls, config: ComponentConfig, data: PolicyTrainingData) -> MemoizationPolicy:
        options = options_of(MemoOptions, config.options)
        lookup: dict[str, str] = {}
        ambiguous: set[str] = set()
        for conversation in data.stories:
            for point in prediction_points(conversation.events, data.domain):
                key = states_key(last_states(point.states, data.ml_view, options.max_history))
                action = str(point.action.name)
                if lookup.setdefault(key, action) != action:
                    ambiguous.add(key)
        for key in ambiguous:
            del lookup[key]
        return cls(lookup, options, data.ml_view)

    def persist(self, store: Store) -> None:
        store.write_json(
            "memorized_turns",
            {
                "lookup": self.lookup,
                **self.view.as_json(),
            },
        )

    @classmethod
    def load(cls, options: Mapping[str, Any], store: Store, domain: Domain) -> MemoizationPolicy:
        data = store.read_json("memorized_turns")
        return cls(data["lookup"], options_of(MemoOptions, options), StateView.from_json(data))


class AugmentedMemoizationPolicy(MemoizationPolicy):
    name = "AugmentedMemoizationPolicy"

    def recall_without_the_past(self, tracker: Tracker, domain: Domain) -> str | None:
        """Look up the conversation as if it had started at one of its recent actions,
        oldest first, so what was set before that action no longer counts."""
        applied = builder_for(tracker, domain).applied_events
        starts = [i for i, e in enumerate(applied) if isinstance(e, ActionExecuted)]
        if self.options.max_history is not None:
            starts = starts[-self.options.max_history :]
        for start in starts:
            builder = StateBuilder(domain)
            for event in applied[start:]:
                builder.add(event)
            key = states_key(builder.history(self.view, self.options.max_history))
            if key in self.lookup:
                return self.lookup[key]
        return None
