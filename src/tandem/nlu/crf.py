"""A linear-chain conditional random field: CRFsuite (through python-crfsuite) trains and tags.

CRFsuite is the CRF the reference's CRFEntityExtractor uses (through sklearn-crfsuite): L-BFGS,
OWL-QN with an L1 penalty, on the negative log-likelihood + c1 |w|_1 + c2 |w|^2, with every
transition between labels possible as the reference sets it. A model is CRFsuite's own model
file: binary data (a header, feature and label dictionaries, weights) that CRFsuite parses, not
a pickle, so loading one runs no code from it. It is kept in memory (``Tagger.open_inmemory``);
no file has to outlive loading.

Items are CRFsuite's: per token a list of attribute names (each with value 1) or a mapping of
attribute name to value.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import pycrfsuite

Item = list[str] | dict[str, float]


class CrfError(Exception):
    pass


class Crf:
    def __init__(self, model: bytes) -> None:
        # CRFsuite reads the weights from these very bytes (it does not copy them): they live as
        # long as the tagger does.
        self._model = model
        self._tagger = pycrfsuite.Tagger()
        try:
            self._tagger.open_inmemory(self._model)
        except ValueError as exc:
            raise CrfError(f"not a CRFsuite model ({exc})") from exc
        self.labels: list[str] = sorted(self._tagger.labels())
        # set() and the marginals read after it share the tagger's state.
        self._lock = threading.Lock()

    @property
    def model(self) -> bytes:
        """The CRFsuite model file's contents."""
        return self._model

    @classmethod
    def train(
        cls,
        items: Sequence[Sequence[Item]],
        tags: Sequence[Sequence[str]],
        *,
        l1: float,
        l2: float,
        max_iter: int,
    ) -> Crf:
        """Learn from each sequence's items and labels."""
        # BaseTrainer: Trainer without the parsing of CRFsuite's log into Python objects.
        trainer = pycrfsuite.BaseTrainer(verbose=False)
        for x, labels in zip(items, tags, strict=True):
            trainer.append(x, labels)
        trainer.set_params(
            {"c1": l1, "c2": l2, "max_iterations": max_iter, "feature.possible_transitions": True}
        )
        # CRFsuite's trainer writes the model to a file only.
        with tempfile.TemporaryDirectory(prefix="tandem-crf-") as folder:
            path = Path(folder) / "model.crfsuite"
            trainer.train(str(path))
            return cls(path.read_bytes())

    def tag(self, items: Sequence[Item]) -> tuple[list[str], list[float]]:
        """The best label sequence (Viterbi) and each chosen label's marginal probability."""
        with self._lock:
            self._tagger.set(items)
            path: list[str] = self._tagger.tag()
            marginal = self._tagger.marginal
            return path, [marginal(label, t) for t, label in enumerate(path)]

    def marginals(self, items: Sequence[Item], positions: Iterable[int]) -> dict[int, list[float]]:
        """The marginal probability of each of ``labels`` at each of ``positions``."""
        with self._lock:
            self._tagger.set(items)
            marginal = self._tagger.marginal
            return {t: [marginal(label, t) for label in self.labels] for t in positions}
