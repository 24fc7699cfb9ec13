"""KeywordIntentClassifier: an example text found as whole words in the message is its intent."""

from __future__ import annotations

import logging
import re
from typing import Any

from tandem.nlu.component import Component
from tandem.nlu.message import Message, base_intent
from tandem.nlu.storage import Store
from tandem.project.training_data import NluData

log = logging.getLogger(__name__)


class KeywordIntentClassifier(Component):
    name = "KeywordIntentClassifier"
    defaults = {"case_sensitive": True}
    provides = frozenset({"intent"})

    def __init__(self, options: dict[str, Any], *, language: str) -> None:
        super().__init__(options, language=language)
        self._set_keywords({})

    def _set_keywords(self, keywords: dict[str, str]) -> None:
        self.keywords = keywords  # keyword -> intent, in training order (first match wins)
        flags = 0 if self.options["case_sensitive"] else re.IGNORECASE
        self._patterns = [
            (re.compile(rf"\b{re.escape(keyword)}\b", flags), intent)
            for keyword, intent in keywords.items()
        ]

    def train(self, messages: list[Message], data: NluData) -> None:
        keywords: dict[str, str] = {}
        ambiguous = set()
        fold = (lambda text: text) if self.options["case_sensitive"] else str.lower
        for example in data.examples:
            if not example.intent:
                continue
            keyword, intent = fold(example.text), base_intent(example.intent)
            if keywords.get(keyword, intent) != intent:
                ambiguous.add(keyword)
            keywords.setdefault(keyword, intent)
        for keyword in sorted(ambiguous):
            log.warning(
                "%s: keyword '%s' belongs to several intents; it is dropped", self.label, keyword
            )
            del keywords[keyword]
        self._set_keywords(keywords)

    def process(self, message: Message) -> None:
        for pattern, intent in self._patterns:
            if pattern.search(message.text):
                message.intent = {"name": intent, "confidence": 1.0}
                return

    def persist(self, store: Store) -> None:
        store.write_json("keywords", list(self.keywords.items()))

    def restore(self, store: Store) -> None:
        self._set_keywords(dict(store.read_json("keywords")))
