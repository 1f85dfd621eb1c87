"""Haiku models, named by a preset ("cnn") or by their layers ("conv:16:5:2,relu,dense:64,relu").

Every model maps an ``(N, 28, 28, 1)`` float batch in [0, 1] to ``(N, 10)`` logits.
Each network is built once from its :mod:`~mnist_desktop.core.models.spec`
architecture as a function that can also record its intermediate activations
into a dict; the Haiku transforms built from it share parameter names, so the
insight views can show activations of exactly the params trained.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

from mnist_desktop.core.models.spec import (
    ACTIVATIONS, ELEMENTWISE, NUM_CLASSES, PRESET_TITLES, PRESETS, Architecture, architecture_of,
    check, iter_weighted, module_names,
)

Activations = dict[str, jnp.ndarray]
NetFn = Callable[..., jnp.ndarray]  # net(x, acts=None, key=None) -> logits


def pool(x: jnp.ndarray, size: int, kind: str) -> jnp.ndarray:
    """Non-overlapping ``size``×``size`` max or average pool via reshape (a ragged edge is dropped).

    Measured on a 2-core CPU the backward pass of the reshape + max is ~8× faster
    than ``hk.max_pool`` (whose gradient goes through select-and-scatter).
    """
    n, h, w, c = x.shape
    oh, ow = h // size, w // size
    blocks = x[:, : oh * size, : ow * size].reshape(n, oh, size, ow, size, c)
    return blocks.max(axis=(2, 4)) if kind == "maxpool" else blocks.mean(axis=(2, 4))


def _record(acts: Activations | None, name: str, value: jnp.ndarray) -> jnp.ndarray:
    if acts is not None:
        acts[name] = value
    return value


def build_net(arch: Architecture, preset: str | None = None, num_classes: int = NUM_CLASSES) -> NetFn:
    """The Haiku network function of a checked architecture (raises :class:`SpecError` if invalid).

    ``net(x, acts=None, key=None)``: with ``acts`` it records each weighted layer's
    output after the activations that follow it (the insight views show these);
    with ``key`` dropout layers are active (training), without it they pass
    values through (evaluation). The presets rebuild the hand-written models of
    earlier versions exactly: same module names, same parameter tree, same
    forward pass (tests/test_arch_presets.py checks against copies of them).
    """
    check(arch, preset)
    names = module_names(arch, preset)

    def net(x: jnp.ndarray, acts: Activations | None = None, key: jax.Array | None = None) -> jnp.ndarray:
        h = x
        recording = ""  # the weighted layer whose output (after activations) is being recorded
        for layer, name in zip(arch.layers, names):
            kind = layer.kind
            if kind not in ELEMENTWISE:
                recording = ""
            if kind == "conv":
                h = hk.Conv2D(layer.get("channels"), layer.get("kernel"), stride=layer.get("stride"),
                              padding=layer.get("padding").upper(), name=name)(h)
                recording = name
            elif kind == "dense":
                h = hk.Linear(layer.get("units"), name=name)(hk.Flatten()(h) if h.ndim > 2 else h)
                recording = name
            elif kind in ("maxpool", "avgpool"):
                h = pool(h, layer.get("size"), kind)
            elif kind == "flatten":
                h = hk.Flatten()(h)
            elif kind in ACTIVATIONS:
                h = getattr(jax.nn, kind)(h)
            elif kind == "dropout":
                if key is not None:
                    key, sub = jax.random.split(key)
                    h = hk.dropout(sub, layer.get("rate"), h)
            elif kind == "layernorm":
                h = hk.LayerNorm(axis=-1, create_scale=True, create_offset=True, name=name)(h)
            if recording:
                _record(acts, recording, h)
        return hk.Linear(num_classes, name=names[-1])(hk.Flatten()(h) if h.ndim > 2 else h)

    return net


@dataclass(frozen=True)
class ModelSpec:
    """What the GUI and CLI show about a model, and how to build it."""

    name: str
    title: str
    description: str
    net: NetFn
    first_layer: str  # the module whose weights the weight view shows first
    architecture: Architecture = Architecture()
    preset: str | None = None


def _model_spec(name: str) -> ModelSpec:
    arch, preset = architecture_of(name)
    net = build_net(arch, preset)
    title, description = PRESET_TITLES.get(name, ("Custom network", name))
    first = next((module for _, _, module in iter_weighted(arch, preset)), module_names(arch, preset)[-1])
    return ModelSpec(name, title, description, net, first, arch, preset)


#: The presets, in the order the model picker lists them.
MODELS: dict[str, ModelSpec] = {name: _model_spec(name) for name in PRESETS}


def get_model(name: str) -> ModelSpec:
    """The model for a preset name or a compact layer list; a bad one raises :class:`SpecError` (a ValueError)."""
    if name in MODELS:
        return MODELS[name]
    return _custom_model(name)


@functools.lru_cache(maxsize=64)
def _custom_model(name: str) -> ModelSpec:
    return _model_spec(name)


@functools.cache
def transformed(name: str) -> hk.Transformed:
    """``init(rng, x)`` / ``apply(params, x) -> logits`` for the named model."""
    net = get_model(name).net
    return hk.without_apply_rng(hk.transform(lambda x: net(x, None)))


@functools.cache
def training_transformed(name: str) -> hk.Transformed:
    """``apply(params, x, key)`` with dropout active; the parameters are those of :func:`transformed`."""
    net = get_model(name).net
    return hk.without_apply_rng(hk.transform(lambda x, key: net(x, None, key)))


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
