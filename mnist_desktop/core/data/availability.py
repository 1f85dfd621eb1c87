"""Whether a dataset is on this computer, decided by content, cheaply: for menus and pickers.

A folder "has" a dataset only if :func:`~mnist_desktop.core.data.datasets.load_dataset`
would accept it. File names alone cannot tell: MNIST and Fashion-MNIST share every
name and size, so a picker that looked at names said "Fashion-MNIST (available)" for
an MNIST folder and Start then failed. Here every file gets the loader's own check,
made cheap enough to run each time a menu opens:

* label files (≤ 60 KB): decompressed and sha256-compared, as the loader does;
  this is the check that tells MNIST from Fashion-MNIST;
* image files (~10 MB gzipped): the IDX header (magic, count, 28×28) and the
  decompressed size — for ``.gz`` read from the gzip trailer, so nothing big is
  decompressed; a trailer that disagrees (multi-member gzip) falls back to
  counting the stream once.

Verdicts are cached by resolved path, size and mtime, so a menu refresh costs a
few ``stat`` calls and a replaced file is checked afresh.
"""

from __future__ import annotations

import functools
import gzip
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from mnist_desktop.core.data.datasets import (
    IMAGE_SHAPE,
    DatasetSpec,
    FileSpec,
    check_payload,
    complete_folder,
    folder_layouts,
    get_spec,
    search_bases,
)
from mnist_desktop.core.data.idx import read_idx_bytes
from mnist_desktop.core.errors import DatasetError

_LABELS_MAGIC = b"\x00\x00\x08\x01"
_IMAGES_MAGIC = b"\x00\x00\x08\x03"
_COUNT_CHUNK = 1 << 20


@dataclass(frozen=True)
class Availability:
    """Where a dataset is, and which folders looked like it but were not (and why)."""

    name: str
    bundled: bool
    folder: Path | None  # the folder the loader would read, None when not on this computer
    skipped: tuple[str, ...] = ()  # "<folder>: <reason>" for folders with the right names, wrong content

    @property
    def available(self) -> bool:
        return self.bundled or self.folder is not None

    def status(self) -> str:
        """``"bundled"``, ``"found at PATH"`` or ``"not downloaded"`` (the picker's words)."""
        if self.bundled:
            return "bundled"
        return f"found at {self.folder}" if self.folder is not None else "not downloaded"


def dataset_availability(name: str | DatasetSpec, data_dir: str | os.PathLike | None = None) -> Availability:
    """Look where :func:`load_dataset` looks, in its order, and apply its checks (cheaply)."""
    spec = get_spec(name)
    if spec.bundled:
        return Availability(spec.name, True, None)
    skipped: list[str] = []
    seen: set[Path] = set()
    for base in search_bases(spec, data_dir):
        for folder in folder_layouts(base, spec):
            if folder in seen:
                continue
            seen.add(folder)
            found = complete_folder(folder, spec)
            if not found:
                continue
            problem = folder_problem(found, spec)
            if problem is None:
                return Availability(spec.name, False, folder, tuple(skipped))
            skipped.append(f"{folder}: {problem}")
    return Availability(spec.name, False, None, tuple(skipped))


def dataset_status(name: str | DatasetSpec, data_dir: str | os.PathLike | None = None) -> str:
    """``"bundled"``, ``"found at PATH"`` or ``"not downloaded"``; see :func:`dataset_availability`."""
    return dataset_availability(name, data_dir).status()


def folder_problem(found: dict[str, Path], spec: DatasetSpec) -> str | None:
    """Why the loader would refuse these files (the first reason), or None when it would accept them.

    Label files go first: a wrong-dataset folder is told apart by them alone.
    """
    for role in sorted(found, key=lambda r: spec.files[r].size):
        path = found[role]
        try:
            st = path.stat()
        except OSError as exc:
            return f"cannot read {path}: {exc.strerror or exc}"
        problem = _file_problem(str(path.resolve()), st.st_size, st.st_mtime_ns, spec.files[role])
        if problem is not None:
            return problem
    return None


@functools.lru_cache(maxsize=256)
def _file_problem(path: str, size: int, mtime_ns: int, fspec: FileSpec) -> str | None:
    """The verdict on one file; ``size``/``mtime_ns`` are only cache keys (a changed file is re-checked)."""
    del size, mtime_ns
    try:
        if fspec.size <= 1 << 20:  # labels: small, hash them, as the loader does
            check_payload(read_idx_bytes(path, max_bytes=fspec.size), fspec, path, full=True)
        else:
            _check_large(Path(path), fspec)
    except DatasetError as exc:
        return str(exc)
    return None


def expected_header(fspec: FileSpec) -> bytes:
    """The IDX header a file of this spec starts with (labels: 8 bytes, 28×28 images: 16)."""
    pixels = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
    if (fspec.size - 16) % pixels == 0 and fspec.size >= 16 + pixels:
        return _IMAGES_MAGIC + struct.pack(">III", (fspec.size - 16) // pixels, *IMAGE_SHAPE)
    return _LABELS_MAGIC + struct.pack(">I", fspec.size - 8)


def _check_large(path: Path, fspec: FileSpec) -> None:
    """Header and decompressed size of a big file, without decompressing it (see module doc)."""
    header = expected_header(fspec)
    try:
        with open(path, "rb") as raw:
            gzipped = raw.read(2) == b"\x1f\x8b"
            raw.seek(0)
            if not gzipped:
                head, size = raw.read(len(header)), path.stat().st_size
            else:
                with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                    head = stream.read(len(header))
                raw.seek(-4, os.SEEK_END)
                size = struct.unpack("<I", raw.read(4))[0]  # ISIZE: the payload size mod 2**32
                if size != fspec.size % (1 << 32):
                    size = _count_gzip(path, fspec.size)
    except (EOFError, OSError, zlib.error) as exc:
        raise DatasetError(f"{path} is a damaged or truncated file ({exc}); delete it and download again") from None
    if head != header:
        raise DatasetError(f"{path} does not start like {fspec.filename} (header {head.hex()}, expected "
                           f"{header.hex()}); it is a different or damaged file")
    if size != fspec.size:
        raise DatasetError(f"{path} has {size} bytes of data, expected {fspec.size} for {fspec.filename}; "
                           "it is a different or damaged file: delete it and download again")


def _count_gzip(path: Path, limit: int) -> int:
    """Decompressed size of a gzip file, counted (stops one chunk past ``limit``)."""
    total = 0
    with gzip.open(path, "rb") as stream:
        while total <= limit:
            chunk = stream.read(_COUNT_CHUNK)
            if not chunk:
                break
            total += len(chunk)
    return total


def clear_cache() -> None:
    """Forget the cached verdicts (tests)."""
    _file_problem.cache_clear()
