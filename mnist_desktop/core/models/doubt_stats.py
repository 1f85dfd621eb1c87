"""What a model knows about its own doubt: temperature, OOD statistics and threshold.

Fitted at the end of training (core/analysis/doubt.py) and stored in the
checkpoint beside the weights, as optional extras an older app simply ignores:

    metadata.json["doubt"]      temperature, threshold, per-component normalisation, provenance
    doubt/<name>.npy            the Gaussian statistics (class means, whitening matrices)

Everything is validated on load like the rest of a checkpoint: a damaged or
hostile doubt section raises a :class:`CheckpointError` naming the field, never
a wrong verdict. Models saved before this existed load with ``doubt = None``
and the app falls back to confidence alone, saying so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

#: 2: the ink Gaussian has several centres (``ink_clusters`` in the metadata, ``ink_mean`` (K, 4));
#: version 1 files (one centre, ``ink_mean`` (4,)) still load.
DOUBT_VERSION = 2
#: Score components a new fit uses (the combined score is their maximum; see core/analysis/doubt.py).
COMPONENTS = ("entropy", "ink")
#: The component sets a file may hold: files fitted before the entropy score used the energy score.
COMPONENT_SETS = (("entropy", "ink"), ("energy", "ink"))
#: Ink statistics the "ink" component models (see core/analysis/doubt.py ink_statistics).
INK_STATS = 4
#: The most ink centres a file may declare (the fit uses core/analysis/doubt.INK_CLUSTERS).
MAX_INK_CLUSTERS = 64
#: Arrays stored under doubt/ and the shape each must have given the feature width D and the
#: number of ink centres K (D is passed so a component on penultimate features could be
#: validated the same way).
ARRAY_SHAPES: dict[str, Callable[[int, int], tuple[int, ...]]] = {
    "ink_mean": lambda d, k: (k, INK_STATS),
    "ink_whitening": lambda d, k: (INK_STATS, INK_STATS),
}


def check_version(version: Any, fail: Callable[[str], Exception]) -> int:
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= DOUBT_VERSION:
        raise fail(f"doubt version {str(version)[:20]} is not supported (this app reads ≤ {DOUBT_VERSION}); update mnist-desktop")
    return version


def ink_clusters_of(meta: Any, fail: Callable[[str], Exception]) -> int | None:
    """K declared by a doubt section (None: a version-1 file, whose ``ink_mean`` is one (4,) centre)."""
    if not isinstance(meta, dict):
        return None  # parse_doubt names the problem
    if check_version(meta.get("version"), fail) == 1:
        return None
    k = meta.get("ink_clusters")
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_INK_CLUSTERS:
        raise fail(f"doubt 'ink_clusters' must be a whole number from 1 to {MAX_INK_CLUSTERS}, got {str(k)[:20]}")
    return k


def array_shapes(feature_dim: int, clusters: int | None) -> dict[str, tuple[int, ...]]:
    """The shape every doubt/ array must have (``clusters`` None: the version-1 layout)."""
    shapes = {name: shape_of(feature_dim, clusters or 1) for name, shape_of in ARRAY_SHAPES.items()}
    if clusters is None:
        shapes["ink_mean"] = (INK_STATS,)
    return shapes


@dataclass
class DoubtStats:
    """Calibration and OOD statistics of one model (plain numpy, float32 arrays).

    ``normalisation[c] = (median, scale)`` maps component ``c``'s raw score on
    held-out digits to "0 = typical digit, 1 = the 99th percentile"; the OOD
    score is the largest normalised component, and ``threshold`` is the value
    above which a drawing "doesn't look like a digit".
    """

    temperature: float
    threshold: float
    ink_mean: np.ndarray  # (K, 4) centres of the ink statistics
    ink_whitening: np.ndarray
    normalisation: dict[str, tuple[float, float]]
    info: dict[str, Any] = field(default_factory=dict)  # provenance and hold-out metrics, shown as is

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: np.asarray(getattr(self, name), np.float32) for name in ARRAY_SHAPES}

    def metadata(self) -> dict[str, Any]:
        return {
            "version": DOUBT_VERSION, "temperature": float(self.temperature), "threshold": float(self.threshold),
            "ink_clusters": int(np.asarray(self.ink_mean).shape[0]),
            "normalisation": {k: [float(v[0]), float(v[1])] for k, v in self.normalisation.items()},
            "info": dict(self.info),
        }


def _finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def parse_doubt(meta: Any, arrays: Mapping[str, np.ndarray], feature_dim: int, fail: Callable[[str], Exception]) -> DoubtStats:
    """Validate the ``doubt`` metadata and arrays of a checkpoint; ``fail(what)`` builds the error to raise."""
    if not isinstance(meta, dict):
        raise fail("'doubt' must be a JSON object")
    check_version(meta.get("version"), fail)
    temperature = meta.get("temperature")
    if not _finite_number(temperature) or not 0.01 <= temperature <= 100:
        raise fail(f"doubt 'temperature' must be a number in [0.01, 100], got {str(temperature)[:30]}")
    threshold = meta.get("threshold")
    if not _finite_number(threshold):
        raise fail(f"doubt 'threshold' must be a finite number, got {str(threshold)[:30]}")
    norm = meta.get("normalisation")
    components = next((c for c in COMPONENT_SETS if isinstance(norm, dict) and set(norm) == set(c)), None)
    if components is None:
        raise fail("doubt 'normalisation' must give (median, scale) for exactly "
                   + " or ".join(", ".join(c) for c in COMPONENT_SETS))
    normalisation: dict[str, tuple[float, float]] = {}
    for name in components:
        pair = norm[name]
        if not (isinstance(pair, list) and len(pair) == 2 and all(_finite_number(v) for v in pair) and pair[1] > 0):
            raise fail(f"doubt normalisation of {name!r} must be [median, positive scale]")
        normalisation[name] = (float(pair[0]), float(pair[1]))
    info = meta.get("info", {})
    if not isinstance(info, dict):
        raise fail("doubt 'info' must be a JSON object")
    if set(arrays) != set(ARRAY_SHAPES):
        missing, extra = sorted(set(ARRAY_SHAPES) - set(arrays)), sorted(set(arrays) - set(ARRAY_SHAPES))
        raise fail(f"doubt arrays do not match (missing {', '.join(missing) or 'none'}; unexpected {', '.join(e[:40] for e in extra[:5]) or 'none'})")
    checked: dict[str, np.ndarray] = {}
    for name, shape in array_shapes(feature_dim, ink_clusters_of(meta, fail)).items():
        arr = arrays[name]
        if arr.shape != shape or arr.dtype != np.float32:
            raise fail(f"doubt/{name} has shape {arr.shape} {arr.dtype}, this file's doubt section needs {shape} float32")
        if not np.all(np.isfinite(arr)):
            raise fail(f"doubt/{name} contains NaN or infinite values")
        checked[name] = arr
    checked["ink_mean"] = checked["ink_mean"].reshape(-1, INK_STATS)  # version 1: one centre
    return DoubtStats(float(temperature), float(threshold), normalisation=normalisation, info=info, **checked)


def feature_width(model: str) -> int:
    """Width of the features the output layer reads (the penultimate layer), from shapes alone.

    The same number ``core.models.features.feature_dim`` gets by tracing the network, but
    without JAX: checkpoints check their doubt arrays against it, and the window reads its
    first model before JAX has loaded.
    """
    from mnist_desktop.core.models.spec import INPUT_SHAPE, architecture_of, summarize

    arch, preset = architecture_of(model)
    rows = [row for row in summarize(arch, preset).rows if row.index is not None]
    return math.prod(rows[-1].shape) if rows else math.prod(INPUT_SHAPE)
