"""Views never show a picture that no longer belongs to what they are labelled with.

After an evaluation fails, after a model file fails to load, after a dataset
fails: each view either keeps what is still true or clears itself and says why.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from gui_helpers import open_main_window
from mnist_desktop.core.errors import DatasetError
from mnist_desktop.gui.insight import evaluation_view

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Ok))
    return open_main_window(qtbot, monkeypatch, tmp_path, keep_docks=("evaluation", "datasets"))


def evaluate_on(qtbot, view, name: str) -> None:
    view.dataset_box.setCurrentIndex(view.dataset_box.findData(name))
    qtbot.mouseClick(view.evaluate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.evaluate_button.isEnabled(), timeout=60_000)


def evaluated_view(qtbot, window):
    view = window.docks["evaluation"].widget()
    window.docks["evaluation"].raise_()
    assert view.pages.currentIndex() == 0 and "Nothing evaluated yet" in view.placeholder.text()
    assert not view.export_button.isEnabled()  # nothing to export yet
    evaluate_on(qtbot, view, "mnist-subset")
    assert view.result is not None and view.result["dataset"] == "mnist-subset"
    assert view.pages.currentIndex() == 1 and view.export_button.isEnabled()
    return view


def test_failed_evaluation_clears_the_old_confusion_matrix(qtbot, window, monkeypatch):
    view = evaluated_view(qtbot, window)
    # Fashion-MNIST looks present, but its files fail while loading (damaged mid-file)
    monkeypatch.setattr(evaluation_view, "dataset_status", lambda name, data_dir=None: "found at /data/fashion-mnist")

    def broken(name, *args, **kwargs):
        raise DatasetError(f"/data/{name}/train-images-idx3-ubyte.gz is a damaged or truncated gzip file")

    monkeypatch.setattr("mnist_desktop.core.data.datasets.load_dataset", broken)
    evaluate_on(qtbot, view, "fashion-mnist")
    assert view.result is None, "the MNIST result stayed under the Fashion-MNIST label"
    assert view.pages.currentIndex() == 0
    assert "failed" in view.placeholder.text() and "damaged" in view.placeholder.text()
    assert "Fashion-MNIST" in view.placeholder.text()
    assert "accuracy" not in view.summary.text()
    assert view.gallery.count() == 0
    assert not view.export_button.isEnabled(), "Export would save a picture of nothing (or of the old matrix)"


def test_failed_model_load_leaves_the_evaluation_alone(qtbot, window, tmp_path, trained_logreg):
    view = evaluated_view(qtbot, window)
    accuracy_text = view.summary.text()
    bad = tmp_path / "broken.ckpt"
    bad.write_bytes(b"not a checkpoint")
    failures = []
    window.session.modelFailed.connect(lambda path, message: failures.append(message))
    window.load_model(str(bad))
    qtbot.waitUntil(lambda: bool(failures), timeout=20_000)
    qtbot.wait(50)
    assert view.result is not None, "a load that failed changed nothing, yet the result went"
    assert "changed" not in view.summary.text() and view.summary.text() == accuracy_text
    assert window.session.model.model_name == "cnn"

    # a model that really is another one: the old result goes, and the view says why
    params, _ = trained_logreg
    window.session.activate("logreg", params, {"name": "run-3", "dataset": "mnist-subset",
                                               "class_names": [str(i) for i in range(10)]})
    qtbot.waitUntil(lambda: window.session.model.model_name == "logreg", timeout=20_000)
    assert view.result is None and view.pages.currentIndex() == 0
    assert "The active model changed to run-3" in view.placeholder.text()
    assert "accuracy" in view.placeholder.text()  # it says what was cleared


def test_picking_another_test_set_says_which_one_is_shown(qtbot, window):
    view = evaluated_view(qtbot, window)
    view.dataset_box.setCurrentIndex(view.dataset_box.findData("fashion-mnist"))
    assert view.summary.text().startswith("Shown: ") and "MNIST (bundled subset)" in view.summary.text()
    assert "for Fashion-MNIST" in view.summary.text()


def test_dataset_error_replaces_the_pictures_with_a_sentence(qtbot, window):
    view = window.docks["datasets"].widget()
    window.docks["datasets"].raise_()
    view.load("mnist-subset")
    qtbot.waitUntil(lambda: view.loaded is not None, timeout=20_000)
    assert view.pages.currentIndex() == 1 and view.means_view.tiles().shape[0] == 10
    view.dataset_box.setCurrentIndex(view.dataset_box.findData("fashion-mnist"))  # not on this computer
    qtbot.waitUntil(lambda: not view.is_loading(), timeout=20_000)
    if view.loaded is not None and view.loaded.dataset.name == "fashion-mnist":
        pytest.skip("Fashion-MNIST is installed on this machine")
    assert view.pages.currentIndex() == 0
    assert "Could not show Fashion-MNIST" in view.placeholder.text()
    assert "mnist-desktop download fashion-mnist" in view.placeholder.text()
    assert not view.export_button.isEnabled() and not view.class_box.isEnabled()
    view.dataset_box.setCurrentIndex(view.dataset_box.findData("mnist-subset"))
    qtbot.waitUntil(lambda: view.pages.currentIndex() == 1, timeout=20_000)
    assert np.asarray(view.counts).sum() == 6000 and view.class_box.isEnabled()
