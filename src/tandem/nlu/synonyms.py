"""EntitySynonymMapper: replaces entity values by their canonical synonym."""

from __future__ import annotations

from tandem.nlu.component import Component
from tandem.nlu.message import Message
from tandem.nlu.storage import Store
from tandem.project.training_data import NluData


class EntitySynonymMapper(Component):
    name = "EntitySynonymMapper"

    def __init__(self, options: dict[str, object], *, language: str) -> None:
        super().__init__(options, language=language)
        self.synonyms: dict[str, str] = {}

    def train(self, messages: list[Message], data: NluData) -> None:
        # NluData holds explicit synonyms and annotated values (text -> value), lower-cased keys.
        self.synonyms = {str(text).lower(): value for text, value in data.synonyms.items()}

    def process(self, message: Message) -> None:
        # Entities of every extractor that ran earlier, so pipeline order matters.
        for entity in message.entities:
            canonical = self.synonyms.get(str(entity.get("value")).lower())
            if canonical is not None:
                entity["value"] = canonical
                entity["processors"] = [*(entity.get("processors") or []), self.name]

    def persist(self, store: Store) -> None:
        store.write_json("synonyms", self.synonyms)

    def restore(self, store: Store) -> None:
        self.synonyms = store.read_json("synonyms")
