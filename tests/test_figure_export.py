"""Export PNG renders the figure itself (≥ 2×, with a caption), not a screen grab of the view."""

from __future__ import annotations

import datetime as _dt

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QRect

from gui_helpers import canvas_point, drag, open_main_window
from mnist_desktop.gui import figure_export
from mnist_desktop.gui.figure_export import FigureCaption, figure_views

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot, monkeypatch, tmp_path):
    return open_main_window(qtbot, monkeypatch, tmp_path, keep_docks=("weights", "saliency", "evaluation"))


def shown(qtbot, window, key):
    dock = window.docks[key]
    dock.show()
    dock.raise_()
    view = dock.widget()
    qtbot.waitUntil(lambda: view.is_on_screen() and bool(figure_views(view)), timeout=20_000)
    return view


def figure_box(view) -> QRect:
    box = QRect()
    for plot in figure_views(view):
        box = box.united(QRect(plot.mapTo(view, QPoint(0, 0)), plot.size()))
    return box


def test_export_is_the_figure_at_twice_the_screen_resolution_with_a_caption(qtbot, window, tmp_path):
    view = shown(qtbot, window, "weights")
    target = tmp_path / "weights.png"
    target.write_bytes(b"old")
    view.export_png(target)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left
    with Image.open(target) as png:
        assert png.format == "PNG"
        pixels = np.asarray(png.convert("RGB"), np.int16)
    box = figure_box(view)
    scale = figure_export.export_scale(view)
    assert scale >= 2
    # the plots' own area at ≥ 2× (plus margins and the caption line), not the panel's size at 1×
    assert pixels.shape[1] == round((box.width() + 2 * figure_export.MARGIN) * scale)
    assert pixels.shape[1] >= 2 * box.width() and pixels.shape[0] >= 2 * box.height()
    # the explanation and the Export button above the plots are not in it: the figure starts at the plots
    assert box.top() > view.export_button.geometry().bottom()
    caption_band = pixels[round((figure_export.MARGIN + box.height()) * scale) + 2:]  # below the plots
    background = pixels[0, 0]
    assert (np.abs(caption_band - background).sum(axis=2) > 60).any()  # the caption line is drawn


def test_caption_names_view_model_dataset_and_date(qtbot, window):
    view = shown(qtbot, window, "weights")
    caption = view.figure_caption()
    assert caption.view == "Weights"
    assert caption.model == "default (CNN, 151,818 parameters)"
    assert caption.dataset == "trained on mnist"
    fixed = FigureCaption("Weights", caption.model, caption.dataset, _dt.datetime(2026, 12, 1, 23, 59))
    assert fixed.text() == "MNIST Desktop · Weights · model default (CNN, 151,818 parameters) · trained on mnist · 2026-12-01 23:59"


def test_saliency_export_carries_the_layer_captions_and_the_heat_map(qtbot, window, tmp_path):
    view = shown(qtbot, window, "saliency")
    drag(qtbot, window.canvas, [canvas_point(window.canvas, x, y) for x, y in [(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)]])
    qtbot.waitUntil(lambda: view.saliency is not None, timeout=30_000)
    plots = figure_views(view)
    assert len(plots) == 2  # the input with saliency, the heat map: no combo box, no checkbox
    image = figure_export.render_figure(view, view.figure_caption(), scale=3.0)
    assert image.width() == round((figure_box(view).united(_caption_boxes(view)).width() + 2 * figure_export.MARGIN) * 3)


def _caption_boxes(view) -> QRect:
    box = QRect()
    for plot in figure_views(view):
        for label in figure_export._captions_of(plot, view):
            box = box.united(QRect(label.mapTo(view, QPoint(0, 0)), label.size()))
    return box


def test_evaluation_caption_names_the_evaluated_test_set(qtbot, window):
    dock = window.docks["evaluation"]
    dock.show()
    dock.raise_()
    view = dock.widget()  # before an evaluation it shows a sentence, not a plot: only the caption is tested
    assert view.figure_dataset() == ""  # not evaluated yet: the model's training set is named
    view.result = {"dataset": "mnist-subset", "dataset_title": "MNIST subset"}
    assert view.figure_caption().dataset == "MNIST subset test set"
    view.result = None
