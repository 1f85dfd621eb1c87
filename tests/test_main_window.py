"""Draw and recognise: a person drags the mouse on the canvas and reads the prediction."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtWidgets import QMessageBox

from gui_helpers import canvas_point, drag, open_main_window
from mnist_desktop.core.data.datasets import load_dataset
from mnist_desktop.core.paths import bundled_model_path

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot, monkeypatch, tmp_path):
    warnings: list[tuple[str, str]] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a, **k: warnings.append((title, text)))
    win = open_main_window(qtbot, monkeypatch, tmp_path, size=(1000, 700))
    win.warnings = warnings
    yield win
    win.close()


def draw(qtbot, window, strokes):
    for stroke in strokes:
        drag(qtbot, window.canvas, [canvas_point(window.canvas, x, y) for x, y in stroke])


def wait_for_label(qtbot, window):
    qtbot.waitUntil(lambda: window.prediction_view.predicted_label() is not None, timeout=10_000)
    return window.prediction_view.predicted_label()


def test_window_shows_the_bundled_model_and_device(window):
    assert window.session.model.path == str(bundled_model_path())
    assert "Model: default" in window.model_label.text() and "test accuracy" in window.model_label.text()
    assert window.device_label.text().startswith("Device: CPU")
    assert window.prediction_view.predicted_label() is None  # empty canvas: no prediction
    assert window.prediction_view.shown_text() == "Draw a digit"


def test_a_label_smoothed_model_says_why_it_is_never_100_percent_sure(qtbot, window, trained_logreg):
    # the bundled model's confidence is temperature-calibrated (issue 16): the note says what 70 % means
    assert window.prediction_view.note().startswith("Confidence calibrated on held-out digits (temperature ")
    params, _ = trained_logreg
    # a label-smoothed model without calibration: its target for the right class is 91 %
    with qtbot.waitSignal(window.session.modelChanged, timeout=10_000):
        window.session.activate("logreg", params, {"name": "smoothed", "metadata": {"hyperparameters": {
            "label_smoothing": 0.1}}})
    assert window.prediction_view.note() == ("Trained with label smoothing 0.1, so even a clear digit scores near "
                                             "91%, not 100%: by design, not doubt.")
    # trained without smoothing: no note
    with qtbot.waitSignal(window.session.modelChanged, timeout=10_000):
        window.session.activate("logreg", params, {"name": "plain", "metadata": {"hyperparameters": {
            "label_smoothing": 0.0}}})
    assert window.prediction_view.note() == ""


@pytest.mark.parametrize(
    ("label", "strokes"),
    [
        (1, [[(0.5, 0.15), (0.5, 0.85)]]),
        (7, [[(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)]]),
        (0, [[(0.5 + 0.22 * np.sin(t), 0.5 - 0.32 * np.cos(t)) for t in np.linspace(0, 2 * np.pi, 40)]]),
    ],
    ids=["vertical-bar", "seven", "zero-loop"],
)
def test_drawing_shows_the_right_digit(qtbot, window, label, strokes):
    draw(qtbot, window, strokes)
    assert wait_for_label(qtbot, window) == label
    assert window.input_view.image() is not None and window.input_view.image().shape == (28, 28)
    assert window.prediction_view.shown_text().startswith(str(label))


def test_undo_redo_clear_update_the_prediction(qtbot, window):
    draw(qtbot, window, [[(0.5, 0.15), (0.5, 0.85)]])
    assert wait_for_label(qtbot, window) == 1
    window.canvas.undo_action.trigger()
    qtbot.waitUntil(lambda: window.prediction_view.predicted_label() is None, timeout=5_000)
    assert window.canvas.is_empty()
    window.canvas.redo_action.trigger()
    assert wait_for_label(qtbot, window) == 1
    window.canvas.clear_action.trigger()
    qtbot.waitUntil(lambda: window.prediction_view.predicted_label() is None, timeout=5_000)
    assert window.input_view.image() is None


def test_loading_a_png_shows_its_digit(qtbot, window, tmp_path):
    ds = load_dataset("mnist-subset")
    index = int(np.flatnonzero(ds.test_labels == 3)[0])
    big = np.kron(255 - ds.test_images[index], np.ones((10, 10), np.uint8))  # dark ink on white paper, 280 px
    Image.fromarray(big).convert("RGB").save(tmp_path / "three.png")
    assert window.load_image_file(str(tmp_path / "three.png"))
    assert not window.canvas.is_empty()
    assert wait_for_label(qtbot, window) == 3


def test_loading_a_broken_image_warns_and_keeps_the_drawing(qtbot, window, tmp_path):
    draw(qtbot, window, [[(0.5, 0.15), (0.5, 0.85)]])
    (tmp_path / "bad.png").write_bytes(b"\x89PNG broken")
    assert not window.load_image_file(str(tmp_path / "bad.png"))
    assert window.warnings and "bad.png" in window.warnings[-1][1]
    assert not window.canvas.is_empty()


def test_opening_a_corrupt_model_shows_an_error_and_keeps_the_current_one(qtbot, window, tmp_path):
    before = window.session.model.path
    bad = tmp_path / "corrupt.ckpt"
    bad.write_bytes(b"PK\x03\x04 definitely not a model")
    window.load_model(str(bad))
    qtbot.waitUntil(lambda: bool(window.warnings), timeout=10_000)
    title, text = window.warnings[-1]
    assert title == "Could not open model" and "corrupt.ckpt" in text and "current model stays active" in text
    assert window.session.model.path == before
    draw(qtbot, window, [[(0.5, 0.15), (0.5, 0.85)]])
    assert wait_for_label(qtbot, window) == 1  # still recognising with the old model


def test_save_model_round_trips(qtbot, window, tmp_path):
    from mnist_desktop.core.models.checkpoints import load_checkpoint

    assert window.save_model(str(tmp_path / "copy.ckpt"))
    ckpt = load_checkpoint(tmp_path / "copy.ckpt")
    assert ckpt.model_name == window.session.model.model_name
    assert window.save_model(str(tmp_path / "missing-folder" / "x.ckpt")) is False
    assert "could not save the model" in window.warnings[-1][1]
