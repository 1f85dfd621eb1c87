"""Checkpoints: bit-exact round trip, and every kind of bad file is refused clearly."""

from __future__ import annotations

import io
import json
import os
import zipfile

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mnist_desktop.core.models.checkpoints import load_checkpoint, save_checkpoint
from mnist_desktop.core.errors import CheckpointError
from mnist_desktop.core.models.networks import init_params


@pytest.fixture(scope="module")
def cnn_params():
    return jax.device_get(init_params("cnn", seed=3))


def rewrite(src, dst, *, drop=(), replace=None):
    """Copy a checkpoint zip, dropping or replacing entries."""
    replace = replace or {}
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            if item.filename in drop:
                continue
            zout.writestr(item.filename, replace.get(item.filename, zin.read(item)))
        for name, data in replace.items():
            if name not in zin.namelist():
                zout.writestr(name, data)


def npy(array):
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def test_round_trip_is_bit_exact_with_metadata(tmp_path, cnn_params):
    path = save_checkpoint(tmp_path / "m.ckpt", "cnn", cnn_params, {"dataset": "fashion-mnist",
                           "class_names": [f"c{i}" for i in range(10)], "metrics": {"test_accuracy": 0.91}})
    ckpt = load_checkpoint(path)
    assert ckpt.model_name == "cnn" and ckpt.dataset == "fashion-mnist"
    assert ckpt.class_names[3] == "c3" and ckpt.test_accuracy == pytest.approx(0.91)
    assert {"jax", "numpy"} <= set(ckpt.metadata["versions"]) and ckpt.metadata["preprocess_version"] == 2
    for module, group in cnn_params.items():
        for name, value in group.items():
            assert ckpt.params[module][name].dtype == value.dtype
            assert np.array_equal(ckpt.params[module][name], value)


def test_wrong_architecture_is_refused(tmp_path, cnn_params):
    good = save_checkpoint(tmp_path / "good.ckpt", "cnn", cnn_params)
    bad = tmp_path / "claims-mlp.ckpt"
    meta = json.loads(zipfile.ZipFile(good).read("metadata.json"))
    meta["model"] = "mlp"
    rewrite(good, bad, replace={"metadata.json": json.dumps(meta)})
    with pytest.raises(CheckpointError, match="do not match the 'mlp' architecture"):
        load_checkpoint(bad)


def test_wrong_shape_and_nan_are_refused(tmp_path, cnn_params):
    good = save_checkpoint(tmp_path / "good.ckpt", "cnn", cnn_params)
    rewrite(good, tmp_path / "shape.ckpt", replace={"params/conv1/w.npy": npy(np.zeros((3, 3, 1, 16), np.float32))})
    with pytest.raises(CheckpointError, match=r"conv1/w has shape \(3, 3, 1, 16\)"):
        load_checkpoint(tmp_path / "shape.ckpt")
    nan = np.array(cnn_params["conv1"]["w"])
    nan[0, 0, 0, 0] = np.nan
    rewrite(good, tmp_path / "nan.ckpt", replace={"params/conv1/w.npy": npy(nan)})
    with pytest.raises(CheckpointError, match="NaN"):
        load_checkpoint(tmp_path / "nan.ckpt")
    rewrite(good, tmp_path / "missing.ckpt", drop=("params/dense/b.npy",))
    with pytest.raises(CheckpointError, match="missing params/dense/b.npy"):
        load_checkpoint(tmp_path / "missing.ckpt")


def test_pickled_object_arrays_are_refused(tmp_path, cnn_params, object_array_npy):
    good = save_checkpoint(tmp_path / "good.ckpt", "cnn", cnn_params)
    rewrite(good, tmp_path / "pickle.ckpt", replace={"params/conv1/b.npy": object_array_npy})
    with pytest.raises(CheckpointError, match="not a valid array"):
        load_checkpoint(tmp_path / "pickle.ckpt")


@pytest.mark.parametrize(
    ("metadata", "pattern"),
    [("{not json", "not valid JSON"), ("[1, 2]", "JSON object"), ('{"format": "other"}', "format"),
     ('{"format": "mnist-desktop-checkpoint", "format_version": 99, "model": "cnn"}', "not supported"),
     ('{"format": "mnist-desktop-checkpoint", "format_version": 1, "model": "resnet"}', "unknown model"),
     ('{"format": "mnist-desktop-checkpoint", "format_version": 1, "model": "cnn", "class_names": 5}', "class_names"),
     ('{"format": "mnist-desktop-checkpoint", "format_version": 1, "model": "cnn", "class_names": ["' + "x" * 5000 + '"]}', "class_names")],
)
def test_hostile_metadata_is_refused(tmp_path, cnn_params, metadata, pattern):
    good = save_checkpoint(tmp_path / "good.ckpt", "cnn", cnn_params)
    rewrite(good, tmp_path / "bad.ckpt", replace={"metadata.json": metadata})
    with pytest.raises(CheckpointError, match=pattern):
        load_checkpoint(tmp_path / "bad.ckpt")


def test_missing_folder_and_garbage_files(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.ckpt")
    with pytest.raises(CheckpointError, match="is a folder"):
        load_checkpoint(tmp_path)
    (tmp_path / "garbage.ckpt").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(CheckpointError, match="not a checkpoint archive"):
        load_checkpoint(tmp_path / "garbage.ckpt")


def test_truncated_checkpoint_is_refused(tmp_path, cnn_params):
    data = save_checkpoint(tmp_path / "good.ckpt", "cnn", cnn_params).read_bytes()
    for cut in (10, len(data) // 3, len(data) - 30):
        (tmp_path / "cut.ckpt").write_bytes(data[:cut])
        with pytest.raises(CheckpointError):
            load_checkpoint(tmp_path / "cut.ckpt")


def test_garbled_zip_version_field_is_refused(tmp_path, cnn_params):
    """A version-needed byte flipped in the central directory makes zipfile raise
    NotImplementedError (found by the fuzz test below); it must read as a damaged file."""
    path = tmp_path / "m.ckpt"
    save_checkpoint(path, "cnn", cnn_params, {"dataset": "mnist"})
    data = bytearray(path.read_bytes())
    directory = data.index(b"PK\x01\x02")
    data[directory + 6:directory + 8] = (235).to_bytes(2, "little")  # "needs zip version 23.5"
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="m.ckpt is not a usable mnist-desktop model"):
        load_checkpoint(path)


def test_failed_save_keeps_previous_file(tmp_path, cnn_params, monkeypatch):
    path = save_checkpoint(tmp_path / "keep.ckpt", "cnn", cnn_params)
    before = path.read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(CheckpointError, match="No space left"):
        save_checkpoint(path, "cnn", cnn_params)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.ckpt"]  # no temp file left behind


def test_read_only_folder(tmp_path, cnn_params, monkeypatch):
    # root ignores folder permissions, so simulate what a read-only folder does to mkstemp
    import tempfile

    path = save_checkpoint(tmp_path / "m.ckpt", "cnn", cnn_params)
    before = path.read_bytes()

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(CheckpointError, match="Permission denied"):
        save_checkpoint(path, "cnn", cnn_params)
    assert path.read_bytes() == before


def test_vanished_folder(tmp_path, cnn_params):
    with pytest.raises(CheckpointError, match="could not save the model"):
        save_checkpoint(tmp_path / "gone" / "m.ckpt", "cnn", cnn_params)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=4096), flips=st.lists(st.integers(0, 10**6), max_size=8))
def test_fuzzed_checkpoints_only_raise_checkpoint_error(tmp_path_factory, cnn_params, data, flips):
    base = tmp_path_factory.getbasetemp() / "fuzz-base.ckpt"
    if not base.exists():
        save_checkpoint(base, "logreg", jax.device_get(init_params("logreg")))
    blob = bytearray(base.read_bytes()) if data[:1] != b"R" else bytearray(data)
    for pos in flips:
        blob[pos % len(blob)] ^= 0xFF
    target = tmp_path_factory.getbasetemp() / "fuzz.ckpt"
    target.write_bytes(bytes(blob))
    try:
        load_checkpoint(target)
    except CheckpointError:
        pass
