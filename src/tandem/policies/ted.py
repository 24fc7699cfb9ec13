"""TEDPolicy, mapped to our own trainable classifier over dialogue states.

The reference uses a transformer; the spec allows any classifier with the same contract: a
probability per action for the last ``max_history`` states. Ours is multinomial logistic
regression over a bag of state features tagged with their recency ("the previous action
two states ago was X"), plus the pair (previous action, intent) of the current state, since
that pair decides most turns. Unlike memoization it scores situations no story shows
verbatim, e.g. a story's opening after some unrelated chitchat.

Training is deterministic: L-BFGS from zero weights on the story conversations, plus
stories glued end to start (the reference's augmentation, done without randomness) so that
what came long before matters less than what just happened. The network options of the
reference (``epochs``, ``batch_size``, ...) are accepted and ignored.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from tandem import names
from tandem.conversation.events import ActionExecuted
from tandem.conversation.tracker import Tracker
from tandem.nlu import lbfgs
from tandem.nlu.diet import NEURAL_NETWORK_OPTIONS
from tandem.nlu.logistic import softmax_loss
from tandem.nlu.storage import Store
from tandem.policies.base import NluPolicy, Prediction, options_of
from tandem.policies.featurization import (
    INTENT,
    PREV_ACTION,
    State,
    StateView,
    conversation_states,
    last_states,
    prediction_points,
)
from tandem.policies.training_trackers import PolicyTrainingData, TrainingConversation
from tandem.project.config import ComponentConfig
from tandem.project.domain import Domain

log = logging.getLogger(__name__)

# Inverse L2 strength; with few stories a strong prior keeps the probabilities honest.
_C = 20.0
_MAX_ITER = 300
_TOL = 1e-5
# States further back than this share one recency tag (unbounded max_history).
_FAR = 8
# Glued story pairs added for training, as the reference's default augmentation factor.
_AUGMENTED = 50


@dataclass(frozen=True, slots=True)
class TedOptions:
    max_history: int | None = None
    priority: int | None = None


def state_features(states: Sequence[State]) -> list[str]:
    """The bag of features of a state sequence (most recent state last)."""
    features = []
    for age, state in enumerate(reversed(states)):
        tag = min(age, _FAR)
        features += [f"{tag}|{key}={value}" for key, value in state]
    if states:
        current = dict(f for f in states[-1] if f[0] in (PREV_ACTION, INTENT))
        features.append(f"0|{current.get(PREV_ACTION)}&{current.get(INTENT)}")
    return features


class TEDPolicy(NluPolicy):
    name = "TEDPolicy"
    default_priority = 1
    options_class = TedOptions
    # What the reference's TEDPolicy reads beyond its network options; nothing here uses it.
    ignored = {
        **NluPolicy.ignored,
        **dict.fromkeys(
            (
                *NEURAL_NETWORK_OPTIONS,
                "drop_rate_dialogue",
                "drop_rate_label",
                "encoding_dimension",
                "e2e_confidence_threshold",
                "entity_recognition",
                "BILOU_flag",
                "split_entities_by_comma",
                "featurizers",
                "ranking_length",
            ),
            "Tandem trains a logistic-regression classifier over dialogue states instead, "
            "until it converges",
        ),
    }

    def __init__(
        self,
        vocabulary: Mapping[str, int],
        labels: Sequence[str],
        weights: np.ndarray,
        bias: np.ndarray,
        options: TedOptions,
        view: StateView,
    ) -> None:
        super().__init__(options.priority)
        self.vocabulary = dict(vocabulary)
        self.labels = list(labels)
        self.weights = weights
        self.bias = bias
        self.options = options
        self.view = view

    def predict_nlu(self, tracker: Tracker, domain: Domain) -> Prediction:
        if not self.labels:
            return Prediction.abstain(domain, self.name, self.priority)
        states = conversation_states(tracker, domain, self.view, self.options.max_history)
        probabilities = self.probabilities(states)
        vector = [0.0] * len(domain.action_names)
        for label, probability in zip(self.labels, probabilities, strict=True):
            index = domain.action_index.get(label)
            if index is not None:
                vector[index] = float(probability)
        return Prediction(tuple(vector), self.name, self.priority)

    def probabilities(self, states: Sequence[State]) -> np.ndarray:
        columns = sorted(
            {self.vocabulary[f] for f in state_features(states) if f in self.vocabulary}
        )
        logits = self.bias + self.weights[columns].sum(axis=0)
        exp = np.exp(logits - logits.max())
        result: np.ndarray = exp / exp.sum()
        return result

    # -- training and storage -------------------------------------------------------------

    @classmethod
    def train(cls, config: ComponentConfig, data: PolicyTrainingData) -> TEDPolicy:
        log.info(
            "TEDPolicy runs as tandem's dialogue classifier (logistic regression over state "
            "features); its network options are ignored."
        )
        options = options_of(TedOptions, config.options)
        samples: list[list[str]] = []
        targets: list[str] = []
        for conversation in _with_glued_stories(data.stories):
            for point in prediction_points(conversation.events, data.domain):
                states = last_states(point.states, data.ml_view, options.max_history)
                samples.append(state_features(states))
                targets.append(str(point.action.name))
        vocabulary = {f: i for i, f in enumerate(sorted({f for s in samples for f in s}))}
        labels = sorted(set(targets))
        if not labels:
            empty = np.zeros((len(vocabulary), 0), dtype=np.float32)
            return cls(vocabulary, labels, empty, np.zeros(0, np.float32), options, data.ml_view)
        weights, bias = _fit(samples, targets, vocabulary, labels)
        return cls(vocabulary, labels, weights, bias, options, data.ml_view)

    def persist(self, store: Store) -> None:
        store.write_vocabulary("vocabulary", self.vocabulary)
        store.write_json(
            "model",
            {
                "labels": self.labels,
                **self.view.as_json(),
            },
        )
        store.write_array("weights", self.weights)
        store.write_array("bias", self.bias)

    @classmethod
    def load(cls, options: Mapping[str, Any], store: Store, domain: Domain) -> TEDPolicy:
        model = store.read_json("model")
        return cls(
            store.read_vocabulary("vocabulary"),
            model["labels"],
            store.read_array("weights"),
            store.read_array("bias"),
            options_of(TedOptions, options),
            StateView.from_json(model),
        )


def _with_glued_stories(
    stories: Sequence[TrainingConversation],
) -> list[TrainingConversation]:
    """The stories, plus up to ``_AUGMENTED`` pairs of stories told one after the other."""
    pairs = itertools.islice(
        ((a, b) for a, b in itertools.product(stories, repeat=2) if a is not b), _AUGMENTED
    )
    glued = []
    for first, second in pairs:
        # The second story's opening listen is the first one's closing listen.
        opening = second.events[0] if second.events else None
        skip = int(isinstance(opening, ActionExecuted) and opening.name == names.ACTION_LISTEN)
        glued.append(
            TrainingConversation(
                first.events + second.events[skip:], first.origins + second.origins[skip:]
            )
        )
    return [*stories, *glued]


def _fit(
    samples: list[list[str]],
    targets: list[str],
    vocabulary: Mapping[str, int],
    labels: list[str],
) -> tuple[np.ndarray, np.ndarray]:
    """Class-balanced multinomial logistic regression with an L2 penalty."""
    rows = [i for i, sample in enumerate(samples) for _ in sample]
    columns = [vocabulary[f] for sample in samples for f in sample]
    n, d, k = len(samples), len(vocabulary), len(labels)
    x = sp.csr_matrix(
        (np.ones(len(rows), np.float32), (rows, columns)), shape=(n, d), dtype=np.float32
    )
    x.data[:] = 1.0  # a feature counts once per sample
    label_index = {label: i for i, label in enumerate(labels)}
    y = np.array([label_index[t] for t in targets])
    counts = np.bincount(y, minlength=k)
    sample_weight = (1.0 / (k * counts[y])).astype(np.float32)
    l2 = np.float32(1.0 / (_C * n))
    xt = x.T.tocsr()

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w = theta[: d * k].reshape(d, k)
        loss, gradient_w, gradient_bias = softmax_loss(x, xt, y, sample_weight, w, theta[d * k :])
        loss += 0.5 * float(l2) * float(np.vdot(w, w))
        return loss, np.concatenate([(gradient_w + l2 * w).ravel(), gradient_bias])

    theta = lbfgs.minimize(
        objective, np.zeros(d * k + k, dtype=np.float32), max_iter=_MAX_ITER, tol=_TOL
    )
    weights = np.ascontiguousarray(theta[: d * k].reshape(d, k), dtype=np.float32)
    return weights, theta[d * k :].astype(np.float32)
