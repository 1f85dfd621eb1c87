"""The run history kept across restarts: small, atomic, bounded, and never fatal when damaged."""

from __future__ import annotations

import csv
import io
import json

import pytest

from mnist_desktop.core.training import run_log


def summary(number: int, steps: int = 10, **extra) -> dict:
    run = {
        "number": number, "config": {"model": "cnn", "dataset": "mnist-subset", "optimizer": "adam",
                                     "learning_rate": 0.006, "batch_size": 256, "epochs": 2.5, "augment": False},
        "started_at": 1_700_000_000.0 + number, "status": "completed", "message": "done", "dataset": "mnist-subset",
        "dataset_title": "MNIST subset", "steps": steps, "steps_per_epoch": 4, "total_steps": steps,
        "train_x": [i / 4 for i in range(steps)], "train_accuracy": [i / steps for i in range(steps)],
        "train_loss": [1.0 - i / steps for i in range(steps)], "val_x": [1.0, 2.0], "val_accuracy": [0.9, 0.95],
        "val_loss": [0.3, 0.2], "best_val_accuracy": 0.95, "test_accuracy": 0.97, "test_loss": 0.1,
        "train_seconds": 12.5,
    }
    run.update(extra)
    return run


def test_round_trip_keeps_every_number(tmp_path):
    path = tmp_path / "runs.json"
    run_log.save_run_log([summary(1), summary(2)], path)
    runs, warning = run_log.load_run_log(path)
    assert warning == ""
    assert runs == [run_log.clean_summary(summary(1)), run_log.clean_summary(summary(2))]
    assert runs[1]["test_accuracy"] == 0.97 and runs[1]["config"]["learning_rate"] == 0.006


def test_size_is_bounded_in_runs_and_curve_points(tmp_path):
    path = tmp_path / "runs.json"
    run_log.save_run_log([summary(n, steps=5000) for n in range(1, run_log.MAX_RUNS + 31)], path)
    runs, _ = run_log.load_run_log(path)
    assert [r["number"] for r in runs] == list(range(31, run_log.MAX_RUNS + 31))  # the oldest went first
    assert all(len(r["train_x"]) == len(r["train_loss"]) <= run_log.MAX_CURVE_POINTS for r in runs)
    assert runs[0]["train_x"][0] == 0.0 and runs[0]["train_x"][-1] == 4999 / 4  # ends kept
    assert path.stat().st_size < run_log.MAX_FILE_BYTES / 2


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b'{"format": "something-else", "runs": []}',
                                     b'{"format": "mnist-desktop-runs", "format_version": 99, "runs": []}',
                                     b"\xff\xfe garbage"])
def test_a_damaged_file_is_set_aside_and_the_history_starts_empty(tmp_path, content):
    path = tmp_path / "runs.json"
    path.write_bytes(content)
    runs, warning = run_log.load_run_log(path)
    assert runs == []
    assert "could not be read" in warning and str(path) in warning and "runs.json.damaged" in warning
    assert (tmp_path / "runs.json.damaged").read_bytes() == content and not path.exists()
    run_log.save_run_log([summary(1)], path)  # the next save starts afresh
    assert run_log.load_run_log(path)[0][0]["number"] == 1


def test_an_oversized_file_is_not_read(tmp_path, monkeypatch):
    path = tmp_path / "runs.json"
    run_log.save_run_log([summary(1)], path)
    monkeypatch.setattr(run_log, "MAX_FILE_BYTES", 100)
    runs, warning = run_log.load_run_log(path)
    assert runs == [] and "limit 100" in warning


def test_bad_entries_are_skipped_and_bad_fields_dropped(tmp_path):
    path = tmp_path / "runs.json"
    good = summary(3)
    good["config"]["evil"] = {"nested": "object"}
    good["train_loss"] = good["train_loss"][:4]  # shorter than its x: the curve is cut to pair up
    path.write_text(json.dumps({"format": run_log.FORMAT_NAME, "format_version": 1,
                                "runs": [good, "not a run", {"number": "seven"}, summary(4, test_accuracy="high")]}))
    runs, warning = run_log.load_run_log(path)
    assert [r["number"] for r in runs] == [3, 4]
    assert "2 damaged entries" in warning
    assert "evil" not in runs[0]["config"]
    assert len(runs[0]["train_x"]) == len(runs[0]["train_accuracy"]) == len(runs[0]["train_loss"]) == 4
    assert runs[1]["test_accuracy"] is None


def test_a_failed_save_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "runs.json"
    run_log.save_run_log([summary(1)], path)
    before = path.read_bytes()

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.replace", full_disk)  # the atomic rename fails, as on a full disk
    with pytest.raises(OSError):
        run_log.save_run_log([summary(1), summary(2)], path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["runs.json"]  # no temporary file left


def test_csv_has_one_row_per_run_with_settings_and_results(tmp_path):
    path = run_log.write_csv([summary(1), summary(2, status="stopped", test_accuracy=None)], tmp_path / "runs.csv")
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert [r["run"] for r in rows] == ["1", "2"]
    assert rows[0]["model"] == "cnn" and rows[0]["learning_rate"] == "0.006" and rows[0]["test_accuracy"] == "0.97"
    assert rows[1]["status"] == "stopped" and rows[1]["test_accuracy"] == ""
    assert rows[0]["started"].startswith("2023-11-1")
    assert list(rows[0]) == list(run_log.CSV_COLUMNS)


def test_cli_lists_and_exports_the_saved_runs(tmp_path, capsys):
    from mnist_desktop.cli.main import main

    assert main(["runs"]) == 0
    assert "no runs saved yet" in capsys.readouterr().out
    run_log.save_run_log([summary(1), summary(2, test_accuracy=None)])  # the test's own history file
    assert main(["runs"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].split() == ["#1", "cnn", "mnist-subset", "completed", "test", "97.00%"] and "–" in listed[1]
    assert main(["runs", "--csv", str(tmp_path / "r.csv")]) == 0
    assert (tmp_path / "r.csv").read_text() == run_log.runs_to_csv(run_log.load_run_log()[0])
    assert main(["runs", "--csv", str(tmp_path / "no" / "r.csv")]) == 1
    assert "could not write" in capsys.readouterr().err
