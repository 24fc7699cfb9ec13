"""ResponseSelector, mapped to Tandem's logistic-regression model over response keys.

For retrieval intents (``faq/ask_name``) the intent classifier learns ``faq``; this component
learns which ``faq/...`` key a message asks for, so the retrieval action ``utter_faq`` can
utter ``utter_faq/ask_name``.
"""

from __future__ import annotations

import logging
from typing import Any

from tandem.nlu.component import Component, require_non_negative
from tandem.nlu.diet import NEURAL_NETWORK_OPTIONS, featurizer_names
from tandem.nlu.logistic import IntentModel
from tandem.nlu.message import Message, base_intent
from tandem.nlu.storage import Store
from tandem.project.training_data import NluData

log = logging.getLogger(__name__)

_MAX_ITER = 100
_TOL = 1e-4


class ResponseSelector(Component):
    name = "ResponseSelector"
    defaults = {
        "retrieval_intent": None,  # None = one selector for all retrieval intents ("default")
        "ranking_length": 10,
        "featurizers": [],
    }
    types = {"retrieval_intent": (str, type(None))}
    ignored = {
        **dict.fromkeys(
            NEURAL_NETWORK_OPTIONS,
            "Tandem trains a logistic-regression classifier instead, until it converges",
        ),
        "use_text_as_label": "responses are told apart by their keys, which picks the same ones",
        # The reference's selector inherits these from DIET; it never tags entities or intents.
        **dict.fromkeys(
            (
                "BILOU_flag",
                "entity_recognition",
                "intent_classification",
                "split_entities_by_comma",
            ),
            "the selector only selects responses",
        ),
    }
    needs = frozenset({"features"})
    provides = frozenset({"response_selector"})

    def __init__(self, options: dict[str, Any], *, language: str) -> None:
        super().__init__(options, language=language)
        self.model = IntentModel(
            max_iter=_MAX_ITER, tol=_TOL, origins=featurizer_names(self.options)
        )
        self.all_retrieval_intents: list[str] = []

    @classmethod
    def check(cls, options: dict[str, Any]) -> None:
        require_non_negative(cls.name, options, "ranking_length")

    def train(self, messages: list[Message], data: NluData) -> None:
        log.info("%s: trained as Tandem's logistic-regression response model", self.label)
        wanted = self.options["retrieval_intent"]
        chosen, keys = [], []
        for message in messages:
            intent = message.example.intent if message.example else None
            if intent and "/" in intent and (wanted is None or base_intent(intent) == wanted):
                chosen.append(message)
                keys.append(intent)
        self.all_retrieval_intents = sorted(
            {base_intent(e.intent) for e in data.examples if e.intent and "/" in e.intent}
        )
        if chosen:
            self.model.fit(chosen, keys, {})

    def process(self, message: Message) -> None:
        ranking = self.model.rank(message)
        length = self.options["ranking_length"]
        ranking = ranking[:length] if length > 0 else ranking
        key, confidence = ranking[0] if ranking else (None, 0.0)
        selector = message.response_selector or {
            "all_retrieval_intents": self.all_retrieval_intents
        }
        selector[self.options["retrieval_intent"] or "default"] = {
            "response": {
                # Response texts live in the domain; the retrieval action looks them up by name.
                "responses": None,
                "confidence": confidence,
                "intent_response_key": key,
                "utter_action": f"utter_{key}",
            },
            "ranking": [{"confidence": c, "intent_response_key": k} for k, c in ranking],
        }
        message.response_selector = selector

    def persist(self, store: Store) -> None:
        store.write_json("all_retrieval_intents", self.all_retrieval_intents)
        self.model.persist(store)

    def restore(self, store: Store) -> None:
        self.all_retrieval_intents = store.read_json("all_retrieval_intents")
        self.model.restore(store)
