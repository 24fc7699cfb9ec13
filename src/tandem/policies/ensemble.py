"""Choosing one prediction among the policies', as the reference's ensemble does."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from tandem import names
from tandem.conversation.events import (
    ActionExecuted,
    ActionExecutionRejected,
    Event,
    UserFeaturization,
)
from tandem.conversation.tracker import Tracker
from tandem.policies.base import Policy, Prediction
from tandem.project.domain import Domain


def choose(predictions: Sequence[Prediction], tracker: Tracker, domain: Domain) -> Prediction:
    """The winning prediction, with the events every policy asked for.

    A rejected action gets probability zero everywhere; "no user" predictions (a form's happy
    path) beat all others, end-to-end ones beat intent-based ones; then the highest
    ``(confidence, priority)`` wins and the earlier policy wins a complete tie.
    """
    if not predictions:
        listen = Prediction.for_action(domain, names.ACTION_LISTEN, "default", 0)
        return replace(listen, probabilities=(0.0,) * len(listen.probabilities))
    rejected = _rejected_action(tracker)
    if rejected is not None and rejected in domain.action_index:
        index = domain.action_index[rejected]
        predictions = [
            replace(p, probabilities=(*p.probabilities[:index], 0.0, *p.probabilities[index + 1 :]))
            for p in predictions
        ]
    pool: Sequence[Prediction] = (
        [p for p in predictions if p.is_no_user_prediction]
        or [p for p in predictions if p.is_end_to_end_prediction]
        or predictions
    )
    best = pool[0]
    for candidate in pool[1:]:
        if (candidate.max_confidence, candidate.priority) > (best.max_confidence, best.priority):
            best = candidate
    events: list[Event] = [e for p in predictions for e in p.events]
    events.extend(best.optional_events)
    if tracker.latest_action_name == names.ACTION_LISTEN:
        events.append(UserFeaturization(use_text_for_featurization=best.is_end_to_end_prediction))
    return replace(best, events=tuple(events), optional_events=())


async def predict(policies: Sequence[Policy], tracker: Tracker, domain: Domain) -> Prediction:
    predictions = [await policy.predict_async(tracker, domain) for policy in policies]
    return choose(predictions, tracker, domain)


def _rejected_action(tracker: Tracker) -> str | None:
    """The action rejected most recently, if no other action ran after the rejection."""
    for event in reversed(tracker.events):
        if isinstance(event, ActionExecutionRejected):
            return event.name
        if isinstance(event, ActionExecuted):
            return None
    return None
