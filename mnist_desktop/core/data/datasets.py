"""The datasets the app knows, where their files are found, and loading them.

Three datasets: full MNIST and Fashion-MNIST (downloaded or found on disk) and a
small class-balanced MNIST subset bundled in ``resources/data/mnist-subset`` so
the app can train and evaluate out of the box, offline.

Where files are looked for, in order (first complete, valid folder wins):

1. the ``data_dir`` argument (``--data-dir`` on the CLI),
2. the ``MNIST_DESKTOP_DATA`` environment variable,
3. system folders (Debian's ``dataset-fashion-mnist`` package for Fashion-MNIST),
4. the download cache, ``user_cache_dir()/datasets/<name>``,
5. a download from the official mirrors, only when ``download=True``.

Each folder may hold the four files directly or in a sub-folder named after the
dataset, so one folder can hold both (``data/mnist/...``, ``data/fashion-mnist/...``),
and a folder named after another dataset leads to its sibling (``data/mnist`` →
``data/fashion-mnist``); files may be ``.gz`` or already decompressed. Whether a
dataset is here without loading it: :mod:`~mnist_desktop.core.data.availability`.

Checks: the bundled subset and downloads are verified by sha256 of the
decompressed payload. Folders the user provides are checked by decompressed size
(every file) and sha256 of the small label files: that costs nothing and catches
the one mix-up sizes cannot, MNIST files standing in for Fashion-MNIST (the two
have identical sizes). :func:`verify_checksums` does the full check on demand.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from mnist_desktop.core.data.data_folders import check_data_dir, folder_report
from mnist_desktop.core.errors import ConfigError, DatasetError
from mnist_desktop.core.data.idx import parse_idx, read_idx_bytes, write_idx
from mnist_desktop.core.paths import resources_dir, user_cache_dir
from mnist_desktop.core.data.dataset_specs import (  # noqa: F401  (re-exported: the loader's callers name them here)
    DATASETS,
    FILE_ROLES,
    IMAGE_SHAPE,
    NUM_CLASSES,
    DatasetSpec,
    FileSpec,
    available_datasets,
    get_spec,
)

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, "int | None"], None]
CancelCallback = Callable[[], bool]

DATA_ENV = "MNIST_DESKTOP_DATA"

@dataclass
class Dataset:
    """A loaded dataset.

    The arrays are cached and shared between callers (the GUI loads the same
    dataset repeatedly), so they are read-only: copy before modifying.
    """

    name: str
    title: str
    class_names: tuple[str, ...]
    train_images: np.ndarray  # uint8 (N, 28, 28)
    train_labels: np.ndarray  # uint8 (N,)
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str  # the folder the files were read from


def default_download_dir(name: str | DatasetSpec) -> Path:
    """Where downloads of ``name`` go: the per-user cache."""
    return user_cache_dir() / "datasets" / get_spec(name).name


def download_command(name: str | DatasetSpec) -> str:
    return f"mnist-desktop download {get_spec(name).name}"


# ---------------------------------------------------------------- finding files


def find_file(folder: Path, fspec: FileSpec) -> Path | None:
    """The file for ``fspec`` directly in ``folder`` (any accepted name), or None."""
    for candidate in fspec.candidates():
        path = folder / candidate
        if path.is_file():
            return path
    return None


def folder_layouts(base: Path, spec: DatasetSpec, *, sibling: bool = True) -> list[Path]:
    """Where under ``base`` the files may be: ``<base>/<name>/``, ``base`` itself, and (for
    searches) the sibling ``<base>/../<name>/`` — so pointing at ``data/mnist`` finds
    ``data/fashion-mnist`` too."""
    layouts = [base / spec.name, base]
    if not sibling:
        return layouts
    sibling_dir = base.parent / spec.name
    if base.name != spec.name and base.parent != base and sibling_dir not in layouts:
        layouts.append(sibling_dir)
    return layouts


def search_bases(spec: DatasetSpec, data_dir: str | os.PathLike | None) -> list[Path]:
    if spec.bundled:
        return [resources_dir() / spec.bundled_dir]
    if data_dir is not None:  # asked for: the only place looked in, never a silent fallback
        hint = f"run `{download_command(spec)}` or pass a folder that holds the {spec.title} files"
        return [check_data_dir(data_dir, spec.title, hint)]
    bases: list[Path] = []
    env = os.environ.get(DATA_ENV)
    if env:
        bases.append(Path(env).expanduser())
    bases.extend(Path(d) for d in spec.system_dirs)
    bases.append(default_download_dir(spec))
    return bases


def complete_folder(folder: Path, spec: DatasetSpec) -> dict[str, Path] | None:
    found = {role: find_file(folder, fspec) for role, fspec in spec.files.items()}
    if all(found.values()):
        return found  # type: ignore[return-value]
    return None


# ---------------------------------------------------------------- verification


def check_payload(payload: bytes, fspec: FileSpec, source: str, *, full: bool = True) -> None:
    """Raise DatasetError unless ``payload`` (decompressed) matches ``fspec``.

    ``full=False`` checks only the size, for big files in folders the user provided.
    """
    if len(payload) != fspec.size:
        raise DatasetError(
            f"{source} has {len(payload)} bytes of data, expected {fspec.size} for {fspec.filename}; "
            "it is a different or damaged file: delete it and download again"
        )
    if full:
        digest = hashlib.sha256(payload).hexdigest()
        if digest != fspec.sha256:
            raise DatasetError(checksum_mismatch_message(source, digest, fspec))


def checksum_mismatch_message(
    source: str, digest: str, fspec: FileSpec, advice: str = "delete it and download again"
) -> str:
    """Say which known dataset a file belongs to when it is the wrong one, since
    MNIST and Fashion-MNIST files share names and sizes."""
    for spec in DATASETS.values():
        for other in spec.files.values():
            if other.sha256 == digest:
                return (
                    f"{source} is the {spec.title} file {other.filename}, not the expected one "
                    f"(sha256 {fspec.sha256[:12]}…); is this another dataset's folder?"
                )
    return f"{source} fails its checksum (sha256 {digest[:12]}…, expected {fspec.sha256[:12]}…); " + (
        f"it is a different or damaged file: {advice}" if advice else "it is a different or damaged file"
    )


def verify_file(path: Path, fspec: FileSpec) -> bytes:
    """Fully verify one file (size and sha256 of the decompressed payload); return the payload."""
    payload = read_idx_bytes(path, max_bytes=fspec.size)
    check_payload(payload, fspec, str(path))
    return payload


def verify_checksums(name: str | DatasetSpec, folder: str | os.PathLike) -> Path:
    """Fully verify all files of ``name`` in ``folder`` (flat or ``<folder>/<name>``).

    Returns the folder that holds them; raises DatasetError naming the first
    missing or bad file. Used by ``mnist-desktop download`` and the tests.
    """
    spec = get_spec(name)
    base = Path(folder).expanduser()
    for candidate in folder_layouts(base, spec, sibling=False):  # this folder, not a neighbour
        found = complete_folder(candidate, spec)
        if found:
            for role, path in found.items():
                verify_file(path, spec.files[role])
            return candidate
    missing = [f.filename for f in spec.files.values() if find_file(base, f) is None]
    raise DatasetError(f"{base} does not hold all files of {spec.title}; missing: {', '.join(missing)}")


# ---------------------------------------------------------------- loading


def _file_key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return (str(path.resolve()), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _load_arrays(
    keys: tuple[tuple[str, int, int], ...], fspecs: tuple[FileSpec, ...], full: bool
) -> tuple[np.ndarray, ...]:
    """Read, verify and shape-check the four files. Cached by resolved path, size
    and mtime, so a re-downloaded file is read afresh."""
    arrays: dict[int, np.ndarray] = {}
    # Small label files first: a wrong-dataset folder is rejected before any image is decompressed.
    for i in sorted(range(len(keys)), key=lambda i: fspecs[i].size):
        path, fspec = keys[i][0], fspecs[i]
        payload = read_idx_bytes(path, max_bytes=fspec.size)
        check_payload(payload, fspec, path, full=full or "labels" in fspec.filename)
        arrays[i] = parse_idx(payload, path)
        arrays[i].flags.writeable = False
    train_x, train_y, test_x, test_y = (arrays[i] for i in range(4))
    for images, labels, (img_path, lab_path) in (
        (train_x, train_y, (keys[0][0], keys[1][0])),
        (test_x, test_y, (keys[2][0], keys[3][0])),
    ):
        _check_pair(images, labels, img_path, lab_path)
    return train_x, train_y, test_x, test_y


def _check_pair(images: np.ndarray, labels: np.ndarray, img_path: str, lab_path: str) -> None:
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise DatasetError(f"{img_path} holds {images.dtype} {images.shape}, expected uint8 (N, 28, 28) images")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DatasetError(f"{lab_path} holds {labels.dtype} {labels.shape}, expected uint8 (N,) labels")
    if len(images) != len(labels):
        raise DatasetError(f"{img_path} has {len(images)} images but {lab_path} has {len(labels)} labels")
    if labels.size and labels.max() >= NUM_CLASSES:
        raise DatasetError(f"{lab_path} has label {int(labels.max())}; labels must be 0..{NUM_CLASSES - 1}")


def _load_folder(folder: Path, found: dict[str, Path], spec: DatasetSpec, full: bool) -> Dataset:
    keys = tuple(_file_key(found[role]) for role in FILE_ROLES)
    fspecs = tuple(spec.files[role] for role in FILE_ROLES)
    train_x, train_y, test_x, test_y = _load_arrays(keys, fspecs, full)
    return Dataset(spec.name, spec.title, spec.class_names, train_x, train_y, test_x, test_y, str(folder))


def _not_found(spec: DatasetSpec, bases: list[Path], problems: list[str]) -> DatasetError:
    cache = default_download_dir(spec)
    names = ", ".join(f.filename for f in spec.files.values())
    looked = "; ".join(str(b) for b in bases)
    lines = [f"{spec.title} is not available. Looked in: {looked}."]
    lines += [report for base in bases for folder in folder_layouts(base, spec)
              if (report := folder_report(folder, spec)) is not None]
    lines += [f"Skipped: {p}" for p in problems]
    if spec.bundled:
        lines.append("The bundled files are part of the app: reinstall it.")
    else:
        lines.append(
            f"Run `{download_command(spec)}` to download it, or put the four files ({names}) in {cache}."
        )
        if spec.install_hint:
            lines.append(f"Or {spec.install_hint}.")
    return DatasetError("\n".join(lines))


def load_dataset(
    name: str | DatasetSpec,
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelCallback | None = None,
) -> Dataset:
    """Load a dataset from the first folder that has it (see module doc), downloading if allowed.

    A folder with all files present but one of them bad is skipped (and
    reported in the final error if nothing else works), so a stale broken copy
    never hides a good one elsewhere.
    """
    spec = get_spec(name)
    bases = search_bases(spec, data_dir)
    problems: list[str] = []
    cache = default_download_dir(spec)
    for base in bases:
        for folder in ([base] if spec.bundled else folder_layouts(base, spec)):
            found = complete_folder(folder, spec)
            if not found:
                continue
            try:
                return _load_folder(folder, found, spec, full=spec.bundled)
            except DatasetError as exc:
                log.warning("skipping %s: %s", folder, exc)
                problems.append(str(exc))
    if download and spec.mirrors:
        from mnist_desktop.core.data.download import download_dataset  # circular: download uses our specs

        folder = download_dataset(spec, cache, progress=progress, cancel=cancel)
        found = complete_folder(folder, spec)
        if found:
            return _load_folder(folder, found, spec, full=False)  # sha256 checked while downloading
    raise _not_found(spec, bases, problems)




# ---------------------------------------------------------------- using the arrays


def split_validation(
    images: np.ndarray, labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hold out ``fraction`` of the examples as a validation set: (train_x, train_y, val_x, val_y).

    The split is a seeded permutation, so the same seed always holds out the
    same examples (comparable runs, resumable training); both parts keep the
    original order. ``fraction=0`` gives an empty validation set.
    """
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    if not 0.0 <= fraction < 1.0:
        raise ConfigError("validation_split", f"must be in [0, 1), got {fraction}")
    n = len(images)
    n_val = int(round(n * fraction))
    order = np.random.default_rng(seed).permutation(n)
    val_idx = np.sort(order[:n_val])
    train_idx = np.sort(order[n_val:])
    return images[train_idx], labels[train_idx], images[val_idx], labels[val_idx]


def to_model_array(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) -> float32 (N, 28, 28, 1) in [0, 1], the layout every model takes."""
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"expected images of shape (N, 28, 28), got {images.shape}")
    return (images.astype(np.float32) / np.float32(255.0))[..., None]


# ---------------------------------------------------------------- the bundled subset


def make_subset(
    src_dir: str | os.PathLike,
    dest_dir: str | os.PathLike,
    n_train: int = 6000,
    n_test: int = 1000,
    seed: int = 0,
) -> dict[str, tuple[str, int]]:
    """Write a class-balanced MNIST subset as four gzipped IDX files; how
    ``resources/data/mnist-subset`` was made.

    ``src_dir`` holds full MNIST (flat or in ``mnist/``). Each class gets
    ``n/10`` examples, drawn without replacement by ``default_rng(seed)``
    (train first, then test), kept in MNIST's original order. Output is
    byte-for-byte reproducible (gzip level 9, no timestamp). Returns
    ``{filename: (sha256, size)}`` of the decompressed payloads, the values that
    go into the ``"mnist-subset"`` spec.
    """
    if n_train % NUM_CLASSES or n_test % NUM_CLASSES:
        raise ValueError(f"n_train and n_test must be multiples of {NUM_CLASSES} for a balanced subset")
    spec = DATASETS["mnist"]
    folder = next((f for f in folder_layouts(Path(src_dir), spec) if complete_folder(f, spec)), None)
    if folder is None:
        raise DatasetError(f"{src_dir} does not hold the MNIST files")
    full = _load_folder(folder, complete_folder(folder, spec) or {}, spec, full=True)  # sha256-verified
    rng = np.random.default_rng(seed)
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    result: dict[str, tuple[str, int]] = {}
    for images, labels, n, (img_role, lab_role) in (
        (full.train_images, full.train_labels, n_train, ("train_images", "train_labels")),
        (full.test_images, full.test_labels, n_test, ("test_images", "test_labels")),
    ):
        per_class = n // NUM_CLASSES
        picked = [rng.choice(np.flatnonzero(labels == c), size=per_class, replace=False) for c in range(NUM_CLASSES)]
        idx = np.sort(np.concatenate(picked))
        for role, array in ((img_role, images[idx]), (lab_role, labels[idx])):
            filename = spec.files[role].filename
            write_idx(dest / filename, array)
            payload = read_idx_bytes(dest / filename)
            result[filename] = (hashlib.sha256(payload).hexdigest(), len(payload))
    return result
