"""Driving the training dock, shared by the GUI tests that start runs."""

from __future__ import annotations

from gui_helpers import choose, type_into
from mnist_desktop.gui.main_window import MainWindow
from mnist_desktop.gui.training_panel import TrainingPanel

RUN_TIMEOUT_MS = 90_000  # generous: the CPU is shared; a hang still fails


def panel_of(window: MainWindow) -> TrainingPanel:
    panel = window.docks["training"].widget()
    assert isinstance(panel, TrainingPanel)
    return panel


def set_up_run(qtbot, panel: TrainingPanel, *, model: str = "logreg", epochs: str = "0.3",
               batch: str | None = None, lr: str | None = None) -> None:
    """Choose the bundled subset and ``model`` and type the numbers that keep the run short."""
    form = panel.form
    choose(form.dataset_combo, "mnist-subset")
    choose(form.model_combo, model)
    type_into(qtbot, form.epochs_edit, epochs)
    if batch is not None:
        type_into(qtbot, form.batch_edit, batch)
    if lr is not None:
        type_into(qtbot, form.lr_edit, lr)
    assert not form.errors, form.errors


def wait_finished(qtbot, panel: TrainingPanel, timeout: int = RUN_TIMEOUT_MS) -> None:
    qtbot.waitUntil(lambda: panel.state == "idle" and panel.run is not None and panel.run.finished, timeout=timeout)
