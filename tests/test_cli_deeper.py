"""The headless twins of the look-deeper views: map, step, attack, robustness."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from mnist_desktop.cli.main import main
from mnist_desktop.core.data.datasets import load_dataset


@pytest.fixture(scope="module")
def seven(tmp_path_factory):
    subset = load_dataset("mnist-subset")
    path = tmp_path_factory.mktemp("deeper") / "seven.png"
    Image.fromarray(subset.test_images[int(np.flatnonzero(subset.test_labels == 7)[0])]).save(path)
    return path


def _json(capsys):
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_attack_fools_the_bundled_model_and_writes_the_image(seven, tmp_path, capsys):
    out = tmp_path / "fooled.png"
    assert main(["attack", str(seven), "--target", "3", "--json", "--out", str(out)]) == 0
    report = _json(capsys)
    assert report["success"] and report["before"] == 7 and report["after"] == 3
    assert report["size"] <= 0.2 + 1e-6
    assert np.asarray(Image.open(out)).shape == (28, 28)
    assert main(["attack", str(seven), "--target", "3", "--eps", "0.001", "--json"]) == 2  # not fooled: status 2
    assert not _json(capsys)["success"]


def test_attack_refuses_a_bad_target_and_a_missing_out_folder(seven, tmp_path, capsys):
    assert main(["attack", str(seven), "--target", "12"]) == 1
    assert "target must be a class" in capsys.readouterr().err
    assert main(["attack", str(seven), "--target", "1", "--out", str(tmp_path / "no" / "x.png")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_step_prints_every_operation_with_the_answer(seven, capsys):
    assert main(["step", str(seven), "--json"]) == 0
    report = _json(capsys)
    assert report["model"] == "cnn" and len(report["pages"]) == 10
    assert report["pages"][0]["title"].startswith("Convolution conv1")
    assert int(np.argmax(report["probabilities"])) == 7


def test_map_writes_a_csv_of_the_test_digits(tmp_path, capsys):
    out = tmp_path / "map.csv"
    assert main(["map", "--layer", "logits", "--out", str(out)]) == 0
    rows = out.read_text().splitlines()
    assert rows[0] == "index,x,y,label,prediction" and len(rows) == 1001  # the bundled subset's 1,000
    assert "pca map of logits" in capsys.readouterr().out
    assert main(["map", "--layer", "conv9", "--out", str(out)]) == 1
    assert "has input, conv1, conv2, dense, logits" in capsys.readouterr().err


def test_robustness_of_one_image_starts_confident_and_falls(seven, capsys):
    assert main(["robustness", str(seven), "--json"]) == 0
    report = _json(capsys)
    assert report["measure"] == "confidence" and set(report["curves"]) == {"rotation", "scale", "shift", "thickness", "noise"}
    rotation = report["curves"]["rotation"]
    assert rotation["values"][rotation["levels"].index(0.0)] > 0.8 > min(rotation["values"])
