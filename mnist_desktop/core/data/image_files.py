"""Reading picture files (PNG, JPEG, BMP, GIF, ...) as grey arrays for preprocessing.

Kept apart from :mod:`~mnist_desktop.core.data.preprocess` because decoding
untrusted files is its own job: size limits before decoding (decompression
bombs), only regular files, EXIF orientation, and one :class:`ImageError`
naming the file for every failure, since the CLI and GUI show it as is.
"""

from __future__ import annotations

import os
import re
import warnings

import numpy as np
from PIL import Image, ImageOps

from mnist_desktop.core.data.preprocess import to_grey
from mnist_desktop.core.errors import ImageError
from mnist_desktop.core.safe_io import PathProblem, check_regular_file

# Images larger than this are refused before decoding (decompression bombs).
MAX_IMAGE_PIXELS = 50_000_000
# A digit needs a few pixels each way; a 1x2 "image" would still be read as some digit.
MIN_IMAGE_SIDE = 8


def _check_size(name: str, width: int, height: int) -> None:
    """Refuse pictures too big to decode safely or too small to hold a digit."""
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageError(
            f"{name}: image is {width}x{height} pixels, larger than the "
            f"{MAX_IMAGE_PIXELS // 1_000_000} megapixel limit; shrink it first"
        )
    if min(width, height) < MIN_IMAGE_SIDE:
        raise ImageError(f"{name}: image is {width}x{height} pixels, too small to hold a digit "
                         f"(at least {MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE}); use a larger picture")


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as grey float32 HxW in [0, 1], transparency composited.

    Only the first frame of animated files is used. Every failure -- missing
    file, not an image, truncated/corrupt data, a picture over
    :data:`MAX_IMAGE_PIXELS` -- becomes an :class:`ImageError` naming the file,
    because the CLI and GUI show that message to the user as is.
    """
    name = str(path)
    try:
        check_regular_file(path, "image")
    except PathProblem as err:
        raise ImageError(str(err)) from None
    try:
        with warnings.catch_warnings():
            # Pillow warns about sizes over its own limit (rejected below anyway)
            # and about damaged metadata it can skip; neither is for the user.
            warnings.simplefilter("ignore")
            with Image.open(path) as img:
                width, height = img.size
                _check_size(name, width, height)
                img.load()
                # a phone photo stores "rotate 90°" in EXIF instead of rotating the pixels
                upright = ImageOps.exif_transpose(img)
                array = _pil_to_array(upright)
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = f" ({int(found.group(1)) / 1e6:,.0f} megapixels)" if found else ""
        raise ImageError(f"{name}: the image{size} is larger than the {MAX_IMAGE_PIXELS // 1_000_000} "
                         "megapixel limit; shrink it first") from None
    except Exception as exc:  # noqa: BLE001 - Pillow's decoders raise many types on bad data
        raise ImageError(
            f"{name}: cannot read this file as an image ({type(exc).__name__}: {exc}); "
            "use a PNG, JPEG, BMP or GIF picture"
        ) from exc
    grey = to_grey(array)
    if grey is None:
        raise ImageError(f"{name}: the image has no pixels")
    return np.array(grey, dtype=np.float32)  # a fresh, writable copy for the caller


def _pil_to_array(img: Image.Image) -> np.ndarray:
    """Convert a decoded Pillow image to a numpy array in a mode we understand."""
    mode = img.mode
    if mode in ("1", "L", "F"):
        return np.asarray(img.convert("L") if mode == "1" else img)
    if mode.startswith("I"):  # I, I;16, I;16B, ... : integer greyscale
        data = np.asarray(img.convert("I") if mode != "I" else img).astype(np.float64)
        top = 65535.0 if data.max(initial=0) > 255 else 255.0
        return (data / top).astype(np.float32)
    if mode == "LA" or mode == "La":
        return np.asarray(img.convert("LA"))
    if mode in ("RGBA", "RGBa", "PA") or (mode == "P" and "transparency" in img.info):
        return np.asarray(img.convert("RGBA"))
    return np.asarray(img.convert("RGB"))
