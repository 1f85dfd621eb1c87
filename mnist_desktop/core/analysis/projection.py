"""2-D maps of a layer's activations: PCA at once, t-SNE on demand, and where a new input lands.

PCA is a fixed linear map, so a new drawing is projected exactly as the sample
was (``PCAMap.transform``): the live point is where the drawing *really* sits
in that view of the layer. t-SNE has no such map. openTSNE's own ``transform``
optimises the new point against the fixed embedding (measured ~0.3 s per call
on the shared 2-core CPU, too slow for a point that follows the pen), so the
live point is placed among its nearest neighbours in the same 50-D PCA space
the t-SNE was fitted in (:class:`NeighbourPlacer`, well under 1 ms) — the
placement openTSNE itself starts its transform from.

Why openTSNE (measured on this CPU, 5,000 MNIST test digits, 50 PCA dims, see
the issue-17 report): it is well kept, its FFT-accelerated gradient runs in a
few seconds, and its optimiser can be driven a few iterations at a time, so the
map is a plain generator here — progress after every chunk, cancel = stop
iterating. umap-learn needs numba (a long first JIT compile) and offers no way
to stop a fit mid-way; a hand-written JAX t-SNE pays O(N²) per iteration (25 M
pairs for 5,000 points). openTSNE is an optional extra (``pip install
'mnist-desktop[maps]'``); without it the map says so and PCA still works.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

MAP_SAMPLE = 5000  # test digits on the map: enough to show clusters, few enough to draw at 60 fps
TSNE_DIMS = 50  # PCA dimensions t-SNE and the neighbour placement work in (openTSNE's advice)
TSNE_MISSING = ("The t-SNE map needs the optional openTSNE package (pip install 'mnist-desktop[maps]'); "
                "the PCA map works without it.")


def map_sample(count: int, n: int = MAP_SAMPLE, seed: int = 0) -> np.ndarray:
    """Indices of a fixed random sample of ``n`` of ``count`` items, in ascending order (all when fewer)."""
    if count <= n:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, n, replace=False))


@dataclass(frozen=True)
class PCAMap:
    """A fitted linear projection: ``(x - mean) @ components.T``."""

    mean: np.ndarray  # (D,)
    components: np.ndarray  # (k, D), orthonormal rows
    explained: np.ndarray  # (k,) share of the total variance each axis keeps

    def transform(self, features: np.ndarray) -> np.ndarray:
        """(M, k) coordinates of (M, D) features (or (k,) for one (D,) vector)."""
        x = np.asarray(features, np.float32)
        return (x - self.mean) @ self.components.T


def fit_pca(features: np.ndarray, dims: int = 2, seed: int = 0) -> PCAMap:
    """Principal axes of (N, D) features.

    Small D: exact, from the D×D covariance. Large D (a conv layer: 4,608
    numbers) makes that matrix slow, so a randomised range finder with power
    iterations (Halko et al. 2011) gets the top axes from a few (N×D)·(D×k)
    products instead; the leading axes of activations are well separated, so
    it agrees with the exact answer to float precision (tested). Each axis's
    sign is fixed (largest loading positive) so refits do not mirror at random.
    """
    x = np.asarray(features, np.float64)
    n, d = x.shape
    dims = min(dims, d, max(n - 1, 1))
    mean = x.mean(axis=0)
    centred = x - mean
    total = float((centred ** 2).sum()) or 1.0
    if d <= 1024:
        values, vectors = np.linalg.eigh(centred.T @ centred)
        components = vectors[:, ::-1][:, :dims].T
    else:
        rng = np.random.default_rng(seed)
        basis = centred.T @ rng.standard_normal((n, dims + 10))
        for _ in range(4):
            basis, _ = np.linalg.qr(centred.T @ (centred @ basis))
        small = centred @ basis  # (n, dims + 10)
        _, _, vt = np.linalg.svd(small, full_matrices=False)
        components = (basis @ vt.T)[:, :dims].T
    biggest = np.argmax(np.abs(components), axis=1)
    components = components * np.sign(components[np.arange(dims), biggest])[:, None]
    explained = ((centred @ components.T) ** 2).sum(axis=0) / total
    return PCAMap(mean.astype(np.float32), components.astype(np.float32), explained.astype(np.float32))


def orientation_signs(coords: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    """(k,) ±1: which axes of ``coords`` (N, k) to flip so they point the way ``previous`` (same points) did.

    A map refreshed after each training epoch would otherwise mirror now and
    then (an axis's sign is arbitrary), and clusters would seem to jump.
    """
    signs = np.ones(coords.shape[1], np.float32)
    if previous is None or previous.shape != coords.shape:
        return signs
    for axis in range(coords.shape[1]):
        if float(np.dot(coords[:, axis] - coords[:, axis].mean(), previous[:, axis] - previous[:, axis].mean())) < 0:
            signs[axis] = -1.0
    return signs


def orient_like(pca: PCAMap, coords: np.ndarray, previous: np.ndarray | None) -> tuple[PCAMap, np.ndarray]:
    """The PCA map and its coordinates with axes flipped to match ``previous`` (see :func:`orientation_signs`)."""
    signs = orientation_signs(coords, previous)
    return PCAMap(pca.mean, pca.components * signs[:, None], pca.explained), coords * signs


class NeighbourPlacer:
    """Places new points on a fitted 2-D map among their nearest neighbours in feature space.

    The position is the average of the ``k`` nearest sample points' map
    positions, weighted by a Gaussian of the feature distance whose squared
    width is a third of the ``k``-th neighbour's squared distance: a point
    that is (nearly) one of the sample digits lands (nearly) on it, one among
    a cluster lands in it. Neighbours that lie far from the nearest one *on
    the map* (another cluster: t-SNE tears apart what is close in feature
    space) are left out, so a point never lands in the empty space between two
    clusters that both hold some of its neighbours.
    """

    def __init__(self, features: np.ndarray, coords: np.ndarray, k: int = 10):
        self.features = np.asarray(features, np.float32)
        self.coords = np.asarray(coords, np.float32)
        self.k = max(1, min(k, len(self.features)))
        self._sq_norms = (self.features ** 2).sum(axis=1)
        span = self.coords.max(axis=0) - self.coords.min(axis=0) if len(self.coords) else np.ones(2)
        self.radius = 0.06 * float(np.hypot(*span[:2])) if len(span) >= 2 else 1.0  # a cluster's size, roughly

    def place(self, features: np.ndarray) -> np.ndarray:
        """(M, 2) map positions for (M, D) features (or (2,) for one (D,) vector)."""
        x = np.asarray(features, np.float32)
        single = x.ndim == 1
        x = np.atleast_2d(x)
        sq = np.maximum(self._sq_norms[None, :] - 2.0 * x @ self.features.T + (x ** 2).sum(axis=1)[:, None], 0.0)
        nearest = np.argpartition(sq, self.k - 1, axis=1)[:, : self.k]
        d2 = np.take_along_axis(sq, nearest, axis=1)
        width = np.maximum(d2.max(axis=1, keepdims=True) / 3.0, 1e-12)
        weights = np.exp(-(d2 - d2.min(axis=1, keepdims=True)) / width)
        spots = self.coords[nearest]  # (M, k, 2)
        anchor = np.take_along_axis(spots, np.argmax(weights, axis=1)[:, None, None], axis=1)
        weights = weights * (np.linalg.norm(spots - anchor, axis=2) <= self.radius)
        weights /= weights.sum(axis=1, keepdims=True)
        out = np.einsum("mk,mkc->mc", weights, spots)
        return out[0] if single else out


def tsne_available() -> bool:
    try:
        import openTSNE  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class TsneProgress:
    """One report from :func:`tsne_steps`: the embedding so far and how far the run is."""

    iteration: int
    total: int
    phase: str  # "neighbours", "early exaggeration", "refining", "done"
    coords: np.ndarray | None  # (N, 2) so far (None before the first iteration)


def tsne_steps(features: np.ndarray, *, iterations: int = 500, chunk: int = 10, perplexity: float = 30.0,
               seed: int = 0, n_jobs: int = 1) -> Iterator[TsneProgress]:
    """Fit a t-SNE map of (N, D) features, yielding after every ``chunk`` iterations.

    Stop iterating to cancel: nothing runs between yields. The schedule is
    openTSNE's (a quarter of the iterations with early exaggeration 12, then
    plain gradient descent with momentum 0.8; 500 in all instead of its 750:
    started from PCA the map has settled by then), started from the PCA map
    so the result keeps the global layout PCA shows. ``features`` should be
    the 50-D PCA of the layer (see :func:`reduce_for_tsne`).
    """
    try:
        from openTSNE import TSNEEmbedding, affinity, initialization
    except ImportError:
        raise RuntimeError(TSNE_MISSING) from None
    x = np.asarray(features, np.float64)
    if len(x) < 10:
        raise ValueError(f"t-SNE needs at least 10 points, got {len(x)}")
    yield TsneProgress(0, iterations, "neighbours", None)
    perplexity = min(perplexity, (len(x) - 1) / 3.0)
    # exact neighbours: for a few thousand points brute force beats building an Annoy index (measured)
    affinities = affinity.PerplexityBasedNN(x, perplexity=perplexity, method="exact", n_jobs=n_jobs,
                                            random_state=seed)
    start = initialization.pca(x, random_state=seed)
    embedding = TSNEEmbedding(start, affinities, n_jobs=n_jobs, random_state=seed)
    early = iterations // 4
    done = 0
    while done < iterations:
        step = min(chunk, iterations - done)
        if done < early:
            step = min(step, early - done)
            embedding.optimize(step, exaggeration=12, momentum=0.5, inplace=True)
        else:
            embedding.optimize(step, momentum=0.8, inplace=True)
        done += step
        phase = "early exaggeration" if done <= early else "refining"
        yield TsneProgress(done, iterations, "done" if done == iterations else phase, np.asarray(embedding, np.float32).copy())


def reduce_for_tsne(features: np.ndarray, dims: int = TSNE_DIMS) -> tuple[PCAMap, np.ndarray]:
    """The PCA map to ``dims`` dimensions and the reduced features (t-SNE's and the placer's space)."""
    reducer = fit_pca(features, dims)
    return reducer, reducer.transform(features)
