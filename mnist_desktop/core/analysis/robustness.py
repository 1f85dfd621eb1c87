"""How the answer holds up as a digit is rotated, scaled, shifted, thickened or made noisy.

Each perturbation has a strength ``level`` (degrees, a scale factor, pixels,
dilation steps, noise σ) and a range of levels a curve sweeps. The warps run
on the model input (28×28) — after preprocessing, which would otherwise undo
shifts and scaling — and are jitted with ``jax.scipy.ndimage`` like the
training augmentation (``core/data/augment.py``), so a curve over 500 test
digits × 13 levels is one batched call per level.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.ndimage import map_coordinates

from mnist_desktop.core.analysis.layers import as_model_images
from mnist_desktop.core.analysis.perturbations import PERTURBATIONS, Perturbation, get_perturbation  # noqa: F401
from mnist_desktop.core.models.networks import transformed


def _warp(images: jnp.ndarray, angle_deg: jnp.ndarray, scale: jnp.ndarray, shift: jnp.ndarray) -> jnp.ndarray:
    """Rotate by ``angle_deg``, scale about the centre and shift right by ``shift`` px (bilinear, ink-free border)."""
    angle = jnp.deg2rad(angle_deg)
    cos, sin = jnp.cos(angle), jnp.sin(angle)
    rows, cols = jnp.meshgrid(jnp.arange(28.0), jnp.arange(28.0), indexing="ij")
    y, x = rows - 13.5, cols - 13.5 - shift
    # the inverse map: where each output pixel comes from
    src_y = (cos * y - sin * x) / scale + 13.5
    src_x = (sin * y + cos * x) / scale + 13.5
    one = lambda img: map_coordinates(img, [src_y, src_x], order=1, mode="constant", cval=0.0)
    return jax.vmap(one)(images)


def _morph(images: jnp.ndarray, steps: int, grow: bool) -> jnp.ndarray:
    x = images[..., None]
    for _ in range(steps):
        sign = 1.0 if grow else -1.0
        x = sign * jax.lax.reduce_window(sign * x, -jnp.inf, jax.lax.max, (1, 3, 3, 1), (1, 1, 1, 1),
                                         [(0, 0), (1, 1), (1, 1), (0, 0)])
    return x[..., 0]


def _thickness(images: jnp.ndarray, whole: int, grow: bool, frac: jnp.ndarray) -> jnp.ndarray:
    """Dilate (grow) or erode by ``whole + frac`` 3×3 steps: the fraction blends two whole steps."""
    lower = _morph(images, whole, grow)
    upper = _morph(images, whole + 1, grow)
    return (1 - frac) * lower + frac * upper


@functools.cache
def _perturb_fn(name: str, whole: int = 0, grow: bool = True) -> Callable:
    # the level is traced, so a sweep compiles once per perturbation (thickness: per whole step count)
    def perturb(images: jnp.ndarray, level: jnp.ndarray, key: jax.Array) -> jnp.ndarray:
        if name == "rotation":
            out = _warp(images, level, jnp.float32(1.0), jnp.float32(0.0))
        elif name == "scale":
            out = _warp(images, jnp.float32(0.0), level, jnp.float32(0.0))
        elif name == "shift":
            out = _warp(images, jnp.float32(0.0), jnp.float32(1.0), level)
        elif name == "thickness":
            out = _thickness(images, whole, grow, jnp.abs(level) - whole)
        else:
            out = images + level * jax.random.normal(key, images.shape)
        return jnp.clip(out, 0.0, 1.0)

    return jax.jit(perturb)


def perturb(images: np.ndarray, name: str, level: float, seed: int = 0) -> np.ndarray:
    """(N, 28, 28) float32 images perturbed by ``name`` at ``level`` (noise is seeded: the same every time)."""
    get_perturbation(name)
    x = as_model_images(images)
    single = x.ndim == 2
    x = x[None] if single else x
    level = float(level)
    fn = _perturb_fn(name, int(np.floor(abs(level))), level > 0) if name == "thickness" else _perturb_fn(name)
    out = np.asarray(fn(x, np.float32(level), jax.random.PRNGKey(seed)))
    return out[0] if single else out


@functools.cache
def _probs_fn(model_name: str) -> Callable:
    apply = transformed(model_name).apply
    return jax.jit(lambda params, x: jax.nn.softmax(apply(params, x[..., None]), axis=-1))


@dataclass
class Curve:
    """Accuracy and confidence of the model along one perturbation's levels."""

    name: str
    levels: np.ndarray  # (L,)
    accuracy: np.ndarray  # (L,) share still answered as its label
    confidence: np.ndarray  # (L,) mean probability of the label
    predictions: np.ndarray  # (L, N)


def curve(model_name: str, params: Any, images: np.ndarray, labels: np.ndarray, name: str,
          levels: Sequence[float] | None = None, seed: int = 0) -> Curve:
    """Sweep ``name`` over ``levels`` (default: its range) for (N, 28, 28) images with true ``labels``."""
    spec = get_perturbation(name)
    levels = spec.levels if levels is None else tuple(float(v) for v in levels)
    labels = np.asarray(labels, np.int64)
    acc, conf, preds = [], [], []
    probs_fn = _probs_fn(model_name)
    for level in levels:
        probs = np.asarray(probs_fn(params, perturb(images, name, level, seed)))
        pred = probs.argmax(axis=1)
        preds.append(pred)
        acc.append(float((pred == labels).mean()))
        conf.append(float(probs[np.arange(len(labels)), labels].mean()))
    return Curve(name, np.asarray(levels, np.float32), np.asarray(acc, np.float32), np.asarray(conf, np.float32),
                 np.stack(preds))


def curves(model_name: str, params: Any, images: np.ndarray, labels: np.ndarray,
           names: Sequence[str] = tuple(PERTURBATIONS), seed: int = 0) -> Iterator[Curve]:
    """One :class:`Curve` per perturbation, as each is ready (stop iterating to cancel)."""
    for name in names:
        yield curve(model_name, params, images, labels, name, seed=seed)


def probe(model_name: str, params: Any, image: np.ndarray, name: str, level: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(perturbed (28, 28), probabilities (10,)) of one input at one level: the lab's slider preview."""
    out = perturb(image, name, level, seed)
    return out, np.asarray(_probs_fn(model_name)(params, out[None]))[0]
