"""Look inside: weights, activations, saliency, evaluation and dataset views in the real window.

One window (with its JAX worker and the bundled CNN) serves the whole module;
each test puts the window back the way it found it.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings, Qt

from gui_helpers import close_shared_window, open_shared_window, show_dock, canvas_point, choose, drag
from mnist_desktop.core.data.datasets import load_dataset
from mnist_desktop.core.training.data_prep import model_array_for
from mnist_desktop.core.training.evaluation import evaluate
from mnist_desktop.core.analysis.insight import analyse_one
from mnist_desktop.core.models.networks import init_params
from mnist_desktop.core.data.preprocess import to_model_input
from mnist_desktop.core.training.trainer import default_config
from mnist_desktop.core.analysis.weights import (
    class_means,
    conv_connection_strength,
    conv_kernels,
    first_layer_units,
    layer_tiles,
    logreg_templates,
)
from mnist_desktop.core.analysis.overlay import input_region as saliency_region
from mnist_desktop.gui.run_history import RunRecord
from test_weights import correlation

pytestmark = pytest.mark.gui

INSIGHT_DOCKS = ("weights", "activations", "saliency", "evaluation", "datasets")
SEVEN = [(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)]


@pytest.fixture(scope="module")
def window(qapp):
    win = open_shared_window((1200, 800))
    yield win
    close_shared_window(win)


@pytest.fixture
def fresh(qtbot, window):
    """Empty canvas and the bundled model active before and after each test."""
    window.canvas.clear()
    yield window
    window.canvas.clear()
    if window.session.model.model_name != "cnn":
        window.load_default_model()
        qtbot.waitUntil(lambda: window.session.model.model_name == "cnn", timeout=20_000)


def activate(qtbot, window, model, params):
    window.session.activate(model, params, {"name": f"test-{model}", "dataset": "mnist-subset",
                                            "class_names": [str(i) for i in range(10)]})
    qtbot.waitUntil(lambda: window.session.model.model_name == model, timeout=20_000)


def blur(image: np.ndarray) -> np.ndarray:
    """3×3 box blur: tolerant of sub-pixel shifts when comparing digits."""
    padded = np.pad(np.asarray(image, np.float32), 1)
    h, w = np.shape(image)
    return sum(padded[i:i + h, j:j + w] for i in range(3) for j in range(3)) / 9


def draw_seven(qtbot, window):
    drag(qtbot, window.canvas, [canvas_point(window.canvas, x, y) for x, y in SEVEN])
    qtbot.waitUntil(lambda: window.prediction_view.predicted_label() is not None, timeout=10_000)


# --------------------------------------------------------------------------- docks


def test_views_are_tabbed_docks_with_an_explanation(window):
    for key in INSIGHT_DOCKS:
        dock = window.docks[key]
        assert dock.widget().explanation.text(), key
        assert dock.toggleViewAction() in window.view_menu.actions()
        assert window.tabifiedDockWidgets(dock), f"{key} is not tabbed with the other panels"


def test_export_writes_a_png_atomically(qtbot, fresh, tmp_path):
    view = show_dock(qtbot, fresh, "weights")
    target = tmp_path / "weights.png"
    target.write_bytes(b"old")
    view.export_png(target)
    with Image.open(target) as png:
        assert png.format == "PNG" and png.size[0] > view.width()  # the figure at ≥ 2× (test_figure_export.py)
    assert [p.name for p in tmp_path.iterdir()] == ["weights.png"]  # no temp file left behind


# --------------------------------------------------------------------------- weights


def test_weights_show_the_trained_logreg_templates(qtbot, fresh, trained_logreg):
    params, dataset = trained_logreg
    view = show_dock(qtbot, fresh, "weights")
    activate(qtbot, fresh, "logreg", params)
    view.refresh_now()
    page = view.pages["logreg"]
    assert view.stack.currentWidget() is page
    shown = page.mosaic.tiles()
    assert shown.shape == (10, 28, 28)
    np.testing.assert_array_equal(shown, logreg_templates(params))  # the data are the params
    assert page.mosaic.labels() == [str(i) for i in range(10)]
    lo, hi = page.mosaic.levels()
    assert lo == -hi and hi == pytest.approx(float(np.abs(shown).max()))  # symmetric around 0
    assert tuple(page.mosaic.colorbar.levels()) == (lo, hi)
    means = class_means(dataset.train_images, dataset.train_labels)
    assert correlation(shown[0], means[0]) > 0.3
    assert "logreg" in view.source_label.text() or "Logistic" in view.source_label.text()


def test_weights_refresh_live_while_training(qtbot, fresh, monkeypatch):
    view = show_dock(qtbot, fresh, "weights")
    shown = []
    real_show_params = view.show_params
    monkeypatch.setattr(view, "show_params", lambda model, params, names=None: (
        shown.append((model, view.source, logreg_templates(params) if model == "logreg" else None)),
        real_show_params(model, params, names)))
    config = default_config("logreg", dataset="mnist-subset", epochs=2, validation_split=0.0).to_dict()
    record = RunRecord(number=1, config=config)
    handle = fresh.runs.start(record, config)  # any starter's run: the view follows it
    with qtbot.waitSignal(handle.finished, timeout=60_000) as finished:
        pass
    assert finished.args[0]["status"] == "completed" and record.status == "completed"
    assert not view.following_training()
    live = [entry for entry in shown if "Live from the training run" in entry[1]]
    assert len(live) >= 3 and all(model == "logreg" for model, _, _ in live)  # every ~50 steps and each epoch
    assert not np.allclose(live[0][2], live[-1][2])  # the templates changed as it learned
    view.refresh_now()
    assert "Live" not in view.source_label.text()  # back to a model you can use


def test_weights_mlp_units_page_and_enlarge_on_click(qtbot, fresh):
    view = show_dock(qtbot, fresh, "weights")
    params = init_params("mlp", 1)
    activate(qtbot, fresh, "mlp", params)
    view.refresh_now()
    page = view.pages["mlp"]
    tiles, order, _ = first_layer_units(params)
    first = page.grid.tiles()
    np.testing.assert_allclose(first, tiles[:len(first)])
    assert page.grid.labels()[0] == f"#{order[0]}"
    assert first.shape[1:] == (28, 28) and 12 <= len(first) <= 60
    page.next_button.click()
    assert page.page == 1
    np.testing.assert_allclose(page.grid.tiles()[0], tiles[len(first)])
    qtbot.mouseClick(page.grid.viewport(), Qt.MouseButton.LeftButton, pos=page.grid.tile_center(2).toPoint())
    assert page.selected == len(first) + 2
    np.testing.assert_allclose(page.enlarged.tiles()[0], tiles[len(first) + 2])
    assert f"#{order[len(first) + 2]}" in page.enlarged_caption.text()


def test_weights_cnn_kernels_and_conv2_summary(qtbot, fresh):
    view = show_dock(qtbot, fresh, "weights")
    view.refresh_now()
    page = view.pages["cnn"]
    assert view.stack.currentWidget() is page
    params = fresh.session.model.params
    assert page.conv1.tiles().shape == conv_kernels(params).shape
    np.testing.assert_array_equal(page.conv1.tiles()[3], np.asarray(params["conv1"]["w"])[:, :, 0, 3])
    np.testing.assert_allclose(page.conv2.image_item.image, conv_connection_strength(params), rtol=1e-6)
    lo, hi = page.conv1.levels()
    assert lo == -hi > -np.inf


# --------------------------------------------------------------------------- activations and saliency


def test_activations_follow_the_drawing(qtbot, fresh):
    view = show_dock(qtbot, fresh, "activations")
    assert fresh.session.analysis_wanted()
    draw_seven(qtbot, fresh)
    qtbot.waitUntil(lambda: "conv2" in view.rows, timeout=10_000)
    view.refresh_now()
    assert list(view.rows) == ["input", "conv1", "conv2", "dense", "logits"]
    for layer in ("conv1", "conv2"):  # one picture per feature map, whatever the architecture
        value = view.activations[layer]
        assert value.ndim == 3
        np.testing.assert_allclose(view.rows[layer].view.tiles(), layer_tiles(value))
        assert f"{value.shape[-1]} maps {value.shape[0]}×{value.shape[1]}" in view.rows[layer].caption.text()
    assert view.rows["dense"].view.tiles().shape[0] == view.activations["dense"].shape[0]
    assert "highest: 7" in view.rows["logits"].caption.text()
    np.testing.assert_allclose(view.activations["input"][..., 0], fresh.session.model_input, atol=1e-6)
    fresh.canvas.clear()
    qtbot.waitUntil(lambda: not view.activations, timeout=5_000)
    assert view.placeholder.isVisible()


def test_no_analysis_when_no_view_needs_it(qtbot, fresh):
    show_dock(qtbot, fresh, "activations")
    assert fresh.session.analysis_wanted()
    evaluation = show_dock(qtbot, fresh, "evaluation")  # the activations tab is no longer selected
    assert not fresh.docks["activations"].widget().is_on_screen() and evaluation.is_on_screen()
    assert not fresh.session.analysis_wanted()


def test_saliency_of_the_drawing(qtbot, fresh):
    view = show_dock(qtbot, fresh, "saliency")
    draw_seven(qtbot, fresh)
    qtbot.waitUntil(lambda: view.saliency is not None, timeout=10_000)
    saliency, image = view.saliency, view.model_input
    assert saliency.shape == image.shape == (28, 28)
    ink = image > 0.5
    assert saliency.max() == pytest.approx(1.0) and saliency.min() >= 0
    assert saliency[ink].mean() > 0 and np.count_nonzero(saliency[ink]) > 0.9 * ink.sum()
    assert saliency[ink].mean() > saliency[image == 0].mean()  # the ink matters more than the paper
    assert "saliency" in fresh.input_view.shown_text()  # overlaid on "what the model sees"
    assert "“7”" in view.explanation.text()
    expected = analyse_one("cnn", fresh.session.model.params, image, "integrated").attribution  # the signed map beside it
    np.testing.assert_allclose(view.heat_view.tiles()[0], expected, atol=1e-5)
    assert view.heat_caption.text() == "Red raises the score of “7”, blue lowers it"

    assert not fresh.canvas.has_overlay()
    view.canvas_box.setChecked(True)
    assert fresh.canvas.has_overlay() and view.region is not None
    x, y, w, h = view.region
    assert w == pytest.approx(h, rel=0.2) and 300 < w < 1500  # the 28×28 frame, bigger than the digit
    view.canvas_box.setChecked(False)
    assert not fresh.canvas.has_overlay()
    show_dock(qtbot, fresh, "weights")
    assert fresh.input_view.shown_text().endswith("pixels")  # overlay gone with the view


def test_saliency_method_switches_live_and_is_remembered(qtbot, fresh):
    view = show_dock(qtbot, fresh, "saliency")
    assert view.method_combo.currentText() == "Integrated gradients"  # the default: it lies on the strokes
    draw_seven(qtbot, fresh)
    qtbot.waitUntil(lambda: view.saliency is not None, timeout=10_000)
    integrated = view.saliency.copy()
    assert not integrated[view.model_input == 0].any() and "integrated gradients" in view.explanation.text()

    choose(view.method_combo, "gradient")  # no new stroke: the drawing is analysed again at once
    qtbot.waitUntil(lambda: view.saliency is not None and view.saliency[view.model_input == 0].any(), timeout=10_000)
    expected = analyse_one("cnn", fresh.session.model.params, view.model_input, "gradient").saliency
    np.testing.assert_allclose(view.saliency, expected, atol=1e-5)
    assert "∂ score / ∂ pixel" in view.explanation.text()
    assert QSettings().value("insight/saliency_method") == "gradient"
    choose(view.method_combo, "integrated")
    qtbot.waitUntil(lambda: not view.saliency[view.model_input == 0].any(), timeout=10_000)
    np.testing.assert_allclose(view.saliency, integrated, atol=1e-5)


def test_saliency_region_lines_up_with_the_ink():
    canvas = np.zeros((560, 560), np.float32)
    canvas[100:400, 240:300] = 1.0  # a thick "1"
    canvas[100:140, 200:300] = 1.0
    model_input = to_model_input(canvas)
    x, y, w, h = saliency_region(canvas, model_input)
    hits = []
    for r, c in zip(*np.nonzero(model_input > 0.5)):
        cx, cy = x + (c + 0.5) * w / 28, y + (r + 0.5) * h / 28
        hits.append(canvas[int(np.clip(cy, 0, 559)), int(np.clip(cx, 0, 559))] > 0)
    assert np.mean(hits) > 0.95
    assert w == pytest.approx(28 * 300 / 20, rel=0.05)  # the 300-px tall box became 20 model pixels
    assert saliency_region(np.zeros((560, 560)), model_input) is None


# --------------------------------------------------------------------------- evaluation


def test_evaluation_confusion_matrix_and_mistakes(qtbot, fresh):
    view = show_dock(qtbot, fresh, "evaluation")
    view.dataset_box.setCurrentIndex(view.dataset_box.findData("mnist-subset"))
    qtbot.mouseClick(view.evaluate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.result is not None, timeout=60_000)
    result = view.result
    dataset = load_dataset("mnist-subset")
    confusion = result["confusion"]
    assert confusion.shape == (10, 10) and confusion.sum() == len(dataset.test_labels) == 1000
    assert np.trace(confusion) == int((result["predictions"] == result["labels"]).sum())
    # the digits as the app reads them: width-normalised like every drawing (core/training/data_prep.py)
    expected = evaluate("cnn", fresh.session.model.params, model_array_for("mnist-subset", dataset.test_images),
                        dataset.test_labels)
    np.testing.assert_array_equal(confusion, expected.confusion)
    assert f"{np.trace(confusion):,} of 1,000" in view.summary.text()
    assert view.matrix.cell_texts()[0] == str(confusion[0, 0])

    view.percent_button.setChecked(True)
    assert view.matrix.cell_texts()[0] == f"{100 * confusion[0, 0] / confusion[0].sum():.0f}"

    mistakes = np.flatnonzero(result["labels"] != result["predictions"])
    assert sorted(view.gallery_indices()) == sorted(mistakes.tolist())
    wrong = np.argwhere(confusion * (1 - np.eye(10, dtype=int)) > 0)[0]
    pos = view.matrix.cell_center(int(wrong[0]), int(wrong[1])).toPoint()
    qtbot.mouseClick(view.matrix.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert view.cell == (wrong[0], wrong[1])
    in_cell = np.flatnonzero((result["labels"] == wrong[0]) & (result["predictions"] == wrong[1]))
    assert sorted(view.gallery_indices()) == sorted(in_cell.tolist())

    # click a mistake: it goes onto the canvas and is what the model now reads
    item = view.gallery.item(0)
    index = view.gallery_indices()[0]
    qtbot.mouseClick(view.gallery.viewport(), Qt.MouseButton.LeftButton,
                     pos=view.gallery.visualItemRect(item).center())
    assert not fresh.canvas.is_empty()
    qtbot.waitUntil(lambda: fresh.session.model_input is not None, timeout=5_000)
    # the canvas round trip (28 → 560 px → 28) moves thin strokes by a fraction of a pixel, so compare
    # slightly blurred pictures: the model now reads this image, and no other test image matches better
    similarity = [correlation(blur(fresh.session.model_input), blur(to_model_input(image.astype(np.float32) / 255)))
                  for image in dataset.test_images]
    assert similarity[index] > 0.75 and int(np.argmax(similarity)) == index
    qtbot.waitUntil(lambda: fresh.prediction_view.predicted_label() is not None, timeout=10_000)


def test_evaluation_explains_a_missing_dataset(qtbot, fresh):
    view = show_dock(qtbot, fresh, "evaluation")
    view.dataset_box.setCurrentIndex(view.dataset_box.findData("fashion-mnist"))
    view.request_evaluation()
    assert "not downloaded" in view.summary.text() and "mnist-desktop download fashion-mnist" in view.summary.text()
    assert view.evaluate_button.isEnabled()


# --------------------------------------------------------------------------- dataset browser


def test_dataset_browser_filters_counts_and_means(qtbot, fresh):
    view = show_dock(qtbot, fresh, "datasets")
    view.load("mnist-subset")
    qtbot.waitUntil(lambda: view.loaded is not None and view.loaded.dataset.name == "mnist-subset", timeout=20_000)
    dataset = load_dataset("mnist-subset")
    assert view.grid.count() == 100 and view.counts.tolist() == [600] * 10
    np.testing.assert_allclose(view.means_view.tiles(), class_means(dataset.train_images, dataset.train_labels))
    view.class_box.setCurrentIndex(view.class_box.findData(3))
    assert all(dataset.train_labels[i] == 3 for i in view.shown_indices())
    assert view.page_label.text() == "1–100 of 600"
    view.next_button.click()
    assert view.page_label.text() == "101–200 of 600"
    view.split_box.setCurrentIndex(view.split_box.findData("test"))
    assert view.counts.sum() == 1000 and all(dataset.test_labels[i] == 3 for i in view.shown_indices())
    first = view.grid.item(0)
    view.grid.itemActivated.emit(first)  # double-click: onto the canvas
    assert not fresh.canvas.is_empty()
    view.class_box.setCurrentIndex(0)


def test_dataset_browser_says_how_to_get_a_missing_dataset(qtbot, fresh):
    view = show_dock(qtbot, fresh, "datasets")
    view.load("mnist")
    qtbot.waitUntil(lambda: not view.is_loading(), timeout=20_000)
    if view.loaded is not None and view.loaded.dataset.name == "mnist":
        pytest.skip("full MNIST is installed on this machine")
    assert "not available" in view.message.text()
    assert "mnist-desktop download mnist" in view.placeholder.text() and view.pages.currentIndex() == 0
    assert view.grid.count() == 0
    view.load("mnist-subset")
    qtbot.waitUntil(lambda: view.loaded is not None, timeout=20_000)


def test_a_custom_network_shows_in_weights_activations_and_saliency(qtbot, fresh):
    """Any spec: the first layer's kernels as today, the next layer summarised; every
    weighted layer's activations in network order; a saliency map."""
    model = "conv:6:5:2,relu,maxpool,conv:4:3,gelu,flatten,dense:12,tanh"
    params = init_params(model, seed=1)
    activate(qtbot, fresh, model, params)
    weights = show_dock(qtbot, fresh, "weights")
    weights.refresh_now()
    assert weights.stack.currentWidget() is weights.pages["cnn"]
    assert weights.sets[0].tiles.shape == (6, 5, 5) and weights.sets[1].tiles.shape == (1, 6, 4)
    assert "Your network" in weights.explanation.text()
    activations = show_dock(qtbot, fresh, "activations")
    draw_seven(qtbot, fresh)
    qtbot.waitUntil(lambda: "dense1" in activations.rows, timeout=20_000)
    activations.refresh_now()
    assert list(activations.rows) == ["input", "conv1", "conv2", "dense1", "logits"]
    saliency = show_dock(qtbot, fresh, "saliency")
    qtbot.waitUntil(lambda: saliency.saliency is not None, timeout=20_000)
    assert saliency.saliency.shape == (28, 28)
