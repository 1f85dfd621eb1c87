"""The forward pass of a model for one input, one layer a page, with every number it used.

The network functions in ``core/models/networks.py`` fuse each layer with its
ReLU and run inside Haiku; a teacher wants to show them apart. So each model
gets a *plan* — the same sequence of operations spelled out (convolution,
ReLU, pooling, flatten, dense, softmax) — and :func:`walk` replays it in plain
numpy from the model's own parameters. The replay is checked against the
model's recorded activations (``tests/test_stepthrough.py``), so what a page
shows is what the model computed, not an illustration of it.

A plan names the module whose weights a step uses and the activation it must
reproduce; another architecture steps through once it has a plan in
:data:`PLANS` (or registers one with :func:`register_plan`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Op:
    """One step of a plan: ``kind`` is conv, relu, pool, flatten, dense or softmax."""

    kind: str
    module: str = ""  # the Haiku module whose "w"/"b" it uses (conv, dense)
    stride: int = 1
    padding: str = "VALID"
    size: int = 2  # pool window
    record: str = ""  # the activation (networks.py's name) this step's output equals


PLANS: dict[str, tuple[Op, ...]] = {
    "logreg": (Op("flatten"), Op("dense", "linear", record="logits"), Op("softmax")),
    "mlp": (Op("flatten"), Op("dense", "hidden1"), Op("relu", record="hidden1"),
            Op("dense", "hidden2"), Op("relu", record="hidden2"),
            Op("dense", "output", record="logits"), Op("softmax")),
    "cnn": (Op("conv", "conv1", stride=2), Op("relu", record="conv1"), Op("pool", size=2),
            Op("conv", "conv2"), Op("relu", record="conv2"), Op("flatten"),
            Op("dense", "dense"), Op("relu", record="dense"), Op("dense", "output", record="logits"), Op("softmax")),
}


def register_plan(model_name: str, plan: tuple[Op, ...]) -> None:
    """Let another architecture (e.g. one built in the app) step through."""
    PLANS[model_name] = tuple(plan)


def plan_for(model_name: str) -> tuple[Op, ...]:
    try:
        return PLANS[model_name]
    except KeyError:
        raise ValueError(f"no step-through plan for model {model_name!r}; plans exist for {', '.join(PLANS)}") from None


@dataclass
class Stage:
    """One page: an operation, what went in and what came out (no batch axis)."""

    op: Op
    title: str
    input: np.ndarray
    output: np.ndarray
    weights: np.ndarray | None = None  # conv (kh, kw, cin, cout) or dense (in, out)
    bias: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv_patches(x: np.ndarray, kernel: tuple[int, int], stride: int, padding: str) -> np.ndarray:
    """(Hout, Wout, kh, kw, cin) input windows, as Haiku's Conv2D (NHWC) sees them."""
    kh, kw = kernel
    if padding == "SAME":
        (t, b), (l, r) = _same_pads(x.shape[0], kh, stride), _same_pads(x.shape[1], kw, stride)
        x = np.pad(x, ((t, b), (l, r), (0, 0)))
    h_out = (x.shape[0] - kh) // stride + 1
    w_out = (x.shape[1] - kw) // stride + 1
    rows = (np.arange(h_out) * stride)[:, None] + np.arange(kh)[None, :]
    cols = (np.arange(w_out) * stride)[:, None] + np.arange(kw)[None, :]
    return x[rows[:, None, :, None], cols[None, :, None, :]]  # (Hout, Wout, kh, kw, cin)


def _title(op: Op, shape_in: tuple[int, ...], shape_out: tuple[int, ...]) -> str:
    dims = lambda s: "×".join(str(d) for d in s)
    return {
        "conv": f"Convolution {op.module}: {dims(shape_in)} → {dims(shape_out)}",
        "relu": f"ReLU: negative numbers become 0 ({dims(shape_out)})",
        "pool": f"Max pooling {op.size}×{op.size}: {dims(shape_in)} → {dims(shape_out)}",
        "flatten": f"Flatten: {dims(shape_in)} → {dims(shape_out)}",
        "dense": f"Dense {op.module}: {dims(shape_in)} → {dims(shape_out)}",
        "softmax": "Softmax: scores → probabilities",
    }[op.kind]


def walk(model_name: str, params: Any, image: np.ndarray) -> list[Stage]:
    """Replay ``model_name``'s forward pass on one (28, 28) input, one :class:`Stage` per operation."""
    plan = plan_for(model_name)
    x = np.asarray(image, np.float32).reshape(28, 28, 1)
    stages: list[Stage] = []
    for op in plan:
        weights = bias = None
        if op.kind == "conv":
            weights = np.asarray(params[op.module]["w"], np.float32)
            bias = np.asarray(params[op.module]["b"], np.float32)
            patches = conv_patches(x, weights.shape[:2], op.stride, op.padding)
            out = np.tensordot(patches, weights, axes=([2, 3, 4], [0, 1, 2])) + bias
        elif op.kind == "relu":
            out = np.maximum(x, 0.0)
        elif op.kind == "pool":
            h, w, c = x.shape
            s = op.size
            out = x[: h - h % s, : w - w % s].reshape(h // s, s, w // s, s, c).max(axis=(1, 3))
        elif op.kind == "flatten":
            out = x.reshape(-1)
        elif op.kind == "dense":
            weights = np.asarray(params[op.module]["w"], np.float32)
            bias = np.asarray(params[op.module]["b"], np.float32)
            out = x.reshape(-1) @ weights + bias
        elif op.kind == "softmax":
            out = softmax(x)
        else:
            raise ValueError(f"unknown step kind {op.kind!r} in the plan for {model_name!r}")
        stages.append(Stage(op, _title(op, x.shape, out.shape), x, out.astype(np.float32), weights, bias))
        x = out.astype(np.float32)
    return stages


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """softmax(logits / T) in float64, stable (the maximum is subtracted first)."""
    z = np.asarray(logits, np.float64) / max(float(temperature), 1e-6)
    e = np.exp(z - z.max())
    return e / e.sum()


# -- the arithmetic of one cell, for the pages --------------------------------------------


@dataclass
class ConvCell:
    """Output cell (row, col, channel) of a convolution, and the sum that made it."""

    row: int
    col: int
    channel: int
    patch: np.ndarray  # (kh, kw, cin): the input window the kernel lies on
    kernel: np.ndarray  # (kh, kw, cin)
    products: np.ndarray  # patch * kernel
    per_input_channel: np.ndarray  # (cin,) sums of products per input channel
    bias: float
    total: float  # sum(products) + bias: the cell's value before ReLU
    origin: tuple[int, int]  # top-left input pixel of the window (after padding)


def conv_cell(stage: Stage, row: int, col: int, channel: int) -> ConvCell:
    op, w, b = stage.op, stage.weights, stage.bias
    assert op.kind == "conv" and w is not None and b is not None
    patch = conv_patches(stage.input, w.shape[:2], op.stride, op.padding)[row, col]
    kernel = w[..., channel]
    products = patch * kernel
    per_channel = products.sum(axis=(0, 1))
    total = float(products.sum(dtype=np.float64) + b[channel])
    return ConvCell(row, col, channel, patch, kernel, products, per_channel, float(b[channel]), total,
                    (row * op.stride, col * op.stride))


@dataclass
class DenseUnit:
    """Output unit ``unit`` of a dense layer as a weighted sum of the previous layer's units."""

    unit: int
    inputs: np.ndarray  # (in,)
    weights: np.ndarray  # (in,)
    contributions: np.ndarray  # inputs * weights
    top: np.ndarray  # indices of the largest |contributions|, biggest first
    bias: float
    total: float
    rest: float  # the sum of the contributions not in ``top``


def dense_unit(stage: Stage, unit: int, top: int = 8) -> DenseUnit:
    assert stage.op.kind == "dense" and stage.weights is not None and stage.bias is not None
    inputs = stage.input.reshape(-1)
    weights = stage.weights[:, unit]
    contributions = inputs * weights
    order = np.argsort(-np.abs(contributions), kind="stable")[:top]
    total = float(contributions.sum(dtype=np.float64) + stage.bias[unit])
    rest = float(contributions.sum(dtype=np.float64) - contributions[order].sum(dtype=np.float64))
    return DenseUnit(unit, inputs, weights, contributions, order, float(stage.bias[unit]), total, rest)


@dataclass
class PoolCell:
    row: int
    col: int
    channel: int
    window: np.ndarray  # (size, size)
    winner: tuple[int, int]  # position of the maximum inside the window
    value: float


def pool_cell(stage: Stage, row: int, col: int, channel: int) -> PoolCell:
    s = stage.op.size
    window = stage.input[row * s:(row + 1) * s, col * s:(col + 1) * s, channel]
    r, c = np.unravel_index(int(np.argmax(window)), window.shape)
    return PoolCell(row, col, channel, window, (int(r), int(c)), float(window.max()))


def strongest_cell(output: np.ndarray) -> tuple[int, ...]:
    """Where a page starts: the output cell with the largest value (the most telling one)."""
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(output)), output.shape))


@dataclass
class Page:
    """Everything one page shows: the stage, the focused cell's arithmetic, softmax at a temperature."""

    index: int
    stage: Stage
    cell: tuple[int, ...]
    detail: ConvCell | DenseUnit | PoolCell | None
    probabilities: np.ndarray | None = None  # softmax pages: softmax(logits / temperature)
    temperature: float = 1.0


def page(stages: list[Stage], index: int, cell: tuple[int, ...] | None = None, temperature: float = 1.0) -> Page:
    """Page ``index`` of a walk, focused on ``cell`` of its output (None: the strongest cell)."""
    stage = stages[index]
    out = stage.output
    if cell is None or len(cell) != out.ndim or any(not 0 <= c < n for c, n in zip(cell, out.shape)):
        cell = strongest_cell(out)
    kind = stage.op.kind
    detail: ConvCell | DenseUnit | PoolCell | None = None
    probabilities = None
    if kind == "conv":
        detail = conv_cell(stage, *cell)
    elif kind == "dense":
        detail = dense_unit(stage, cell[0])
    elif kind == "pool":
        detail = pool_cell(stage, *cell)
    elif kind == "softmax":
        probabilities = softmax(stage.input, temperature)
    return Page(index, stage, tuple(cell), detail, probabilities, float(temperature))
