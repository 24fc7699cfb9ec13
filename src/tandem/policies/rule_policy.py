"""RulePolicy: behaviour written as rules, plus the loop and fallback logic.

A decision of the rule book has probability 1.0 (or the intent's confidence with
``use_nlu_confidence_as_score``); when nothing applies, only the core fallback action gets
``core_fallback_threshold``, so any other policy more confident than that wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tandem import names
from tandem.conversation.events import LoopInterrupted
from tandem.conversation.tracker import Tracker
from tandem.nlu.storage import Store
from tandem.policies.base import NluPolicy, Prediction, options_of
from tandem.policies.rule_book import RuleBook, Situation
from tandem.policies.rule_training import learn_rules
from tandem.policies.training_trackers import PolicyTrainingData
from tandem.project.config import ComponentConfig
from tandem.project.domain import Domain
from tandem.project.errors import ProjectError, suggest


@dataclass(frozen=True, slots=True)
class RuleOptions:
    core_fallback_threshold: float = 0.3
    core_fallback_action_name: str = names.ACTION_DEFAULT_FALLBACK
    enable_fallback_prediction: bool = True
    restrict_rules: bool = True
    check_for_contradictions: bool = True
    use_nlu_confidence_as_score: bool = False
    priority: int | None = None


class RulePolicy(NluPolicy):
    name = "RulePolicy"
    default_priority = 4
    options_class = RuleOptions
    # The reference sets max_history to None for rules whatever the config says.
    ignored = {**NluPolicy.ignored, "max_history": "rules are matched whole, however long"}

    def __init__(
        self, book: RuleBook, options: RuleOptions, rule_only_loops: frozenset[str]
    ) -> None:
        super().__init__(options.priority)
        self.book = book
        self.options = options
        self.rule_only_loops = rule_only_loops

    def predict_nlu(self, tracker: Tracker, domain: Domain) -> Prediction:
        situation = Situation.of_tracker(tracker, domain, self.book.max_length)
        decision = self.book.decide(situation)
        if decision is None:
            return self._fallback(domain)
        confidence = (
            situation.intent_confidence if self.options.use_nlu_confidence_as_score else 1.0
        )
        # Turns of rules no story shows, and of loops only rules use, stay out of the
        # conversation that ML policies see.
        hidden = (decision.rule is not None and not decision.rule.in_stories) or (
            decision.happy_path and situation.active_loop in self.rule_only_loops
        )
        return Prediction.for_action(
            domain,
            decision.action,
            self.name,
            self.priority,
            confidence,
            optional_events=(LoopInterrupted(is_interrupted=True),)
            if decision.resumes_loop
            else (),
            is_no_user_prediction=decision.happy_path,
            is_end_to_end_prediction=decision.end_to_end,
            hide_rule_turn=hidden,
        )

    def _fallback(self, domain: Domain) -> Prediction:
        options = self.options
        if not options.enable_fallback_prediction:
            return Prediction.abstain(domain, self.name, self.priority)
        return Prediction.for_action(
            domain,
            options.core_fallback_action_name,
            self.name,
            self.priority,
            options.core_fallback_threshold,
        )

    # -- training and storage -------------------------------------------------------------

    @classmethod
    def train(cls, config: ComponentConfig, data: PolicyTrainingData) -> RulePolicy:
        options = options_of(RuleOptions, config.options)
        fallback = options.core_fallback_action_name
        if fallback not in data.domain.action_index:
            raise ProjectError(
                config.source,
                f"RulePolicy's core_fallback_action_name '{fallback}' is not an action of "
                "the domain",
                suggest(fallback, data.domain.action_names),
            )
        book = learn_rules(
            data,
            restrict_rules=options.restrict_rules,
            check_for_contradictions=options.check_for_contradictions,
        )
        return cls(book, options, data.ml_view.rule_only_loops)

    def persist(self, store: Store) -> None:
        store.write_json(
            "rules", {**self.book.as_json(), "rule_only_loops": sorted(self.rule_only_loops)}
        )

    @classmethod
    def load(cls, options: Mapping[str, Any], store: Store, domain: Domain) -> RulePolicy:
        data = store.read_json("rules")
        return cls(
            RuleBook.from_json(data),
            options_of(RuleOptions, options),
            frozenset(data["rule_only_loops"]),
        )
