"""Haiku models, registered by name.

Every model maps an ``(N, 28, 28, 1)`` float batch in [0, 1] to ``(N, 10)`` logits.
Each network is written once as a function that can also record its intermediate
activations into a dict; the two Haiku transforms built from it share parameter
names, so the insight views can show activations of exactly the params trained.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

Activations = dict[str, jnp.ndarray]
NetFn = Callable[[jnp.ndarray, "Activations | None"], jnp.ndarray]


def max_pool_2x2(x: jnp.ndarray) -> jnp.ndarray:
    """2×2 max pool via reshape + max.

    Measured on a 2-core CPU its backward pass is ~8× faster than ``hk.max_pool``
    (whose gradient goes through select-and-scatter).
    """
    n, h, w, c = x.shape
    return x.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def _record(acts: Activations | None, name: str, value: jnp.ndarray) -> jnp.ndarray:
    if acts is not None:
        acts[name] = value
    return value


def logreg_net(x: jnp.ndarray, acts: Activations | None = None) -> jnp.ndarray:
    """Multinomial logistic regression: one weight template per class."""
    return hk.Linear(10, name="linear")(hk.Flatten()(x))


def mlp_net(x: jnp.ndarray, acts: Activations | None = None) -> jnp.ndarray:
    """LeNet-300-100 (LeCun et al. 1998): the classic fully connected baseline."""
    h = hk.Flatten()(x)
    h = _record(acts, "hidden1", jax.nn.relu(hk.Linear(300, name="hidden1")(h)))
    h = _record(acts, "hidden2", jax.nn.relu(hk.Linear(100, name="hidden2")(h)))
    return hk.Linear(10, name="output")(h)


def cnn_net(x: jnp.ndarray, acts: Activations | None = None) -> jnp.ndarray:
    """A small convnet chosen for speed on a laptop CPU (see ``mnist-desktop bench``).

    The first convolution is strided and VALID: XLA:CPU pays roughly per FLOP,
    and full-resolution stride-1 convolutions dominate a LeNet's cost. This net
    needs ~0.36 M multiply-adds per image (~8× fewer than the PyTorch reference
    LeNet) and is more accurate (≥ 99.0 % after 3 epochs).
    """
    h = jax.nn.relu(hk.Conv2D(32, 5, stride=2, padding="VALID", name="conv1")(x))  # 12×12×32
    h = _record(acts, "conv1", h)
    h = max_pool_2x2(h)  # 6×6×32
    h = _record(acts, "conv2", jax.nn.relu(hk.Conv2D(64, 3, padding="VALID", name="conv2")(h)))  # 4×4×64
    h = _record(acts, "dense", jax.nn.relu(hk.Linear(128, name="dense")(hk.Flatten()(h))))
    return hk.Linear(10, name="output")(h)


@dataclass(frozen=True)
class ModelSpec:
    """What the GUI and CLI show about a model, and how to build it."""

    name: str
    title: str
    description: str
    net: NetFn
    first_layer: str  # the module whose weights the weight view shows first


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("logreg", "Logistic regression", "784→10 linear classifier; weights are class templates", logreg_net, "linear"),
        ModelSpec("mlp", "MLP (LeNet-300-100)", "784→300→100→10 fully connected, ReLU", mlp_net, "hidden1"),
        ModelSpec("cnn", "CNN", "conv5×5/2·32 → pool → conv3×3·64 → 128 → 10", cnn_net, "conv1"),
    )
}


def get_model(name: str) -> ModelSpec:
    """The spec for ``name``; unknown names raise a ValueError listing the choices."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}") from None


@functools.cache
def transformed(name: str) -> hk.Transformed:
    """``init(rng, x)`` / ``apply(params, x) -> logits`` for the named model."""
    net = get_model(name).net
    return hk.without_apply_rng(hk.transform(lambda x: net(x, None)))


@functools.cache
def with_activations(name: str) -> hk.Transformed:
    """Like :func:`transformed` but ``apply`` returns ``(logits, {layer: activation})``."""
    net = get_model(name).net

    def forward(x: jnp.ndarray) -> tuple[jnp.ndarray, Activations]:
        acts: Activations = {"input": x}
        logits = net(x, acts)
        acts["logits"] = logits
        return logits, acts

    return hk.without_apply_rng(hk.transform(forward))


@functools.cache
def _jitted_init(name: str) -> Callable:
    # jit the init, key and dummy input included: Haiku's eager init dispatches every op
    # separately (slow start-up), and an eager PRNGKey/zeros compiles four one-op functions
    init = transformed(name).init
    return jax.jit(lambda seed: init(jax.random.PRNGKey(seed), jnp.zeros((1, 28, 28, 1), jnp.float32)))


def init_params(name: str, seed: int = 0) -> hk.Params:
    """Fresh parameters for ``name``, deterministic for a seed."""
    return _jitted_init(name)(np.int32(seed))


def param_count(params: hk.Params) -> int:
    """Total number of scalars in a parameter tree."""
    return int(sum(np.prod(np.shape(leaf)) for leaf in jax.tree_util.tree_leaves(params)))


@functools.cache
def param_count_of(name: str) -> int:
    """Parameter count of a fresh model, for the model picker (shapes only, no compute)."""
    dummy = jax.ShapeDtypeStruct((1, 28, 28, 1), jnp.float32)
    shapes = jax.eval_shape(lambda x: transformed(name).init(jax.random.PRNGKey(0), x), dummy)  # traced key: no compile
    return param_count(shapes)


def param_shapes(name: str) -> dict[str, dict[str, tuple[tuple[int, ...], str]]]:
    """``{module: {param: (shape, dtype)}}`` of a fresh model; checkpoints validate against it."""
    dummy = jax.ShapeDtypeStruct((1, 28, 28, 1), jnp.float32)
    shapes = jax.eval_shape(lambda x: transformed(name).init(jax.random.PRNGKey(0), x), dummy)  # traced key: no compile
    return {
        module: {p: (tuple(v.shape), str(v.dtype)) for p, v in group.items()}
        for module, group in shapes.items()
    }
