"""CRFEntityExtractor: entities, roles and groups from a conditional random field."""

from __future__ import annotations

from typing import Any

from tandem.nlu.component import Component, NluError, require_non_negative
from tandem.nlu.message import Message
from tandem.nlu.storage import Store
from tandem.nlu.tagger import DEFAULT_FEATURES, FEATURE_NAMES, EntityTagger
from tandem.nlu.token_features import check_windows
from tandem.project.training_data import NluData


def check_split_by_comma(component: str, value: Any) -> None:
    if isinstance(value, bool):
        return
    if not isinstance(value, dict) or not all(isinstance(v, bool) for v in value.values()):
        raise NluError(
            f"{component}: 'split_entities_by_comma' must be true/false "
            "or a map of entity name -> true/false"
        )


class CRFEntityExtractor(Component):
    name = "CRFEntityExtractor"
    defaults = {
        "features": DEFAULT_FEATURES,
        "BILOU_flag": True,
        "split_entities_by_comma": True,
        "max_iterations": 50,
        "L1_c": 0.1,
        "L2_c": 0.1,
    }
    types = {"split_entities_by_comma": (bool, dict)}
    # The reference picks the dense featurizers of text_dense_features with it.
    ignored = {"featurizers": "`text_dense_features` reads every dense featurizer's"}
    needs = frozenset({"tokens"})
    provides = frozenset({"entities"})

    def __init__(self, options: dict[str, Any], *, language: str) -> None:
        super().__init__(options, language=language)
        self.tagger = EntityTagger(
            extractor=self.name,
            features=self.options["features"],
            bilou_flag=self.options["BILOU_flag"],
            split_by_comma=self.options["split_entities_by_comma"],
            max_iter=self.options["max_iterations"],
            l1=self.options["L1_c"],
            l2=self.options["L2_c"],
            token_features="dense" if _names_dense(self.options["features"]) else "none",
        )

    @classmethod
    def check(cls, options: dict[str, Any]) -> None:
        check_windows(cls.name, options["features"], FEATURE_NAMES)
        check_split_by_comma(cls.name, options["split_entities_by_comma"])
        require_non_negative(cls.name, options, "max_iterations", "L1_c", "L2_c")

    def train(self, messages: list[Message], data: NluData) -> None:
        self.tagger.fit(messages)

    def process(self, message: Message) -> None:
        message.entities.extend(self.tagger.extract(message))

    def persist(self, store: Store) -> None:
        self.tagger.persist(store)

    def restore(self, store: Store) -> None:
        self.tagger.restore(store)


def _names_dense(windows: list[list[str]]) -> bool:
    return any("text_dense_features" in names for names in windows)
