"""The training dock, driven as a person drives it: type settings, click Start, Pause, Stop.

Every run uses the bundled MNIST subset and a fraction of an epoch (or is
stopped early), so the whole file stays short on a 2-core CPU. Only the
training dock is built (other panels have their own tests); the window, worker
thread and JAX code are the real ones.
"""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

from gui_helpers import choose, click, type_into
from mnist_desktop.gui import docks
from mnist_desktop.gui.training_form import ERROR_COLOUR
from mnist_desktop.gui.training_panel import TrainingPanel
from training_helpers import RUN_TIMEOUT_MS, panel_of, set_up_run, wait_finished

pytestmark = pytest.mark.gui


@pytest.fixture
def window(training_window):
    return training_window


# ---------------------------------------------------------------------- the form
def test_dock_is_registered_once():
    assert [entry[0] for entry in docks.DOCKS].count("training") == 1


def test_form_lists_datasets_models_and_fills_the_models_recipe(qtbot, window):
    form = panel_of(window).form
    datasets = {form.dataset_combo.itemData(i): form.dataset_combo.itemText(i) for i in range(form.dataset_combo.count())}
    assert set(datasets) == {"mnist", "fashion-mnist", "mnist-subset"}
    assert datasets["mnist-subset"] == "MNIST bundled subset (offline)"
    for name in ("mnist", "fashion-mnist"):
        assert datasets[name].endswith(("(available)", "(not downloaded)")), datasets[name]
    models = [form.model_combo.itemText(i) for i in range(form.model_combo.count())]
    assert [form.model_combo.itemData(i) for i in range(form.model_combo.count())] == ["logreg", "mlp", "cnn", "flax-cnn"]
    assert "7,850 parameters" in models[0] and all("parameters" in text for text in models)
    assert [form.optimizer_combo.itemData(i) for i in range(form.optimizer_combo.count())] == ["sgd", "momentum", "adam"]

    choose(form.dataset_combo, "mnist-subset")
    assert "offline" in form.dataset_status_label.text()
    type_into(qtbot, form.seed_edit, "7")
    choose(form.model_combo, "mlp")  # the MLP recipe: Adam 2e-3, 8 epochs, one-cycle
    assert (form.lr_edit.text(), form.epochs_edit.text(), form.batch_edit.text()) == ("0.002", "8", "128")
    assert form.optimizer_combo.currentData() == "adam" and form.schedule_combo.currentData() == "onecycle"
    choose(form.model_combo, "logreg")
    assert (form.lr_edit.text(), form.epochs_edit.text(), form.schedule_combo.currentData()) == ("0.01", "5", "cosine")
    # the data choices are the person's, not the recipe's
    assert form.seed_edit.text() == "7" and form.dataset_combo.currentData() == "mnist-subset"


@pytest.mark.parametrize("field, text, reason", [
    ("lr_edit", "abc", "is not a number"),
    ("lr_edit", "-1", "positive"),
    ("batch_edit", "12.5", "not a whole number"),
    ("batch_edit", "0", "≥ 1"),
    ("batch_edit", "6000", "larger than the 5400 training images"),
    ("epochs_edit", "0", "more than 0"),
    ("val_edit", "0.9", "too little to train on"),
    ("seed_edit", "-3", "whole number in [0"),
])
def test_invalid_value_is_refused_with_its_reason(qtbot, window, field, text, reason):
    panel = panel_of(window)
    set_up_run(qtbot, panel)
    assert panel.start_button.isEnabled()
    edit: QLineEdit = getattr(panel.form, field)
    key = next(k for k, w in panel.form.fields.items() if w is edit)
    good = edit.text()

    type_into(qtbot, edit, text)
    assert reason in panel.form.errors[key] and reason in panel.form.message(), panel.form.message()
    assert reason in edit.toolTip()
    assert ERROR_COLOUR in edit.styleSheet()  # highlighted
    assert not panel.start_button.isEnabled()
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert panel.history.runs() == [] and panel.state == "idle"

    type_into(qtbot, edit, good)
    assert key not in panel.form.errors and ERROR_COLOUR not in edit.styleSheet()
    assert "training steps" in panel.form.message()
    assert panel.start_button.isEnabled()


# ---------------------------------------------------------------------- runs
def test_start_shows_progress_chart_points_and_the_test_accuracy(qtbot, window):
    panel = panel_of(window)
    set_up_run(qtbot, panel, model="cnn", epochs="0.5", batch="64")
    assert panel.chart.is_empty() and "Press Start" in panel.chart.placeholder.text()  # a sentence, not axes
    click(qtbot, panel.start_button)
    assert panel.state == "preparing" and not panel.start_button.isEnabled() and panel.stop_button.isEnabled()
    qtbot.waitUntil(lambda: panel.chart.point_count() > 0, timeout=RUN_TIMEOUT_MS)
    assert not panel.chart.is_empty()
    (x_low, x_high), _ = panel.chart.acc_plot.viewRange()
    assert x_low <= 0 and 0.5 <= x_high < 0.6, "the x axis spans the planned 0.5 epochs from the first step"
    assert not panel.chart.acc_plot.getAxis("bottom").autoSIPrefix  # no "epoch (x0.001)"
    assert panel.progress.value() > 0
    assert "step" in panel.progress.text() and "Epoch 1/1" in panel.progress.text()
    assert "ETA" in panel.rate_label.text() and "samples/s" in panel.rate_label.text()
    wait_finished(qtbot, panel)

    record = panel.run
    assert record.status == "completed" and record.test_accuracy is not None and record.test_accuracy > 0.5
    assert record.val_accuracy, "a validation point per epoch"
    assert panel.chart.point_count() == len(record.train_x) > 5
    assert f"test accuracy {record.test_accuracy:.2%}" in panel.result_label.text()
    assert panel.use_model_button.isVisible()
    assert panel.start_button.isEnabled() and not panel.stop_button.isEnabled()


def test_pause_holds_progress_resume_continues_stop_ends_mid_epoch(qtbot, window):
    panel = panel_of(window)
    set_up_run(qtbot, panel, model="cnn", epochs="3", batch="16")
    click(qtbot, panel.start_button)
    qtbot.waitUntil(lambda: panel.progress.value() >= 20, timeout=RUN_TIMEOUT_MS)

    handle = panel.handle
    click(qtbot, panel.pause_button)
    assert panel.state == "paused" and panel.pause_button.text() == "Resume"
    with qtbot.waitSignal(handle.step, timeout=500, raising=False):
        pass  # a step already in flight may still report (at most one)
    held = panel.progress.value()
    with qtbot.assertNotEmitted(handle.step, wait=800):
        pass  # paused: no step for a while
    assert panel.progress.value() == held, "progress advanced while paused"
    assert "Paused" in panel.progress.text()

    click(qtbot, panel.pause_button)
    assert panel.state == "running" and panel.pause_button.text() == "Pause"
    qtbot.waitUntil(lambda: panel.progress.value() > held + 10, timeout=RUN_TIMEOUT_MS)

    clicked = time.perf_counter()
    click(qtbot, panel.stop_button)
    assert panel.state == "stopping"
    wait_finished(qtbot, panel)
    stop_seconds = time.perf_counter() - clicked
    record = panel.run
    assert record.status == "stopped"
    assert 0 < record.step < record.total_steps and record.step % record.steps_per_epoch != 0, "stopped mid-epoch"
    assert record.test_accuracy is not None  # the model so far is kept and tested
    assert stop_seconds < 5, f"Stop took {stop_seconds:.2f} s"
    print(f"stop → finished in {stop_seconds * 1000:.0f} ms at step {record.step}")


def test_history_overlays_reuses_settings_and_use_this_model_activates_and_saves(qtbot, window, tmp_path):
    from mnist_desktop.core.models.checkpoints import load_checkpoint

    panel = panel_of(window)
    set_up_run(qtbot, panel, lr="0.02")
    click(qtbot, panel.start_button)
    wait_finished(qtbot, panel)
    first = panel.run
    set_up_run(qtbot, panel, lr="0.005")
    click(qtbot, panel.start_button)
    wait_finished(qtbot, panel)
    second = panel.run

    table = panel.history.table
    assert table.rowCount() == 2
    assert [table.item(r, 0).text() for r in range(2)] == ["#1 logreg", "#2 logreg"]
    assert "adam 0.02" in table.item(0, 1).text() and "adam 0.005" in table.item(1, 1).text()
    assert all(table.item(r, 5).text() == "completed" for r in range(2))
    assert table.item(0, 3).text().endswith("%")  # test accuracy

    # select both rows (click, ctrl-click): both runs are drawn
    def row_point(row: int):
        return table.visualItemRect(table.item(row, 1)).center()
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=row_point(0))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier, row_point(1))
    assert panel.history.selected_runs() == [first, second]
    assert set(panel.chart.shown_runs()) == {first, second}
    assert not panel.history.use_settings_button.isEnabled()  # one run at a time

    # "Use these settings" puts run 1's learning rate back
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=row_point(0))
    assert panel.history.selected_runs() == [first]
    assert panel.form.lr_edit.text() == "0.005"
    click(qtbot, panel.history.use_settings_button)
    assert panel.form.lr_edit.text() == "0.02"

    # "Use this model" (after the run ended) makes run 2 the canvas's model; File → Save keeps it
    click(qtbot, panel.use_model_button)
    qtbot.waitUntil(lambda: window.session.model.name == second.model_name_for_save, timeout=30_000)
    assert window.session.model.model_name == "logreg" and window.session.model.dataset == "mnist-subset"
    assert window.save_model_action.isEnabled()
    path = tmp_path / "trained.ckpt"
    assert window.save_model(str(path))
    saved = load_checkpoint(path)
    assert saved.model_name == "logreg" and saved.dataset == "mnist-subset"
    assert saved.metadata["hyperparameters"]["learning_rate"] == 0.005
    assert saved.metadata["metrics"]["test_accuracy"] == pytest.approx(second.test_accuracy)

    # and the history's button does the same for a selected older run
    click(qtbot, panel.history.use_model_button)
    qtbot.waitUntil(lambda: window.session.model.name == first.model_name_for_save, timeout=30_000)


def test_closing_the_window_mid_run_stops_the_worker_cleanly(qtbot, window, qtlog):
    panel = panel_of(window)
    set_up_run(qtbot, panel, model="cnn", epochs="5", batch="32")
    click(qtbot, panel.start_button)
    qtbot.waitUntil(lambda: panel.progress.value() > 5, timeout=RUN_TIMEOUT_MS)
    thread = window.worker_thread

    started = time.perf_counter()
    window.close()
    seconds = time.perf_counter() - started
    assert thread is not None and thread.isFinished() and not thread.isRunning()
    assert seconds < 10, f"closing took {seconds:.1f} s"
    qtbot.waitUntil(lambda: panel.run.finished, timeout=5_000)  # the run's last word arrives late: no popup
    assert panel.error_box is None
    messages = [record.message for record in qtlog.records]
    assert not [m for m in messages if "Destroyed while thread" in m], messages
    print(f"window closed mid-run in {seconds * 1000:.0f} ms")


def test_settings_of_the_last_run_come_back_next_session(qtbot, window):
    panel = panel_of(window)
    set_up_run(qtbot, panel, lr="0.0123")
    click(qtbot, panel.start_button)
    wait_finished(qtbot, panel)
    again = TrainingPanel(window.session, window.runs)
    qtbot.addWidget(again)
    again.attach_worker(window.worker)
    assert again.form.lr_edit.text() == "0.0123" and again.form.model_combo.currentData() == "logreg"

