"""One model's full reading of one drawing: calibrated answer, OOD score, verdict, saliency.

The live canvas and the compare strip call this on the worker thread for every
drawing. One jitted call per model returns the logits, the penultimate features
and the input gradient of the explained class's logit (the predicted one, or a
class the person picked: "why 4 and not 9?"); the OOD score and the verdict are
a few small numpy operations after it (~0.1 ms).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from mnist_desktop.core.analysis.calibration import softmax_t
from mnist_desktop.core.analysis.doubt import score_outputs
from mnist_desktop.core.analysis.verdict import Verdict, decide
from mnist_desktop.core.models.doubt_stats import DoubtStats
from mnist_desktop.core.models.features import with_features


@dataclass
class Reading:
    """What one model makes of one drawing (plain numpy)."""

    probabilities: np.ndarray  # (10,), calibrated when the model has a temperature
    verdict: Verdict
    saliency: np.ndarray | None  # (28, 28) in [0, 1] for the explained class, when asked for
    explained: int  # the class the saliency explains


@functools.cache
def _reading_fn(model_name: str) -> Callable:
    apply = with_features(model_name).apply

    def read(params: Any, x: jnp.ndarray, target: jnp.ndarray):
        batch = x[None, :, :, None]
        logits, feats = apply(params, batch)
        label = jnp.where(target < 0, jnp.argmax(logits[0]), target)
        grad = jax.grad(lambda imgs: apply(params, imgs)[0][0, label])(batch)[0, :, :, 0]
        return logits[0], feats[0], jnp.abs(grad) / jnp.maximum(jnp.abs(grad).max(), 1e-12), label

    return jax.jit(read)


@functools.cache
def _forward_fn(model_name: str) -> Callable:
    apply = with_features(model_name).apply
    return jax.jit(lambda params, x: tuple(v[0] for v in apply(params, x[None, :, :, None])))


def read_drawing(model_name: str, params: Any, stats: DoubtStats | None, image: np.ndarray, *,
                 too_small: bool = False, saliency: bool = False, target: int | None = None) -> Reading:
    """Read one (28, 28) input; ``too_small`` is the raw-canvas rule, judged before preprocessing."""
    x = np.asarray(image, np.float32)
    if saliency:
        logits, feats, sal, label = jax.device_get(_reading_fn(model_name)(params, x, np.int32(-1 if target is None else target)))
        sal, explained = np.asarray(sal), int(label)
    else:
        logits, feats = jax.device_get(_forward_fn(model_name)(params, x))
        sal, explained = None, -1
    logits, feats = np.asarray(logits)[None], np.asarray(feats)[None]
    if stats is None:
        probs, score, threshold = softmax_t(logits)[0], None, None
    else:
        p, s = score_outputs(stats, logits, feats, x[None])
        probs, score, threshold = p[0], float(s[0]), stats.threshold
    verdict = decide(probs, score, threshold, too_small)
    return Reading(probs.astype(np.float32), verdict, sal, explained if saliency else verdict.label)
