"""Quitting with a trained, unsaved model or during a run asks "Save?" first (Save / Discard / Cancel)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from gui_helpers import click, open_main_window
from mnist_desktop.core.models.checkpoints import load_checkpoint
from mnist_desktop.gui.model_session import ActiveModel
from mnist_desktop.gui.quit_prompt import unsaved_models
from mnist_desktop.gui.run_history import RunRecord
from training_helpers import RUN_TIMEOUT_MS, panel_of, set_up_run, wait_finished

pytestmark = [pytest.mark.gui, pytest.mark.quit_prompt]
Button = QMessageBox.StandardButton


class FakeBox:
    """Stands in for the modal exec(): records what the box said and answers as told."""

    def __init__(self, monkeypatch, *answers: Button):
        self.answers = list(answers)
        self.shown: list[dict] = []
        fake = self

        def exec_(box: QMessageBox) -> int:
            fake.shown.append({"title": box.windowTitle(), "text": box.text(), "details": box.informativeText(),
                               "buttons": [b.text() for b in box.buttons()],
                               "default": box.defaultButton().text(), "escape": box.escapeButton().text()})
            # answers run out when pytest-qt closes the window after the test: quit then
            return fake.answers.pop(0) if fake.answers else Button.Discard

        monkeypatch.setattr(QMessageBox, "exec", exec_)


@pytest.fixture
def window(qtbot, monkeypatch, tmp_path):
    return open_main_window(qtbot, monkeypatch, tmp_path, keep_docks=("training",))


def save_dialog_answers(monkeypatch, *paths):
    asked = []
    answers = list(paths)

    def get_save_file_name(parent, title, start, filt):
        asked.append((title, start))
        return (str(answers.pop(0)) if answers else "", filt)

    monkeypatch.setattr(QFileDialog, "getSaveFileName", get_save_file_name)
    return asked


def train_quickly(qtbot, window):
    panel = panel_of(window)
    set_up_run(qtbot, panel, model="logreg", epochs="0.3")
    click(qtbot, panel.start_button)
    wait_finished(qtbot, panel)
    return panel.run


def test_nothing_to_lose_quits_without_asking(qtbot, window, monkeypatch):
    box = FakeBox(monkeypatch)
    window.close()
    assert box.shown == [] and not window.isVisible() and window.session.closed


def test_cancel_keeps_the_app_open_then_save_writes_the_runs_model(qtbot, window, monkeypatch, tmp_path):
    record = train_quickly(qtbot, window)
    box = FakeBox(monkeypatch, Button.Cancel, Button.Save)
    window.close()
    assert not window.session.closed and window.isVisible() and window.worker_thread.isRunning()  # Cancel: still open
    prompt = box.shown[0]
    assert prompt["title"] == "Quit MNIST Desktop"
    assert prompt["text"].startswith("Save the model of run #1 (logreg, test accuracy ")
    assert sorted(prompt["buttons"]) == ["Cancel", "Quit without Saving", "Save…"]
    assert prompt["default"] == "Save…" and prompt["escape"] == "Cancel"
    assert prompt["details"].startswith("Quit without Saving closes the app")  # the button's own words

    target = tmp_path / "kept.ckpt"
    asked = save_dialog_answers(monkeypatch, target)
    window.close()
    assert asked and asked[0][0].startswith("Save the model of run #1")
    assert window.session.closed and not window.isVisible()
    saved = load_checkpoint(target)
    assert saved.model_name == "logreg"
    np.testing.assert_array_equal(saved.params["linear"]["w"], np.asarray(record.params["linear"]["w"]))


def test_a_box_closed_without_an_answer_counts_as_cancel(qtbot, window, monkeypatch):
    train_quickly(qtbot, window)
    FakeBox(monkeypatch, Button.NoButton)  # e.g. the dialog closed by the window manager
    window.close()
    assert not window.session.closed and window.isVisible()


def test_discard_quits_without_a_file(qtbot, window, monkeypatch, tmp_path):
    train_quickly(qtbot, window)
    box = FakeBox(monkeypatch, Button.Discard)
    asked = save_dialog_answers(monkeypatch)
    window.close()
    assert len(box.shown) == 1 and asked == [] and window.session.closed


def test_cancelling_the_save_dialog_keeps_the_app_open(qtbot, window, monkeypatch):
    train_quickly(qtbot, window)
    FakeBox(monkeypatch, Button.Save)
    save_dialog_answers(monkeypatch)  # the person closes the file dialog: ""
    window.close()
    assert not window.session.closed and window.isVisible()


def test_a_saved_model_is_not_asked_about_again(qtbot, window, monkeypatch, tmp_path):
    record = train_quickly(qtbot, window)
    panel = panel_of(window)
    click(qtbot, panel.use_model_button)  # the run's model reads the canvas ...
    qtbot.waitUntil(lambda: window.session.model.run_number == record.number, timeout=30_000)
    assert window.save_model(str(tmp_path / "mine.ckpt"))  # ... and File → Save Model… wrote it
    box = FakeBox(monkeypatch)
    window.close()
    assert box.shown == [] and window.session.closed


def test_quitting_mid_run_stops_it_cleanly_then_saves(qtbot, window, monkeypatch, tmp_path):
    panel = panel_of(window)
    set_up_run(qtbot, panel, model="logreg", epochs="30", batch="32")
    click(qtbot, panel.start_button)
    qtbot.waitUntil(lambda: panel.progress.value() > 5, timeout=RUN_TIMEOUT_MS)
    box = FakeBox(monkeypatch, Button.Cancel, Button.Save)
    window.close()
    assert box.shown[0]["text"] == "Run #1 (logreg) is still training. Stop it and save its model before quitting?"
    assert "Stop and Save…" in box.shown[0]["buttons"] and "Stop and Quit" in box.shown[0]["buttons"]
    step = panel.progress.value()
    qtbot.waitUntil(lambda: panel.progress.value() > step, timeout=RUN_TIMEOUT_MS)  # Cancel: the run goes on
    assert panel.state == "running" and window.isVisible()

    target = tmp_path / "stopped.ckpt"
    asked = save_dialog_answers(monkeypatch, target)
    window.close()  # Stop and Save…: the run stops first, then the dialog asks where
    assert window.isVisible()
    qtbot.waitUntil(lambda: window.session.closed, timeout=RUN_TIMEOUT_MS)
    assert panel.run.status == "stopped" and asked[0][0].startswith("Save the model of run #1")
    assert not window.worker_thread.isRunning()
    assert load_checkpoint(target).model_name == "logreg"


def test_which_models_would_be_lost():
    def run(number, status="completed", params=True):
        record = RunRecord(number=number, config={"model": "mlp", "dataset": "mnist-subset"})
        record.finish({"status": status, "params": {"w": 1} if params else None, "test_accuracy": 0.9,
                       "dataset": "mnist-subset"})
        return record

    from_file = ActiveModel(name="default", model_name="cnn", params={"w": 1}, path="/x/default.ckpt")
    assert unsaved_models(from_file, [], set()) == []
    assert [m.title for m in unsaved_models(from_file, [run(1), run(2)], set())] == [
        "the model of run #2 (mlp, test accuracy 90.00%)"]  # the latest run only
    assert unsaved_models(from_file, [run(1, status="failed")], set()) == []
    assert unsaved_models(from_file, [run(1, params=False)], set()) == []  # a run from an earlier session
    assert unsaved_models(from_file, [run(1)], {1}) == []  # saved this session
    trained = ActiveModel(name="mlp-mnist", model_name="mlp", params={"w": 1}, run_number=1)
    assert [m.title for m in unsaved_models(trained, [run(1)], set())] == [
        "the active model “mlp-mnist” (trained, not saved)"]  # one entry: the run is the active model
