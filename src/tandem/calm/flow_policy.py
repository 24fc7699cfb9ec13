"""``FlowPolicy``: the policy that runs flows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tandem.calm.executor import FlowExecutor
from tandem.conversation import stack as st
from tandem.conversation.routing import calm_abstains
from tandem.conversation.tracker import Tracker
from tandem.policies.base import Policy, Prediction
from tandem.project.domain import Domain
from tandem.project.flows.model import FlowsList


class FlowPolicy(Policy):
    name = "FlowPolicy"
    default_priority = 7

    def __init__(self, flows: FlowsList, domain: Domain, priority: int | None = None) -> None:
        super().__init__(priority)
        self.executor = FlowExecutor(flows, domain)

    @classmethod
    def from_config(
        cls, options: Mapping[str, Any], flows: FlowsList, domain: Domain
    ) -> FlowPolicy:
        return cls(flows, domain, priority=options.get("priority"))

    def predict(self, tracker: Tracker, domain: Domain) -> Prediction:
        if calm_abstains(tracker):
            return Prediction.abstain(domain, self.name, self.priority)
        top = tracker.stack[-1] if tracker.stack else None
        if top is not None and not st.is_flow_frame(top):
            return Prediction.abstain(domain, self.name, self.priority)
        advance = self.executor.advance(tracker)
        if advance.action is None:
            return Prediction.abstain(
                domain, self.name, self.priority, events=tuple(advance.events)
            )
        return Prediction.for_action(
            domain,
            advance.action,
            self.name,
            self.priority,
            events=tuple(advance.events),
            action_metadata=advance.metadata,
        )
