"""Building and damaging drawings stores for the issue-14 tests (core and GUI)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
from PIL import Image

from mnist_desktop.core.handwriting.store import HandwritingSet

#: Each kind of damage the hostile pass found in ``labels.csv`` or beside it.
DAMAGE_KINDS = ("bom", "non-utf8", "lost-header", "truncated", "oversized-field", "missing-npy", "orphans")


def a_drawing(label: int, rng: np.random.Generator, size: int = 140) -> np.ndarray:
    """A canvas-like uint8 picture with some ink (white on black); enough to be stored."""
    img = np.zeros((size, size), np.uint8)
    r, c = rng.integers(10, size // 2, 2)
    h, w = rng.integers(size // 4, size // 2, 2)
    pen = 6 + label
    img[r:r + h, c:c + pen] = 255
    img[r:r + pen, c:c + w] = 255
    return img


def make_store(root: Path, n: int = 12, seed: int = 0) -> HandwritingSet:
    ds = HandwritingSet(root)
    rng = np.random.default_rng(seed)
    for i in range(n):
        ds.add(a_drawing(i % 10, rng), i % 10, sample_id=f"d{seed}-{i:03d}")
    return ds


def index_rows(root: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((root / "labels.csv").read_text("utf-8"))))


def damage(root: Path, kind: str) -> None:
    """Damage a healthy store the way the report did."""
    index = root / "labels.csv"
    data = index.read_bytes()
    lines = data.split(b"\n")
    if kind == "bom":
        index.write_bytes(b"\xef\xbb\xbf" + data)
    elif kind == "non-utf8":
        lines[3] = lines[3].replace(b"+00:00", b"+00\xff00")
        index.write_bytes(b"\n".join(lines))
    elif kind == "non-utf8-id":
        lines[3] = lines[3].replace(b"d0-002", b"d0-0\xff2")  # the id itself is garbled
        index.write_bytes(b"\n".join(lines))
    elif kind == "lost-header":
        index.write_bytes(b"\n".join(lines[1:]))
    elif kind == "truncated":
        index.write_bytes(data[: len(data) // 2 + 7])
    elif kind == "oversized-field":
        with index.open("a") as handle:
            handle.write("s99,1,example," + "x" * 200000 + ",\n")
    elif kind == "missing-npy":
        for sample_id in ("d0-002", "d0-007"):
            (root / "samples" / f"{sample_id}.npy").unlink()
    elif kind == "orphans":  # a save cut short: three drawings on disk, not in the index
        index.write_bytes(b"\n".join(lines[:-4]) + b"\n")
    else:
        raise ValueError(kind)


def strip_metadata(root: Path) -> None:
    """Make the PNGs look like ones written before issue 14 (no label of their own)."""
    for png in (root / "samples").glob("*.png"):
        with Image.open(png) as img:
            pixels = np.asarray(img.convert("L"))
        Image.fromarray(pixels).save(png)
