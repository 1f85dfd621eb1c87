"""Weight pictures for any architecture a person builds, in the shapes the presets' views use.

The presets have hand-made weight views (templates, units, kernels); a custom
network gets the same pictures for the layer a person can read — the first one
that looks at the image — and a summary of the rest:

* the output layer right on the (pooled) image → one template per class;
* a dense layer first → its units as images (the MLP's view);
* a conv layer first → its kernels, and how strongly the next weighted layer
  listens to each of its feature maps (the CNN's view).

Pure numpy on host arrays, like :mod:`.weights`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mnist_desktop.core.analysis.weights import TileSet, symmetric_limit
from mnist_desktop.core.models.spec import INPUT_SHAPE, architecture_of, shape_text, summarize


def _layer_inputs(model_name: str) -> list[tuple[str, str, tuple[int, ...], tuple[int, ...]]]:
    """``(module, kind, input shape, last image-shaped input)`` of each weighted layer, output last."""
    arch, preset = architecture_of(model_name)
    summary = summarize(arch, preset)
    shape, image = INPUT_SHAPE, INPUT_SHAPE
    out = []
    kinds = [layer.kind for layer in arch.layers] + ["dense"]
    for row, kind in zip(summary.rows, kinds):
        if row.module and kind != "layernorm":
            out.append((row.module, kind, shape, image))
        shape = row.shape
        if len(shape) == 3:
            image = shape
    return out


def custom_tile_sets(model_name: str, params: Mapping[str, Mapping[str, Any]],
                     class_names: Sequence[str] | None = None) -> list[TileSet]:
    """What the weight view shows for ``model_name``; the first set's key picks the page."""
    layers = _layer_inputs(model_name)
    module, kind, shape, image = layers[0]
    w = np.asarray(params[module]["w"], np.float32)
    h, wd, c = image
    if kind == "dense" and c == 1 and w.shape[0] == h * wd:
        tiles = w.T.reshape(-1, h, wd)
        if len(layers) == 1:  # the output layer sees the image: a template per class
            names = tuple(class_names) if class_names else tuple(str(i) for i in range(len(tiles)))
            return [TileSet("templates", "Class templates",
                            f"Each picture is one class's weight template over the {h}×{wd} input: ink on red pixels "
                            "adds to that class's score, on blue subtracts.",
                            np.ascontiguousarray(tiles), names[: len(tiles)], symmetric_limit(tiles, 100.0),
                            np.arange(len(tiles)))]
        norms = np.sqrt((w.astype(np.float64) ** 2).sum(axis=0))
        order = np.argsort(-norms, kind="stable")
        return [TileSet("units", f"{module} — first-layer units",
                        f"Each tile is one of the {len(order)} units of {module}: the {h}×{wd} pattern of input weights "
                        "it responds to (red excites, blue inhibits). Strongest first; click a tile to enlarge.",
                        np.ascontiguousarray(tiles[order]), tuple(f"#{int(u)}" for u in order), symmetric_limit(tiles), order)]
    if kind == "conv":
        kernels = np.ascontiguousarray(np.transpose(w[:, :, 0, :], (2, 0, 1)))
        k = "×".join(map(str, kernels.shape[1:]))
        nxt, nxt_kind, nxt_shape, _ = layers[1]
        w2 = np.asarray(params[nxt]["w"], np.float32)
        if nxt_kind == "conv":
            strength = np.sqrt((w2.astype(np.float64) ** 2).sum(axis=(0, 1)))
            what = f"its {'×'.join(map(str, w2.shape[:2]))} kernel slice"
        else:  # dense on the flattened maps (Haiku flattens H, W, C in that order)
            ih, iw, ic = next(s for m, _, _, s in layers if m == nxt)
            strength = np.sqrt((w2.reshape(ih * iw, ic, -1).astype(np.float64) ** 2).sum(axis=0))
            what = f"its weights over the {ih}×{iw} positions"
        strength = strength.astype(np.float32)
        label = "unit" if nxt_kind == "dense" else "filter"
        return [
            TileSet(module, f"{module} — {len(kernels)} kernels, {k}",
                    f"The {len(kernels)} {k} kernels of {module}, slid over the image: red = ink there turns the "
                    "feature on, blue = turns it off.", kernels, tuple(f"k{i}" for i in range(len(kernels))),
                    symmetric_limit(kernels, 100.0), np.arange(len(kernels))),
            TileSet(nxt, f"{nxt} — which {module} maps each {label} uses",
                    f"How strongly each of the {strength.shape[1]} {nxt} {label}s (columns) listens to each of the "
                    f"{strength.shape[0]} {module} maps (rows): the norm of {what}; bright = strong.",
                    strength[None], (f"{module} map × {nxt} {label}",), float(max(strength.max(), 1e-6)),
                    np.arange(1), diverging=False, row_label=f"{module} map", column_label=f"{nxt} {label}"),
        ]
    raise ValueError(f"no weight picture for a first {kind} layer on a {shape_text(shape)} input")


def architecture_overview(model_name: str) -> str:
    """One paragraph for the view: the layers, and which one the pictures show."""
    arch, preset = architecture_of(model_name)
    summary = summarize(arch, preset)
    parts = [f"{row.label.split(' (')[0]} → {shape_text(row.shape)}" for row in summary.rows]
    return (f"Your network: {' · '.join(parts)}; {summary.params:,} parameters. The pictures show the first "
            "layer that looks at the image; deeper layers mix features and are summarised by their sizes here.")
