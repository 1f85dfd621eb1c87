"""The runs table survives a restart and exports as CSV, as a person uses it."""

from __future__ import annotations

import csv

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from gui_helpers import click, open_main_window
from mnist_desktop.core.training import run_log
from mnist_desktop.gui.run_history import COLUMNS, RunHistory, RunRecord
from training_helpers import panel_of, set_up_run, wait_finished

pytestmark = pytest.mark.gui


def table_rows(history: RunHistory) -> list[list[str]]:
    table = history.table
    return [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]


def finished_record(number: int) -> RunRecord:
    record = RunRecord(number=number, config={"model": "mlp", "dataset": "mnist-subset", "optimizer": "sgd",
                                              "learning_rate": 0.05, "batch_size": 64, "epochs": 1.0},
                       dataset_title="MNIST subset", steps_per_epoch=10, total_steps=10)
    for step in range(1, 11):
        record.add_step({"step": step, "elapsed": step * 0.5, "train_accuracy": 0.5 + step / 40, "loss": 1 / step})
    record.add_epoch({"step": 10, "elapsed": 5.0, "val_accuracy": 0.91, "val_loss": 0.3})
    record.finish({"status": "completed", "message": "finished", "test_accuracy": 0.9312, "test_loss": 0.25,
                   "best_val_accuracy": 0.91, "train_seconds": 5.2, "steps": 10, "params": {"w": 1},
                   "dataset": "mnist-subset", "class_names": [str(i) for i in range(10)]})
    return record


def test_a_trained_run_is_listed_again_after_the_app_restarts(qtbot, monkeypatch, tmp_path):
    window = open_main_window(qtbot, monkeypatch, tmp_path, keep_docks=("training",))
    panel = panel_of(window)
    set_up_run(qtbot, panel, model="logreg", epochs="0.3")
    click(qtbot, panel.start_button)
    wait_finished(qtbot, panel)
    shown = table_rows(panel.history)
    assert len(shown) == 1 and shown[0][0] == "#1 logreg" and shown[0][-1] == "completed"
    window.close()

    again = open_main_window(qtbot, monkeypatch, tmp_path, keep_docks=("training",))
    history = panel_of(again).history
    assert table_rows(history) == shown  # same numbers, same words
    restored = history.runs()[0]
    assert restored.val_x == panel.history.runs()[0].val_x and restored.train_x  # the curves can be overlaid
    history.select_runs([restored])
    assert history.use_settings_button.isEnabled()
    assert not history.use_model_button.isEnabled()  # weights are not kept, and the button says why
    assert "earlier session" in history.use_model_button.toolTip()
    assert history.next_number() == 2
    again.close()


def test_runs_from_earlier_sessions_keep_their_numbers(qtbot, tmp_path):
    path = tmp_path / "runs.json"
    first = RunHistory(log_path=path)
    qtbot.addWidget(first)
    for number in (1, 2):
        record = finished_record(number)
        first.add_run(record)
        first.update_run(record)
    second = RunHistory(log_path=path)
    qtbot.addWidget(second)
    assert table_rows(second) == table_rows(first)
    assert [r.test_accuracy for r in second.runs()] == [0.9312, 0.9312]
    assert second.next_number() == 3
    assert second.log_note.isHidden()


def test_a_damaged_history_file_does_not_stop_the_app(qtbot, tmp_path):
    path = tmp_path / "runs.json"
    path.write_text('{"format": "mnist-desktop-runs", "runs": [')  # cut off mid-write by an old crash
    history = RunHistory(log_path=path)
    qtbot.addWidget(history)
    history.show()
    assert history.table.rowCount() == 0
    assert history.log_note.isVisible() and "could not be read" in history.log_note.text()
    assert (tmp_path / "runs.json.damaged").exists()
    record = finished_record(1)
    history.add_run(record)
    history.update_run(record)
    assert run_log.load_run_log(path) == ([run_log.clean_summary(record.to_summary())], "")


def test_export_csv_writes_every_listed_run(qtbot, tmp_path, monkeypatch):
    history = RunHistory(log_path=tmp_path / "runs.json")
    qtbot.addWidget(history)
    history.show()
    assert not history.export_button.isEnabled()  # nothing to export yet
    for number in (1, 2):
        record = finished_record(number)
        history.add_run(record)
        history.update_run(record)
    running = RunRecord(number=3, config={"model": "cnn", "dataset": "mnist"})
    history.add_run(running)
    target = tmp_path / "out" / "runs.csv"
    target.parent.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "CSV file (*.csv)"))
    qtbot.mouseClick(history.export_button, Qt.MouseButton.LeftButton)
    rows = list(csv.DictReader(target.open()))
    assert [(r["run"], r["model"], r["status"]) for r in rows] == [("1", "mlp", "completed"), ("2", "mlp", "completed"),
                                                                   ("3", "cnn", "starting")]
    assert rows[0]["test_accuracy"] == "0.9312" and rows[0]["learning_rate"] == "0.05"
    assert history.log_note.text() == f"Exported 3 runs to {target}"
    assert len(COLUMNS) == history.table.columnCount()


def test_export_to_an_unwritable_place_says_so(qtbot, tmp_path):
    history = RunHistory(log_path=tmp_path / "runs.json")
    qtbot.addWidget(history)
    record = finished_record(1)
    history.add_run(record)
    assert not history.export_csv(tmp_path / "missing-folder" / "runs.csv")
    assert "Could not export the runs" in history.log_note.text()
