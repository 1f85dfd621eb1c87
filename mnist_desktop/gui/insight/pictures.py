"""Digits as pixmaps and icons, thumbnail grids, and views saved as PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QBuffer, QIODevice, QSize, Qt
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QListView, QListWidget, QWidget

from mnist_desktop.core.fileio import atomic_write_bytes
from mnist_desktop.gui.qimage_convert import grey_array_to_qimage


def widget_png_bytes(widget: QWidget) -> bytes:
    """The widget as it looks now, encoded as PNG."""
    image = widget.grab().toImage()
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise OSError("could not encode the view as PNG")
    return bytes(buffer.data())


def save_widget_png(widget: QWidget, path: str | Path) -> Path:
    """Write a screenshot of ``widget`` to ``path`` atomically (old file intact on failure)."""
    atomic_write_bytes(path, widget_png_bytes(widget))
    return Path(path)


def digit_pixmap(image: np.ndarray, side: int = 56) -> QPixmap:
    """A 28×28 digit (uint8 or float in [0, 1]) as a crisp, pixel-doubled pixmap."""
    array = np.asarray(image)
    values = array.astype(np.float32) / 255.0 if array.dtype == np.uint8 else array.astype(np.float32)
    qimage = grey_array_to_qimage(values).scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                                                 Qt.TransformationMode.FastTransformation)
    return QPixmap.fromImage(qimage)


def thumbnail_grid(icon_side: int, cell: QSize) -> QListWidget:
    """A static, wrapping grid of digit thumbnails (galleries, dataset browser)."""
    grid = QListWidget()
    grid.setViewMode(QListView.ViewMode.IconMode)
    grid.setIconSize(QSize(icon_side, icon_side))
    grid.setGridSize(cell)
    grid.setResizeMode(QListView.ResizeMode.Adjust)
    grid.setMovement(QListView.Movement.Static)
    grid.setUniformItemSizes(True)
    return grid


def digit_icon(image: np.ndarray, side: int = 56) -> QIcon:
    return QIcon(digit_pixmap(image, side))
