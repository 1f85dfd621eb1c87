"""The dataset pickers' "is it here?" check: by content (what the loader accepts), cheap, cached."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from mnist_desktop.core.data import availability
from mnist_desktop.core.data.availability import dataset_availability, dataset_status, expected_header
from mnist_desktop.core.data.datasets import DATASETS, FILE_ROLES, DatasetSpec, load_dataset
from mnist_desktop.core.data.idx import encode_idx, write_idx
from mnist_desktop.core.errors import DatasetError


def write_set(folder: Path, seed: int, n_train: int = 20, n_test: int = 10) -> dict[str, bytes]:
    """Four small IDX files under MNIST's names; returns their payloads."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for role in FILE_ROLES:
        write_idx(folder / DATASETS["mnist"].files[role].filename, arrays[role])
    return {role: encode_idx(arrays[role]) for role in FILE_ROLES}


def two_specs(tmp_path: Path) -> tuple[DatasetSpec, DatasetSpec, Path]:
    """A fake "mnist" in data/mnist and a fake "fashion-mnist" in data/fashion-mnist: same names and sizes."""
    import hashlib

    from mnist_desktop.core.data.datasets import FileSpec

    data = tmp_path / "data"
    specs = []
    for name, seed in (("mnist", 1), ("fashion-mnist", 2)):
        payloads = write_set(data / name, seed)
        files = {role: FileSpec(DATASETS["mnist"].files[role].filename, hashlib.sha256(p).hexdigest(), len(p))
                 for role, p in payloads.items()}
        specs.append(DatasetSpec(name, name.title(), tuple("abcdefghij"), files))
    return specs[0], specs[1], data


def test_sibling_folder_found_and_wrong_dataset_skipped(tmp_path: Path) -> None:
    mnist, fashion, data = two_specs(tmp_path)
    status = dataset_availability(fashion, data / "mnist")
    assert status.folder == data / "fashion-mnist"
    assert status.status() == f"found at {data / 'fashion-mnist'}"
    assert len(status.skipped) == 1 and str(data / "mnist") in status.skipped[0]
    assert Path(load_dataset(fashion, data / "mnist").source) == data / "fashion-mnist"  # the loader agrees
    assert dataset_status(mnist, data / "mnist") == f"found at {data / 'mnist'}"


def test_wrong_dataset_alone_is_not_available(tmp_path: Path) -> None:
    mnist, fashion, data = two_specs(tmp_path)
    (data / "fashion-mnist").rename(tmp_path / "elsewhere")
    status = dataset_availability(fashion, data / "mnist")
    assert not status.available and status.status() == "not downloaded"
    assert "fails its checksum" in status.skipped[0]
    with pytest.raises(DatasetError):
        load_dataset(fashion, data / "mnist")


@pytest.mark.parametrize("damage", ["truncate", "header", "raw-short"])
def test_damaged_image_file_is_not_available(tmp_path: Path, damage: str) -> None:
    from mnist_desktop.core.data.datasets import FileSpec

    mnist, _, data = two_specs(tmp_path)
    # images big enough to take the header + size path (> 1 MiB decompressed)
    big = np.zeros((1400, 28, 28), np.uint8)
    payload = encode_idx(big)
    path = data / "mnist" / "train-images-idx3-ubyte.gz"
    write_idx(path, big)
    files = dict(mnist.files)
    import hashlib

    files["train_images"] = FileSpec(files["train_images"].filename, hashlib.sha256(payload).hexdigest(), len(payload))
    spec = DatasetSpec("mnist", "MNIST", mnist.class_names, files)
    assert dataset_status(spec, data / "mnist") == f"found at {data / 'mnist'}"
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:-30])
    elif damage == "header":
        path.write_bytes(gzip.compress(b"\x00\x00\x08\x03" + (7).to_bytes(4, "big") + payload[8:]))
    else:
        path.unlink()
        (path.with_suffix("")).write_bytes(payload[:-784])
    os.utime(path if path.exists() else path.with_suffix(""), ns=(5, 5))
    status = dataset_availability(spec, data / "mnist")
    assert not status.available, status
    with pytest.raises(DatasetError):
        load_dataset(spec, data / "mnist")


def test_verdict_cached_until_the_file_changes(tmp_path: Path, monkeypatch) -> None:
    mnist, _, data = two_specs(tmp_path)
    assert dataset_status(mnist, data / "mnist").startswith("found")
    calls = []
    real = availability.read_idx_bytes
    monkeypatch.setattr(availability, "read_idx_bytes", lambda *a, **k: calls.append(a) or real(*a, **k))
    assert dataset_status(mnist, data / "mnist").startswith("found")
    assert calls == []  # cached: no file read again
    labels = data / "mnist" / "t10k-labels-idx1-ubyte.gz"
    write_idx(labels, np.zeros(10, np.uint8))
    os.utime(labels, ns=(7, 7))
    assert dataset_status(mnist, data / "mnist") == "not downloaded"
    assert calls


def test_expected_header() -> None:
    spec = DATASETS["mnist"].files
    assert expected_header(spec["train_images"]) == bytes.fromhex("00000803") + (60000).to_bytes(4, "big") + \
        (28).to_bytes(4, "big") * 2
    assert expected_header(spec["test_labels"]) == bytes.fromhex("00000801") + (10000).to_bytes(4, "big")
