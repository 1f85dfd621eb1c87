"""The penultimate features of any registered network: the input to its last dense layer.

Out-of-distribution scores such as the class-conditional Gaussian (Mahalanobis)
score of Lee et al. (2018) work on the representation a network classifies
from, not on its ten logits. Rather than asking every architecture to name that
layer (the logistic regression has none, a future spec may call it anything),
the forward pass is run under a Haiku method interceptor that records the input
of every ``hk.Linear`` call; the last one is the final classifier's input. So
the features come out right for logreg (the 784 pixels), the MLP (its 100-unit
layer), the CNN (its 128-unit dense layer) and any network added later, as long
as it ends in a linear layer. A network that ends otherwise falls back to its
logits, which still gives a usable (if weaker) Gaussian score.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

from mnist_desktop.core.models.networks import get_model


def _forward_with_features(model_name: str) -> Callable[[jnp.ndarray], tuple[jnp.ndarray, jnp.ndarray]]:
    net = get_model(model_name).net

    def forward(x: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
        seen: list[jnp.ndarray] = []

        def record(next_f, args, kwargs, context):
            if isinstance(context.module, hk.Linear) and context.method_name == "__call__" and args:
                seen.append(args[0])
            return next_f(*args, **kwargs)

        with hk.intercept_methods(record):
            logits = net(x, None)
        features = seen[-1] if seen else logits
        return logits, features.reshape(features.shape[0], -1).astype(jnp.float32)

    return forward


@functools.cache
def with_features(model_name: str) -> hk.Transformed:
    """``apply(params, x) -> (logits, features)`` with the same parameter names as the model."""
    return hk.without_apply_rng(hk.transform(_forward_with_features(model_name)))


@functools.cache
def feature_dim(model_name: str) -> int:
    """Width of the penultimate features (shapes only, no compute); checkpoints validate against it."""
    transformed = with_features(model_name)
    dummy = jax.ShapeDtypeStruct((1, 28, 28, 1), jnp.float32)
    params = jax.eval_shape(transformed.init, jax.random.PRNGKey(0), dummy)
    _, feats = jax.eval_shape(transformed.apply, params, dummy)
    return int(feats.shape[-1])


@functools.cache
def _batched_fn(model_name: str) -> Callable:
    return jax.jit(with_features(model_name).apply)


def logits_and_features(model_name: str, params: Any, images: np.ndarray, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Logits (N, 10) and features (N, D) for (N, 28, 28[, 1]) float images, in fixed-size batches.

    The tail batch is padded so one compiled shape serves every call.
    """
    images = np.asarray(images, np.float32)
    if images.ndim == 3:
        images = images[..., None]
    n = len(images)
    fn = _batched_fn(model_name)
    if n == 0:
        return np.zeros((0, 10), np.float32), np.zeros((0, feature_dim(model_name)), np.float32)
    size = min(batch_size, n)
    logits, feats = [], []
    for start in range(0, n, size):
        chunk = images[start:start + size]
        if len(chunk) < size:
            chunk = np.concatenate([chunk, np.zeros((size - len(chunk), *chunk.shape[1:]), np.float32)])
        out_logits, out_feats = jax.device_get(fn(params, chunk))
        logits.append(out_logits)
        feats.append(out_feats)
    return np.concatenate(logits)[:n], np.concatenate(feats)[:n]
