"""LexicalSyntacticFeaturizer: one-hot token features (case, affixes, position) in a window."""

from __future__ import annotations

from typing import Any

import scipy.sparse as sp

from tandem.nlu.component import VocabularyFeaturizer
from tandem.nlu.message import Features, Message, sparse_row
from tandem.nlu.token_features import TOKEN_VALUES, check_windows, positions
from tandem.project.training_data import NluData

_VALUES = {**TOKEN_VALUES, "low": str.islower}
_NAMES = (*_VALUES, "BOS", "EOS", "pos", "pos2")


class LexicalSyntacticFeaturizer(VocabularyFeaturizer):
    name = "LexicalSyntacticFeaturizer"
    defaults = {
        "features": [
            ["low", "title", "upper"],
            ["BOS", "EOS", "low", "upper", "title", "digit"],
            ["low", "title", "upper"],
        ],
    }
    needs = frozenset({"tokens"})
    provides = frozenset({"features"})

    def __init__(self, options: dict[str, Any], *, language: str) -> None:
        super().__init__(options, language=language)
        self.vocabulary: dict[str, int] = {}

    @classmethod
    def check(cls, options: dict[str, Any]) -> None:
        check_windows(cls.name, options["features"], _NAMES)

    def _token_terms(self, texts: list[str], index: int) -> list[str]:
        terms = []
        for offset, j, names in positions(self.options["features"], index, len(texts)):
            if j is None:
                continue
            for name in names:
                if name == "BOS":
                    value: Any = j == 0
                elif name == "EOS":
                    value = j == len(texts) - 1
                else:
                    value = _VALUES[name](texts[j])
                terms.append(f"{offset}:{name}:{value}")
        return terms

    def _features(self, message: Message) -> Features:
        texts = [token.text for token in message.tokens or ()]
        width = len(self.vocabulary)

        def sequence() -> sp.csr_matrix:
            rows = []
            for i in range(len(texts)):
                columns = (self.vocabulary.get(term) for term in self._token_terms(texts, i))
                rows.append(sparse_row({c: 1.0 for c in columns if c is not None}, width))
            return sp.vstack(rows, format="csr") if rows else sp.csr_matrix((0, width))

        # Token-level only: like the reference, it gives classifiers no sentence features.
        return Features(self.label, None, sequence)

    def train(self, messages: list[Message], data: NluData) -> None:
        terms = set()
        for message in messages:
            texts = [token.text for token in message.tokens or ()]
            for i in range(len(texts)):
                terms.update(self._token_terms(texts, i))
        self.vocabulary = {term: i for i, term in enumerate(sorted(terms))}
        for message in messages:
            message.features.append(self._features(message))
