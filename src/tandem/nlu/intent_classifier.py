"""LogisticRegressionClassifier: intents from sentence features by logistic regression;
SklearnIntentClassifier, the reference's grid-searched SVM, is served by the same model."""

from __future__ import annotations

import logging
from typing import Any

from tandem.nlu.component import Component, require_non_negative
from tandem.nlu.logistic import IntentModel
from tandem.nlu.message import Message, base_intent
from tandem.nlu.storage import Store
from tandem.project.training_data import NluData

log = logging.getLogger(__name__)


def intent_targets(
    messages: list[Message],
) -> tuple[list[Message], list[str], dict[str, tuple[str, ...]]]:
    """Training messages that have an intent, their labels, and each label's sub-intents.

    A retrieval intent ``faq/ask_name`` is learned as ``faq``; the response selector learns the
    rest.
    """
    chosen, labels, parts = [], [], {}
    for message in messages:
        if message.example is not None and message.example.intent:
            label = base_intent(message.example.intent)
            chosen.append(message)
            labels.append(label)
            parts[label] = message.intent_tokens or (label,)
    return chosen, labels, parts


def set_intent(message: Message, ranking: list[tuple[str, float]], ranking_length: int) -> None:
    """Write a classifier's ranking into the message; ``ranking_length`` 0 keeps all of it."""
    if not ranking:
        return
    message.intent = {"name": ranking[0][0], "confidence": ranking[0][1]}
    kept = ranking[:ranking_length] if ranking_length > 0 else ranking
    message.intent_ranking = [{"name": name, "confidence": confidence} for name, confidence in kept]


class LogisticRegressionClassifier(Component):
    name = "LogisticRegressionClassifier"
    defaults = {
        "max_iter": 100,
        "solver": "lbfgs",
        "tol": 1e-4,
        # The fit starts from zero weights and samples nothing, so it is deterministic anyway.
        "random_state": None,
        "ranking_length": 10,
    }
    types = {"random_state": (int, type(None))}
    # Every solver minimises the same convex objective; Tandem always uses its own L-BFGS.
    choices = {"solver": ("lbfgs", "newton-cg", "newton-cholesky", "sag", "saga", "liblinear")}
    needs = frozenset({"features"})
    provides = frozenset({"intent"})
    learns_rejection = True

    def __init__(self, options: dict[str, Any], *, language: str) -> None:
        super().__init__(options, language=language)
        self.model = IntentModel(max_iter=self.options["max_iter"], tol=self.options["tol"])

    @classmethod
    def check(cls, options: dict[str, Any]) -> None:
        require_non_negative(cls.name, options, "max_iter", "tol", "ranking_length")

    def train(self, messages: list[Message], data: NluData) -> None:
        if self.options["solver"] != "lbfgs":
            log.info("%s: solver '%s' is fitted with L-BFGS", self.label, self.options["solver"])
        chosen, labels, parts = intent_targets(messages)
        if not chosen:
            log.warning("%s: no training example has an intent", self.label)
            return
        self.model.fit(chosen, labels, parts)

    def process(self, message: Message) -> None:
        set_intent(message, self.model.rank(message), self.options["ranking_length"])

    def persist(self, store: Store) -> None:
        self.model.persist(store)

    def restore(self, store: Store) -> None:
        self.model.restore(store)


class SklearnIntentClassifier(LogisticRegressionClassifier):
    """The reference fits a support vector machine here, grid-searching its ``C`` and kernel
    by cross-validation, with Platt-scaled probabilities; Tandem fits the calibrated logistic
    regression with LogisticRegressionClassifier's defaults (the same kind of confidences:
    probabilities fitted on held-out data), reading every featurizer's features."""

    name = "SklearnIntentClassifier"
    ignored = dict.fromkeys(
        ("C", "gamma", "kernels", "max_cross_validation_folds", "scoring_function", "num_threads"),
        "Tandem fits a calibrated logistic regression instead of grid-searching an SVM",
    )
