"""One drawing on disk: ``samples/<id>.png`` is the truth, ``samples/<id>.npy`` a cache.

Why the PNG carries its own label: the index can be damaged, truncated or lost
(issue 14), and a drawing whose label lives only in the index is then a picture
nobody can put back in the set. Each PNG written since holds a small ``tEXt``
chunk (``mnist-desktop``: JSON with label, source, created, predicted), so the
whole set can be rebuilt from the ``samples`` folder alone. The ``.npy`` model
input is derived data: a missing or damaged one is recomputed from the PNG.

Write order, so a crash at any point loses nothing that was reported saved:
add = npy, then PNG (the commit), then index; relabel = PNG, then index;
delete = PNG first (the drawing is gone), then npy, then index.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, PngImagePlugin

from mnist_desktop.core.errors import DatasetError, ImageError
from mnist_desktop.core.safe_io import read_npy_bounded

META_KEY = "mnist-desktop"
MAX_NPY_BYTES = 64 << 10  # a 28x28 float32 array is 3,264 bytes
MAX_PNG_BYTES = 8 << 20
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_bytes(drawing: np.ndarray, meta: dict[str, Any] | None = None) -> bytes:
    """Encode a grey drawing (float [0, 1] or uint8) as an 8-bit grey PNG carrying ``meta``."""
    arr = np.asarray(drawing)
    if arr.ndim != 2 or arr.size == 0:
        raise ImageError(f"a drawing must be a non-empty 2-D grey picture, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        arr = np.asarray(arr, np.float64)
        if not np.isfinite(arr).all():
            raise ImageError("the drawing contains NaN or infinite pixels")
        arr = np.clip(np.rint(arr * 255.0), 0, 255).astype(np.uint8)
    info = None
    if meta is not None:
        info = PngImagePlugin.PngInfo()
        info.add_text(META_KEY, json.dumps(meta, sort_keys=True))
    buf = io.BytesIO()
    Image.fromarray(arr, mode="L").save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def read_png(path: Path) -> tuple[np.ndarray, dict[str, Any] | None]:
    """The stored drawing as uint8 (H, W) and its metadata (None for older files)."""
    try:
        if path.stat().st_size > MAX_PNG_BYTES:
            raise DatasetError(f"{path.name} is larger than {MAX_PNG_BYTES >> 20} MB; it is not a stored drawing")
        with Image.open(path, formats=["PNG"]) as img:
            if img.width * img.height > 4096 * 4096:
                raise DatasetError(f"{path.name} is {img.width}x{img.height} pixels; it is not a stored drawing")
            img.load()
            meta = _parse_meta(img.info.get(META_KEY))
            return np.asarray(img.convert("L")), meta
    except FileNotFoundError:
        raise DatasetError(f"its drawing {path.name} is missing") from None
    except DatasetError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise DatasetError(f"{path.name} cannot be read as a PNG ({err})") from None


def read_meta(path: Path) -> dict[str, Any] | None:
    """Only the metadata (text chunks come before the pixels, so this is cheap)."""
    try:
        with Image.open(path, formats=["PNG"]) as img:
            return _parse_meta(img.info.get(META_KEY))
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


def _parse_meta(text: Any) -> dict[str, Any] | None:
    if not isinstance(text, str) or len(text) > 4096:
        return None
    try:
        meta = json.loads(text)
    except ValueError:
        return None
    return meta if isinstance(meta, dict) else None


def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(array, np.float32), allow_pickle=False)
    return buf.getvalue()


def read_npy(path: Path) -> np.ndarray:
    """The stored (28, 28) float32 model input; DatasetError naming the file otherwise."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_NPY_BYTES + 1)
    except FileNotFoundError:
        raise DatasetError(f"its model input {path.name} is missing") from None
    except OSError as err:
        raise DatasetError(f"{path.name} cannot be read ({err.strerror or err})") from None
    if len(data) > MAX_NPY_BYTES:
        raise DatasetError(f"{path.name} is too large for a 28x28 model input")
    array = read_npy_bounded(data, lambda why: DatasetError(f"{path.name} {why}"), max_bytes=MAX_NPY_BYTES)
    return array
