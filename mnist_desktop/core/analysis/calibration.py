"""Temperature scaling and expected calibration error (Guo et al. 2017).

A network's softmax is not a probability of being right: trained with label
smoothing it under-states (a perfect 7 shows "91 %"), trained long without it it
over-states. Dividing the logits by one temperature ``T``, fitted to minimise the
negative log-likelihood on held-out digits, fixes most of that without changing
a single prediction (the arg-max is unchanged), so "70 %" comes to mean "right
about 70 % of the time". ECE measures the gap: the confidence-weighted mean of
|accuracy - confidence| over equal-width confidence bins.
"""

from __future__ import annotations

import numpy as np

ECE_BINS = 15


def log_softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def softmax_t(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Softmax of ``logits / temperature`` (float64)."""
    return np.exp(log_softmax(np.asarray(logits, np.float64) / temperature))


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of ``labels`` under the tempered softmax."""
    labels = np.asarray(labels, np.int64)
    return float(-log_softmax(np.asarray(logits, np.float64) / temperature)[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature in [0.05, 20] minimising NLL: golden-section search on log T.

    NLL is convex in 1/T for fixed logits, so one-dimensional search is exact
    enough (to ~1e-4 in log T) and needs no optimiser dependency. An empty set
    gives 1.0 (no change).
    """
    if len(labels) == 0:
        return 1.0
    lo, hi = np.log(0.05), np.log(20.0)
    ratio = (np.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = nll(logits, labels, np.exp(a)), nll(logits, labels, np.exp(b))
    while hi - lo > 1e-4:
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = nll(logits, labels, np.exp(a))
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = nll(logits, labels, np.exp(b))
    return float(np.exp((lo + hi) / 2))


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE with ``bins`` equal-width bins of the top-class confidence (nan for an empty set)."""
    probabilities = np.asarray(probabilities, np.float64)
    labels = np.asarray(labels, np.int64)
    if len(labels) == 0:
        return float("nan")
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    which = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    total = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            total += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(total)
