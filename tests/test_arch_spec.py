"""Architecture specs: the grammar, the rules of a valid stack, hostile input, checkpoints, the CLI."""

from __future__ import annotations

import json
import math
import zipfile

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mnist_desktop.core.errors import CheckpointError, ConfigError
from mnist_desktop.core.models import networks
from mnist_desktop.core.models.checkpoints import load_checkpoint, save_checkpoint
from mnist_desktop.core.models.spec import (
    MAX_LAYERS, PRESETS, SpecError, check, from_json, model_id, parse_compact, read_architecture, summarize,
)

CUSTOM = "conv:8:3:2:same,gelu,layernorm,maxpool:2,conv:4:3:1:valid,tanh,flatten,dropout:0.25,dense:32,relu"


def test_compact_grammar_defaults_and_round_trips():
    arch = parse_compact(" Conv:16:5:2 , relu, MAXPOOL, dense:64 ,relu,dropout")
    assert arch.to_compact() == "conv:16:5:2:valid,relu,maxpool:2,dense:64,relu,dropout:0.5"
    assert parse_compact(arch.to_compact()) == arch
    assert from_json(json.loads(json.dumps(arch.to_json()))) == arch
    assert parse_compact("") == PRESETS["logreg"]
    assert model_id(parse_compact("dense:300,relu,dense:100,relu")) == "mlp"
    assert model_id(arch) == arch.to_compact()


def test_shapes_params_and_multiply_adds_layer_by_layer():
    summary = check(parse_compact("conv:16:5:2,relu,maxpool:2,dense:64,relu"))
    assert [r.shape for r in summary.rows] == [(12, 12, 16), (12, 12, 16), (6, 6, 16), (64,), (64,), (10,)]
    assert summary.rows[0].params == 5 * 5 * 16 + 16 and summary.rows[0].macs == 12 * 12 * 16 * 25
    assert summary.rows[3].params == 576 * 64 + 64 and summary.rows[-1].index is None  # the automatic output
    assert summary.params == 416 + 36_928 + 650
    same = check(parse_compact("conv:4:3:2:same,relu"))
    assert same.rows[0].shape == (14, 14, 4)


@pytest.mark.parametrize(("text", "pattern"), [
    ("conv:8:5:2,relu,maxpool:3,conv:8:7,relu", r"layer 4 \(conv\) kernel: 7 is larger than its 4×4 input"),
    ("maxpool:2,maxpool:2,maxpool:2,maxpool:4", r"layer 4 \(maxpool\) size: 4 is larger than its 3×3 input"),
    ("dense:64,relu,conv:8", r"layer 3 \(conv\) type: needs an image-shaped input, but layer 1 already made it a vector"),
    ("flatten,maxpool", r"layer 2 \(maxpool\) type: needs an image-shaped input"),
    ("dense:64", r"layer 1 \(dense\) units: a dense layer right before the output adds nothing"),
    ("dense:8192,relu,dense:8192,relu", r"layer 3 \(dense\) units: the network would have [\d,]+ parameters \(at most 10,000,000\)"),
    ("conv:512:3:1:same,relu,conv:512:3:1:same,relu", r"layer 1 \(conv\) channels: outputs 401,408 values|multiply-adds"),
    ("conv:64:3:1:same,conv:256:3:1:same,relu", r"layer 2 \(conv\) channels: .*multiply-adds per image"),
])
def test_invalid_stacks_name_the_layer_and_field(text, pattern):
    summary = summarize(parse_compact(text))
    assert not summary.valid
    assert summary.error is not None and __import__("re").search(pattern, str(summary.error)), str(summary.error)
    assert summary.error.layer is not None  # the editor highlights this row
    with pytest.raises(SpecError):
        check(parse_compact(text))


@pytest.mark.parametrize(("spec", "pattern"), [
    ({"layers": [{"type": "dense", "units": 10**12}, {"type": "relu"}]}, r"layer 1 \(dense\) units: 1000000000000 is out of range"),
    ({"layers": [{"type": "resnet"}]}, r"layer 1 type: unknown layer type 'resnet'"),
    ({"layers": [{"type": "conv", "channels": "16"}]}, r"layer 1 \(conv\) channels: must be a number, got '16'"),
    ({"layers": [{"type": "conv", "channels": True}]}, r"layer 1 \(conv\) channels: must be a number, got true"),
    ({"layers": [{"type": "dense", "units": float("nan")}]}, r"layer 1 \(dense\) units: must be a finite number"),
    ({"layers": [{"type": "dense", "units": 64.5}]}, r"layer 1 \(dense\) units: must be a whole number"),
    ({"layers": [{"type": "dense"}]}, r"layer 1 \(dense\) units: is required"),
    ({"layers": [{"type": "dense", "units": 64, "activation": "relu"}]}, r"layer 1 \(dense\) activation: unknown field"),
    ({"layers": [{"type": "conv", "channels": 8, "padding": "full"}]}, r"layer 1 \(conv\) padding: must be one of valid, same"),
    ({"layers": [{"type": "dropout", "rate": 1.5}]}, r"layer 1 \(dropout\) rate: 1.5 is out of range"),
    ({"layers": [["dense", 64]]}, r"layer 1: must be a JSON object"),
    ({"layers": {"type": "dense"}}, r"architecture layers: must be a list"),
    ({"layers": [{"type": "relu"}] * (MAX_LAYERS + 1)}, r"architecture layers: 25 layers is too many"),
    ({"layers": [], "optimizer": "adam"}, r"architecture optimizer: unknown field"),
    ({"layers": [], "version": 2}, r"architecture version: version 2 is not supported"),
    ("dense:64", r"architecture layers: must be a list of layers"),
])
def test_hostile_json_specs_are_refused_naming_the_field(spec, pattern):
    with pytest.raises(SpecError, match=pattern):
        from_json(spec)


@pytest.mark.parametrize(("text", "pattern"), [
    ("conv:16:5:2:valid:9", r"layer 1 \(conv\): 'conv:16:5:2:valid:9' has 5 values"),
    ("dense:abc", r"layer 1 \(dense\) units: must be a number, got 'abc'"),
    ("dense:64,,relu", r"layer 2: is empty"),
    ("lstm:64", r"layer 1 type: unknown layer type 'lstm'"),
    ("dense:nan,relu", r"units: must be a finite number"),
    ("relu," * 30, r"too many"),
])
def test_hostile_compact_text_is_refused(text, pattern):
    with pytest.raises(SpecError, match=pattern):
        parse_compact(text)


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(
                        ["layers", "type", "units", "channels", "kernel", "stride", "padding", "size", "rate", "x"]),
                        inner, max_size=4), max_leaves=12))
def test_fuzzed_json_specs_only_raise_spec_error(data):
    try:
        summarize(from_json(data))
    except SpecError:
        pass


def test_custom_spec_round_trips_through_a_checkpoint(tmp_path):
    params = jax.device_get(networks.init_params(CUSTOM, seed=2))
    path = save_checkpoint(tmp_path / "custom.ckpt", CUSTOM, params, {"dataset": "mnist"})
    meta = json.loads(zipfile.ZipFile(path).read("metadata.json"))
    assert meta["model"] == CUSTOM and from_json(meta["architecture"]) == parse_compact(CUSTOM)
    ckpt = load_checkpoint(path)
    assert ckpt.model_name == CUSTOM
    x = np.random.default_rng(0).random((3, 28, 28, 1), np.float32)
    np.testing.assert_array_equal(networks.transformed(CUSTOM).apply(params, x),
                                  networks.transformed(ckpt.model_name).apply(ckpt.params, x))
    preset = save_checkpoint(tmp_path / "mlp.ckpt", "mlp", jax.device_get(networks.init_params("mlp")))
    assert "architecture" not in json.loads(zipfile.ZipFile(preset).read("metadata.json"))


def _with_metadata(src, dst, change):
    meta = json.loads(zipfile.ZipFile(src).read("metadata.json"))
    change(meta)
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            zout.writestr(item.filename, json.dumps(meta) if item.filename == "metadata.json" else zin.read(item))
    return dst


@pytest.mark.parametrize(("change", "pattern"), [
    (lambda m: m["architecture"]["layers"][0].update(channels=10**9), r"'architecture' is refused: layer 1 \(conv\) channels"),
    (lambda m: m["architecture"]["layers"].append({"type": "transformer"}), r"'architecture' is refused: layer 11 type"),
    (lambda m: m.update(architecture="conv:8"), r"'architecture' is refused: architecture layers: must be a list"),
    (lambda m: m["architecture"]["layers"][0].update(kernel=5), r"'architecture' .* does not match its 'model'"),
    (lambda m: m.pop("architecture"), r"unknown model architecture 'conv:8:3:2:same"),
    (lambda m: m.update(model="dense:99999999,relu"), r"'architecture' is refused: layer 1 \(dense\) units"),
])
def test_hostile_architecture_in_a_checkpoint_is_refused(tmp_path, change, pattern):
    params = jax.device_get(networks.init_params(CUSTOM, seed=2))
    good = save_checkpoint(tmp_path / "good.ckpt", CUSTOM, params)
    with pytest.raises(CheckpointError, match=pattern):
        load_checkpoint(_with_metadata(good, tmp_path / "bad.ckpt", change))


def test_dropout_is_active_only_in_training():
    name = "dense:64,relu,dropout:0.5"
    params = networks.init_params(name)
    x = np.random.default_rng(0).random((2, 28, 28, 1), np.float32)
    plain = networks.transformed(name).apply(params, x)
    a = networks.training_transformed(name).apply(params, x, jax.random.PRNGKey(0))
    b = networks.training_transformed(name).apply(params, x, jax.random.PRNGKey(1))
    assert not np.allclose(a, b) and not np.allclose(a, plain)
    assert networks.with_activations(name).apply(params, x)[1]["dense1"].shape == (2, 64)


def test_train_config_names_a_bad_layer_list():
    from mnist_desktop.core.training.trainer import TrainConfig, default_config

    with pytest.raises(ConfigError, match=r"model: layer 2 \(conv\) kernel"):
        TrainConfig(model="conv:8:5:2,conv:8:13").validate()
    with pytest.raises(ConfigError, match="unknown model 'resnet'"):
        TrainConfig(model="resnet").validate()
    assert default_config("conv:8:5:2,relu").learning_rate == default_config("cnn").learning_rate


def test_read_architecture_from_a_file(tmp_path):
    spec = tmp_path / "net.json"
    spec.write_text(json.dumps(parse_compact(CUSTOM).to_json()))
    assert read_architecture(str(spec)) == parse_compact(CUSTOM)
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(SpecError, match="bad.json is not valid JSON"):
        read_architecture(str(tmp_path / "bad.json"))
    with pytest.raises(SpecError, match="cannot read"):
        read_architecture(str(tmp_path / "missing.json"))


def test_cli_trains_a_custom_arch_and_refuses_a_bad_one(tmp_path, capsys):
    from mnist_desktop.cli.main import main

    out = tmp_path / "m.ckpt"
    code = main(["train", "--dataset", "mnist-subset", "--arch", "conv:4:5:2,relu,dense:16,relu", "--epochs", "0.2",
                 "--out", str(out), "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["model"] == "conv:4:5:2:valid,relu,dense:16,relu"
    assert load_checkpoint(out).model_name == report["model"]
    assert main(["train", "--dataset", "mnist-subset", "--arch", "conv:4:30", "--out", str(tmp_path / "x.ckpt")]) == 1
    assert "layer 1 (conv) kernel: 30 is out of range" in capsys.readouterr().err
    assert not (tmp_path / "x.ckpt").exists()
    assert math.isfinite(report["test_accuracy"])


@pytest.mark.parametrize("model", ["logreg", "mlp", "cnn", "flax-cnn", "conv:6:5:2,relu,maxpool,conv:4:3,gelu,flatten,dense:12,tanh",
                                   "conv:8:3,relu", "dense:30,relu,dropout:0.2"])
def test_feature_width_from_shapes_equals_the_traced_features(model):
    from mnist_desktop.core.models.features import feature_dim
    from mnist_desktop.core.models.doubt_stats import feature_width

    assert feature_width(model) == feature_dim(model)
