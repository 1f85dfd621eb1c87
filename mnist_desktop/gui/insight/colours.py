"""Colour maps of the insight views and the theme colours their plots use.

Two rules: weights and logits are signed, so they get a diverging map (blue < 0
< red, white at 0, always on a scale symmetric around 0 so the colour of 0
never moves); activations, saliency and mean images are non-negative, so they
get a sequential map where dark means "nothing".
"""

from __future__ import annotations

import functools

import pyqtgraph as pg
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QWidget


@functools.cache
def diverging_cmap() -> pg.ColorMap:
    """Blue (negative) – white (0) – red (positive), ColorBrewer RdBu reversed.

    Perceptually even on both sides, so equal |w| looks equally strong in red
    and in blue, and readable by people with red-green colour blindness.
    """
    stops = [0.0, 0.15, 0.3, 0.5, 0.7, 0.85, 1.0]
    colours = ["#053061", "#2166ac", "#6baed6", "#f7f7f7", "#f4a582", "#d6604d", "#67001f"]
    return pg.ColorMap(stops, [QColor(c) for c in colours], name="blue-white-red")


@functools.cache
def sequential_cmap() -> pg.ColorMap:
    """Black → purple → orange → yellow ("inferno"): dark = inactive, bright = active."""
    return pg.colormap.get("inferno")


@functools.cache
def grey_cmap() -> pg.ColorMap:
    """Black → white, for pictures of digits (MNIST's white ink on black)."""
    return pg.ColorMap([0.0, 1.0], [QColor(0, 0, 0), QColor(255, 255, 255)], name="grey")


def text_colour(widget: QWidget) -> QColor:
    return widget.palette().color(QPalette.ColorRole.WindowText)


def panel_background(widget: QWidget) -> QColor:
    """A mid grey a little darker than the window, so white tiles keep their edges."""
    window = widget.palette().color(QPalette.ColorRole.Window)
    return window.darker(118) if window.lightness() > 128 else window.lighter(135)
