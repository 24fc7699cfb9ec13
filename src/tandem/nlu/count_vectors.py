"""CountVectorsFeaturizer: bag-of-n-gram counts over a vocabulary learned from training data.

Analyzers: ``word`` (n-grams of tokens), ``char`` (character n-grams of the tokens joined by
spaces) and ``char_wb`` (character n-grams inside each token, padded with one space on each
side). Features are raw counts; classifiers decide how to weight them. As in the reference,
every run of digits standing alone ("42", the parts of "3.50") is the one term ``__NUMBER__``,
so numbers never seen in training still count.
"""

from __future__ import annotations

import functools
import logging
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import scipy.sparse as sp

from tandem.nlu.component import NluError, VocabularyFeaturizer
from tandem.nlu.message import Features, Message, sparse_row
from tandem.nlu.stop_words import ENGLISH
from tandem.project.training_data import NluData

log = logging.getLogger(__name__)

_NUMBER = re.compile(r"\b[0-9]+\b")


def word_ngrams(words: Sequence[str], low: int, high: int) -> Iterator[str]:
    for n in range(low, high + 1):
        for i in range(len(words) - n + 1):
            yield " ".join(words[i : i + n])


def char_ngrams(text: str, low: int, high: int) -> Iterator[str]:
    for n in range(low, high + 1):
        for i in range(len(text) - n + 1):
            yield text[i : i + n]


def char_wb_ngrams(words: Sequence[str], low: int, high: int) -> Iterator[str]:
    for word in words:
        yield from _padded_ngrams(word, low, high)


# Words repeat across messages (and a near miss repeats its example but for one word), so
# each word's n-grams are made once; the bound keeps a long-running server's memory flat.
@functools.lru_cache(maxsize=65536)
def _padded_ngrams(word: str, low: int, high: int) -> tuple[str, ...]:
    padded = f" {word} "
    grams: list[str] = []
    for n in range(low, high + 1):
        if len(padded) <= n:
            grams.append(padded)  # a short word counts once as a whole, not once per n
            break
        grams.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return tuple(grams)


class CountVectorsFeaturizer(VocabularyFeaturizer):
    name = "CountVectorsFeaturizer"
    defaults = {
        "analyzer": "word",
        "min_ngram": 1,
        "max_ngram": 1,
        "OOV_token": None,
        "OOV_words": [],
        "use_shared_vocab": False,
        "lowercase": True,
        "max_features": None,
        "min_df": 1,
        "max_df": 1.0,
        "stop_words": None,
    }
    types = {
        "min_df": (int, float),  # a document count, or a proportion of documents
        "max_df": (int, float),
        "max_features": (int, type(None)),
        "stop_words": (str, list, type(None)),
        "OOV_token": (str, type(None)),
    }
    choices = {"analyzer": ("word", "char", "char_wb")}
    ignored = {
        "additional_vocabulary_size": "the vocabulary is built anew by every training",
        "use_lemma": "tokens are counted as written",
        "strip_accents": "accents are kept",
        # Read here by the reference before 2.0; public configs still carry it.
        "token_pattern": "the tokenizer's tokens are counted (give it the `token_pattern`)",
    }
    needs = frozenset({"tokens"})
    provides = frozenset({"features"})

    def __init__(self, options: dict[str, Any], *, language: str) -> None:
        super().__init__(options, language=language)
        self.vocabulary: dict[str, int] = {}
        stop_words = self.options["stop_words"]
        self._stop_words = ENGLISH if stop_words == "english" else frozenset(stop_words or ())
        self._oov_words = frozenset(self._case(w) for w in self.options["OOV_words"])

    @classmethod
    def check(cls, options: dict[str, Any]) -> None:
        low, high = options["min_ngram"], options["max_ngram"]
        if low < 1:
            raise NluError(f"{cls.name}: 'min_ngram' must be at least 1, got {low}")
        if high < low:
            raise NluError(f"{cls.name}: 'max_ngram' ({high}) is smaller than 'min_ngram' ({low})")
        for key in ("min_df", "max_df"):
            value = options[key]
            if value < 0 or (isinstance(value, float) and value > 1):
                raise NluError(
                    f"{cls.name}: '{key}' must be a count >= 0 or a proportion in [0, 1]"
                )
        if options["max_features"] is not None and options["max_features"] < 1:
            raise NluError(f"{cls.name}: 'max_features' must be a positive number")
        stop_words = options["stop_words"]
        if isinstance(stop_words, str) and stop_words != "english":
            raise NluError(f"{cls.name}: 'stop_words' must be 'english' or a list of words")
        if options["OOV_token"] is not None and options["analyzer"] != "word":
            raise NluError(f"{cls.name}: 'OOV_token' only applies to analyzer 'word'")

    # -- analysis ------------------------------------------------------------------------------

    def _case(self, text: str) -> str:
        return text.lower() if self.options["lowercase"] else text

    def _words(self, texts: Sequence[str], *, training: bool = False) -> list[str]:
        """Token texts as the analyzer sees them: cased, stop words out, OOV words replaced."""
        words = [self._case(_NUMBER.sub("__NUMBER__", text)) for text in texts]
        if self.options["analyzer"] != "word":
            return words
        words = [w for w in words if w not in self._stop_words]
        oov = self.options["OOV_token"]
        if oov is None:
            return words
        if training:
            return [oov if w in self._oov_words else w for w in words]
        if oov not in self.vocabulary:
            return words  # the token never occurred in training, so it carries no weight
        return [w if w in self.vocabulary else oov for w in words]

    def _terms(self, words: Sequence[str]) -> Iterator[str]:
        low, high = self.options["min_ngram"], self.options["max_ngram"]
        analyzer = self.options["analyzer"]
        if analyzer == "word":
            return word_ngrams(words, low, high)
        if analyzer == "char":
            return char_ngrams(" ".join(words), low, high)
        return char_wb_ngrams(words, low, high)

    def _row(self, words: Sequence[str]) -> sp.csr_matrix:
        columns = map(self.vocabulary.get, self._terms(words))
        return sparse_row(Counter(c for c in columns if c is not None), len(self.vocabulary))

    def _features(self, message: Message) -> Features:
        texts = [token.text for token in message.tokens or ()]

        def sequence() -> sp.csr_matrix:
            rows = [self._row(self._words([text])) for text in texts]
            return (
                sp.vstack(rows, format="csr") if rows else sp.csr_matrix((0, len(self.vocabulary)))
            )

        return Features(self.label, self._row(self._words(texts)), sequence)

    # -- training ------------------------------------------------------------------------------

    def train(self, messages: list[Message], data: NluData) -> None:
        documents = [
            set(self._terms(self._words([t.text for t in m.tokens or ()], training=True)))
            for m in messages
        ]
        if self.options["use_shared_vocab"]:
            # One vocabulary for texts and labels: words of intent names are known words.
            documents += [
                set(self._terms(self._words(m.intent_tokens))) for m in messages if m.intent_tokens
            ]
        self.vocabulary = self._select(documents)
        if not self.vocabulary:
            log.warning("%s: the vocabulary is empty; this featurizer adds nothing", self.label)
        for message in messages:
            message.features.append(self._features(message))

    def _select(self, documents: list[set[str]]) -> dict[str, int]:
        frequency = Counter(term for document in documents for term in document)
        n = len(documents)
        low, high = (self._document_count(self.options[k], n) for k in ("min_df", "max_df"))
        terms = [t for t, df in frequency.items() if low <= df <= high]
        limit = self.options["max_features"]
        if limit is not None:
            terms = sorted(terms, key=lambda t: (-frequency[t], t))[:limit]
        return {term: i for i, term in enumerate(sorted(terms))}

    @staticmethod
    def _document_count(value: float, n: int) -> float:
        # A float is a proportion of documents, an int an absolute count (1.0 means "all").
        return value * n if isinstance(value, float) else value
