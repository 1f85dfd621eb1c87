"""Finding, verifying and loading datasets; the bundled subset; splitting."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from mnist_desktop.core.data.datasets import (
    DATASETS,
    FILE_ROLES,
    DatasetSpec,
    FileSpec,
    available_datasets,
    load_dataset,
    make_subset,
    split_validation,
    to_model_array,
    verify_checksums,
)
from mnist_desktop.core.data.availability import dataset_availability, dataset_status
from mnist_desktop.core.errors import ConfigError, DatasetError
from mnist_desktop.core.data.idx import encode_idx, write_idx
from mnist_desktop.core.paths import resources_dir, user_cache_dir

SUBSET_DIR = resources_dir() / "data" / "mnist-subset"


def make_fake_dataset(
    folder: Path,
    name: str = "fake",
    n_train: int = 20,
    n_test: int = 10,
    seed: int = 0,
    *,
    gz: bool = True,
    arrays: dict[str, np.ndarray] | None = None,
) -> tuple[DatasetSpec, dict[str, np.ndarray]]:
    """Write a small random dataset in MNIST's file layout; return its spec (with the
    right checksums) and arrays. Also used by test_download.py."""
    rng = np.random.default_rng(seed)
    arrays = arrays or {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": (np.arange(n_train) % 10).astype(np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": (np.arange(n_test) % 10).astype(np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for role in FILE_ROLES:
        filename = DATASETS["mnist"].files[role].filename
        payload = encode_idx(arrays[role])
        files[role] = FileSpec(filename, hashlib.sha256(payload).hexdigest(), len(payload))
        write_idx(folder / (filename if gz else filename.removesuffix(".gz")), arrays[role])
    spec = DatasetSpec(name, f"Fake {name}", tuple("abcdefghij"), files, mirrors=("https://example.invalid/",))
    return spec, arrays


def assert_loaded(dataset, arrays: dict[str, np.ndarray]) -> None:
    for role in FILE_ROLES:
        np.testing.assert_array_equal(getattr(dataset, role), arrays[role])


# ---------------------------------------------------------------- registry


def test_registry() -> None:
    assert [n for n, _ in available_datasets()] == ["mnist", "fashion-mnist", "mnist-subset"]
    assert dict(available_datasets())["mnist-subset"] == "MNIST (bundled subset)"
    assert DATASETS["mnist"].class_names == tuple("0123456789")
    assert DATASETS["fashion-mnist"].class_names[0] == "T-shirt/top"
    assert DATASETS["fashion-mnist"].class_names[9] == "Ankle boot"
    for spec in DATASETS.values():
        assert len(spec.class_names) == 10
        assert all(m.startswith("https://") for m in spec.mirrors)
    assert DATASETS["mnist"].files["train_images"].size == 47040016
    assert DATASETS["mnist"].files["test_labels"].size == 10008


def test_unknown_name() -> None:
    with pytest.raises(DatasetError, match="unknown dataset 'emnist'.*mnist, fashion-mnist"):
        load_dataset("emnist")


# ---------------------------------------------------------------- bundled subset


def test_subset_loads_balanced() -> None:
    ds = load_dataset("mnist-subset")
    assert ds.title == "MNIST (bundled subset)" and ds.class_names == tuple("0123456789")
    assert ds.train_images.shape == (6000, 28, 28) and ds.train_images.dtype == np.uint8
    assert ds.test_images.shape == (1000, 28, 28) and ds.test_labels.shape == (1000,)
    assert np.bincount(ds.train_labels).tolist() == [600] * 10
    assert np.bincount(ds.test_labels).tolist() == [100] * 10
    assert 30 < ds.train_images.mean() < 40  # real digits, not noise (MNIST's mean is ~33)
    assert Path(ds.source) == SUBSET_DIR
    assert dataset_status("mnist-subset") == "bundled"


def test_subset_is_small_and_verified() -> None:
    total = sum(p.stat().st_size for p in SUBSET_DIR.glob("*.gz"))
    assert total <= 1_500_000
    assert verify_checksums("mnist-subset", SUBSET_DIR) == SUBSET_DIR


def test_cached_arrays_are_shared_and_read_only() -> None:
    a, b = load_dataset("mnist-subset"), load_dataset("mnist-subset")
    assert a.train_images is b.train_images
    with pytest.raises(ValueError):
        a.train_images[0, 0, 0] = 1


def test_tampered_subset_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "resources" / "data" / "mnist-subset"
    shutil.copytree(SUBSET_DIR, copy)
    labels = load_dataset("mnist-subset").test_labels.copy()
    labels[0] = (labels[0] + 1) % 10  # same size, different content
    write_idx(copy / "t10k-labels-idx1-ubyte.gz", labels)
    monkeypatch.setenv("MNIST_DESKTOP_RESOURCES", str(tmp_path / "resources"))
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte.gz fails its checksum") as info:
        load_dataset("mnist-subset")
    assert "reinstall" in str(info.value)


def test_make_subset_reproduces_bundled_files(shared_data_dir: Path, tmp_path: Path) -> None:
    result = make_subset(shared_data_dir, tmp_path)
    spec = DATASETS["mnist-subset"]
    for fspec in spec.files.values():
        assert result[fspec.filename] == (fspec.sha256, fspec.size)
        assert (tmp_path / fspec.filename).read_bytes() == (SUBSET_DIR / fspec.filename).read_bytes()


# ---------------------------------------------------------------- finding folders


@pytest.mark.parametrize("layout", ["flat", "subfolder"])
@pytest.mark.parametrize("gz", [True, False])
def test_layouts(tmp_path: Path, layout: str, gz: bool) -> None:
    folder = tmp_path / "fake" if layout == "subfolder" else tmp_path
    spec, arrays = make_fake_dataset(folder, gz=gz)
    ds = load_dataset(spec, data_dir=tmp_path)
    assert_loaded(ds, arrays)
    assert Path(ds.source) == folder
    assert ds.class_names == tuple("abcdefghij")
    assert dataset_status(spec, tmp_path) == f"found at {folder}"


def test_dotted_names_accepted(tmp_path: Path) -> None:
    spec, arrays = make_fake_dataset(tmp_path, gz=False)
    for path in tmp_path.iterdir():
        path.rename(path.with_name(path.name.replace("-idx", ".idx")))
    assert_loaded(load_dataset(spec, tmp_path), arrays)


def test_search_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = user_cache_dir() / "datasets" / "order"
    spec, _ = make_fake_dataset(cache, name="order")
    try:
        assert Path(load_dataset(spec).source) == cache
        make_fake_dataset(tmp_path / "env" / "order", name="order")
        monkeypatch.setenv("MNIST_DESKTOP_DATA", str(tmp_path / "env"))
        assert Path(load_dataset(spec).source) == tmp_path / "env" / "order"
        make_fake_dataset(tmp_path / "arg", name="order")
        assert Path(load_dataset(spec, data_dir=tmp_path / "arg").source) == tmp_path / "arg"
        # an explicit data_dir is the only place looked in (issue 14, defect 16): no silent fallback
        with pytest.raises(DatasetError, match=f"data folder {tmp_path / 'nothing'} does not exist"):
            load_dataset(spec, data_dir=tmp_path / "nothing")
        (tmp_path / "empty").mkdir()
        with pytest.raises(DatasetError, match=f"{tmp_path / 'empty'}: missing train-images"):
            load_dataset(spec, data_dir=tmp_path / "empty")
    finally:
        shutil.rmtree(cache)


def test_missing_data_message() -> None:
    with pytest.raises(DatasetError) as info:
        load_dataset("mnist")
    message = str(info.value)
    cache = user_cache_dir() / "datasets" / "mnist"
    assert str(cache) in message
    assert "`mnist-desktop download mnist`" in message
    assert "train-images-idx3-ubyte.gz" in message
    assert dataset_status("mnist") == "not downloaded"


def test_missing_fashion_mentions_debian_package(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="apt-get install dataset-fashion-mnist") as info:
        load_dataset("fashion-mnist", data_dir=tmp_path)
    assert str(tmp_path) in str(info.value)


def test_incomplete_folder_is_not_found(tmp_path: Path) -> None:
    spec, _ = make_fake_dataset(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    assert dataset_status(spec, tmp_path) == "not downloaded"
    with pytest.raises(DatasetError, match="not available"):
        load_dataset(spec, tmp_path)


def test_broken_file_is_reported_and_good_copy_elsewhere_wins(tmp_path: Path, monkeypatch) -> None:
    spec, arrays = make_fake_dataset(tmp_path / "good")
    make_fake_dataset(tmp_path / "bad")
    path = tmp_path / "bad" / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DatasetError) as info:
        load_dataset(spec, tmp_path / "bad")
    assert f"Skipped: {path}" in str(info.value)
    monkeypatch.setenv("MNIST_DESKTOP_DATA", str(tmp_path / "good"))
    assert_loaded(load_dataset(spec), arrays)  # the good copy elsewhere wins when no folder is named
    with pytest.raises(DatasetError, match="Skipped"):  # ... but a named folder is never silently replaced
        load_dataset(spec, tmp_path / "bad")


def test_size_mismatch_detected(tmp_path: Path) -> None:
    spec, _ = make_fake_dataset(tmp_path)
    make_fake_dataset(tmp_path, n_train=30)  # same names, different counts
    with pytest.raises(DatasetError, match="train-labels-idx1-ubyte.gz is too large: header says 30 "):
        load_dataset(spec, tmp_path)
    make_fake_dataset(tmp_path, n_train=10)
    with pytest.raises(DatasetError, match="train-labels-idx1-ubyte.gz has 18 bytes of data, expected 28"):
        load_dataset(spec, tmp_path)


@pytest.mark.parametrize(
    "role, bad, fragment",
    [
        ("train_labels", np.full(20, 10, dtype=np.uint8), "labels must be 0..9"),
        ("train_labels", np.zeros(19, dtype=np.uint8), "20 images but"),
        ("test_images", np.zeros((10, 27, 28), dtype=np.uint8), "expected uint8 (N, 28, 28)"),
        ("test_labels", np.zeros((10, 1), dtype=np.uint8), "expected uint8 (N,) labels"),
        ("test_images", np.zeros((10, 28, 28), dtype=np.int32), "expected uint8"),
    ],
)
def test_content_checks(tmp_path: Path, role: str, bad: np.ndarray, fragment: str) -> None:
    _, arrays = make_fake_dataset(tmp_path / "x")
    spec, _ = make_fake_dataset(tmp_path / "y", arrays={**arrays, role: bad})
    with pytest.raises(DatasetError) as info:
        load_dataset(spec, tmp_path / "y")
    assert fragment in str(info.value)


def test_reloaded_after_file_changes(tmp_path: Path) -> None:
    spec, _ = make_fake_dataset(tmp_path)
    first = load_dataset(spec, tmp_path)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-20])
    os.utime(path, ns=(1, 1))
    with pytest.raises(DatasetError):
        load_dataset(spec, tmp_path)
    assert first.train_images.shape == (20, 28, 28)


def test_verify_checksums_names_bad_file(tmp_path: Path) -> None:
    spec, arrays = make_fake_dataset(tmp_path / "fake")
    assert verify_checksums(spec, tmp_path) == tmp_path / "fake"
    images = arrays["test_images"].copy()
    images[0, 0, 0] ^= 1
    write_idx(tmp_path / "fake" / "t10k-images-idx3-ubyte.gz", images)
    with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte.gz fails its checksum"):
        verify_checksums(spec, tmp_path)
    with pytest.raises(DatasetError, match="missing"):
        verify_checksums(spec, tmp_path / "empty")


# ---------------------------------------------------------------- full datasets (shared)


def test_full_mnist(shared_data_dir: Path) -> None:
    ds = load_dataset("mnist", shared_data_dir)
    assert ds.train_images.shape == (60000, 28, 28) and ds.test_images.shape == (10000, 28, 28)
    assert ds.train_labels.shape == (60000,) and int(ds.train_labels.max()) == 9
    assert Path(ds.source) == shared_data_dir / "mnist"
    assert verify_checksums("mnist", shared_data_dir) == shared_data_dir / "mnist"


def test_full_fashion_and_wrong_folder(shared_data_dir: Path, tmp_path: Path) -> None:
    ds = load_dataset("fashion-mnist", shared_data_dir)
    assert ds.train_images.shape == (60000, 28, 28) and ds.class_names[9] == "Ankle boot"
    # data/mnist given: its MNIST files are refused, the sibling data/fashion-mnist is found
    assert Path(load_dataset("fashion-mnist", shared_data_dir / "mnist").source) == shared_data_dir / "fashion-mnist"
    status = dataset_availability("fashion-mnist", shared_data_dir / "mnist")
    assert status.folder == shared_data_dir / "fashion-mnist"
    assert any("is the MNIST file" in reason for reason in status.skipped)
    alone = tmp_path / "only-mnist"  # no sibling: refused, loader and status agree
    shutil.copytree(shared_data_dir / "mnist", alone)
    with pytest.raises(DatasetError, match="is the MNIST file t10k-labels-idx1-ubyte.gz"):
        load_dataset("fashion-mnist", alone)
    assert dataset_status("fashion-mnist", alone) == "not downloaded"


# ---------------------------------------------------------------- splitting / model arrays


def test_split_validation_seeded_and_disjoint() -> None:
    ids = np.arange(1000)
    images = np.repeat(ids[:, None, None], 28, axis=1).repeat(28, axis=2).astype(np.int32)
    tx, ty, vx, vy = split_validation(images, ids, 0.1, seed=3)
    assert len(vx) == 100 and len(tx) == 900
    assert set(ty).isdisjoint(vy) and set(ty) | set(vy) == set(ids)
    assert (tx[:, 0, 0] == ty).all() and (vx[:, 0, 0] == vy).all()  # images stay with labels
    again = split_validation(images, ids, 0.1, seed=3)
    np.testing.assert_array_equal(again[3], vy)
    assert not np.array_equal(split_validation(images, ids, 0.1, seed=4)[3], vy)


def test_split_validation_zero_and_bad_fraction() -> None:
    images, labels = np.zeros((10, 28, 28), np.uint8), np.zeros(10, np.uint8)
    tx, ty, vx, vy = split_validation(images, labels, 0.0, seed=0)
    assert tx.shape == (10, 28, 28) and vx.shape == (0, 28, 28) and vy.shape == (0,)
    for bad in (-0.1, 1.0, 2):
        with pytest.raises(ConfigError) as info:
            split_validation(images, labels, bad, seed=0)
        assert info.value.field == "validation_split"
    with pytest.raises(ValueError):
        split_validation(images, labels[:5], 0.1, seed=0)


def test_to_model_array() -> None:
    images = np.array([[[0] * 28] * 28, [[255] * 28] * 28], dtype=np.uint8)
    x = to_model_array(images)
    assert x.shape == (2, 28, 28, 1) and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0
    with pytest.raises(ValueError):
        to_model_array(images[0])

