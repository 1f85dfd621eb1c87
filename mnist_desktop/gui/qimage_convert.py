"""numpy arrays ↔ QImage: grey pictures in, grey pixels out, heat maps as translucent colour.

Every conversion copies, so a QImage never points into a numpy buffer that may
be freed (and the other way round).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor, QImage


def grey_array_to_qimage(array: np.ndarray) -> QImage:
    """A (H, W) float array in [0, 1] as a Grayscale8 QImage that owns its pixels.

    NaN and out-of-range values are clamped instead of raising: a picture that
    came from a file or a model should still show something.
    """
    values = np.asarray(array, dtype=np.float32)
    if values.ndim == 3 and values.shape[-1] == 1:
        values = values[..., 0]
    if values.ndim != 2 or values.size == 0:
        raise ValueError(f"expected a 2-D greyscale array, got shape {values.shape}")
    values = np.nan_to_num(values, nan=0.0, posinf=1.0, neginf=0.0)
    data = np.ascontiguousarray(np.clip(values, 0.0, 1.0) * 255.0 + 0.5, dtype=np.uint8)
    height, width = data.shape
    # .copy() detaches the QImage from the numpy buffer, which may be freed next line.
    return QImage(data.data, width, height, width, QImage.Format.Format_Grayscale8).copy()


def qimage_to_bytes(image: QImage) -> np.ndarray:
    """A QImage as a uint8 (H, W) grey array (a copy)."""
    if image.format() != QImage.Format.Format_Grayscale8:
        image = image.convertToFormat(QImage.Format.Format_Grayscale8)
    height, width, stride = image.height(), image.width(), image.bytesPerLine()
    raw = np.frombuffer(image.constBits(), dtype=np.uint8, count=stride * height)
    return raw.reshape(height, stride)[:, :width].copy()


def qimage_to_grey_array(image: QImage) -> np.ndarray:
    """A Grayscale8 QImage as a float32 (H, W) array in [0, 1] (a copy)."""
    return qimage_to_bytes(image).astype(np.float32) / 255.0


def heatmap_to_qimage(heatmap: np.ndarray, colour: QColor | None = None, max_alpha: float = 0.6) -> QImage:
    """A (H, W) heatmap in [0, 1] as a colour image whose opacity is the heat.

    Transparency (not a colour ramp) keeps the ink underneath readable, which is
    the point of a saliency overlay: *where* on the digit the model looked.
    """
    values = np.asarray(heatmap, dtype=np.float32)
    if values.ndim == 3 and values.shape[-1] == 1:
        values = values[..., 0]
    if values.ndim != 2 or values.size == 0:
        raise ValueError(f"expected a 2-D heatmap, got shape {values.shape}")
    values = np.clip(np.nan_to_num(values, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)
    colour = colour or QColor(255, 48, 48)
    height, width = values.shape
    rgba = np.empty((height, width, 4), dtype=np.uint8)
    rgba[..., 0] = colour.red()
    rgba[..., 1] = colour.green()
    rgba[..., 2] = colour.blue()
    rgba[..., 3] = (values * (255.0 * max_alpha) + 0.5).astype(np.uint8)
    rgba = np.ascontiguousarray(rgba)
    return QImage(rgba.data, width, height, width * 4, QImage.Format.Format_RGBA8888).copy()
