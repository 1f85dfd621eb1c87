"""The built-in networks' forward pass in plain NumPy, for the first seconds after launch.

Importing JAX, Haiku and Optax takes 1–3 s on a laptop CPU (measured: 2.7–3.0 s
on the 2-core development VM under load), longer than everything else the
window needs. This module imports neither, so the window can read the model and
answer the first strokes while JAX loads on another thread; once JAX is ready,
the worker's jitted forward takes over. The arithmetic is the same as
:mod:`mnist_desktop.core.models.networks` (Haiku's parameter layout: Linear
``w`` is ``(in, out)``, Conv2D ``w`` is ``(kh, kw, in, out)``, NHWC activations)
and is tested equal to it within 1e-5.

Only the built-in architectures are covered; a model of another kind is simply
served by JAX once it has loaded.
"""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

Params = Mapping[str, Mapping[str, np.ndarray]]
Shapes = dict[str, dict[str, tuple[tuple[int, ...], str]]]


def _linear(params: Params, name: str, x: np.ndarray) -> np.ndarray:
    return x @ params[name]["w"] + params[name]["b"]


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def _conv_valid(params: Params, name: str, x: np.ndarray, stride: int = 1) -> np.ndarray:
    """VALID 2-D convolution of an NHWC batch as one matrix product over image patches."""
    w, b = params[name]["w"], params[name]["b"]
    kh, kw, cin, cout = w.shape
    patches = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::stride, ::stride]
    n, oh, ow = patches.shape[:3]  # patches: (n, oh, ow, cin, kh, kw)
    cols = patches.transpose(0, 1, 2, 4, 5, 3).reshape(n * oh * ow, kh * kw * cin)
    return (cols @ w.reshape(kh * kw * cin, cout) + b).reshape(n, oh, ow, cout)


def _max_pool_2x2(x: np.ndarray) -> np.ndarray:
    n, h, w, c = x.shape
    return x.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def logreg_logits(params: Params, x: np.ndarray) -> np.ndarray:
    return _linear(params, "linear", x.reshape(len(x), -1))


def mlp_logits(params: Params, x: np.ndarray) -> np.ndarray:
    h = _relu(_linear(params, "hidden1", x.reshape(len(x), -1)))
    h = _relu(_linear(params, "hidden2", h))
    return _linear(params, "output", h)


def cnn_logits(params: Params, x: np.ndarray) -> np.ndarray:
    h = _max_pool_2x2(_relu(_conv_valid(params, "conv1", x, stride=2)))
    h = _relu(_conv_valid(params, "conv2", h))
    h = _relu(_linear(params, "dense", h.reshape(len(h), -1)))
    return _linear(params, "output", h)


FORWARDS: dict[str, Callable[[Params, np.ndarray], np.ndarray]] = {
    "logreg": logreg_logits, "mlp": mlp_logits, "cnn": cnn_logits,
}


def _dense(n_in: int, n_out: int) -> dict[str, tuple[tuple[int, ...], str]]:
    return {"w": ((n_in, n_out), "float32"), "b": ((n_out,), "float32")}


def _conv(k: int, c_in: int, c_out: int) -> dict[str, tuple[tuple[int, ...], str]]:
    return {"w": ((k, k, c_in, c_out), "float32"), "b": ((c_out,), "float32")}


#: The parameters each forward above reads, in the layout of
#: ``networks.param_shapes`` (a test checks they agree), so a checkpoint can be
#: validated before JAX is imported.
PARAM_SHAPES: dict[str, Shapes] = {
    "logreg": {"linear": _dense(784, 10)},
    "mlp": {"hidden1": _dense(784, 300), "hidden2": _dense(300, 100), "output": _dense(100, 10)},
    "cnn": {"conv1": _conv(5, 1, 32), "conv2": _conv(3, 32, 64), "dense": _dense(4 * 4 * 64, 128),
            "output": _dense(128, 10)},
}


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def predict_proba(model_name: str, params: Params, images: np.ndarray) -> np.ndarray:
    """Class probabilities ``(N, 10)`` for ``(N, 28, 28)`` or ``(N, 28, 28, 1)`` images in [0, 1]."""
    x = np.asarray(images, np.float32).reshape(-1, 28, 28, 1)
    return softmax(FORWARDS[model_name](params, x).astype(np.float32))


def predict_one(model_name: str, params: Params, image: np.ndarray) -> np.ndarray:
    """Probabilities ``(10,)`` for one 28×28 input (what ``insight.predict_one`` returns, without JAX)."""
    return predict_proba(model_name, params, np.asarray(image)[None])[0]
