"""What a dialogue policy is, and what it returns for one prediction."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from tandem.conversation.routing import routed_to_calm

if TYPE_CHECKING:
    from tandem.conversation.events import Event
    from tandem.conversation.tracker import Tracker
    from tandem.nlu.storage import Store
    from tandem.policies.training_trackers import PolicyTrainingData
    from tandem.project.config import ComponentConfig
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

    async def predict_async(self, tracker: Tracker, domain: Domain) -> Prediction:
        """``predict`` for the turn loop; policies that wait on I/O (an LLM) override it."""
        return self.predict(tracker, domain)


_Options = TypeVar("_Options")


def options_of(kind: type[_Options], options: Mapping[str, Any]) -> _Options:
    """The typed options (dataclass ``kind``) found in a policy's config entry. Entries that
    are not fields are left alone: they belong to the reference's implementation (e.g.
    TED's network settings) and mean nothing here."""
    names_ = {item.name for item in fields(kind)}  # type: ignore[arg-type]
    return kind(**{key: value for key, value in options.items() if key in names_})


class NluPolicy(Policy):
    """A trainable policy of the NLU-based system.

    It abstains (all zeros) while the routing slot sends the conversation to CALM.
    Its trained data is written as JSON/NumPy files through a ``Store``.
    """

    # The dataclass of the options it reads from its config entry (see ``options_of``), and
    # the options of the reference it accepts but ignores, each with what is done instead.
    options_class: ClassVar[type]
    ignored: ClassVar[Mapping[str, str]] = {
        "featurizer": "dialogue states are featurized by Tandem's own rules",
    }

    @classmethod
    def known_options(cls) -> frozenset[str]:
        return frozenset(f.name for f in fields(cls.options_class)) | frozenset(cls.ignored)

    def predict(self, tracker: Tracker, domain: Domain) -> Prediction:
        if routed_to_calm(tracker):
            return Prediction.abstain(domain, self.name, self.priority)
        return self.predict_nlu(tracker, domain)

    @abstractmethod
    def predict_nlu(self, tracker: Tracker, domain: Domain) -> Prediction:
        """Predict for a conversation the NLU-based system handles."""

    @classmethod
    @abstractmethod
    def train(cls, config: ComponentConfig, data: PolicyTrainingData) -> NluPolicy:
        """Learn from stories and rules; ``config`` is the policy's entry in config.yml."""

    @abstractmethod
    def persist(self, store: Store) -> None:
        """Write what was learnt."""

    @classmethod
    @abstractmethod
    def load(cls, options: Mapping[str, Any], store: Store, domain: Domain) -> NluPolicy:
        """Restore what ``persist`` wrote."""
