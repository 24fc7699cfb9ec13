"""A linear-chain conditional random field over sparse token features.

score(y | x) = sum_t x_t . W[:, y_t] + sum_t T[y_(t-1), y_t]; trained by L-BFGS (OWL-QN when
there is an L1 penalty) on the summed negative log-likelihood + l1 |theta| + l2 |theta|^2.

Forward-backward runs in scaled probability space (each step normalised) on batches of
sequences of equal length, so training is a few matrix products per token position.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import scipy.sparse as sp

from tandem.nlu import lbfgs


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
        d, n_labels = self.emissions.shape
        x = sp.vstack(sequences, format="csr")
        xt = x.T.tocsr()
        gold = np.concatenate(tags)
        # Row of each token of each sequence, grouped by sequence length.
        starts = np.cumsum([0] + [len(t) for t in tags[:-1]])
        by_length: dict[int, list[int]] = defaultdict(list)
        for start, t in zip(starts, tags, strict=True):
            by_length[len(t)].append(start)
        groups = [np.array(s)[:, None] + np.arange(length) for length, s in by_length.items()]
        gold_transitions = np.zeros((n_labels, n_labels))
        for t in tags:
            np.add.at(gold_transitions, (t[:-1], t[1:]), 1.0)

        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            emissions = theta[: d * n_labels].reshape(d, n_labels)
            transitions = theta[d * n_labels :].reshape(n_labels, n_labels)
            scores = np.asarray(x @ emissions)
            d_scores = np.zeros_like(scores)
            d_transitions = -gold_transitions
            log_likelihood = float(scores[np.arange(len(gold)), gold].sum())
            log_likelihood += float((gold_transitions * transitions).sum())
            for rows in groups:
                log_z, marginals, pairs = forward_backward(scores[rows], transitions)
                log_likelihood -= float(log_z.sum())
                d_scores[rows] += marginals
                d_transitions = d_transitions + pairs
            d_scores[np.arange(len(gold)), gold] -= 1.0
            gradient = np.concatenate([(xt @ d_scores).ravel(), d_transitions.ravel()])
            loss = -log_likelihood + l2 * float(np.dot(theta, theta))
            return loss, gradient + 2.0 * l2 * theta

        theta0 = np.zeros(d * n_labels + n_labels * n_labels)
        theta = lbfgs.minimize(objective, theta0, max_iter=max_iter, tol=1e-5, l1=l1)
        self.emissions = theta[: d * n_labels].reshape(d, n_labels)
        self.transitions = theta[d * n_labels :].reshape(n_labels, n_labels)

    def predict(self, x: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        """Best tag sequence (Viterbi) and per-token label marginals for one sequence."""
        scores = np.asarray(x @ self.emissions)
        if len(scores) == 0:
            return np.zeros(0, dtype=int), np.zeros((0, self.transitions.shape[0]))
        _, marginals, _ = forward_backward(scores[None], self.transitions)
        return viterbi(scores, self.transitions), marginals[0]


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
