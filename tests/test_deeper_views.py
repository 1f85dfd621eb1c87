"""Map, step-through and fool-it views in the real window, driven as a person would."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from gui_helpers import close_shared_window, open_shared_window, show_dock, canvas_point, click, drag
from mnist_desktop.core.analysis.projection import tsne_available
from mnist_desktop.core.analysis.stepthrough import conv_cell, walk
from mnist_desktop.gui.insight.step_text import num

pytestmark = pytest.mark.gui

SEVEN = [(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)]


@pytest.fixture(scope="module")
def window(qapp):
    win = open_shared_window((1400, 900))
    yield win
    close_shared_window(win)


@pytest.fixture
def fresh(window):
    window.canvas.clear()
    yield window
    window.canvas.clear()


def draw_seven(qtbot, window):
    drag(qtbot, window.canvas, [canvas_point(window.canvas, x, y) for x, y in SEVEN])
    qtbot.waitUntil(lambda: window.session.probabilities is not None, timeout=10_000)


def map_with_a_pca_map(qtbot, window):
    """The Map dock on screen with its PCA map made (made here unless an earlier test did)."""
    view = show_dock(qtbot, window, "map")
    if view._data is None:
        qtbot.waitUntil(lambda: view.make_button.isEnabled(), timeout=20_000)
        click(qtbot, view.make_button)
        qtbot.waitUntil(lambda: view._data is not None, timeout=60_000)
    return view


def test_the_three_views_are_tabbed_docks_with_an_explanation(window):
    for key in ("map", "step", "fool"):
        dock = window.docks[key]
        assert dock.widget().explanation.text(), key
        assert window.tabifiedDockWidgets(dock)


def test_map_shows_the_test_digits_the_drawing_and_a_clicked_digit_goes_to_the_canvas(qtbot, fresh, tmp_path):
    view = show_dock(qtbot, fresh, "map")
    qtbot.waitUntil(lambda: view.layer_combo.count() == 5, timeout=20_000)
    assert view.layer_combo.currentData() == "dense"  # the layer before the logits
    click(qtbot, view.make_button)
    qtbot.waitUntil(lambda: view._data is not None, timeout=60_000)
    n = len(view._data["coords"])
    assert n == 1000 and "bundled subset" in view.status.text()  # no full MNIST in the test set-up
    assert len(view.scatter.points()) == n and "PCA map of dense" in view.explanation.text()
    wrong = (view._data["predictions"] != view._data["labels"]).sum()
    assert f"× marks the {wrong}" in view.explanation.text()
    draw_seven(qtbot, fresh)
    qtbot.waitUntil(lambda: view.point is not None, timeout=10_000)
    first = view.point.copy()
    # the live point sits among the sevens
    sevens = view._data["coords"][view._data["labels"] == 7]
    others = view._data["coords"][view._data["labels"] != 7]
    d = lambda pts: np.median(np.linalg.norm(pts - first, axis=1))
    assert d(sevens) < d(others)
    # click a dot: that test digit goes to the canvas and the point moves onto it
    index = int(np.flatnonzero(view._data["labels"] == 3)[0])
    scene = view.plot.vb.mapViewToScene(QPointF(*view._data["coords"][index]))
    pos = view.plot_widget.mapFromScene(scene)
    qtbot.mouseMove(view.plot_widget.viewport(), pos)
    qtbot.mouseClick(view.plot_widget.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    qtbot.waitUntil(lambda: view.point is not None and not np.allclose(view.point, first), timeout=10_000)
    assert fresh.session.predicted_class() is not None
    view.show_preview(index)
    assert "a 3" in view.preview_text.text() and not view.preview.pixmap().isNull()
    assert view.export_png(tmp_path / "map.png").stat().st_size > 1000


@pytest.mark.skipif(not tsne_available(), reason="openTSNE (the [maps] extra) is not installed")
def test_tsne_shows_progress_and_cancels_mid_way_while_the_pca_map_stays(qtbot, fresh):
    view = map_with_a_pca_map(qtbot, fresh)
    pca = np.array(view._data["coords"])
    click(qtbot, view.tsne_button)
    assert view.tsne_button.text() == "Cancel t-SNE" and view.progress.isVisible()
    qtbot.waitUntil(lambda: view.progress.maximum() > 0 and view.progress.value() > 0, timeout=120_000)
    assert view.progress.value() < view.progress.maximum()  # mid-way
    click(qtbot, view.tsne_button)
    qtbot.waitUntil(lambda: "cancelled" in view.status.text(), timeout=60_000)
    assert not view.progress.isVisible() and view.tsne_button.text() == "Compute t-SNE"
    np.testing.assert_allclose(view.scatter.getData()[0], pca[:, 0], rtol=1e-5)


def test_step_through_shows_the_models_own_numbers_page_by_page(qtbot, fresh):
    view = show_dock(qtbot, fresh, "step")
    draw_seven(qtbot, fresh)
    qtbot.waitUntil(lambda: view.result is not None, timeout=20_000)
    assert view.page_combo.count() == 10 and view.page_combo.currentIndex() == 0
    page = view.result["page"]
    stages = walk("cnn", fresh.session.model.params, fresh.session.model_input)
    cell = conv_cell(stages[0], *page.cell)
    assert np.isclose(cell.total, stages[0].output[page.cell], atol=1e-4)
    assert num(cell.total) in view.text.text()  # the sum printed is the model's value for that cell
    np.testing.assert_allclose(view.pictures[2].values, cell.products[..., 0], atol=1e-6)
    assert len(view.pictures[1].numbers()) == 25  # the 5×5 kernel, its numbers written in
    # click another output cell: its arithmetic is shown
    target = view.pictures[3].cell_center(3, 4)
    qtbot.mouseClick(view.pictures[3].viewport(), Qt.MouseButton.LeftButton, pos=target)
    qtbot.waitUntil(lambda: view.result["page"].cell[:2] == (3, 4), timeout=10_000)
    assert view.pictures[0].frame_rect().topLeft() == QPointF(8, 6)  # stride 2: window at row 6, column 8
    # the last page: softmax; a low temperature sharpens the probabilities
    view.go(view.page_combo.count() - 1)
    qtbot.waitUntil(lambda: view.result["page"].stage.op.kind == "softmax", timeout=10_000)
    at_one = view.result["page"].probabilities.max()
    # the model's own softmax at T = 1 (the bars show it temperature-calibrated when the model carries a temperature)
    logits = np.asarray(stages[-1].output if stages[-1].op.kind != 'softmax' else stages[-2].output, np.float64).ravel()
    raw = np.exp(logits - logits.max())
    np.testing.assert_allclose(view.result["page"].probabilities, raw / raw.sum(), atol=1e-5)
    view.temperature.setValue(8)  # T ≈ 6.3
    qtbot.waitUntil(lambda: view.result["page"].temperature > 6, timeout=10_000)
    assert view.result["page"].probabilities.max() < at_one and "T = 6.31" in view.text.text()
    view.temperature.setValue(0)
    click(qtbot, view.prev_button)
    qtbot.waitUntil(lambda: view.result["page"].stage.op.kind == "dense", timeout=10_000)
    assert "The largest contributions" in view.text.text()


def test_fool_it_flips_the_answer_within_the_budget_and_puts_it_on_the_canvas(qtbot, fresh):
    view = show_dock(qtbot, fresh, "fool")
    draw_seven(qtbot, fresh)
    qtbot.waitUntil(lambda: "(model's answer)" in view.target_combo.itemText(7), timeout=10_000)
    view.target_combo.setCurrentIndex(2)  # 7 → 2: a neighbour within the default budget
    click(qtbot, view.fool_button)
    qtbot.waitUntil(lambda: view.result is not None, timeout=30_000)
    result = view.result
    assert result.success and result.size() <= view.eps_spin.value() + 1e-6
    assert "Fooled: the model now answers 2" in view.attack_text.text()
    assert "Drawing + change: 2" in view.image_captions[2].text()
    np.testing.assert_allclose(view.images[2].values, result.adversarial, atol=1e-6)
    before = fresh.session.model_input.copy()
    click(qtbot, view.canvas_button)
    qtbot.waitUntil(lambda: fresh.session.model_input is not None and not np.allclose(fresh.session.model_input, before),
                    timeout=10_000)
    qtbot.waitUntil(lambda: "On the canvas the model reads" in view.attack_text.text(), timeout=10_000)
    read = fresh.session.class_names()[fresh.session.predicted_class()]  # what the prediction panel shows
    assert f"reads {read} (" in view.attack_text.text()
    view.tabs.setCurrentIndex(1)
    click(qtbot, view.sweep_drawing)
    qtbot.waitUntil(lambda: len(view.curves["drawing"]) == 5, timeout=60_000)
    items = view.curve_plot.getPlotItem().listDataItems()
    assert len(items) == 1 and len(items[0].getData()[0]) == 13
    view.level_slider.setValue(view.level_slider.maximum())
    qtbot.waitUntil(lambda: "Rotation 90" in view.probe_text.text(), timeout=10_000)


def test_the_map_is_remade_after_each_training_epoch_when_asked(qtbot, fresh):
    from training_helpers import panel_of, set_up_run, wait_finished

    view = map_with_a_pca_map(qtbot, fresh)
    before = np.array(view._data["coords"])
    view.epoch_box.setChecked(True)
    panel = panel_of(fresh)
    fresh.docks["training"].raise_()
    set_up_run(qtbot, panel, model="mlp", epochs="1")
    click(qtbot, panel.start_button)
    qtbot.waitUntil(lambda: view._data.get("epoch"), timeout=120_000)
    assert "refreshed after an epoch" in view.explanation.text()
    assert view._data["model_name"] == "mlp" and view._data["layer"] == "hidden2"  # the run's own layers
    assert view._data["coords"].shape == before.shape and not np.allclose(view._data["coords"], before)
    wait_finished(qtbot, panel)
    view.epoch_box.setChecked(False)
