"""Evaluation and batched inference with fixed batch shapes.

Every batch has the same shape (the tail is padded and masked out), so each
model compiles its evaluation function once per batch size and never again.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from mnist_desktop.core.models.networks import transformed

EVAL_BATCH = 1000


@dataclass
class EvalResult:
    """Metrics on one labelled set; ``confusion[i, j]`` counts true i predicted j."""

    accuracy: float
    loss: float
    per_class_accuracy: np.ndarray
    confusion: np.ndarray
    predictions: np.ndarray
    probabilities: np.ndarray

    @property
    def count(self) -> int:
        return int(self.confusion.sum())


@functools.cache
def _logits_fn(model_name: str) -> Callable:
    apply = transformed(model_name).apply

    @jax.jit
    def logits_at(params: Any, images: jnp.ndarray, start: jnp.ndarray, batch: jnp.ndarray) -> jnp.ndarray:
        window = jax.lax.dynamic_slice_in_dim(images, start, batch.shape[0])
        return apply(params, window)

    return logits_at


def pad_to_multiple(images: np.ndarray, multiple: int) -> np.ndarray:
    """Pad along axis 0 with zeros so its length is a multiple of ``multiple``."""
    extra = (-len(images)) % multiple
    if extra == 0:
        return images
    return np.concatenate([images, np.zeros((extra, *images.shape[1:]), images.dtype)])


def batched_logits(model_name: str, params: Any, images: Any, count: int | None = None, batch_size: int = EVAL_BATCH) -> np.ndarray:
    """Logits for ``images`` (N, 28, 28, 1); ``images`` may already be padded on device.

    ``count`` is the number of real rows when ``images`` carries padding.
    """
    count = len(images) if count is None else count
    if len(images) % batch_size:
        images = pad_to_multiple(np.asarray(images, np.float32), batch_size)
    images = jnp.asarray(images)
    fn = _logits_fn(model_name)
    # host scalars and a host concatenate: eager jnp ops would each compile once per process
    shape_token = np.zeros((batch_size,), np.int8)  # carries the static batch size
    parts = [fn(params, images, np.int32(start), shape_token) for start in range(0, count, batch_size)]
    if not parts:
        return np.zeros((0, 10), np.float32)
    return np.concatenate([np.asarray(part) for part in parts])[:count]


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def metrics_from_logits(logits: np.ndarray, labels: np.ndarray, num_classes: int = 10) -> EvalResult:
    """Accuracy, mean cross-entropy, confusion matrix and per-class accuracy."""
    labels = np.asarray(labels, np.int64)
    probs = softmax(logits.astype(np.float64))
    preds = probs.argmax(axis=-1)
    n = len(labels)
    confusion = np.bincount(labels * num_classes + preds, minlength=num_classes * num_classes).reshape(num_classes, num_classes)
    row = confusion.sum(axis=1)
    per_class = np.divide(np.diag(confusion), row, out=np.full(num_classes, np.nan), where=row > 0)
    loss = float(-np.log(np.clip(probs[np.arange(n), labels], 1e-12, None)).mean()) if n else float("nan")
    return EvalResult(
        accuracy=float((preds == labels).mean()) if n else float("nan"),
        loss=loss,
        per_class_accuracy=per_class,
        confusion=confusion,
        predictions=preds,
        probabilities=probs.astype(np.float32),
    )


def evaluate(model_name: str, params: Any, images: np.ndarray, labels: np.ndarray, batch_size: int = EVAL_BATCH) -> EvalResult:
    """Evaluate ``params`` on a labelled set of (N, 28, 28, 1) float images."""
    return metrics_from_logits(batched_logits(model_name, params, images, batch_size=batch_size), labels)


def predict_proba(model_name: str, params: Any, images: np.ndarray) -> np.ndarray:
    """Class probabilities for (N, 28, 28) or (N, 28, 28, 1) images."""
    images = np.asarray(images, np.float32)
    if images.ndim == 3:
        images = images[..., None]
    batch = 1 if len(images) == 1 else min(EVAL_BATCH, 1 << max(0, (len(images) - 1).bit_length()))
    return softmax(batched_logits(model_name, params, images, batch_size=batch))
