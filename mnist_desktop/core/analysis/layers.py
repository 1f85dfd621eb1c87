"""A model's recorded layers, in forward order, and their activations for many images.

Every network records its intermediate activations into a dict (see
``core/models/networks.py``); the map and the step-through read that dict
generically, so a new architecture that records its layers works without
changes here. The order matters to a person ("input → conv1 → … → logits")
but a jitted function hands dicts back sorted by key, so the order is read
once while tracing, where the dict is still the one the network filled.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from mnist_desktop.core.models.networks import with_activations

_DUMMY = jax.ShapeDtypeStruct((1, 28, 28, 1), jnp.float32)


@functools.cache
def layer_shapes(model_name: str) -> dict[str, tuple[int, ...]]:
    """``{layer: shape without the batch axis}`` in forward order: input, hidden layers…, logits."""
    transformed = with_activations(model_name)
    order: list[str] = []

    def forward(params: Any, x: jnp.ndarray) -> Any:
        _, acts = transformed.apply(params, x)
        order[:] = list(acts)  # insertion order: the order the network ran its layers
        return acts

    params = jax.eval_shape(transformed.init, jax.random.PRNGKey(0), _DUMMY)
    shapes = jax.eval_shape(forward, params, _DUMMY)
    return {name: tuple(shapes[name].shape[1:]) for name in order}


def layer_names(model_name: str) -> list[str]:
    """The recorded layers of ``model_name`` in forward order."""
    return list(layer_shapes(model_name))


def layer_title(name: str, shape: tuple[int, ...]) -> str:
    """What a person reads in a layer chooser: ``conv1 (12×12×32 = 4,608 numbers)``."""
    size = int(np.prod(shape))
    label = {"input": "input pixels", "logits": "logits (class scores)"}.get(name, name)
    dims = "×".join(str(d) for d in shape if d != 1 or len(shape) == 1) or "1"
    return f"{label} ({dims} = {size:,} numbers)" if "×" in dims else f"{label} ({size:,} numbers)"


@functools.cache
def _features_fn(model_name: str, layer: str) -> Callable:
    apply = with_activations(model_name).apply

    def features(params: Any, images: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
        logits, acts = apply(params, images[..., None])
        return acts[layer].reshape(images.shape[0], -1), jnp.argmax(logits, axis=-1)

    return jax.jit(features)


def as_model_images(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) float32 in [0, 1] from uint8 pixels or floats (already model input)."""
    array = np.asarray(images)
    return array.astype(np.float32) / 255.0 if array.dtype == np.uint8 else array.astype(np.float32)


def layer_features(model_name: str, params: Any, images: np.ndarray, layer: str,
                   batch: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """``(features (N, D) float32, predicted class (N,))`` of ``layer`` for (N, 28, 28) images.

    Batches have one fixed size (the last is padded), so any N compiles once.
    """
    if layer not in layer_shapes(model_name):
        raise ValueError(f"model {model_name!r} has no layer {layer!r}; it has {', '.join(layer_names(model_name))}")
    x = as_model_images(images)
    n = len(x)
    size = min(batch, max(n, 1))
    fn = _features_fn(model_name, layer)
    feats, preds = [], []
    for start in range(0, n, size):
        chunk = x[start:start + size]
        pad = size - len(chunk)
        if pad:
            chunk = np.concatenate([chunk, np.zeros((pad, 28, 28), np.float32)])
        f, p = jax.device_get(fn(params, chunk))
        feats.append(np.asarray(f)[: size - pad])
        preds.append(np.asarray(p)[: size - pad])
    if not feats:
        dim = int(np.prod(layer_shapes(model_name)[layer]))
        return np.zeros((0, dim), np.float32), np.zeros((0,), np.int64)
    return np.concatenate(feats).astype(np.float32), np.concatenate(preds).astype(np.int64)


def one_features(model_name: str, params: Any, image: np.ndarray, layer: str) -> np.ndarray:
    """(D,) features of one (28, 28) input: the live drawing's point on the map."""
    f, _ = _features_fn(model_name, layer)(params, as_model_images(image)[None])
    return np.asarray(f)[0]
