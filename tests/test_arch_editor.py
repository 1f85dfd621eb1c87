"""The architecture editor in the training dock, driven as a person drives it."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from gui_helpers import choose, click, type_into
from training_helpers import RUN_TIMEOUT_MS, panel_of, wait_finished

pytestmark = pytest.mark.gui


def _cells(editor, column):
    return [editor.table.item(row, column).text() for row in range(editor.table.rowCount())]


def _select(qtbot, editor, row):
    rect = editor.table.visualItemRect(editor.table.item(row, 0))
    qtbot.mouseClick(editor.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def _add(editor, title):
    action = next(a for a in editor.add_button.menu().actions() if a.text() == title)
    action.trigger()  # what a click on the entry of the Add menu does


def test_presets_and_the_model_list_follow_each_other(qtbot, training_window):
    panel = panel_of(training_window)
    editor, form = panel.arch_editor, panel.form
    choose(form.model_combo, "mlp")
    assert _cells(editor, 0)[:4] == ["1. Dense 300", "2. ReLU", "3. Dense 100", "4. ReLU"]
    assert _cells(editor, 1) == ["300", "300", "100", "100", "10"]
    assert "266,610" in editor.totals_label.text()
    click(qtbot, editor.preset_buttons["flax-cnn"])
    assert form.model_combo.currentData() == "flax-cnn"
    assert _cells(editor, 1)[:3] == ["28×28×32", "28×28×32", "14×14×32"] and "824,458" in editor.totals_label.text()
    assert "4.64 M" in editor.totals_label.text()
    click(qtbot, editor.preset_buttons["logreg"])
    assert form.model_combo.currentData() == "logreg" and _cells(editor, 0) == ["Output · dense 10 (automatic)"]


def test_editing_layers_shows_shapes_costs_and_blocks_start_while_invalid(qtbot, training_window):
    panel = panel_of(training_window)
    editor, form = panel.arch_editor, panel.form
    choose(form.dataset_combo, "mnist-subset")
    click(qtbot, editor.preset_buttons["cnn"])
    _select(qtbot, editor, 3)  # conv 64 3×3
    spin = editor.field_widgets["kernel"]
    spin.setValue(7)  # a person typing 7: larger than the 6×6 input
    assert not editor.error_label.isHidden()
    assert "layer 4 (conv) kernel: 7 is larger than its 6×6 input" in editor.error_label.text()
    assert editor.table.item(3, 0).foreground().color().name() == "#c62828"
    assert _cells(editor, 1)[3:] == ["—"] * 5 and editor.model_name is None
    assert not panel.start_button.isEnabled() and "model" in form.errors
    editor.field_widgets["kernel"].setValue(3)
    assert editor.error_label.isHidden() and panel.start_button.isEnabled()
    assert form.model_combo.currentData() == "cnn"  # the same layers as the preset: it is the preset
    # make it custom: insert dropout after the dense layer's ReLU, move it up, remove the second conv
    _select(qtbot, editor, 6)
    _add(editor, "Dropout")
    assert _cells(editor, 0)[7] == "8. Dropout 0.5"
    click(qtbot, editor.up_button)
    assert _cells(editor, 0)[6] == "7. Dropout 0.5"
    _select(qtbot, editor, 3)
    click(qtbot, editor.remove_button)
    click(qtbot, editor.remove_button)  # conv and its ReLU
    model = "conv:32:5:2:valid,relu,maxpool:2,dense:128,dropout:0.5,relu"
    assert editor.compact_edit.text() == model and form.model_combo.currentData() == model
    assert form.model_combo.currentText().startswith("Custom network — 149,706 parameters")
    assert panel.start_button.isEnabled()
    # typing the stack as text replaces the layers; a bad text says why and keeps them
    type_into(qtbot, editor.compact_edit, "dense:64")
    qtbot.keyClick(editor.compact_edit, Qt.Key.Key_Return)
    assert "adds nothing" in editor.error_label.text() and not panel.start_button.isEnabled()
    type_into(qtbot, editor.compact_edit, "conv:8:40")
    qtbot.keyClick(editor.compact_edit, Qt.Key.Key_Return)
    assert "Text not used: layer 1 (conv) kernel: 40 is out of range" in editor.error_label.text()
    assert _cells(editor, 0)[0] == "1. Dense 64"


def test_a_custom_network_trains_and_its_weights_show(qtbot, training_window):
    panel = panel_of(training_window)
    editor, form = panel.arch_editor, panel.form
    choose(form.dataset_combo, "mnist-subset")
    type_into(qtbot, editor.compact_edit, "conv:6:5:2,relu,maxpool,dense:24,tanh")
    qtbot.keyClick(editor.compact_edit, Qt.Key.Key_Return)
    type_into(qtbot, form.epochs_edit, "0.3")
    assert not form.errors, form.errors
    click(qtbot, panel.start_button)
    assert not editor.isEnabled()  # no edits while it trains
    wait_finished(qtbot, panel, RUN_TIMEOUT_MS)
    assert panel.run.status == "completed" and panel.run.model == "conv:6:5:2:valid,relu,maxpool:2,dense:24,tanh"
    assert editor.isEnabled()
    from mnist_desktop.core.analysis.weights import weight_tile_sets

    sets = weight_tile_sets(panel.run.model, panel.run.params)
    assert sets[0].tiles.shape == (6, 5, 5) and sets[1].tiles.shape == (1, 6, 24)
