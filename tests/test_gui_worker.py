"""The worker thread as the training panel sees it: live predictions during a run,
class names that follow the dataset being trained, downloads that can be
cancelled, failures that reach the person, and a worker that recovers.

Downloads and failures are simulated by replacing ``load_dataset`` / the
trainer inside the worker; everything else (thread, signals, JAX) is real.
"""

from __future__ import annotations

import dataclasses
import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from gui_helpers import canvas_point, choose, click, drag
from mnist_desktop.core.data import datasets
from mnist_desktop.core.errors import DownloadCancelled
from mnist_desktop.gui import worker as worker_module
from training_helpers import RUN_TIMEOUT_MS, panel_of, set_up_run, wait_finished

pytestmark = pytest.mark.gui


@pytest.fixture
def window(training_window):
    return training_window


FASHION = datasets.DATASETS["fashion-mnist"]
REAL_LOAD = datasets.load_dataset


def fake_fashion():
    """The bundled subset dressed as Fashion-MNIST: a 'missing' dataset that loads offline."""
    return dataclasses.replace(REAL_LOAD("mnist-subset"), name="fashion-mnist", title=FASHION.title,
                               class_names=FASHION.class_names)


def draw_seven(qtbot, window) -> None:
    canvas = window.canvas
    drag(qtbot, canvas, [canvas_point(canvas, 0.25, 0.25), canvas_point(canvas, 0.7, 0.25),
                         canvas_point(canvas, 0.45, 0.8)])


def pick_fashion(qtbot, panel) -> None:
    set_up_run(qtbot, panel, model="logreg", epochs="0.3")
    choose(panel.form.dataset_combo, "fashion-mnist")
    assert not panel.form.errors


def test_predictions_keep_arriving_while_training(qtbot, window):
    panel = panel_of(window)
    draw_seven(qtbot, window)
    qtbot.waitUntil(lambda: window.prediction_view.predicted_label() is not None, timeout=30_000)
    during: list[int] = []

    def on_prediction(probabilities, _analysis):
        if panel.state in ("running", "paused") and probabilities is not None:
            during.append(int(probabilities.argmax()))

    window.session.predicted.connect(on_prediction)
    set_up_run(qtbot, panel, model="cnn", epochs="2", batch="32")
    click(qtbot, panel.start_button)
    qtbot.waitUntil(lambda: panel.progress.value() > 0, timeout=RUN_TIMEOUT_MS)
    draw_seven(qtbot, window)  # a new stroke mid-run is answered between training steps
    qtbot.waitUntil(lambda: len(during) >= 3, timeout=30_000)
    assert panel.state in ("running", "paused")  # they arrived during the run, not after it
    assert window.prediction_view.probabilities() is not None
    click(qtbot, panel.stop_button)
    wait_finished(qtbot, panel)
    window.session.predicted.disconnect(on_prediction)


def test_class_names_follow_the_dataset_being_trained(qtbot, window, monkeypatch):
    monkeypatch.setattr(datasets, "load_dataset",
                        lambda name, *a, **k: fake_fashion() if name == "fashion-mnist" else REAL_LOAD(name, *a, **k))
    panel = panel_of(window)
    draw_seven(qtbot, window)
    digits = [str(d) for d in range(10)]
    assert window.prediction_view.class_names() == digits
    pick_fashion(qtbot, panel)
    seen: list[list[str]] = []
    click(qtbot, panel.start_button)
    panel.handle.step.connect(lambda _event: seen.append(window.prediction_view.class_names()))
    wait_finished(qtbot, panel)
    assert panel.run.status == "completed"
    assert seen and seen[0] == list(FASHION.class_names), "fashion names while the fashion model reads the canvas"
    assert window.prediction_view.class_names() == digits, "the active MNIST model's names afterwards"


def test_missing_dataset_downloads_with_a_progress_dialog_then_trains(qtbot, window, monkeypatch):
    def downloading_load(name, data_dir=None, *, download=False, progress=None, cancel=None):
        if name != "fashion-mnist":
            return REAL_LOAD(name, data_dir)
        assert download, "the worker must allow the download"
        for done in range(0, 4_000_001, 1_000_000):
            progress(done, 4_000_000)
            time.sleep(0.05)
        return fake_fashion()

    monkeypatch.setattr(datasets, "load_dataset", downloading_load)
    panel = panel_of(window)
    pick_fashion(qtbot, panel)
    click(qtbot, panel.start_button)
    qtbot.waitUntil(lambda: panel.download_dialog is not None and panel.download_dialog.isVisible(), timeout=30_000)
    assert "Downloading Fashion-MNIST" in panel.download_dialog.labelText()
    assert panel.download_dialog.maximum() == 4_000_000
    wait_finished(qtbot, panel)
    assert panel.run.status == "completed" and panel.download_dialog is None


def test_cancel_in_the_download_dialog_stops_it_and_the_next_run_works(qtbot, window, monkeypatch):
    def endless_download(name, data_dir=None, *, download=False, progress=None, cancel=None):
        if name != "fashion-mnist":
            return REAL_LOAD(name, data_dir)
        done = 0
        while True:  # like download_dataset: report progress, honour cancel
            if cancel():
                raise DownloadCancelled("download cancelled; nothing half-written was kept")
            done += 100_000
            progress(done, 30_000_000)
            time.sleep(0.02)

    monkeypatch.setattr(datasets, "load_dataset", endless_download)
    panel = panel_of(window)
    pick_fashion(qtbot, panel)
    click(qtbot, panel.start_button)
    qtbot.waitUntil(lambda: panel.download_dialog is not None and panel.download_dialog.isVisible(), timeout=30_000)
    cancel = next(b for b in panel.download_dialog.findChildren(QPushButton) if b.text() == "Cancel")
    clicked = time.perf_counter()
    qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)
    wait_finished(qtbot, panel, timeout=10_000)
    print(f"download cancelled in {(time.perf_counter() - clicked) * 1000:.0f} ms")
    assert panel.run.status == "cancelled" and panel.download_dialog is None
    assert panel.error_box is None, "a cancel the person asked for is not an error"
    assert panel.history.table.item(0, 5).text() == "cancelled"

    set_up_run(qtbot, panel)  # back to the bundled subset: the worker is free again
    click(qtbot, panel.start_button)
    wait_finished(qtbot, panel)
    assert panel.run.status == "completed"


def test_stop_while_the_data_load_skips_training(qtbot, window, monkeypatch):
    def slow_load(name, data_dir=None, **kwargs):
        time.sleep(1.0)
        return REAL_LOAD(name, data_dir)

    monkeypatch.setattr(datasets, "load_dataset", slow_load)
    panel = panel_of(window)
    set_up_run(qtbot, panel, model="cnn", epochs="3")
    click(qtbot, panel.start_button)
    click(qtbot, panel.stop_button)  # before the worker has a trainer
    wait_finished(qtbot, panel)
    assert panel.run.status == "stopped" and panel.run.step == 0


def test_an_exception_in_the_worker_reaches_the_person_and_the_worker_recovers(qtbot, window, monkeypatch):
    real_trainer = worker_module.Trainer

    class BrokenTrainer(real_trainer):
        def run(self):
            for n, event in enumerate(super().run()):
                yield event
                if n == 2:
                    raise RuntimeError("simulated failure inside the training loop")

    monkeypatch.setattr(worker_module, "Trainer", BrokenTrainer)
    panel = panel_of(window)
    set_up_run(qtbot, panel)
    click(qtbot, panel.start_button)
    wait_finished(qtbot, panel)
    assert panel.run.status == "failed"
    assert panel.error_box is not None and panel.error_box.isVisible()
    assert "simulated failure" in panel.error_box.text()
    assert "failed" in panel.result_label.text() and "simulated failure" in panel.result_label.text()
    assert panel.progress.text() == "Failed"
    panel.error_box.button(panel.error_box.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: panel.error_box is None)

    monkeypatch.setattr(worker_module, "Trainer", real_trainer)
    click(qtbot, panel.start_button)
    wait_finished(qtbot, panel)
    assert panel.run.status == "completed" and panel.run.number == 2


def test_a_new_stroke_is_answered_while_paused(qtbot, window):
    panel = panel_of(window)
    set_up_run(qtbot, panel, model="cnn", epochs="3", batch="16")
    click(qtbot, panel.start_button)
    qtbot.waitUntil(lambda: panel.progress.value() >= 10, timeout=RUN_TIMEOUT_MS)
    click(qtbot, panel.pause_button)
    answers: list[object] = []
    window.session.predicted.connect(lambda probabilities, _analysis: answers.append(probabilities))
    try:
        draw_seven(qtbot, window)
        qtbot.waitUntil(lambda: any(a is not None for a in answers), timeout=3_000)
    finally:
        click(qtbot, panel.stop_button)
        wait_finished(qtbot, panel)
