"""Issue 14's hostile pass, one regression test per defect (models, images, CLI targets, output).

The store (1, 2, 6, 8) is in test_store_repair.py / test_store_gui.py, settings (7) in
test_settings_schema.py, SIGINT (10) in test_sigint.py, downloads (12, 16, 17) in
test_download.py.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import struct
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnist_desktop.cli.main import main
from mnist_desktop.cli import train_command
from mnist_desktop.core.data.datasets import DATASETS
from mnist_desktop.core.data.preprocess import load_image
from mnist_desktop.core.errors import CheckpointError, ImageError
from mnist_desktop.core.fileio import sweep_stale_temps
from mnist_desktop.core.honest_output import strict_json, terminal_safe
from mnist_desktop.core.models.checkpoints import load_checkpoint, save_checkpoint

SUBSET = ["--dataset", "mnist-subset", "--model", "logreg"]
FASHION = list(DATASETS["fashion-mnist"].class_names)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def good_model(trained_logreg, tmp_path) -> Path:
    params, _ = trained_logreg
    return save_checkpoint(tmp_path / "good.ckpt", "logreg", params, {"dataset": "mnist-subset"})


def rewrite(src: Path, dst: Path, replace: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            zout.writestr(item.filename, replace.get(item.filename, zin.read(item)))
    return dst


def edited_meta(src: Path, dst: Path, **changes) -> Path:
    with zipfile.ZipFile(src) as zf:
        meta = json.loads(zf.read("metadata.json"))
    meta.update(changes)
    return rewrite(src, dst, {"metadata.json": json.dumps(meta).encode()})


def digit_png(path: Path, trained_logreg, index: int = 0) -> Path:
    _, dataset = trained_logreg
    Image.fromarray(255 - np.kron(dataset.test_images[index], np.ones((8, 8), np.uint8))).save(path)
    return path


# -- 3: a failed run never overwrites a good file -----------------------------


def test_3_diverging_run_keeps_the_good_model(good_model, capsys):
    before = digest(good_model)
    assert main(["train", *SUBSET, "--epochs", "0.2", "--lr", "1e308", "--out", str(good_model)]) == 1
    err = capsys.readouterr().err
    assert "Training diverged" in err and "Nothing was saved" in err and "unchanged" in err
    assert digest(good_model) == before


# -- 4: --out is checked before training ---------------------------------------


def _refused_before_training(capsys, out: Path, *needles: str, extra: tuple[str, ...] = ()) -> None:
    assert main(["train", *SUBSET, "--epochs", "0.1", "--out", str(out), *extra]) == 1
    err = capsys.readouterr().err
    assert "Training logreg" not in err, err  # no work was done
    for needle in needles:
        assert needle in err, err


def test_4_out_missing_folder_and_folder_that_is_a_file(tmp_path, capsys):
    _refused_before_training(capsys, tmp_path / "nope" / "m.ckpt", "does not exist")
    (tmp_path / "file").write_text("x")
    _refused_before_training(capsys, tmp_path / "file" / "m.ckpt", "not a folder")


def test_4_out_read_only_file_device_and_symlink(tmp_path, good_model, capsys):
    locked = tmp_path / "locked.ckpt"
    locked.write_bytes(good_model.read_bytes())
    locked.chmod(0o444)
    _refused_before_training(capsys, locked, "read-only")
    assert locked.read_bytes() == good_model.read_bytes()
    link = tmp_path / "link.ckpt"
    link.symlink_to(good_model)
    _refused_before_training(capsys, link, "symbolic link")
    assert link.is_symlink()
    fifo = tmp_path / "pipe.ckpt"
    os.mkfifo(fifo)
    _refused_before_training(capsys, fifo, "named pipe")
    if os.geteuid() == 0:  # a copy of /dev/full, as in the report
        device = tmp_path / "full"
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 7))
        _refused_before_training(capsys, device, "a device")
        assert stat.S_ISCHR(device.stat().st_mode)


def test_4_full_disk_is_found_before_training(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(train_command.shutil, "disk_usage", lambda _p: type("U", (), {"free": 1000})())
    _refused_before_training(capsys, tmp_path / "m.ckpt", "bytes free")


def test_4_symlink_allowed_with_force_writes_through(tmp_path, capsys):
    real = tmp_path / "real.ckpt"
    link = tmp_path / "link.ckpt"
    link.symlink_to(real)
    assert main(["train", *SUBSET, "--epochs", "0.1", "--out", str(link), "--force"]) == 0
    assert link.is_symlink() and load_checkpoint(real).model_name == "logreg"


# -- 5: stale temp files are swept -----------------------------------------------


def test_5_stale_temp_files_of_a_killed_save_are_swept(tmp_path, good_model):
    old = tmp_path / ".good.ckpt.abc123.tmp"
    young = tmp_path / ".good.ckpt.def456.tmp"
    other = tmp_path / ".other.ckpt.xyz.tmp"
    for path in (old, young, other):
        path.write_bytes(b"half a model")
    os.utime(old, (1, 1))
    os.utime(other, (1, 1))
    save_checkpoint(good_model, "logreg", load_checkpoint(good_model).params, {})
    assert not old.exists() and young.exists() and other.exists()  # a young one may be a live save
    assert sweep_stale_temps(tmp_path / "other.ckpt") == [other]


# -- 9: bounded reads ---------------------------------------------------------------


def test_9_gigantic_declared_npy_shape_is_refused_before_allocating(good_model, tmp_path, capsys):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False, "shape": (1 << 20, 1 << 20)})
    bad = rewrite(good_model, tmp_path / "huge.ckpt", {"params/linear/w.npy": buf.getvalue() + b"\0" * 64})
    with pytest.raises(CheckpointError, match=r"linear/w has shape \(1048576, 1048576\)"):
        load_checkpoint(bad)
    assert main(["predict", "--model", str(bad), str(tmp_path / "x.png")]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "huge.ckpt is not a usable" in err


def test_9_zip_entry_larger_than_its_parameter_is_cut_off_early(good_model, tmp_path):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.zeros((784, 10), np.float32))
    padded = buf.getvalue() + bytes(60 << 20)  # 60 MB of zeros: deflates to ~60 KB
    bad = rewrite(good_model, tmp_path / "inflate.ckpt", {"params/linear/w.npy": padded})
    assert bad.stat().st_size < 1 << 20
    tracemalloc.start()
    with pytest.raises(CheckpointError, match="linear/w"):
        load_checkpoint(bad)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 << 20, peak


def test_9_zip_entry_lying_about_its_size(good_model, tmp_path):
    data = bytearray(rewrite(good_model, tmp_path / "lie.ckpt", {"metadata.json": bytes(50 << 20)}).read_bytes())
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # declare 100 bytes
        pos = 0
        while (pos := data.find(sig, pos)) >= 0:
            name_len = struct.unpack_from("<H", data, pos + (26 if sig == b"PK\x03\x04" else 28))[0]
            start = pos + (30 if sig == b"PK\x03\x04" else 46)
            if data[start:start + name_len] == b"metadata.json":
                struct.pack_into("<I", data, pos + offset, 100)
            pos += 4
    lying = tmp_path / "lying.ckpt"
    lying.write_bytes(bytes(data))
    tracemalloc.start()
    with pytest.raises(CheckpointError):
        load_checkpoint(lying)
    assert tracemalloc.get_traced_memory()[1] < 8 << 20
    tracemalloc.stop()


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "folder"])
def test_9_only_regular_files_are_opened_as_models_and_images(tmp_path, kind):
    path = tmp_path / "thing"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    else:
        path = Path("/dev/zero")
    with pytest.raises(CheckpointError, match="not a model file"):
        load_checkpoint(path)  # returns at once: no hang, no unbounded read
    with pytest.raises(ImageError, match="not an image"):
        load_image(path)


# -- 11: long names, read-only home, unbounded counts ------------------------------------


def test_11_long_file_name_is_one_message_and_predict_goes_on(good_model, trained_logreg, tmp_path, capsys):
    long_name = tmp_path / ("x" * 300 + ".png")
    good = digit_png(tmp_path / "digit.png", trained_logreg)
    assert main(["predict", "--model", str(good_model), "--json", str(long_name), str(good)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert "too long" in rows[0]["error"] and rows[1]["label"] == int(trained_logreg[1].test_labels[0])


def test_11_long_out_and_data_dir_names(tmp_path, capsys):
    _refused_before_training(capsys, tmp_path / ("y" * 300 + ".ckpt"), "too long")
    assert main(["train", "--dataset", "mnist", "--data-dir", str(tmp_path / ("d" * 300))]) == 1
    err = capsys.readouterr().err
    assert "too long" in err and "Traceback" not in err


def test_11_read_only_home_is_found_before_training(tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    (home / "models").chmod(0o555)  # marked read-only (root could still write: the mark is honoured)
    monkeypatch.setenv("MNIST_DESKTOP_HOME", str(home))
    try:
        assert main(["train", *SUBSET, "--epochs", "0.1"]) == 1
    finally:
        (home / "models").chmod(0o755)
    err = capsys.readouterr().err
    assert "Training logreg" not in err and "not writable" in err and "MNIST_DESKTOP_HOME" in err
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("MNIST_DESKTOP_HOME", str(tmp_path / "file" / "home"))
    assert main(["train", *SUBSET, "--epochs", "0.1"]) == 1
    err = capsys.readouterr().err
    assert "Training logreg" not in err and "cannot create the folder" in err


@pytest.mark.parametrize("count, needle", [("1000000000", "5,000"), ("-5", "from 0 to")])
def test_11_17_synthetic_drawn_count_is_bounded(count, needle, tmp_path, capsys):
    assert main(["train", *SUBSET, "--synthetic-drawn", count, "--out", str(tmp_path / "m.ckpt")]) == 1
    assert needle in capsys.readouterr().err


# -- 13: huge weights, no NaN in JSON -------------------------------------------------


def test_13_finite_but_huge_weights_are_refused(good_model, tmp_path):
    params = load_checkpoint(good_model).params
    params["linear"]["w"] = params["linear"]["w"].copy()
    params["linear"]["w"][0, 0] = 3e38
    huge = save_checkpoint(tmp_path / "huge.ckpt", "logreg", params, {})
    with pytest.raises(CheckpointError, match="weight of 3e\\+38"):
        load_checkpoint(huge)


def test_13_json_output_never_holds_nan(monkeypatch, good_model, capsys):
    line = strict_json({"test_loss": float("nan"), "per": [1.0, float("inf")]})
    report = json.loads(line, parse_constant=lambda c: pytest.fail(f"bare {c} in JSON"))
    assert report["test_loss"] is None and report["per"] == [1.0, None]
    assert set(report["null_reasons"]) == {"test_loss", "per[1]"}
    from mnist_desktop.core.training import evaluation

    real = evaluation.evaluate

    def nan_loss(*args, **kwargs):
        result = real(*args, **kwargs)
        result.loss = float("nan")
        return result

    monkeypatch.setattr(evaluation, "evaluate", nan_loss)
    assert main(["evaluate", "--model", str(good_model), "--dataset", "mnist-subset", "--json"]) == 0
    out = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"bare {c} in JSON"))
    assert out["test_loss"] is None and "test_loss" in out["null_reasons"]


# -- 14: EXIF orientation -------------------------------------------------------------


def test_14_exif_orientation_is_applied(tmp_path):
    upright = np.zeros((40, 60), np.uint8)
    upright[5:15, 5:50] = 255  # a bar across the top: orientation is visible
    stored = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_270)  # what a phone writes ...
    exif = Image.Exif()
    exif[0x0112] = 8  # ... plus "rotate 90° CCW to view"
    path = tmp_path / "phone.png"
    stored.save(path, exif=exif.tobytes())
    read = load_image(path)
    assert read.shape == upright.shape
    np.testing.assert_allclose(read, upright / 255.0, atol=1 / 255)


# -- 15: a model of another dataset is named as such -------------------------------------


@pytest.fixture
def fashion_model(good_model, tmp_path) -> Path:
    ckpt = load_checkpoint(good_model)
    return save_checkpoint(tmp_path / "fashion.ckpt", "logreg", ckpt.params,
                           {"dataset": "fashion-mnist", "class_names": FASHION})


def test_15_predict_names_a_fashion_model(fashion_model, trained_logreg, tmp_path, capsys):
    png = digit_png(tmp_path / "seven.png", trained_logreg)
    assert main(["predict", "--model", str(fashion_model), str(png)]) == 0
    captured = capsys.readouterr()
    assert "Fashion-MNIST model: " in captured.out and "not a digit model" in captured.err
    assert main(["predict", "--model", str(fashion_model), "--json", str(png)]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["digit_model"] is False and row["model_dataset"] == "fashion-mnist" and "not a digit" in row["note"]


def test_15_evaluate_refuses_a_mismatched_class_set(fashion_model, capsys):
    assert main(["evaluate", "--model", str(fashion_model), "--dataset", "mnist-subset"]) == 1
    assert "trained on Fashion-MNIST" in capsys.readouterr().err
    assert main(["evaluate", "--model", str(fashion_model), "--dataset", "mnist-subset", "--allow-mismatch"]) == 0
    captured = capsys.readouterr()
    assert "warning:" in captured.err and "Fashion-MNIST model" in captured.out


# -- 16: messages name the file and the fix -------------------------------------------


def test_16_broken_data_dir_never_falls_back_and_the_folder_used_is_named(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MNIST_DESKTOP_DATA", str(tmp_path))
    folder = tmp_path / "mnist"
    folder.mkdir()
    (folder / "train-images-idx3-ubyte.gz").mkdir()  # a folder standing in for a file
    assert main(["train", "--dataset", "mnist", "--data-dir", str(folder)]) == 1
    err = capsys.readouterr().err
    assert f"{folder}: missing" in err and "train-images-idx3-ubyte.gz is a folder, not a file" in err
    (tmp_path / "afile").write_text("x")
    assert main(["train", "--dataset", "mnist", "--data-dir", str(tmp_path / "afile")]) == 1
    assert "is a file, not a folder" in capsys.readouterr().err
    assert main(["train", *SUBSET, "--epochs", "0.1", "--out", str(tmp_path / "m.ckpt")]) == 0
    assert "(from " in capsys.readouterr().err  # the folder read is named


def test_16_checkpoint_and_image_messages(good_model, tmp_path):
    with pytest.raises(CheckpointError, match="must be a whole number, got str \"1\""):
        load_checkpoint(edited_meta(good_model, tmp_path / "s.ckpt", format_version="1"))
    folder = tmp_path / "pics"
    folder.mkdir()
    with pytest.raises(ImageError, match="is a folder, not an image"):
        load_image(folder)


def test_16_huge_png_quotes_the_apps_limit(tmp_path):
    path = tmp_path / "big.png"
    Image.new("1", (20000, 20000)).save(path)
    with pytest.raises(ImageError) as info:
        load_image(path)
    assert "50 megapixel limit" in str(info.value) and "DOS" not in str(info.value)


# -- 17: accepted without a word ----------------------------------------------------------


def test_17_bool_format_version_and_newer_preprocessing_are_refused(good_model, tmp_path):
    with pytest.raises(CheckpointError, match="format_version' must be a whole number, got bool"):
        load_checkpoint(edited_meta(good_model, tmp_path / "b.ckpt", format_version=True))
    with pytest.raises(CheckpointError, match="preprocessing version 99"):
        load_checkpoint(edited_meta(good_model, tmp_path / "p.ckpt", preprocess_version=99))


def test_17_tiny_image_is_refused(tmp_path):
    path = tmp_path / "tiny.png"
    Image.new("L", (1, 2), 255).save(path)
    with pytest.raises(ImageError, match="too small to hold a digit"):
        load_image(path)


def test_17_class_names_with_escapes_are_printed_harmlessly(good_model, trained_logreg, tmp_path, capsys):
    evil = [f"\x1b[2J\x1b]0;pwned\x07{d}\u202e" for d in range(10)]
    ckpt = load_checkpoint(good_model)
    model = save_checkpoint(tmp_path / "evil.ckpt", "logreg", ckpt.params, {"class_names": evil})
    png = digit_png(tmp_path / "d.png", trained_logreg)
    assert main(["predict", "--model", str(model), str(png)]) == 0
    out = capsys.readouterr().out + capsys.readouterr().err
    assert "\x1b" not in out and "\u202e" not in out and "\\u202e" in out
    assert terminal_safe("a\x1b[31mred\x1b[0m\u2067b") == "ared\\u2067b"
