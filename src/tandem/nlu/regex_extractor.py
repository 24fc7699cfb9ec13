"""RegexEntityExtractor: every match of an entity-named regex or lookup table is an entity."""

from __future__ import annotations

import logging

from tandem.nlu import patterns
from tandem.nlu.message import Message
from tandem.project.training_data import NluData

log = logging.getLogger(__name__)


class RegexEntityExtractor(patterns.PatternComponent):
    name = "RegexEntityExtractor"
    defaults = {"case_sensitive": False, **patterns.PATTERN_OPTIONS}
    provides = frozenset({"entities"})

    def train(self, messages: list[Message], data: NluData) -> None:
        # Only patterns named like an entity of the training examples make entities.
        self.set_patterns(patterns.collect(data, self.options, names=set(data.entity_names)))
        if not self.patterns:
            log.warning(
                "%s: no regex or lookup table is named after an entity of the training data; "
                "it will extract nothing",
                self.label,
            )

    def process(self, message: Message) -> None:
        for name, regex in self.compiled:
            for match in regex.finditer(message.text):
                if match.end() > match.start():
                    message.entities.append(
                        {
                            "entity": name,
                            "start": match.start(),
                            "end": match.end(),
                            "value": match.group(),
                            "extractor": self.name,
                        }
                    )
