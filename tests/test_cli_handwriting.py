"""``finetune`` and ``evaluate --drawings/--pendigits`` end to end, on a small drawings zip made here."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mnist_desktop.cli.main import main
from mnist_desktop.core.data.strokes import random_drawn_canvas
from mnist_desktop.core.handwriting.store import HandwritingSet
from mnist_desktop.core.models.checkpoints import load_checkpoint

PER_DIGIT = 4


@pytest.fixture(scope="module")
def drawings_zip(tmp_path_factory):
    """A person's export: PER_DIGIT canvas drawings of every digit, saved and exported as the app does."""
    folder = tmp_path_factory.mktemp("person")
    personal = HandwritingSet.load(folder / "store")
    rng = np.random.default_rng(7)
    for digit in range(10):
        for _ in range(PER_DIGIT):
            personal.add(random_drawn_canvas(digit, rng, canvas_size=280), digit)
    path = folder / "drawings.zip"
    assert personal.export_zip(path) == 10 * PER_DIGIT
    return path


def _json_line(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def test_evaluate_drawings_reports_accuracy_and_confusion(drawings_zip, capsys):
    assert main(["evaluate", "--drawings", str(drawings_zip), "--dataset", "mnist-subset", "--json"]) == 0
    captured = capsys.readouterr()
    report = _json_line(captured.out)
    assert len(report["per_class"]) == 10 and report["count"] == 10 * PER_DIGIT
    assert np.array(report["confusion"]).sum() == 10 * PER_DIGIT
    assert report["accuracy"] > 0.8 and report["mnist_test_accuracy"] > 0.9 and report["mnist_dataset"] == "mnist-subset"
    assert "evaluating" in captured.err  # the progress bar's last line
    assert main(["evaluate", "--drawings", str(drawings_zip)]) == 0
    text = capsys.readouterr().out
    assert "accuracy" in text and "confusion matrix" in text and "per-digit accuracy" in text


def test_finetune_tunes_saves_and_reports(drawings_zip, tmp_path, capsys):
    out = tmp_path / "mine.ckpt"
    assert main(["finetune", "--drawings", str(drawings_zip), "--out", str(out), "--epochs", "1", "--json"]) == 0
    captured = capsys.readouterr()
    report = _json_line(captured.out)
    assert {"accuracy", "accuracy_before", "per_class", "mnist_test_accuracy", "mnist_test_accuracy_before", "blend"} <= set(report)
    assert report["n_train"] + report["n_held_out"] == 10 * PER_DIGIT and len(report["per_class"]) == 10
    assert report["mnist_dataset"] == "mnist-subset"  # no full MNIST in the test's folders: the bundled subset
    assert report["mnist_test_accuracy_before"] - report["mnist_test_accuracy"] <= 0.01  # the forgetting guard
    assert "/" in captured.err and "Saved model to" in captured.err  # progress bar, then the summary
    ckpt = load_checkpoint(out)
    assert ckpt.metadata["personal_finetune"]["n_train"] == report["n_train"]
    # the tuned model scores the same drawings through evaluate
    assert main(["evaluate", "--drawings", str(drawings_zip), "--model", str(out), "--json"]) == 0
    assert _json_line(capsys.readouterr().out)["mnist_test_accuracy"] is None  # no MNIST at hand and none asked for


def test_finetune_checks_its_target_and_input_first(drawings_zip, tmp_path, capsys):
    assert main(["finetune", "--drawings", str(drawings_zip), "--out", str(tmp_path)]) == 1
    assert "is a folder" in capsys.readouterr().err
    assert main(["finetune", "--drawings", str(drawings_zip), "--out", str(tmp_path / "no" / "m.ckpt")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["finetune", "--drawings", str(tmp_path / "none.zip"), "--out", str(tmp_path / "m.ckpt")]) == 1
    assert "no such drawings zip" in capsys.readouterr().err
    assert main(["finetune", "--drawings", str(drawings_zip), "--out", str(tmp_path / "m.ckpt"), "--blend", "2"]) == 1
    assert "blend" in capsys.readouterr().err and not (tmp_path / "m.ckpt").exists()


def test_evaluate_pendigits_file(tmp_path, capsys):
    seven = "0,100,30,100,60,100,100,100,80,70,60,40,45,20,30,0,0000000100"
    one = "20,70,40,85,55,100,55,70,55,45,55,25,55,10,55,0,0100000000"
    pen = tmp_path / "pen.tra"
    pen.write_text("\n".join([seven, one] * 3) + "\n")
    assert main(["evaluate", "--pendigits", str(pen), "--json"]) == 0
    report = _json_line(capsys.readouterr().out)
    assert report["count"] == 6 and np.array(report["confusion"]).sum() == 6
    assert report["per_class"][7] is not None and report["per_class"][0] is None  # no 0s in the file
    pen.write_text(seven + "\n" + one.replace(",55,0,", ",55,x,") + "\n")
    assert main(["evaluate", "--pendigits", str(pen)]) == 1
    assert f"{pen} line 2: y8 = 'x' is not a number from 0 to 100" in capsys.readouterr().err


def test_calibrate_rebuilds_the_hold_out_of_a_pen_trained_model(tmp_path, capsys):
    """`calibrate --pendigits` refits exactly what `train --pendigits` fitted; without the file it says why not."""
    seven = "0,100,30,100,60,100,100,100,80,70,60,40,45,20,30,0,0000000100"
    one = "20,70,40,85,55,100,55,70,55,45,55,25,55,10,55,0,0100000000"
    pen = tmp_path / "pen.tra"
    pen.write_text("\n".join([seven, one] * 150) + "\n")  # 300 digits: the first blocks train
    model = tmp_path / "m.ckpt"
    assert main(["train", "--dataset", "mnist-subset", "--model", "logreg", "--epochs", "1", "--pendigits", str(pen),
                 "--out", str(model)]) == 0
    trained = load_checkpoint(model).doubt
    capsys.readouterr()
    assert main(["calibrate", "--dataset", "mnist-subset", "--model", str(model), "--pendigits", str(pen),
                 "--out", str(tmp_path / "again.ckpt")]) == 0
    again = load_checkpoint(tmp_path / "again.ckpt").doubt
    assert "warning" not in capsys.readouterr().err
    assert again.threshold == pytest.approx(trained.threshold) and again.temperature == pytest.approx(trained.temperature)
    assert main(["calibrate", "--dataset", "mnist-subset", "--model", str(model), "--out", str(tmp_path / "guess.ckpt")]) == 0
    err = capsys.readouterr().err
    assert "trained with pen digits (pen.tra)" in err and "without --pendigits" in err
    assert "pen-digit file" in load_checkpoint(tmp_path / "guess.ckpt").doubt.info["holdout"]["source"]
