"""What a dialogue policy is, and what it returns for one prediction."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tandem.conversation.events import Event
    from tandem.conversation.tracker import Tracker
    from tandem.project.domain import Domain


@dataclass(frozen=True)
class Prediction:
    """A policy's verdict: one probability per action of the domain's action index."""

    probabilities: tuple[float, ...]
    policy_name: str
    priority: int = 1
    # ``events`` are applied before the chosen action whichever policy wins;
    # ``optional_events`` only if this prediction wins.
    events: tuple[Event, ...] = ()
    optional_events: tuple[Event, ...] = ()
    is_no_user_prediction: bool = False
    is_end_to_end_prediction: bool = False
    hide_rule_turn: bool = False
    action_metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def max_confidence(self) -> float:
        return max(self.probabilities, default=0.0)

    @property
    def action_index(self) -> int:
        best = self.max_confidence
        return self.probabilities.index(best) if self.probabilities else 0

    @classmethod
    def for_action(
        cls,
        domain: Domain,
        action: str,
        policy_name: str,
        priority: int,
        confidence: float = 1.0,
        **extra: Any,
    ) -> Prediction:
        vector = [0.0] * len(domain.action_names)
        vector[domain.action_index[action]] = confidence
        return cls(tuple(vector), policy_name, priority, **extra)

    @classmethod
    def abstain(cls, domain: Domain, policy_name: str, priority: int, **extra: Any) -> Prediction:
        return cls((0.0,) * len(domain.action_names), policy_name, priority, **extra)


class Policy(ABC):
    """A dialogue policy. ``priority`` breaks ties between equally confident predictions."""

    name: str = "Policy"
    default_priority: int = 1

    def __init__(self, priority: int | None = None) -> None:
        self.priority = self.default_priority if priority is None else priority

    @abstractmethod
    def predict(self, tracker: Tracker, domain: Domain) -> Prediction:
        """Predict the next action for ``tracker``."""
