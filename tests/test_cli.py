"""The headless CLI end to end on the bundled subset: train → evaluate → predict."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mnist_desktop.core.models.checkpoints import load_checkpoint
from mnist_desktop.cli.main import main
from mnist_desktop.core.data.datasets import load_dataset


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "logreg.ckpt"
    code = main(["train", "--dataset", "mnist-subset", "--model", "logreg", "--epochs", "2", "--out", str(out), "--json"])
    assert code == 0
    return out


def test_train_saves_a_checkpoint_and_prints_json(trained, capsys):
    ckpt = load_checkpoint(trained)
    assert ckpt.model_name == "logreg" and ckpt.dataset == "mnist-subset"
    assert ckpt.metadata["hyperparameters"]["epochs"] == 2
    assert ckpt.test_accuracy > 0.8


def test_train_json_line_fields(tmp_path, capsys):
    out = tmp_path / "m.ckpt"
    assert main(["train", "--dataset", "mnist-subset", "--model", "logreg", "--epochs", "1.5", "--out", str(out), "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out.strip().splitlines()[-1])
    assert {"test_accuracy", "train_seconds", "epochs", "model", "dataset", "checkpoint"} <= set(report)
    assert report["checkpoint"] == str(out) and report["model"] == "logreg"
    assert "Test accuracy:" in captured.err and "Epoch 1/2" in captured.err and "Epoch 2/2" in captured.err
    # one throughput per epoch (the half epoch too), as `bench` compares them with PyTorch's
    assert len(report["epoch_samples_per_s"]) == 2 and all(r > 0 for r in report["epoch_samples_per_s"])
    # the per-phase breakdown `bench` prints (issue 19), in the order a run goes through them
    assert list(report["phases"]) == ["data_loading", "setup", "compile", "compile_background", "first_step",
                                      "steps", "evaluation", "calibration", "saving"]
    assert all(v >= 0 for v in report["phases"].values()) and report["phases"]["steps"] > 0
    in_trainer = sum(v for k, v in report["phases"].items() if k not in ("data_loading", "calibration", "saving", "compile_background"))
    # the phases cover the training time (and the final test pass, which train_seconds leaves out)
    assert report["train_seconds"] - 0.05 <= in_trainer <= report["total_seconds"] + 0.05
    assert "Time: data loading" in captured.err


def test_evaluate_prints_accuracy_and_confusion(trained, capsys):
    assert main(["evaluate", "--model", str(trained), "--dataset", "mnist-subset", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["count"] == 1000 and sum(map(sum, report["confusion"])) == 1000
    assert report["test_accuracy"] > 0.8


def test_predict_json_handles_good_empty_and_broken_files(trained, tmp_path, capsys):
    ds = load_dataset("mnist-subset")
    label = int(ds.test_labels[0])
    digit = Image.fromarray(255 - np.kron(ds.test_images[0], np.ones((8, 8), np.uint8)))  # dark ink on white, 224 px
    digit.save(tmp_path / "digit.png")
    Image.new("L", (50, 50), 255).save(tmp_path / "blank.png")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    files = [tmp_path / "digit.png", tmp_path / "blank.png", tmp_path / "broken.png"]
    assert main(["predict", "--model", str(trained), "--json", *map(str, files)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [r["file"] for r in rows] == list(map(str, files))
    assert rows[0]["label"] == label and rows[0]["class_name"] == str(label)
    assert len(rows[0]["probabilities"]) == 10 and abs(sum(rows[0]["probabilities"]) - 1) < 1e-4
    assert "empty" in rows[1]["error"] and "broken.png" in rows[2]["error"]


def test_bad_hyperparameter_is_one_clear_line(capsys):
    assert main(["train", "--dataset", "mnist-subset", "--lr", "-1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: learning_rate: must be a positive finite number, got -1.0"]


def test_outliers_from_is_checked_before_any_data_is_loaded(tmp_path, capsys):
    out = str(tmp_path / "m.ckpt")
    assert main(["train", "--dataset", "mnist-subset", "--outlier-exposure", "0", "--outliers-from", "fashion-mnist",
                 "--out", out]) == 1
    assert capsys.readouterr().err.strip() == ("error: outliers_from: needs outlier exposure: drop --outlier-exposure 0 "
                                               "or --outliers-from")
    assert main(["train", "--dataset", "fashion-mnist", "--data-dir", str(tmp_path / "none"),
                 "--outliers-from", "fashion-mnist", "--out", out]) == 1
    assert "is the dataset being learnt" in capsys.readouterr().err
    assert not (tmp_path / "m.ckpt").exists()


def test_corrupt_model_file_is_one_clear_line(tmp_path, capsys):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"garbage")
    assert main(["evaluate", "--model", str(bad), "--dataset", "mnist-subset"]) == 1
    assert "bad.ckpt is not a usable mnist-desktop model" in capsys.readouterr().err


def test_missing_dataset_says_where_and_how(tmp_path, capsys, monkeypatch):
    import dataclasses

    from mnist_desktop.core.data import datasets

    # hide Debian's dataset-fashion-mnist package, should this machine have it
    spec = dataclasses.replace(datasets.DATASETS["fashion-mnist"], system_dirs=())
    monkeypatch.setitem(datasets.DATASETS, "fashion-mnist", spec)
    assert main(["train", "--dataset", "fashion-mnist", "--data-dir", str(tmp_path / "empty")]) == 1
    err = capsys.readouterr().err
    assert "mnist-desktop download fashion-mnist" in err and str(tmp_path / "empty") in err


def test_console_script_help():
    exe = shutil.which("mnist-desktop")
    cmd = [exe] if exe else [sys.executable, "-m", "mnist_desktop"]
    for args in ([], ["train"], ["predict"], ["download"], ["bench"]):
        out = subprocess.run([*cmd, *args, "--help"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and "usage: mnist-desktop" in out.stdout
