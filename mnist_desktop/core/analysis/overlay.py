"""Where the 28×28 model input lies on the drawing, so a heat map on it can be laid over the strokes."""

from __future__ import annotations

import numpy as np

from mnist_desktop.core.data import preprocess


def input_region(canvas: np.ndarray, model_input: np.ndarray) -> tuple[float, float, float, float] | None:
    """The canvas rectangle the whole 28×28 model input covers: (x, y, width, height) in canvas pixels.

    Preprocessing crops the drawing to its ink box (:func:`preprocess.ink_box`),
    scales the box so its longer side is 20 px (:func:`preprocess.box_sizes`) and
    shifts it so the centre of mass sits at the centre. The shift is read off the
    model input itself: its first inked row and column are where the box landed.
    Inverting that gives the rectangle; None if the canvas or the input has no ink.
    """
    box = preprocess.ink_box(canvas)
    if box is None:
        return None
    rows, cols = box
    inked = np.asarray(model_input, np.float32) > 0
    in_rows, in_cols = np.flatnonzero(inked.any(axis=1)), np.flatnonzero(inked.any(axis=0))
    if in_rows.size == 0:
        return None
    lengths = np.array([rows.stop - rows.start, cols.stop - cols.start], np.float64)
    new = preprocess.box_sizes(lengths[None])[0]
    scale_y, scale_x = new / lengths  # model pixels per canvas pixel
    dy, dx = float(in_rows[0]), float(in_cols[0])
    size = preprocess.OUTPUT_SIZE
    return (cols.start - dx / scale_x, rows.start - dy / scale_y, size / scale_x, size / scale_y)
