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

DOUBT_VERSION = 1
#: Score components, in the order they are combined (the combined score is their maximum).
COMPONENTS = ("energy", "ink")
#: Ink statistics the "ink" component models (see core/analysis/doubt.py ink_statistics).
INK_STATS = 4
#: Arrays stored under doubt/ and the shape each must have given the feature width D
#: (D is passed so a future component on penultimate features can be validated the same way).
ARRAY_SHAPES: dict[str, Callable[[int], tuple[int, ...]]] = {
    "ink_mean": lambda d: (INK_STATS,),
    "ink_whitening": lambda d: (INK_STATS, INK_STATS),
}


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
    ink_mean: np.ndarray
    ink_whitening: np.ndarray
    normalisation: dict[str, tuple[float, float]]
    info: dict[str, Any] = field(default_factory=dict)  # provenance and hold-out metrics, shown as is

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: np.asarray(getattr(self, name), np.float32) for name in ARRAY_SHAPES}

    def metadata(self) -> dict[str, Any]:
        return {
            "version": DOUBT_VERSION, "temperature": float(self.temperature), "threshold": float(self.threshold),
            "normalisation": {k: [float(v[0]), float(v[1])] for k, v in self.normalisation.items()},
            "info": dict(self.info),
        }


def _finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def parse_doubt(meta: Any, arrays: Mapping[str, np.ndarray], feature_dim: int, fail: Callable[[str], Exception]) -> DoubtStats:
    """Validate the ``doubt`` metadata and arrays of a checkpoint; ``fail(what)`` builds the error to raise."""
    if not isinstance(meta, dict):
        raise fail("'doubt' must be a JSON object")
    version = meta.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= DOUBT_VERSION:
        raise fail(f"doubt version {str(version)[:20]} is not supported (this app reads ≤ {DOUBT_VERSION}); update mnist-desktop")
    temperature = meta.get("temperature")
    if not _finite_number(temperature) or not 0.01 <= temperature <= 100:
        raise fail(f"doubt 'temperature' must be a number in [0.01, 100], got {str(temperature)[:30]}")
    threshold = meta.get("threshold")
    if not _finite_number(threshold):
        raise fail(f"doubt 'threshold' must be a finite number, got {str(threshold)[:30]}")
    norm = meta.get("normalisation")
    if not isinstance(norm, dict) or set(norm) != set(COMPONENTS):
        raise fail(f"doubt 'normalisation' must give (median, scale) for exactly {', '.join(COMPONENTS)}")
    normalisation: dict[str, tuple[float, float]] = {}
    for name in COMPONENTS:
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
    for name, shape_of in ARRAY_SHAPES.items():
        arr = arrays[name]
        if arr.shape != shape_of(feature_dim) or arr.dtype != np.float32:
            raise fail(f"doubt/{name} has shape {arr.shape} {arr.dtype}, this architecture needs {shape_of(feature_dim)} float32")
        if not np.all(np.isfinite(arr)):
            raise fail(f"doubt/{name} contains NaN or infinite values")
        checked[name] = arr
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
