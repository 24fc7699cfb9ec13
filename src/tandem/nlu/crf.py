"""A linear-chain conditional random field over sparse token features.

score(y | x) = sum_t x_t . W[:, y_t] + sum_t T[y_(t-1), y_t], trained by CRFsuite (through
python-crfsuite: L-BFGS, OWL-QN with an L1 penalty, on the negative log-likelihood + c1 |w|_1
+ c2 |w|^2), the trainer the reference's CRFEntityExtractor uses, with every transition between
labels possible as it sets it. Its weights are copied into two arrays, so a model is data only
and tagging (Viterbi, and forward-backward for each token's label marginals) runs here.

Forward-backward runs in scaled probability space (each step normalised) on batches of
sequences of equal length.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pycrfsuite
import scipy.sparse as sp


class LinearChainCrf:
    def __init__(self, n_features: int, n_labels: int) -> None:
        self.emissions = np.zeros((n_features, n_labels))
        self.transitions = np.zeros((n_labels, n_labels))

    def fit(
        self,
        sequences: list[sp.csr_matrix],
        tags: list[np.ndarray],
        *,
        l1: float,
        l2: float,
        max_iter: int,
    ) -> None:
        """Learn from token feature rows (one matrix per sequence) and label indices."""
        trainer = pycrfsuite.Trainer(verbose=False)
        for x, labels in zip(sequences, tags, strict=True):
            trainer.append(pycrfsuite.ItemSequence(_items(x)), [str(k) for k in labels])
        trainer.set_params(
            {"c1": l1, "c2": l2, "max_iterations": max_iter, "feature.possible_transitions": True}
        )
        with tempfile.TemporaryDirectory(prefix="tandem-crf-") as folder:
            path = str(Path(folder) / "model.crfsuite")
            trainer.train(path)
            tagger = pycrfsuite.Tagger()
            tagger.open(path)
            try:
                learned = tagger.info()
            finally:
                tagger.close()
        self.emissions = np.zeros(self.emissions.shape)
        for (column, label), weight in learned.state_features.items():
            self.emissions[int(column), int(label)] = weight
        self.transitions = np.zeros(self.transitions.shape)
        for (before, after), weight in learned.transitions.items():
            self.transitions[int(before), int(after)] = weight

    def predict(self, x: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        """Best tag sequence (Viterbi) and per-token label marginals for one sequence."""
        scores = np.asarray(x @ self.emissions)
        if len(scores) == 0:
            return np.zeros(0, dtype=int), np.zeros((0, self.transitions.shape[0]))
        _, marginals, _ = forward_backward(scores[None], self.transitions)
        return viterbi(scores, self.transitions), marginals[0]


def _items(x: sp.csr_matrix) -> list[dict[str, float]]:
    """CRFsuite's items of a sequence: each token's non-zero columns, named by number."""
    x = x.tocsr()
    return [
        {
            str(column): float(value)
            for column, value in zip(x.indices[start:end], x.data[start:end], strict=True)
        }
        for start, end in zip(x.indptr[:-1], x.indptr[1:], strict=True)
    ]


def forward_backward(
    scores: np.ndarray, transitions: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For a batch (B x n x L) of equal-length sequences: log partition per sequence,
    per-token label marginals, and the summed pairwise (transition) marginals."""
    batch, n, n_labels = scores.shape
    shift = scores.max(axis=2, keepdims=True)
    emit = np.exp(scores - shift)
    top = transitions.max()
    step = np.exp(transitions - top)
    alpha = np.empty_like(emit)
    scale = np.empty((batch, n))
    alpha[:, 0] = emit[:, 0]
    for t in range(n):
        if t:
            alpha[:, t] = (alpha[:, t - 1] @ step) * emit[:, t]
        scale[:, t] = alpha[:, t].sum(axis=1)
        alpha[:, t] /= scale[:, t, None]
    beta = np.empty_like(emit)
    beta[:, n - 1] = 1.0
    pairs = np.zeros((n_labels, n_labels))
    for t in range(n - 1, 0, -1):
        weighted = emit[:, t] * beta[:, t] / scale[:, t, None]
        beta[:, t - 1] = weighted @ step.T
        pairs += step * np.einsum("bi,bj->ij", alpha[:, t - 1], weighted)
    log_z = np.log(scale).sum(axis=1) + shift[:, :, 0].sum(axis=1) + top * (n - 1)
    return log_z, alpha * beta, pairs


def viterbi(scores: np.ndarray, transitions: np.ndarray) -> np.ndarray:
    n, _ = scores.shape
    best = scores[0].copy()
    back = np.zeros(scores.shape, dtype=int)
    for t in range(1, n):
        candidates = best[:, None] + transitions
        back[t] = candidates.argmax(axis=0)
        best = candidates.max(axis=0) + scores[t]
    path = np.empty(n, dtype=int)
    path[-1] = int(best.argmax())
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path
