"""The "My handwriting" panel driven like a person: draw, label, fix, trade, measure, fine-tune."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from gui_helpers import canvas_point, drag, open_main_window, wait_for_worker
from mnist_desktop.core.paths import bundled_model_path
from mnist_desktop.core.handwriting.finetune import FinetuneOptions
from mnist_desktop.core.handwriting.store import HandwritingSet
from handwriting_helpers import fill

pytestmark = pytest.mark.gui

EURO_ONE = [(0.3, 0.45), (0.6, 0.1), (0.58, 0.9)]  # long up-stroke: the default model reads a 7


@pytest.fixture
def window(qtbot, monkeypatch, tmp_path):
    """The main window with the training and handwriting docks, worker started, bundled model active.

    Settings and the user folder are per test: "Use the tuned model" must not
    leave a last-used model behind for other tests.
    """
    monkeypatch.setenv("MNIST_DESKTOP_HOME", str(tmp_path / "home"))  # a fresh handwriting set per test
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: None)
    win = open_main_window(qtbot, monkeypatch, tmp_path, keep_docks=("training", "handwriting"), size=(1200, 800))
    win.docks["handwriting"].raise_()
    yield win
    win.close()


@pytest.fixture
def panel(window):
    return window.docks["handwriting"].widget()


def draw(qtbot, window, points):
    drag(qtbot, window.canvas, [canvas_point(window.canvas, x, y) for x, y in points])


def draw_and_wait(qtbot, window, panel, points=EURO_ONE) -> int:
    """Draw, then wait for the answer to the *finished* drawing (not a mid-stroke one)."""
    draw(qtbot, window, points)
    wait_for_worker(qtbot, window.worker)  # every answer asked for so far has arrived
    assert panel.collect.current_prediction() is not None
    return panel.collect.current_prediction()


def on_disk(window) -> HandwritingSet:
    return HandwritingSet.load()


def test_panel_is_a_dock_with_an_empty_set(panel, window, tmp_path):
    assert window.docks["handwriting"].windowTitle() == "My handwriting"
    assert panel.store.root == tmp_path / "home" / "personal"
    assert panel.gallery.grid.count() == 0 and "(0)" in panel.gallery.title.text()
    assert not panel.collect.add_button.isEnabled()  # nothing drawn yet
    assert not panel.results.tune_button.isEnabled()


def test_add_correct_relabel_delete_export_import(qtbot, window, panel, tmp_path):
    predicted = draw_and_wait(qtbot, window, panel)  # a European 1: MNIST models often say 7
    assert panel.collect.picker.value() == predicted  # the label follows the prediction until the person picks
    qtbot.mouseClick(panel.collect.picker.group.button(1), Qt.MouseButton.LeftButton)
    assert panel.collect.add_button.isEnabled()
    with qtbot.waitSignal(panel.samplesChanged):
        qtbot.mouseClick(panel.collect.add_button, Qt.MouseButton.LeftButton)
    assert panel.gallery.grid.count() == 1 and window.canvas.is_empty()  # cleared for the next one
    saved = on_disk(window)
    [first] = saved.samples
    # saved as a correction when the model read something else, with what it read
    assert (first.label, first.source, first.predicted) == (1, "example" if predicted == 1 else "correction", predicted)
    assert saved.drawing_path(first.id).is_file() and saved.input_path(first.id).is_file()
    np.testing.assert_allclose(np.load(saved.input_path(first.id), allow_pickle=False), panel.store.model_input(first.id))
    assert "Saved as 1" in panel.collect.status_label.text()

    # "Correct it…": the menu offers every digit but the one the model read
    predicted = draw_and_wait(qtbot, window, panel, [(0.5, 0.15), (0.5, 0.85)])
    assert not panel.collect.correct_actions[predicted].isEnabled()
    wrong = (predicted + 3) % 10
    panel.collect.correct_actions[wrong].trigger()
    second = on_disk(window).samples[-1]
    assert (second.label, second.source, second.predicted) == (wrong, "correction", predicted)

    # relabel with a digit key on the selected thumbnail, then delete with the Delete key
    panel.gallery.select_ids([second.id])
    qtbot.keyClick(panel.gallery.grid, Qt.Key.Key_4)
    assert on_disk(window).get(second.id).label == 4
    assert panel.gallery.grid.item(1).text().startswith("4")

    archive = tmp_path / "mine.zip"
    assert panel.gallery.export_to(archive) and archive.stat().st_size > 0
    panel.gallery.select_ids([first.id, second.id])
    assert panel.gallery.delete_selected(confirm=False) == 2
    assert panel.gallery.grid.count() == 0 and len(on_disk(window)) == 0
    assert not any(panel.store.root.joinpath("samples").iterdir())

    report = panel.gallery.import_from(archive)
    assert len(report.added) == 2 and not report.skipped
    assert sorted(s.label for s in on_disk(window).samples) == [1, 4]
    assert panel.gallery.grid.count() == 2 and "Imported 2" in panel.collect.status_label.text()

    # a broken file is refused with a message, nothing changes
    (tmp_path / "junk.zip").write_bytes(b"nope")
    assert panel.gallery.import_from(tmp_path / "junk.zip") is None
    assert "not a zip" in panel.collect.status_label.text() and panel.gallery.grid.count() == 2


def test_guided_session_collects_a_balanced_set(qtbot, window, panel):
    panel.collect.start_session(times=2)
    assert panel.collect.session_widgets.isVisible() and not panel.collect.label_box.isEnabled()
    prompts = []
    for i in range(20):
        text = panel.collect.session_prompt_text()
        prompts.append(text)
        match = re.fullmatch(r"Draw an? (\d)  \((\d) of 2\)", text)
        assert match, text
        assert window.canvas.prompt() == text.split("  (")[0]  # big on the canvas, where the person looks
        if i == 5:
            panel.collect.session_skip_prompt()
            continue
        assert not panel.collect.session_next.isEnabled()  # nothing drawn yet
        draw(qtbot, window, [(0.5, 0.2), (0.45, 0.8)])
        assert panel.collect.session_next.isEnabled()
        qtbot.mouseClick(panel.collect.session_next, Qt.MouseButton.LeftButton)
    assert not panel.collect.session_widgets.isVisible() and panel.collect.label_box.isEnabled()
    digits = [int(re.search(r"\d", p).group()) for p in prompts]
    assert digits == list(range(10)) * 2  # a predictable order: 0 to 9, round after round
    assert window.canvas.prompt() is None  # the session is over: no prompt left on the canvas
    assert any("Draw an 8" in p for p in prompts)
    saved = on_disk(window)
    assert len(saved) == 19 and all(s.source == "session" for s in saved.samples)
    assert sorted(saved.counts().tolist()) == [1] + [2] * 9
    assert "19 drawings added, 1 skipped" in panel.collect.status_label.text()


def test_measure_and_finetune_through_the_worker(qtbot, window, panel, tmp_path):
    fill(panel.store.root, 4)
    panel.reload()
    assert panel.gallery.grid.count() == 40
    panel.tabs.setCurrentIndex(1)
    with qtbot.waitSignal(panel.measured, timeout=30_000) as measured:
        qtbot.mouseClick(panel.results.measure_button, Qt.MouseButton.LeftButton)
    result = measured.args[0]
    assert result["count"] == 40 and 0 < result["accuracy"] < 1
    assert result["mnist_dataset"] == "mnist-subset" and result["mnist_accuracy"] > 0.9
    assert panel.results.handwriting_score.text() == f"{result['accuracy']:.1%}"
    assert panel.results.confusion.matrix().sum() == 40
    assert "bundled subset" in panel.results.mnist_caption.text()
    misread = sum(1 for i in range(panel.gallery.grid.count()) if "read" in panel.gallery.grid.item(i).text())
    assert misread == 40 - result["correct"]

    bundled_bytes = bundled_model_path().read_bytes()
    options = FinetuneOptions(held_out=0.5, epochs=1, replay=300, guard=200)
    with qtbot.waitSignal(panel.finetuneFinished, timeout=120_000) as finished:
        assert panel.start_finetune(options)
        assert not panel.results.tune_button.isEnabled() and panel.results.tune_stop.isEnabled()
    outcome = finished.args[0]
    assert "error" not in outcome, outcome
    report = outcome["report"]
    assert report.n_train == 20 and report.n_held_out == 20
    assert panel.results.chart.point_count() > 0  # the live chart drew the run
    assert panel.results.report_box.isVisible() and panel.results.report_cells[(1, 1)].text() == f"{report.personal_before:.1%}"
    tuned = tmp_path / "home" / "models"
    assert outcome["path"].startswith(str(tuned)) and "-personal-" in outcome["path"]
    assert bundled_model_path().read_bytes() == bundled_bytes  # the default is never overwritten
    assert window.session.model.path == str(bundled_model_path())  # nothing changes until the person says so

    assert panel.results.use_tuned_button.isVisible()
    with qtbot.waitSignal(panel.measured, timeout=30_000) as remeasured:
        qtbot.mouseClick(panel.results.use_tuned_button, Qt.MouseButton.LeftButton)
    assert window.session.model.path == outcome["path"]
    # the tuned model is measured only on drawings it did not train on
    assert remeasured.args[0]["count"] == 20 and remeasured.args[0]["excluded"] == 20
    assert "it trained on left out" in panel.results.handwriting_caption.text()


def test_worker_jobs_answer_with_a_result_or_an_error(qtbot, tmp_path):
    """The small request/response pair panels use for JAX work on the worker thread: a handle per job."""
    from mnist_desktop.core.handwriting.finetune import measure_job
    from mnist_desktop.gui.worker import Worker

    worker = Worker()
    ok = worker.submit(measure_job, handwriting_dir=str(tmp_path), model_name="cnn", params={})
    with qtbot.waitSignal(ok.finished) as answer:
        pass
    assert answer.args[0]["count"] == 0 and answer.args[0]["accuracy"] is None

    def broken(_model, _params):
        raise RuntimeError("boom")

    crashed = worker.submit(broken)
    with qtbot.waitSignal(crashed.failed) as failure:
        pass
    assert "broken failed: boom" in failure.args[0]
    user_error = worker.submit(measure_job)  # no model loaded
    with qtbot.waitSignal(user_error.failed) as refusal:
        pass
    assert "no model" in refusal.args[0]
