"""Sweeps in the training dock: runs one after another, results plotted, best one click away, stoppable."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from gui_helpers import choose, click, type_into
from training_helpers import RUN_TIMEOUT_MS, panel_of

pytestmark = pytest.mark.gui


def _set_up(qtbot, panel, layers, epochs="0.3"):
    form, editor = panel.form, panel.arch_editor
    choose(form.dataset_combo, "mnist-subset")
    type_into(qtbot, editor.compact_edit, layers)
    qtbot.keyClick(editor.compact_edit, Qt.Key.Key_Return)
    type_into(qtbot, form.epochs_edit, epochs)
    assert not form.errors, form.errors
    box = panel.sweep_box
    box.setChecked(True)  # unfold it, as a click on its title does
    assert box.body.isVisible()
    return box


def test_a_width_sweep_runs_each_value_plots_them_and_uses_the_best(qtbot, training_window):
    panel = panel_of(training_window)
    box = _set_up(qtbot, panel, "dense:8,relu")
    widths = [box.param_combos[0].itemText(i) for i in range(box.param_combos[0].count())]
    assert "Width of layer 1 (Dense 8)" in widths
    choose(box.param_combos[0], "width@1")
    type_into(qtbot, box.value_edits[0], "4, 64")
    with qtbot.waitSignal(box.finished, timeout=2 * RUN_TIMEOUT_MS) as ended:
        click(qtbot, box.run_button)
        assert "Run 1 of 2: width=4" in box.status_label.text() and box.stop_button.isEnabled()
        # the second run starts by itself when the first ends
        qtbot.waitUntil(lambda: len(box.records) == 1 and panel.run.model == "dense:64,relu", timeout=RUN_TIMEOUT_MS)
        assert box.records[0] in panel.chart_overlay()  # the live chart draws it under the new run
    assert ended.args == ["completed"]
    runs = panel.history.runs()
    assert [r.model for r in runs[-2:]] == ["dense:4,relu", "dense:64,relu"]  # both kept in the history
    results = box.results()
    assert [v for v, _ in results] == [(4,), (64,)] and all(acc is not None for _, acc in results)
    assert results[1][1] > results[0][1]
    assert "best: width=64" in box.status_label.text()
    assert len(box.plot.listDataItems()) == 2  # the line and the star on the best
    click(qtbot, box.best_button)
    qtbot.waitUntil(lambda: panel.session.model is not None and panel.session.model.model_name == "dense:64,relu",
                    timeout=30_000)


def test_two_settings_make_a_heat_map_and_stop_keeps_finished_runs(qtbot, training_window):
    panel = panel_of(training_window)
    # long enough (5 epochs, ~190 steps) that the second run is still training when Stop
    # arrives: at 0.2 epochs it could finish first on a quiet machine
    box = _set_up(qtbot, panel, "dense:8,relu", epochs="5")
    choose(box.param_combos[0], "learning_rate")
    type_into(qtbot, box.value_edits[0], "0.001, 0.01")
    choose(box.param_combos[1], "width@1")
    type_into(qtbot, box.value_edits[1], "4, 8")
    with qtbot.waitSignal(box.finished, timeout=2 * RUN_TIMEOUT_MS) as ended:
        click(qtbot, box.run_button)
        qtbot.waitUntil(lambda: len(box.records) == 1 and panel.state == "running", timeout=RUN_TIMEOUT_MS)
        click(qtbot, box.stop_button)
    assert ended.args == ["stopped"]
    assert [r.status for r in box.records] == ["completed", "stopped"]
    assert "Sweep stopped: 2 of 4 runs finished" in box.status_label.text()
    assert box.run_button.isEnabled() and box.best_button.isEnabled()
    import pyqtgraph as pg

    images = [item for item in box.plot.getPlotItem().items if isinstance(item, pg.ImageItem)]
    assert len(images) == 1 and images[0].image.shape == (2, 2)  # learning rate × width, 2 of 4 cells filled


def test_a_bad_value_is_refused_before_anything_trains(qtbot, training_window):
    panel = panel_of(training_window)
    box = _set_up(qtbot, panel, "dense:8,relu")
    choose(box.param_combos[0], "batch_size")
    type_into(qtbot, box.value_edits[0], "16, 0")
    runs_before = len(panel.history.runs())
    click(qtbot, box.run_button)
    assert "Cannot sweep: batch_size" in box.status_label.text() and not box.running
    assert len(panel.history.runs()) == runs_before
