"""Multinomial logistic regression over sentence features: the model behind intent classifiers.

Input weighting (a documented choice; the featurizers deliver raw counts): each featurizer's
block is sublinear-tf (1 + log count) times smoothed idf, then l2-normalised on its own, so
a long text or a featurizer with many columns does not drown the others. Classes are weighted
inversely to their frequency so that a rare intent is not ignored.

Labels made of sub-intents (``greet+ask`` split by the tokenizer's intent_tokenization_flag)
share weights: the weight vector of a label is the sum of its sub-intents' vectors, so what is
learned about ``greet`` also helps ``greet+ask``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tandem.nlu import lbfgs
from tandem.nlu.message import Message
from tandem.nlu.storage import Store

# Inverse L2 strength per training example (sklearn's C); tuned on the BANKING77 and
# CLINC150 validation splits.
_C = 7.5


class IntentModel:
    def __init__(self, *, max_iter: int, tol: float, origins: frozenset[str] | None = None) -> None:
        self.max_iter = max_iter
        self.tol = tol
        self.origins = origins  # featurizers to read; None = all
        self.labels: list[str] = []
        self.idf = np.zeros(0, dtype=np.float32)
        self.offsets = np.zeros(1, dtype=np.int64)  # column where each featurizer block starts
        self.weights = np.zeros((0, 0), dtype=np.float32)
        self.bias = np.zeros(0, dtype=np.float32)

    # -- inputs --------------------------------------------------------------------------------

    def _blocks(self, message: Message) -> list[sp.csr_matrix]:
        return [f.sentence for f in message.features_from(self.origins) if f.sentence is not None]

    def _weigh(self, block: sp.csr_matrix, first: int) -> sp.csr_matrix:
        """One featurizer block as the classifier sees it: log tf x idf, unit length per row."""
        block = block.astype(np.float32, copy=True)
        block.data = (1.0 + np.log(block.data)) * self.idf[first + block.indices]
        norms = np.sqrt(np.asarray(block.multiply(block).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sp.csr_matrix(sp.diags(1.0 / norms) @ block, dtype=np.float32)

    # -- training ------------------------------------------------------------------------------

    def fit(
        self, messages: list[Message], labels: list[str], label_parts: dict[str, tuple[str, ...]]
    ) -> None:
        """Learn from messages and their labels; ``label_parts`` maps labels to sub-intents."""
        self.labels = sorted(set(labels))
        # One matrix per featurizer: stacking rows of one width is cheap, mixing widths is not.
        raws = [
            sp.vstack(rows, format="csr") for rows in zip(*map(self._blocks, messages), strict=True)
        ]
        self.offsets = np.cumsum([0] + [r.shape[1] for r in raws]).astype(np.int64)
        documents = [np.bincount(r.indices, minlength=r.shape[1]) for r in raws]
        self.idf = np.concatenate(
            [np.log((1.0 + len(messages)) / (1.0 + df)) + 1.0 for df in documents] or [np.zeros(0)]
        ).astype(np.float32)
        weighed = [self._weigh(r, int(first)) for r, first in zip(raws, self.offsets, strict=False)]
        x = sp.hstack(weighed, format="csr") if weighed else sp.csr_matrix((len(messages), 0))
        index = {label: k for k, label in enumerate(self.labels)}
        y = np.array([index[label] for label in labels])
        sharing = _sharing_matrix(self.labels, label_parts)
        self.weights, self.bias = _fit(
            x.astype(np.float32), y, len(self.labels), sharing, self.max_iter, self.tol
        )

    # -- prediction ----------------------------------------------------------------------------

    def rank(self, message: Message) -> list[tuple[str, float]]:
        """All labels with their probability, most probable first."""
        if not self.labels:
            return []
        logits = self.bias.copy()
        # The same weighting as _weigh(), on the raw arrays: scipy's per-call overhead would
        # cost more than the arithmetic for a single text.
        for block, first in zip(self._blocks(message), self.offsets[:-1], strict=True):
            if block.nnz:
                columns = first + block.indices
                values = (1.0 + np.log(block.data)) * self.idf[columns]
                values /= np.sqrt(np.dot(values, values))
                logits += values @ self.weights[columns]
        probabilities = np.exp(logits - logits.max())
        probabilities /= probabilities.sum()
        order = np.argsort(-probabilities, kind="stable")
        return [(self.labels[k], float(probabilities[k])) for k in order]

    def persist(self, store: Store) -> None:
        store.write_json("labels", self.labels)
        store.write_array("idf", self.idf)
        store.write_array("offsets", self.offsets)
        store.write_array("weights", self.weights)
        store.write_array("bias", self.bias)

    def restore(self, store: Store) -> None:
        self.labels = store.read_json("labels")
        self.idf = store.read_array("idf")
        self.offsets = store.read_array("offsets")
        self.weights = store.read_array("weights")
        self.bias = store.read_array("bias")


def _sharing_matrix(labels: list[str], parts: dict[str, tuple[str, ...]]) -> np.ndarray | None:
    """labels x sub-intents incidence, or None when no label has several sub-intents.

    A label's weights are the sum of its sub-intents' weights, so ``greet+ask`` scores like
    ``greet`` and ``ask`` together, and even rare combinations are recognised.
    """
    split = {label: parts.get(label, (label,)) for label in labels}
    if all(p == (label,) for label, p in split.items()):
        return None
    names = sorted({p for label in labels for p in split[label]})
    column = {name: i for i, name in enumerate(names)}
    matrix = np.zeros((len(labels), len(names)), dtype=np.float32)
    for k, label in enumerate(labels):
        for name in split[label]:
            matrix[k, column[name]] = 1.0
    return matrix


def _fit(
    x: sp.csr_matrix,
    y: np.ndarray,
    n_labels: int,
    sharing: np.ndarray | None,
    max_iter: int,
    tol: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Weights (features x labels) and bias minimising class-weighted mean cross-entropy + L2."""
    n, d = x.shape
    m = n_labels if sharing is None else sharing.shape[1]
    counts = np.bincount(y, minlength=n_labels)
    sample_weight = (n / (n_labels * counts[y]) / n).astype(np.float32)  # balanced, mean
    l2 = np.float32(1.0 / (_C * n))
    xt = x.T.tocsr()

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        u = theta[: d * m].reshape(d, m)
        w = u if sharing is None else u @ sharing.T
        loss, grad_w, grad_bias = softmax_loss(x, xt, y, sample_weight, w, theta[d * m :])
        loss += 0.5 * float(l2) * float(np.vdot(u, u))
        grad_u = (grad_w if sharing is None else grad_w @ sharing) + l2 * u
        return loss, np.concatenate([grad_u.ravel(), grad_bias])

    theta = lbfgs.minimize(
        objective, np.zeros(d * m + n_labels, dtype=np.float32), max_iter=max_iter, tol=tol
    )
    u = theta[: d * m].reshape(d, m)
    weights = u if sharing is None else u @ sharing.T
    return np.ascontiguousarray(weights, dtype=np.float32), theta[d * m :].astype(np.float32)


def softmax_loss(
    x: sp.csr_matrix,
    xt: sp.csr_matrix,
    y: np.ndarray,
    sample_weight: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray,
) -> tuple[float, np.ndarray, np.ndarray]:
    """Weighted softmax cross-entropy of ``x @ w + bias`` against labels ``y``.

    Returns the loss and its gradients for ``w`` and ``bias`` (regularisation is the
    caller's); ``xt`` is ``x`` transposed, precomputed once per training run.
    """
    z = x @ w + bias
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    total = p.sum(axis=1)
    rows = np.arange(len(y))
    loss = float(np.dot(sample_weight, np.log(total) - z[rows, y]))
    p /= total[:, None]
    p[rows, y] -= 1.0
    p *= sample_weight[:, None]
    return loss, xt @ p, p.sum(axis=0)
