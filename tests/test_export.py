"""Export: ONNX files run in onnxruntime exactly like the app's model; safetensors read back bit-exact."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

from mnist_desktop.core.models import networks
from mnist_desktop.core.models.checkpoints import load_checkpoint
from mnist_desktop.core.models.export import ExportError, check_digits, export_model, write_onnx, write_safetensors
from mnist_desktop.core.paths import bundled_model_path
from mnist_desktop.core.training.evaluation import batched_logits

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is in the [test] extra")
pytest.importorskip("onnx", reason="onnx is in the [export] and [test] extras")

EVERY_LAYER = "conv:8:3:2:same,gelu,layernorm,maxpool:2,conv:6:3:1:same,tanh,avgpool:3,flatten,dropout:0.3,dense:32,layernorm,relu"


def _onnx_logits(path, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["logits"], {"image": x})[0]


def test_bundled_model_exported_to_onnx_predicts_like_the_app_on_100_test_digits(tmp_path):
    ckpt = load_checkpoint(bundled_model_path())
    report = export_model(ckpt.model_name, ckpt.params, "onnx", tmp_path / "cnn.onnx", class_names=ckpt.class_names)
    x = check_digits(100)
    assert x.shape == (100, 28, 28, 1)
    theirs = _onnx_logits(tmp_path / "cnn.onnx", x)
    ours = batched_logits(ckpt.model_name, ckpt.params, x)
    assert np.abs(theirs - ours).max() <= 1e-4
    assert np.array_equal(theirs.argmax(-1), ours.argmax(-1))
    assert report["max_abs_difference"] <= 1e-4 and report["same_predictions"] == 100


@pytest.mark.parametrize("name", ["logreg", "mlp", "flax-cnn", EVERY_LAYER, "conv:4:5:3:same,relu,conv:4:4:2:same,relu"])
def test_every_layer_type_exports_exactly(tmp_path, name):
    """Fresh weights of each preset and of a stack using every layer type (SAME padding with odd
    remainders, ragged pools, layer norm on images and vectors, GELU, dropout)."""
    params = jax.device_get(networks.init_params(name, seed=4))
    # layer-norm scales/offsets start at 1/0: perturb them so the test sees their order
    rng = np.random.default_rng(0)
    params = {m: {k: np.asarray(v) + (rng.normal(0, 0.1, np.shape(v)).astype(np.float32) if m.startswith("norm") else 0)
                  for k, v in g.items()} for m, g in params.items()}
    write_onnx(tmp_path / "m.onnx", name, params)
    x = check_digits(100)
    assert np.abs(_onnx_logits(tmp_path / "m.onnx", x) - batched_logits(name, params, x)).max() <= 1e-4


def test_safetensors_round_trip_with_metadata(tmp_path):
    from safetensors import safe_open
    from safetensors.numpy import load_file

    ckpt = load_checkpoint(bundled_model_path())
    report = export_model(ckpt.model_name, ckpt.params, "safetensors", tmp_path / "w.safetensors")
    assert "max_abs_difference" not in report
    tensors = load_file(str(tmp_path / "w.safetensors"))
    assert set(tensors) == {f"{m}/{k}" for m, g in ckpt.params.items() for k in g}
    for m, g in ckpt.params.items():
        for k, v in g.items():
            assert np.array_equal(tensors[f"{m}/{k}"], v)
    with safe_open(str(tmp_path / "w.safetensors"), "np") as f:
        meta = f.metadata()
    assert meta["model"] == "cnn" and json.loads(meta["class_names"])[3] == "3"
    assert json.loads(meta["architecture"])["layers"][0]["type"] == "conv"


def test_bad_targets_are_refused_before_any_work(tmp_path):
    params = jax.device_get(networks.init_params("logreg"))
    with pytest.raises(ExportError, match="is a folder"):
        write_safetensors(tmp_path, params)
    with pytest.raises(ExportError, match="does not exist"):
        export_model("logreg", params, "onnx", tmp_path / "nope" / "m.onnx")
    with pytest.raises(ExportError, match="unknown format"):
        export_model("logreg", params, "tflite", tmp_path / "m.tflite")


def test_missing_onnx_package_gives_a_sentence(monkeypatch, tmp_path):
    import builtins

    real_import = builtins.__import__

    def no_onnx(name, *args, **kwargs):
        if name == "onnx" or name.startswith("onnx."):
            raise ImportError("No module named 'onnx'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnx)
    from mnist_desktop.core.models.export import export_available

    assert "pip install 'mnist-desktop[export]'" in export_available("onnx")
    with pytest.raises(ExportError, match=r"\[export\]"):
        write_onnx(tmp_path / "m.onnx", "logreg", jax.device_get(networks.init_params("logreg")))


def test_cli_export(tmp_path, capsys):
    from mnist_desktop.cli.main import main

    assert main(["export", "--out", str(tmp_path / "m.onnx"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip())
    assert report["format"] == "onnx" and report["max_abs_difference"] <= 1e-4 and report["checked_images"] == 100
    assert main(["export", "--out", str(tmp_path / "m.safetensors")]) == 0
    assert "Wrote safetensors of cnn" in capsys.readouterr().out
    assert main(["export", "--out", str(tmp_path / "m.bin")]) == 1
    assert "give --format onnx|safetensors" in capsys.readouterr().err
