"""Ranking a fixed set of texts by how similar each is to a query.

Flow retrieval (which flows a command prompt offers) and document search (which passages an
answer is grounded on) both need this. With an embedding model the model's vectors are
compared; without one the texts are compared as TF-IDF vectors (``LexicalIndex``), which needs
no model, no network and gives the same ranking on every run.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tandem.llm.client import LLMClient

# A dense embedding, or a sparse TF-IDF vector keyed by word.
Vector = Sequence[float] | Mapping[str, float]

_WORD = re.compile(r"\w+")


class LexicalIndex:
    """TF-IDF weights learnt from ``documents``.

    Only the documents' vocabulary carries weight: a query word no document uses cannot make a
    document more similar. ``stop_words`` are ignored everywhere, so that "what is the ..."
    alone does not make a passage look relevant.
    """

    def __init__(self, documents: Sequence[str], stop_words: frozenset[str] = frozenset()) -> None:
        self.stop_words = stop_words
        frequency = Counter(word for text in documents for word in set(self.words(text)))
        total = len(documents)
        self.idf = {
            word: math.log((1 + total) / (1 + count)) + 1.0 for word, count in frequency.items()
        }

    def words(self, text: str) -> list[str]:
        return [word for word in _WORD.findall(text.lower()) if word not in self.stop_words]

    def vector(self, text: str) -> dict[str, float]:
        counts = Counter(self.words(text))
        return {word: count * self.idf.get(word, 0.0) for word, count in counts.items()}


class TextIndex:
    """``documents`` scored against queries: by ``embedder``'s vectors if given, else lexically.

    The documents' vectors are computed on the first query and kept. The embedder belongs to
    the caller, which closes it.
    """

    def __init__(
        self,
        documents: Sequence[str],
        *,
        embedder: LLMClient | None = None,
        stop_words: frozenset[str] = frozenset(),
    ) -> None:
        self.documents = list(documents)
        self.embedder = embedder
        self.lexical = LexicalIndex(self.documents, stop_words)
        self._vectors: list[Vector] | None = None

    async def scores(self, query: str) -> list[float]:
        """The cosine similarity of ``query`` to each document, in the documents' order."""
        if self._vectors is None:
            self._vectors = await self._embed(self.documents)
        (target,) = await self._embed([query])
        return [cosine(target, vector) for vector in self._vectors]

    async def _embed(self, texts: Sequence[str]) -> list[Vector]:
        if self.embedder is not None:
            return list(await self.embedder.embed(texts))
        return [self.lexical.vector(text) for text in texts]


def cosine(a: Vector, b: Vector) -> float:
    """Cosine similarity of two vectors of the same kind; 0 when either is all zeros."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        dot = sum(value * b.get(word, 0.0) for word, value in a.items())
        norm_a = math.sqrt(sum(v * v for v in a.values()))
        norm_b = math.sqrt(sum(v * v for v in b.values()))
    else:
        assert not isinstance(a, Mapping) and not isinstance(b, Mapping)
        dot = sum(x * y for x, y in zip(a, b, strict=False))
        norm_a = math.sqrt(sum(x * x for x in a))
        norm_b = math.sqrt(sum(y * y for y in b))
    return dot / (norm_a * norm_b) if norm_a and norm_b else 0.0
