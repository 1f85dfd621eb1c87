"""The training form as a person meets it: every problem at once, nothing jumping, typed values kept,
and datasets offered only when their files really are here."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint

from gui_helpers import choose, type_into
from mnist_desktop.core.data.datasets import DATASETS, FILE_ROLES
from mnist_desktop.core.data.idx import write_idx
from mnist_desktop.gui.training_form import ERROR_COLOUR
from training_helpers import panel_of

pytestmark = pytest.mark.gui


def field_geometry(form) -> dict[str, tuple[int, int, int, int]]:
    """Where each field sits in the form (what the mouse aims at)."""
    out = {}
    for key, widget in form.fields.items():
        top_left = widget.mapTo(form, QPoint(0, 0))
        out[key] = (top_left.x(), top_left.y(), widget.width(), widget.height())
    return out


def test_all_fields_validated_at_once_without_layout_jumps(qtbot, training_window):
    panel = panel_of(training_window)
    form = panel.form
    choose(form.dataset_combo, "mnist-subset")
    qtbot.wait(10)
    before = field_geometry(form)
    form_height, button_pos = form.height(), panel.start_button.mapTo(panel, QPoint(0, 0))
    bad = {"lr_edit": "abc", "batch_edit": "0", "epochs_edit": "-2", "val_edit": "0.9", "seed_edit": "-3"}
    for name, text in bad.items():
        type_into(qtbot, getattr(form, name), text)
    qtbot.wait(10)
    assert set(form.errors) == {"learning_rate", "batch_size", "epochs", "validation_split", "seed"}, form.errors
    message = form.message()
    for title in ("Learning rate", "Batch size", "Epochs", "Validation split", "Seed"):
        assert title in message, message
    for name in bad:
        assert ERROR_COLOUR in getattr(form, name).styleSheet()
    assert not panel.start_button.isEnabled()
    assert field_geometry(form) == before, "a field moved or resized when the errors appeared"
    assert form.height() == form_height and panel.start_button.mapTo(panel, QPoint(0, 0)) == button_pos

    for name, text in {"lr_edit": "0.01", "batch_edit": "64", "epochs_edit": "0.3", "val_edit": "0.1",
                       "seed_edit": "3"}.items():
        type_into(qtbot, getattr(form, name), text)
    assert form.errors == {} and panel.start_button.isEnabled()
    assert field_geometry(form) == before


def test_changing_the_model_keeps_what_the_person_typed(qtbot, training_window):
    form = panel_of(training_window).form
    choose(form.model_combo, "cnn")
    type_into(qtbot, form.lr_edit, "0.0005")
    type_into(qtbot, form.epochs_edit, "0.7")
    choose(form.model_combo, "mlp")  # MLP recipe: Adam 2e-3, batch 128, 8 epochs
    assert (form.lr_edit.text(), form.epochs_edit.text(), form.batch_edit.text()) == ("0.0005", "0.7", "128")
    assert "Kept your learning rate, epochs" in form.message(), form.message()
    form.fill(form.values()[0])  # a whole new configuration: the recipe may replace anything again
    choose(form.model_combo, "logreg")
    assert (form.lr_edit.text(), form.epochs_edit.text()) == ("0.01", "5")
    assert "Kept" not in form.message()


def write_fake_mnist(folder) -> None:
    """MNIST's four file names with small random content (not Fashion-MNIST's either)."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    shapes = {"train_images": (30, 28, 28), "train_labels": (30,), "test_images": (10, 28, 28), "test_labels": (10,)}
    for role in FILE_ROLES:
        write_idx(folder / DATASETS["mnist"].files[role].filename, rng.integers(0, 10, shapes[role], dtype=np.uint8))


def test_fashion_mnist_not_offered_for_an_mnist_folder(qtbot, training_window, tmp_path, monkeypatch):
    """MNIST_DESKTOP_DATA=…/data/mnist: same file names as Fashion-MNIST, but not its files."""
    mnist = tmp_path / "data" / "mnist"
    write_fake_mnist(mnist)
    monkeypatch.setenv("MNIST_DESKTOP_DATA", str(mnist))
    form = panel_of(training_window).form
    form.refresh_dataset_status()
    texts = {form.dataset_combo.itemData(i): form.dataset_combo.itemText(i) for i in range(form.dataset_combo.count())}
    assert texts["fashion-mnist"] == "Fashion-MNIST (not downloaded)", texts
    choose(form.dataset_combo, "fashion-mnist")
    assert "Not downloaded yet" in form.dataset_status_label.text()
    assert str(mnist) in form.dataset_status_label.text()  # says which folder it did not use
    assert "different or damaged file" in form.dataset_status_label.toolTip()


def test_fashion_mnist_found_in_the_sibling_folder(qtbot, training_window, tmp_path, monkeypatch, shared_data_dir):
    """With the real sets: MNIST_DESKTOP_DATA=…/data/mnist finds …/data/fashion-mnist beside it."""
    monkeypatch.setenv("MNIST_DESKTOP_DATA", str(shared_data_dir / "mnist"))
    form = panel_of(training_window).form
    form.refresh_dataset_status()
    choose(form.dataset_combo, "fashion-mnist")
    assert form.dataset_combo.currentText() == "Fashion-MNIST (available)"
    assert form.dataset_status_label.text() == f"Available: {shared_data_dir / 'fashion-mnist'}"
