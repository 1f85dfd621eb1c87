"""A model trained on another dataset is named as such in the window (issue 14, defect 15)."""

from __future__ import annotations

import pytest

from gui_helpers import canvas_point, drag, open_main_window, wait_for_worker
from mnist_desktop.core.data.datasets import DATASETS
from mnist_desktop.core.models.checkpoints import load_checkpoint, save_checkpoint
from mnist_desktop.core.paths import bundled_model_path

pytestmark = pytest.mark.gui


def test_fashion_model_answers_are_labelled_and_noted(qtbot, monkeypatch, tmp_path):
    ckpt = load_checkpoint(bundled_model_path())
    fashion = save_checkpoint(tmp_path / "fashion.ckpt", ckpt.model_name, ckpt.params,
                              {"dataset": "fashion-mnist", "class_names": list(DATASETS["fashion-mnist"].class_names)})
    window = open_main_window(qtbot, monkeypatch, tmp_path, keep_docks=())
    try:
        window.load_model(str(fashion))
        qtbot.waitUntil(lambda: window.session.model is not None and window.session.model.path == str(fashion),
                        timeout=30_000)
        drag(qtbot, window.canvas, [canvas_point(window.canvas, 0.5, 0.15), canvas_point(window.canvas, 0.5, 0.85)])
        wait_for_worker(qtbot, window.worker)
        qtbot.waitUntil(lambda: window.prediction_view.predicted_label() is not None, timeout=10_000)
        assert window.prediction_view.shown_text().startswith("Fashion-MNIST model: ")
        assert "not a digit model" in window.prediction_view.note()
        window.load_model(str(bundled_model_path()))  # back to a digit model: no prefix, no note
        qtbot.waitUntil(lambda: window.session.model.path == str(bundled_model_path()), timeout=30_000)
        wait_for_worker(qtbot, window.worker)
        assert not window.prediction_view.shown_text().startswith("Fashion")
        assert "not a digit model" not in window.prediction_view.note()
    finally:
        window.close()
