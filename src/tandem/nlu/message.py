"""The message a pipeline works on: text, tokens, features and the parse result taking shape."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from tandem.project.training_data import NluExample


def base_intent(intent: str) -> str:
    """The intent a classifier learns: ``faq`` for the retrieval intent ``faq/ask_name``."""
    return intent.split("/", 1)[0]


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    start: int
    end: int  # exclusive


class Features:
    """Features of one message from one featurizer.

    ``sentence`` is a 1 x d row for the whole text (None for featurizers that only describe
    tokens); ``sequence`` is n_tokens x d. Sequence features are computed on first use because
    only entity taggers read them, and computing them for every parse would cost latency.
    Rows are counts (weighed by the classifiers) unless ``dense``: an embedding, used as is.
    """

    __slots__ = ("_sequence", "_sequence_of", "dense", "origin", "sentence")

    def __init__(
        self,
        origin: str,
        sentence: sp.csr_matrix | None,
        sequence: Callable[[], sp.csr_matrix],
        *,
        dense: bool = False,
    ) -> None:
        self.origin = origin  # the featurizer's alias, or its component name
        self.sentence = sentence
        self.dense = dense
        self._sequence_of = sequence
        self._sequence: sp.csr_matrix | None = None

    @property
    def sequence(self) -> sp.csr_matrix:
        if self._sequence is None:
            self._sequence = self._sequence_of()
        return self._sequence


def sparse_row(counts: Mapping[int, float], width: int) -> sp.csr_matrix:
    """A 1 x width CSR row from column -> value, columns sorted so rows compare equal."""
    columns = sorted(counts)
    data = np.fromiter((counts[c] for c in columns), dtype=np.float32, count=len(columns))
    indices = np.asarray(columns, dtype=np.int32)
    return sp.csr_matrix(
        (data, indices, np.array([0, len(columns)], dtype=np.int32)), shape=(1, width)
    )


@dataclass(slots=True)
class Message:
    """One text going through the pipeline; ``example`` carries the targets during training."""

    text: str
    example: NluExample | None = None
    tokens: list[Token] | None = None
    # The intent label split into sub-intents by the tokenizer (training messages only).
    intent_tokens: tuple[str, ...] | None = None
    features: list[Features] = field(default_factory=list)
    # Per token, the names of the regex/lookup patterns it lies in (the CRF ``pattern`` feature).
    patterns: list[frozenset[str]] | None = None
    intent: dict[str, Any] | None = None
    intent_ranking: list[dict[str, Any]] | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    response_selector: dict[str, Any] | None = None
    # The spaCy Doc of the text, made once by SpacyNLP for the spaCy components after it.
    spacy_doc: Any = None

    def features_from(self, origins: frozenset[str] | None) -> list[Features]:
        """Features of the named featurizers, or of all of them when ``origins`` is None."""
        if origins is None:
            return self.features
        return [f for f in self.features if f.origin in origins]

    def as_dict(self) -> dict[str, Any]:
        """The parse result JSON: output properties only, keys with null values dropped."""
        result: dict[str, Any] = {
            "text": self.text,
            "intent": self.intent or {"name": None, "confidence": 0.0},
            "entities": [_without_nulls(entity) for entity in self.entities],
        }
        if self.tokens is not None:
            result["text_tokens"] = [[t.start, t.end] for t in self.tokens]
        if self.intent_ranking is not None:
            result["intent_ranking"] = self.intent_ranking
        if self.response_selector is not None:
            result["response_selector"] = self.response_selector
        return result


def _without_nulls(entity: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in entity.items() if value is not None}
