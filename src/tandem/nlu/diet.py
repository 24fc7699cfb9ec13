"""DIETClassifier, mapped to Tandem's own models: the logistic-regression intent model and the
CRF entity tagger (which, like DIET, also reads the featurizers' token features).

The reference's neural-network options are accepted and ignored, so existing configs train.
"""

from __future__ import annotations

import logging
from typing import Any

from tandem.nlu.component import Component, require_non_negative
from tandem.nlu.crf_extractor import check_split_by_comma
from tandem.nlu.intent_classifier import intent_targets, set_intent
from tandem.nlu.logistic import IntentModel
from tandem.nlu.message import Message
from tandem.nlu.near_misses import is_near_miss
from tandem.nlu.storage import Store
from tandem.nlu.tagger import DEFAULT_FEATURES, EntityTagger
from tandem.project.training_data import NluData

log = logging.getLogger(__name__)

# Options of the reference's transformer models (DIET, ResponseSelector, TED) that have no
# counterpart here; older names of some stay accepted.
NEURAL_NETWORK_OPTIONS = frozenset(
    {
        "epochs",
        "batch_size",
        "batch_strategy",
        "learning_rate",
        "hidden_layers_sizes",
        "embedding_dimension",
        "number_of_transformer_layers",
        "transformer_size",
        "use_masked_language_model",
        "drop_rate",
        "drop_rate_attention",
        "weight_sparsity",
        "connection_density",
        "dense_dimension",
        "concat_dimension",
        "number_of_negative_examples",
        "similarity_type",
        "loss_type",
        "maximum_positive_similarity",
        "maximum_negative_similarity",
        "use_maximum_negative_similarity",
        "scale_loss",
        "regularization_constant",
        "negative_margin_scale",
        "use_sparse_input_dropout",
        "use_dense_input_dropout",
        "evaluate_every_number_of_epochs",
        "evaluate_on_number_of_examples",
        "tensorboard_log_directory",
        "tensorboard_log_level",
        "checkpoint_model",
        "constrain_similarities",
        "model_confidence",
        "renormalize_confidence",
        "unidirectional_encoder",
        "num_heads",
        "max_relative_position",
        "use_key_relative_embeddings",
        "use_value_relative_embeddings",
        "run_eagerly",
        "use_gpu",
        "random_seed",
        "number_of_attention_heads",
        "use_key_relative_attention",
        "use_value_relative_attention",
        "renormalize_confidences",
        "drop_small_last_batch",
        "share_hidden_layers",
    }
)

_INTENT_MAX_ITER = 100
# Projects that name DIETClassifier set their thresholds (FallbackClassifier 0.7, say) for a
# model that fits its training data: DIET trains for hundreds of epochs, and its confidence
# on in-domain messages is about 0.99. So the intent model fits closely (weak L2) and its
# held-out temperature may sharpen but never soften it: on a small project the held-out
# folds are much weaker than the whole model and would pull in-domain confidences down to
# their accuracy. Measured in bench/fixture_confidence.py and the README.
_INTENT_C = 100.0
_INTENT_TOL = 1e-4
_CRF_MAX_ITER = 50
_CRF_L1 = 0.1
_CRF_L2 = 0.1


def featurizer_names(options: dict[str, Any]) -> frozenset[str] | None:
    """The `featurizers` option: names/aliases of the featurizers to read; empty means all."""
    return frozenset(options["featurizers"]) or None


class DIETClassifier(Component):
    name = "DIETClassifier"
    defaults = {
        "intent_classification": True,
        "entity_recognition": True,
        "BILOU_flag": True,
        "split_entities_by_comma": True,
        "ranking_length": 10,
        "featurizers": [],
    }
    types = {"split_entities_by_comma": (bool, dict)}
    ignored = dict.fromkeys(
        NEURAL_NETWORK_OPTIONS,
        "Tandem trains a logistic-regression intent classifier and a CRF entity tagger "
        "instead, each until it converges",
    )
    needs = frozenset({"features"})
    provides = frozenset({"intent", "entities"})
    learns_rejection = True

    def __init__(self, options: dict[str, Any], *, language: str) -> None:
        super().__init__(options, language=language)
        origins = featurizer_names(self.options)
        self.intents = IntentModel(
            max_iter=_INTENT_MAX_ITER,
            tol=_INTENT_TOL,
            origins=origins,
            c=_INTENT_C,
            soften=False,
        )
        self.tagger = EntityTagger(
            extractor=self.name,
            features=DEFAULT_FEATURES,
            bilou_flag=self.options["BILOU_flag"],
            split_by_comma=self.options["split_entities_by_comma"],
            max_iter=_CRF_MAX_ITER,
            l1=_CRF_L1,
            l2=_CRF_L2,
            token_features="all",
            origins=origins,
        )

    @classmethod
    def check(cls, options: dict[str, Any]) -> None:
        require_non_negative(cls.name, options, "ranking_length")
        check_split_by_comma(cls.name, options["split_entities_by_comma"])

    def train(self, messages: list[Message], data: NluData) -> None:
        log.info(
            "%s: trained as Tandem's logistic-regression intent classifier and CRF entity tagger "
            "(neural-network options such as epochs are ignored)",
            self.label,
        )
        if self.options["intent_classification"]:
            chosen, labels, parts = intent_targets(messages)
            if chosen:
                self.intents.fit(chosen, labels, parts)
        if self.options["entity_recognition"]:
            self.tagger.fit([message for message in messages if not is_near_miss(message)])

    def process(self, message: Message) -> None:
        if self.options["intent_classification"] and self.intents.labels:
            set_intent(message, self.intents.rank(message), self.options["ranking_length"])
        if self.options["entity_recognition"]:
            message.entities.extend(self.tagger.extract(message))

    def persist(self, store: Store) -> None:
        self.intents.persist(store)
        self.tagger.persist(store)

    def restore(self, store: Store) -> None:
        self.intents.restore(store)
        self.tagger.restore(store)
