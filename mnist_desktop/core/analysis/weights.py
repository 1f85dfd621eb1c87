"""Turn model parameters (and activations) into pictures a person can read.

The insight views show *what a model learned*: logistic regression's ten class
templates, the MLP's first-layer units, the CNN's kernels. Everything here is
pure numpy on host arrays, so it is cheap enough to redo every time the worker
publishes new weights during training (the templates visibly form) and can be
tested without Qt.

Conventions: a "tile" is one 2-D picture (a template, a unit, a kernel, a
feature map); a set of same-sized tiles is an ``(n, h, w)`` float32 array. Weight
tiles are shown with a diverging colour map whose scale is symmetric around 0
(:func:`symmetric_limit`), so white always means "no effect" and red/blue mean
"ink here raises/lowers the score".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

IMAGE_SIDE = 28

#: Activation layers in network order; the worker's dicts come back key-sorted.
LAYER_ORDER = ("input", "conv1", "conv2", "hidden1", "hidden2", "dense", "logits")


@dataclass(frozen=True)
class TileSet:
    """Same-sized pictures shown side by side on one colour scale.

    ``order[i]`` is the index in the original layer of ``tiles[i]`` (tiles may
    be sorted), so the view can say "unit 17" for any tile. ``diverging`` tiles
    are shown on the symmetric scale ``[-limit, limit]``; the others on
    ``[0, limit]``.
    """

    key: str
    title: str
    explanation: str
    tiles: np.ndarray
    labels: tuple[str, ...]
    limit: float
    order: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    diverging: bool = True
    row_label: str = ""  # for matrix-like summaries: what the rows / columns mean
    column_label: str = ""


def host_params(params: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, np.ndarray]]:
    """A numpy copy of a Haiku parameter tree (device arrays become host arrays)."""
    return {module: {name: np.asarray(value, np.float32) for name, value in group.items()}
            for module, group in params.items()}


def symmetric_limit(values: np.ndarray, percentile: float = 99.5) -> float:
    """The colour-scale limit L for showing ``values`` on ``[-L, L]``.

    A high percentile of ``|values|`` rather than the maximum: one outlier
    weight would otherwise wash every other tile out to white. Never 0, so an
    all-zero (fresh) layer still gets a valid scale.
    """
    flat = np.abs(np.asarray(values, np.float64)).ravel()
    flat = flat[np.isfinite(flat)]
    if flat.size == 0:
        return 1.0
    limit = float(np.percentile(flat, percentile)) if percentile < 100 else float(flat.max())
    return limit if limit > 1e-12 else max(float(flat.max()), 1e-6)


def _weights(params: Mapping[str, Mapping[str, Any]], module: str) -> np.ndarray:
    try:
        return np.asarray(params[module]["w"], np.float32)
    except KeyError:
        raise ValueError(f"the parameters have no {module!r} weights; modules: {', '.join(params)}") from None


def logreg_templates(params: Mapping[str, Mapping[str, Any]]) -> np.ndarray:
    """(10, 28, 28): logistic regression's weight template for each class.

    The logit of class k is ``sum(pixel * w[:, k]) + b[k]``, so the k-th column
    of the (784, 10) weight matrix, laid out as an image, *is* what the model
    looks for in a k.
    """
    w = _weights(params, "linear")
    if w.shape[0] != IMAGE_SIDE * IMAGE_SIDE:
        raise ValueError(f"expected a (784, classes) weight matrix, got {w.shape}")
    return np.ascontiguousarray(w.T.reshape(-1, IMAGE_SIDE, IMAGE_SIDE))


def first_layer_units(params: Mapping[str, Mapping[str, Any]], module: str = "hidden1") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First dense layer's units as 28×28 images, strongest first.

    Returns ``(tiles (n, 28, 28), order (n,), norms (n,))`` where ``tiles[i]`` is
    unit ``order[i]`` and ``norms`` are their L2 norms, descending. Sorting by
    norm puts the units that learned a pattern first; units that barely moved
    from their random start (small norm, noise) end up on the last pages.
    """
    w = _weights(params, module)
    if w.shape[0] != IMAGE_SIDE * IMAGE_SIDE:
        raise ValueError(f"expected a (784, units) weight matrix for {module!r}, got {w.shape}")
    norms = np.sqrt((w.astype(np.float64) ** 2).sum(axis=0))
    order = np.argsort(-norms, kind="stable")
    tiles = w.T[order].reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    return np.ascontiguousarray(tiles), order, norms[order].astype(np.float32)


def conv_kernels(params: Mapping[str, Mapping[str, Any]], module: str = "conv1") -> np.ndarray:
    """(out, kh, kw): a single-input-channel conv layer's kernels as pictures."""
    w = _weights(params, module)
    if w.ndim != 4 or w.shape[2] != 1:
        raise ValueError(f"expected (kh, kw, 1, out) kernels for {module!r}, got {w.shape}")
    return np.ascontiguousarray(np.transpose(w[:, :, 0, :], (2, 0, 1)))


def conv_connection_strength(params: Mapping[str, Mapping[str, Any]], module: str = "conv2") -> np.ndarray:
    """(in, out): L2 norm of each 5×5 kernel slice of a multi-channel conv layer.

    conv2 has 16×32 kernels — too many to read one by one. Their norms say
    which first-layer feature maps each second-layer filter listens to, which
    is the question a person can actually answer from a picture. Rows are the
    input maps, so the matrix is wide (16 × 32) like the docks it is shown in.
    """
    w = _weights(params, module)
    if w.ndim != 4:
        raise ValueError(f"expected (kh, kw, in, out) kernels for {module!r}, got {w.shape}")
    return np.sqrt((w.astype(np.float64) ** 2).sum(axis=(0, 1))).astype(np.float32)


def weight_tile_sets(model_name: str, params: Mapping[str, Mapping[str, Any]],
                     class_names: Sequence[str] | None = None) -> list[TileSet]:
    """Everything the weight view shows for one model, in display order."""
    names = tuple(class_names) if class_names else tuple(str(i) for i in range(10))
    if model_name == "logreg":
        tiles = logreg_templates(params)
        labels = tuple(names[i] if i < len(names) else str(i) for i in range(len(tiles)))
        return [TileSet(
            "templates", "Class templates",
            "Each picture is one class's weight template: ink on red pixels adds to that class's "
            "score, ink on blue pixels subtracts; white pixels do not matter.",
            tiles, labels, symmetric_limit(tiles, 100.0), np.arange(len(tiles)))]
    if model_name == "mlp":
        tiles, order, norms = first_layer_units(params)
        labels = tuple(f"#{int(u)}" for u in order)
        return [TileSet(
            "units", "First-layer units",
            f"Each tile is one of the {len(tiles)} first hidden-layer units: ink on red pixels excites it, "
            "ink on blue pixels inhibits it. Strongest units (largest weight norm) first; click a tile to enlarge.",
            tiles, labels, symmetric_limit(tiles), order)]
    if model_name == "cnn":
        kernels = conv_kernels(params, "conv1")
        strength = conv_connection_strength(params, "conv2")
        k1 = "×".join(map(str, kernels.shape[1:]))
        k2 = "×".join(map(str, np.shape(params["conv2"]["w"])[:2]))
        return [
            TileSet("conv1", f"conv1 — {len(kernels)} kernels, {k1}",
                    f"The {len(kernels)} {k1} kernels of the first conv layer, slid over the image: "
                    "red = ink there turns the feature on, blue = turns it off (edges, strokes, corners).",
                    kernels, tuple(f"k{i}" for i in range(len(kernels))), symmetric_limit(kernels, 100.0),
                    np.arange(len(kernels))),
            TileSet("conv2", "conv2 — which conv1 maps each filter uses",
                    f"How strongly each of the {strength.shape[1]} conv2 filters (columns) listens to each of the "
                    f"{strength.shape[0]} conv1 maps (rows): the norm of its {k2} kernel; bright = strong.",
                    strength[None], ("conv1 map × conv2 filter",), float(max(strength.max(), 1e-6)),
                    np.arange(1), diverging=False, row_label="conv1 map", column_label="conv2 filter"),
        ]
    from mnist_desktop.core.analysis.spec_weights import custom_tile_sets  # any other architecture

    return custom_tile_sets(model_name, params, names)


# --------------------------------------------------------------------------- layout


def grid_shape(count: int, aspect: float = 1.0) -> tuple[int, int]:
    """(rows, columns) for ``count`` tiles: as square as possible, ``columns ≈ aspect·rows``.

    Picks an exact factorisation when one is close (128 → 8 × 16, 300 → 15 × 20)
    so strips have no ragged last row.
    """
    if count <= 0:
        return (0, 0)
    ideal = math.sqrt(count * aspect)
    best: tuple[float, int, int] | None = None
    for cols in range(1, count + 1):
        rows = math.ceil(count / cols)
        waste = rows * cols - count
        score = abs(math.log(cols / ideal)) + 3.0 * waste / count
        if best is None or score < best[0]:
            best = (score, rows, cols)
    assert best is not None
    return best[1], best[2]


Gap = int | tuple[int, int]


def _gaps(gap: Gap) -> tuple[int, int]:
    return (gap, gap) if isinstance(gap, int) else (int(gap[0]), int(gap[1]))


def mosaic(tiles: np.ndarray, columns: int, gap: Gap = 1, fill: float = np.nan) -> np.ndarray:
    """Lay ``(n, h, w)`` tiles out row by row, ``gap`` pixels apart (int, or (rows, columns)).

    One image for the whole grid means one draw call however many tiles there
    are; gaps and empty slots are ``fill`` (NaN shows as transparent). A taller
    row gap leaves room for a label under each tile.
    """
    tiles = np.asarray(tiles, np.float32)
    if tiles.ndim != 3:
        raise ValueError(f"expected (n, h, w) tiles, got shape {tiles.shape}")
    gy, gx = _gaps(gap)
    n, h, w = tiles.shape
    columns = max(1, min(columns, max(n, 1)))
    rows = max(1, math.ceil(n / columns))
    out = np.full((rows * (h + gy) - gy, columns * (w + gx) - gx), fill, np.float32)
    for i in range(n):
        r, c = divmod(i, columns)
        out[r * (h + gy): r * (h + gy) + h, c * (w + gx): c * (w + gx) + w] = tiles[i]
    return out


def best_columns(count: int, tile_shape: tuple[int, int], area: tuple[float, float], gap: Gap = 1) -> int:
    """How many columns make ``count`` tiles largest when a :func:`mosaic` is fitted into ``area`` (w, h).

    A bottom dock is wide and short, a side dock tall and narrow; the same ten
    templates should fill either instead of shrinking to a fixed 5 × 2 layout.
    Ties go to fewer columns.
    """
    if count <= 0:
        return 1
    best_scale, best = -1.0, 1
    for columns in range(1, count + 1):
        scale = fit_scale(count, tile_shape, area, columns, gap)
        if scale > best_scale * (1 + 1e-9):
            best_scale, best = scale, columns
    return best


def fit_scale(count: int, tile_shape: tuple[int, int], area: tuple[float, float], columns: int, gap: Gap = 1) -> float:
    """Screen pixels per tile pixel when ``count`` tiles in ``columns`` columns are fitted into ``area``."""
    gy, gx = _gaps(gap)
    h, w = tile_shape
    columns = max(1, columns)
    rows = math.ceil(max(count, 1) / columns)
    width, height = max(float(area[0]), 1.0), max(float(area[1]), 1.0)
    return min(width / (columns * (w + gx) - gx), height / (rows * (h + gy)))


def tile_origin(index: int, tile_shape: tuple[int, int], columns: int, gap: Gap = 1) -> tuple[int, int]:
    """(x, y) of the top-left pixel of tile ``index`` in a :func:`mosaic`."""
    gy, gx = _gaps(gap)
    r, c = divmod(index, max(columns, 1))
    return c * (tile_shape[1] + gx), r * (tile_shape[0] + gy)


def tile_at(x: float, y: float, tile_shape: tuple[int, int], columns: int, count: int, gap: Gap = 1) -> int | None:
    """The index of the tile under mosaic pixel position (x, y), or None for gaps/outside."""
    gy, gx = _gaps(gap)
    h, w = tile_shape
    if x < 0 or y < 0:
        return None
    c, cx = divmod(x, w + gx)
    r, cy = divmod(y, h + gy)
    if cx >= w or cy >= h or c >= columns:
        return None
    index = int(r) * columns + int(c)
    return index if index < count else None


# --------------------------------------------------------------------------- activations and data


def layer_tiles(activation: np.ndarray) -> np.ndarray:
    """One layer's activation as tiles: (H, W, C) → C maps; (N,) → N one-pixel tiles.

    A dense layer becomes a strip of cells rather than a bar chart so every
    layer is read the same way: brightness = how active.
    """
    a = np.asarray(activation, np.float32)
    if a.ndim == 3:
        return np.ascontiguousarray(np.transpose(a, (2, 0, 1)))
    if a.ndim == 1:
        return a.reshape(-1, 1, 1)
    if a.ndim == 2:
        return a[None]
    raise ValueError(f"cannot show an activation of shape {a.shape}")


def ordered_layers(activations: Mapping[str, Any]) -> list[str]:
    """Layer names in network order (known ones first), whatever order the dict has."""
    known = [name for name in LAYER_ORDER if name in activations and name != "logits"]
    others = [name for name in activations if name not in LAYER_ORDER]
    # custom networks name layers conv1, conv2, dense1, ... dense10: convs come first, then by number
    return known + sorted(others, key=lambda n: (not n.startswith("conv"), n.rstrip("0123456789"),
                                                 int(n[len(n.rstrip("0123456789")):] or 0), n)) + \
        (["logits"] if "logits" in activations else [])


def class_means(images: np.ndarray, labels: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """(classes, 28, 28) mean image of each class in [0, 1] (0 for an empty class).

    The data-side counterpart of the logreg templates: a well-trained template
    looks like its class mean minus the other classes' means.
    """
    images = np.asarray(images)
    labels = np.asarray(labels, np.int64)
    scale = 255.0 if images.dtype == np.uint8 else 1.0
    means = np.zeros((num_classes, *images.shape[1:]), np.float32)
    for c in range(num_classes):
        members = images[labels == c]
        if len(members):
            means[c] = members.mean(axis=0, dtype=np.float64) / scale
    return means
