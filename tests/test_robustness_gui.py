"""Faults seen from the window: a diverging run, and closing the window mid-download."""

from __future__ import annotations

import time

import pytest

from gui_helpers import canvas_point, choose, click, drag
from mnist_desktop.core.data import datasets
from mnist_desktop.core.errors import DownloadCancelled
from training_helpers import panel_of, set_up_run, wait_finished

pytestmark = pytest.mark.gui


@pytest.fixture
def window(training_window):
    return training_window


REAL_LOAD = datasets.load_dataset


def test_divergence_stops_with_the_step_and_the_window_stays_usable(qtbot, window):
    panel = panel_of(window)
    # 1e4, not 100: with outlier exposure's uniform-answer loss (on by default) an SGD step at
    # lr 100 kills every ReLU and the loss stays finite (chance accuracy) instead of turning NaN
    set_up_run(qtbot, panel, model="mlp", epochs="1", lr="10000")
    choose(panel.form.optimizer_combo, "sgd")
    choose(panel.form.schedule_combo, "constant")
    assert not panel.form.errors
    click(qtbot, panel.start_button)
    wait_finished(qtbot, panel)
    assert panel.run.status == "diverged"
    assert "loss became NaN at step" in panel.result_label.text()
    assert panel.start_button.isEnabled()
    canvas = window.canvas  # the active model still reads drawings
    drag(qtbot, canvas, [canvas_point(canvas, 0.5, 0.15), canvas_point(canvas, 0.5, 0.85)])
    qtbot.waitUntil(lambda: window.prediction_view.predicted_label() == 1, timeout=10_000)


def test_closing_the_window_mid_download_exits_cleanly(qtbot, window, monkeypatch, tmp_path, qtlog):
    partial = tmp_path / "train-images-idx3-ubyte.gz.part"

    def slow_download(name, data_dir=None, *, download=False, progress=None, cancel=None):
        if name != "fashion-mnist":
            return REAL_LOAD(name, data_dir)
        done = 0
        try:
            while True:
                partial.write_bytes(b"x" * done)
                if cancel():
                    raise DownloadCancelled("download cancelled")
                done += 1000
                progress(done, 30_000_000)
                time.sleep(0.02)
        finally:
            partial.unlink(missing_ok=True)  # what download_dataset does with its temp file

    monkeypatch.setattr(datasets, "load_dataset", slow_download)
    panel = panel_of(window)
    set_up_run(qtbot, panel, model="logreg")
    choose(panel.form.dataset_combo, "fashion-mnist")
    click(qtbot, panel.start_button)
    qtbot.waitUntil(partial.exists, timeout=30_000)
    started = time.perf_counter()
    window.close()
    assert time.perf_counter() - started < 5
    assert not window.worker_thread.isRunning()
    assert not partial.exists()
    assert not [m for m in qtlog.records if "Destroyed while thread" in m.message]
