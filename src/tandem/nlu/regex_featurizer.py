"""RegexFeaturizer: which regex/lookup patterns match, per token and for the whole text."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tandem.nlu import patterns
from tandem.nlu.message import Features, Message
from tandem.project.training_data import NluData


class RegexFeaturizer(patterns.PatternComponent):
    name = "RegexFeaturizer"
    defaults = {"case_sensitive": True, **patterns.PATTERN_OPTIONS}
    ignored = {"number_additional_patterns": "the patterns are read anew by every training"}
    needs = frozenset({"tokens"})
    provides = frozenset({"features"})

    def train(self, messages: list[Message], data: NluData) -> None:
        self.set_patterns(patterns.collect(data, self.options))
        for message in messages:
            self.process(message)

    def process(self, message: Message) -> None:
        tokens = message.tokens or []
        hits = np.zeros((len(tokens), len(self.compiled)), dtype=np.float32)
        sentence = np.zeros((1, len(self.compiled)), dtype=np.float32)
        for column, (_, regex) in enumerate(self.compiled):
            for match in regex.finditer(message.text):
                if match.end() == match.start():
                    continue
                sentence[0, column] = 1.0
                for row, token in enumerate(tokens):
                    if token.start < match.end() and token.end > match.start():
                        hits[row, column] = 1.0
        names = [name for name, _ in self.compiled]
        message.patterns = [frozenset(names[c] for c in np.flatnonzero(row)) for row in hits]
        matrix = sp.csr_matrix(hits)
        message.features.append(Features(self.label, sp.csr_matrix(sentence), lambda: matrix))
