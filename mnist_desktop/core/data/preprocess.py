"""Turn any picture of a digit into the 28x28 input the models were trained on.

MNIST digits were made by a fixed recipe: the ink's bounding box is scaled
(anti-aliased, aspect ratio kept) so its longer side is 20 px, then the result is
placed in a 28x28 field so that its centre of mass sits at the centre. A model
only reads a drawing well when the drawing goes through *the same* recipe, so the
GUI canvas and the ``predict`` CLI both call :func:`to_model_input` and nothing
else. :data:`PREPROCESS_VERSION` is stored in checkpoints so that a change to this
recipe can be detected.

Conventions of the output: float32, shape (28, 28), values in [0, 1], ink high and
background exactly 0 -- like ``to_model_array`` of the MNIST files.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageOps

from mnist_desktop.core.errors import ImageError
from mnist_desktop.core.data.stroke_width import WIDTH_BAND, estimate_width, offset_strokes, width_offsets
from mnist_desktop.core.safe_io import PathProblem, check_regular_file

# 2: stroke widths outside MNIST's band are thinned or thickened (issue 15).
# Version-1 models load and run unchanged; their inputs differ only for such digits.
PREPROCESS_VERSION = 2

OUTPUT_SIZE = 28
BOX_SIZE = 20
# MNIST's centre of mass, in array-index coordinates, averages (14.0, 14.0).
CENTRE = 14.0
# Stroke-width passes: one brings most digits into the band; the second finishes short fat ones,
# whose width the first pass's estimate (ink over half the outline) underrates.
WIDTH_PASSES = 2
# Images larger than this are refused before decoding (decompression bombs).
MAX_IMAGE_PIXELS = 50_000_000
# A digit needs a few pixels each way; a 1x2 "image" would still be read as some digit.
MIN_IMAGE_SIDE = 8

# A picture whose ink differs from its background by less than this (on a 0..1
# scale) is treated as blank: it is sensor noise or an empty canvas, not a digit.
_MIN_CONTRAST = 0.05
# After stretching ink to 0..1, values below this are noise/paper texture.
_NOISE_LEVEL = 0.1
# Strokes much thinner than an output pixel come out faint after area averaging;
# they are brightened so that the typical ink pixel reaches at least this level.
_MIN_INK_LEVEL = 0.9
_MAX_GAIN = 50.0
_LUMA = np.array([0.299, 0.587, 0.114, 0.0], dtype=np.float32)  # alpha weighs 0


def to_model_input(image: np.ndarray) -> np.ndarray | None:
    """Return the (28, 28) float32 model input for ``image``, or None if it is blank.

    ``image`` may be HxW, HxWx1 (grey), HxWx2 (grey+alpha), HxWx3 (RGB) or HxWx4
    (RGBA), of any integer, bool or float dtype, with dark ink on a light
    background or light ink on a dark one. Transparent pixels count as
    background. Blank means: no pixels, all NaN, uniform, or contrast too low to
    be ink.

    Raises:
        ImageError: if the array does not have one of the shapes above.
    """
    found = _find_ink(np.asarray(image))
    return None if found is None else _normalise_box(found[1])


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
    grey = _to_grey(array)
    if grey is None:
        raise ImageError(f"{name}: the image has no pixels")
    return np.array(grey, dtype=np.float32)  # a fresh, writable copy for the caller


# --------------------------------------------------------------------------- helpers


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


def _to_grey(image: np.ndarray) -> np.ndarray | None:
    """Grey float32 HxW in [0, 1]; alpha composited; None when there are no pixels.

    NaN/inf pixels are replaced by the median of the valid ones so they read as
    background; an all-NaN picture gives a uniform image (blank later on).
    """
    if image.ndim == 3 and image.shape[2] in (1, 2, 3, 4):
        channels = image.shape[2]
    elif image.ndim == 2:
        channels = 0
    else:
        raise ImageError(
            f"cannot use an array of shape {image.shape} as an image; "
            "expected HxW, HxWx1, HxWx2, HxWx3 or HxWx4"
        )
    if image.dtype.kind not in "biuf":
        raise ImageError(f"cannot use an array of {image.dtype} values as an image; expected numbers")
    if image.size == 0:
        return None
    # ``data`` may be the caller's own (possibly read-only) array: never write to it.
    data = _to_unit_range(image)
    if channels == 0:
        return data
    if channels <= 2:
        grey = data[..., 0]
    else:  # one contiguous matrix-vector product: the fastest way to weight channels
        grey = data @ _LUMA[:channels]
        np.clip(grey, 0.0, 1.0, out=grey)
    if channels in (2, 4):
        grey = _composite(grey, np.ascontiguousarray(data[..., -1]))
    return grey


def _to_unit_range(image: np.ndarray) -> np.ndarray:
    """Scale any dtype to float32 [0, 1]; non-finite values become the median."""
    if image.dtype in (np.uint8, np.uint16):
        data = image.astype(np.float32)
        data *= np.float32(1 / np.iinfo(image.dtype).max)
        return data
    if image.dtype == np.bool_:
        return image.astype(np.float32)
    # Other ints and floats: keep float64 precision until the range is known, so
    # huge values neither overflow nor turn into inf on the way.
    data = image if image.dtype in (np.float32, np.float64) else image.astype(np.float64)
    lo, hi = float(data.min()), float(data.max())
    if not (math.isfinite(lo) and math.isfinite(hi)):  # a NaN or inf shows in the min or max: one pass fewer
        finite = np.isfinite(data)
        fill = np.median(data[finite]) if finite.any() else 0.0
        data = np.where(finite, data, fill)
        lo, hi = float(data.min()), float(data.max())
    if lo >= 0.0 and hi <= 1.0:
        return data.astype(np.float32, copy=False)
    if lo >= 0.0 and hi <= 255.0:  # floats or ints on the 8-bit scale
        return (data * (1 / 255)).astype(np.float32)
    # Anything else: stretch its own range (pre-scaled so nothing overflows).
    top = max(abs(lo), abs(hi))
    span = hi / top - lo / top
    if span <= 0:
        return np.zeros(data.shape, dtype=np.float32)
    return ((data / top - lo / top) / span).astype(np.float32)


def _composite(grey: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Flatten grey+alpha so that transparent pixels look like background.

    The opaque part is the ink, so transparent pixels are laid on the colour
    *opposite* to the ink's mean: black ink on transparency becomes black on
    white, white ink on transparency white on black.
    """
    if alpha.min() >= 0.99:
        return grey
    out = grey * alpha  # composited on black
    weight = float(alpha.sum())
    ink_mean = float(out.sum()) / weight if weight > 0 else 0.0
    if ink_mean < 0.5:  # dark ink: composite on white instead, grey*a + (1 - a)
        out -= alpha
        out += np.float32(1.0)
    return np.clip(out, 0.0, 1.0, out=out)


def ink_box(image: np.ndarray) -> tuple[slice, slice] | None:
    """The (rows, columns) of ``image`` that :func:`to_model_input` crops to, or None if blank.

    Views that map the 28×28 input back onto the drawing (saliency on the
    canvas) use this, so they find exactly the ink preprocessing found.
    """
    found = _find_ink(np.asarray(image))
    return None if found is None else found[0]


def is_dark_on_light(grey: np.ndarray) -> bool:
    """Whether a grey picture (H, W) in [0, 1] has dark ink on light paper.

    Decided by the median of the border, which a drawing rarely fills.
    """
    return _border_median(grey) > 0.5


def _unit(values: np.ndarray) -> np.ndarray:
    return values


def _border_median(grey: np.ndarray, to_unit: Callable[[np.ndarray], np.ndarray] = _unit) -> float:
    border = np.concatenate((grey[0], grey[-1], grey[1:-1, 0], grey[1:-1, -1]))
    return float(np.median(to_unit(border)))


def _bytes_to_unit(values: np.ndarray) -> np.ndarray:
    """uint8 → float32 [0, 1], the very operations of :func:`_to_unit_range` (bit-identical results)."""
    out = values.astype(np.float32)
    out *= np.float32(1 / 255)
    return out


def _find_ink(image: np.ndarray) -> tuple[tuple[slice, slice], np.ndarray] | None:
    """:func:`_ink_crop` of any supported picture.

    A 2-D uint8 picture -- the canvas's own format -- is searched as bytes and
    only its crop is converted to float: a quarter of the memory traffic of
    converting the whole canvas first, with bit-identical results.
    """
    if image.ndim == 2 and image.dtype == np.uint8 and image.size:
        return _ink_crop(image, _bytes_to_unit)
    grey = _to_grey(image)
    return None if grey is None else _ink_crop(grey)


def _ink_crop(grey: np.ndarray, to_unit: Callable[[np.ndarray], np.ndarray] = _unit,
              ) -> tuple[tuple[slice, slice], np.ndarray] | None:
    """The ink's bounding box in ``grey`` and the ink map in it ([0, 1], background 0); None if no ink.

    The background level is the median of the border, which a drawing rarely
    fills; if it is bright the picture is dark-on-light and gets inverted.
    Contrast is stretched so the strongest ink is 1 (MNIST ink saturates) and
    faint residue below the noise level is set to 0. Only the cropped part is
    converted, so a big canvas costs one comparison per pixel, not several
    full-size temporaries. ``to_unit`` maps ``grey``'s values to [0, 1]; it is
    applied to the border, the row and column extremes and the crop only.
    """
    background = _border_median(grey, to_unit)
    sign = -1.0 if background > 0.5 else 1.0  # -1: dark ink on a light background
    # The box comes from the strongest ink of each column, then of each row within
    # the columns that have ink -- not from a full-size mask and two any()s. Column
    # extremes first: numpy reduces across rows with whole-row vector operations,
    # several times faster than row by row (a 560×560 canvas: ~0.1 ms less).
    strongest = np.min if sign < 0 else np.max
    column_ink = to_unit(strongest(grey, axis=0))  # the conversion is monotonic: extremes commute with it
    peak = float(strongest(column_ink))
    contrast = (peak - background) * sign
    if contrast < _MIN_CONTRAST:
        return None
    # ink >= noise level  <=>  sign * (grey - background) >= noise * contrast
    level = background + sign * _NOISE_LEVEL * contrast
    inky = (lambda v: v <= level) if sign < 0 else (lambda v: v >= level)
    cols = np.flatnonzero(inky(column_ink))
    band = slice(cols[0], cols[-1] + 1)  # not empty: the peak's column passes the threshold
    rows = np.flatnonzero(inky(to_unit(strongest(grey[:, band], axis=1))))
    box = slice(rows[0], rows[-1] + 1), band
    ink = to_unit(grey[box]) - np.float32(background)  # a new array: the in-place steps below never touch ``grey``
    ink *= np.float32(sign / contrast)
    ink *= ink >= _NOISE_LEVEL  # faint residue to 0 (a multiply is much faster than masked assignment)
    # Rounding at the threshold may leave an edge row or column empty: trim them, so
    # the box is exactly the ink's. Only edges can be empty, so look at those alone.
    top, bottom, left, right = 0, ink.shape[0], 0, ink.shape[1]
    while top < bottom and not ink[top, left:right].any():
        top += 1
    while bottom > top and not ink[bottom - 1, left:right].any():
        bottom -= 1
    while left < right and not ink[top:bottom, left].any():
        left += 1
    while right > left and not ink[top:bottom, right - 1].any():
        right -= 1
    if top == bottom or left == right:
        return None
    rows = slice(box[0].start + top, box[0].start + bottom)
    cols = slice(box[1].start + left, box[1].start + right)
    return (rows, cols), np.ascontiguousarray(ink[top:bottom, left:right])


def _normalise_box(crop: np.ndarray) -> np.ndarray:
    """Scale one cropped ink map into the 20-px box and centre it by mass in 28x28."""
    lengths = np.array([crop.shape])
    new = box_sizes(lengths)
    if max(crop.shape) > BOX_SIZE:
        # Shrinking a big canvas: area averaging by prefix sums costs O(pixels)
        # and, unlike a matrix product, never wakes BLAS threads (which stall
        # for milliseconds when the CPU is busy).
        patch = np.zeros((1, OUTPUT_SIZE, OUTPUT_SIZE), dtype=np.float32)
        small = _area_resize(_area_resize(crop, new[0, 0]).T, new[0, 1]).T
        patch[0, : new[0, 0], : new[0, 1]] = small
        return _centre(patch, new)[0]
    return _normalise_boxes(crop[None], np.zeros((1, 2), np.int64), lengths)[0]


def _area_resize(image: np.ndarray, new: int) -> np.ndarray:
    """Shrink axis 0 of ``image`` to ``new`` rows by exact area averaging.

    Output row k averages source rows over [k, k+1) * h / new, with fractional
    weights for the rows cut by the boundaries -- the same weights as
    :func:`_resample_matrix` uses when shrinking.
    """
    h = image.shape[0]
    # Whole rows between boundaries are summed with reduceat (row additions,
    # vectorised along the width; a prefix sum over a big crop is ~10x slower
    # in numpy), then the rows cut by each boundary add their fractional part.
    bounds = np.arange(new + 1) * (h / new)
    whole = np.floor(bounds).astype(np.int64)
    whole[-1] = h  # the last boundary is the end exactly (no float round-off)
    frac = (bounds - whole).astype(np.float32)
    frac[-1] = 0.0
    sums = np.add.reduceat(image, whole[:-1], axis=0)  # rows [whole_k, whole_k+1); indices strictly increase when shrinking
    edge = frac[:, None] * image[np.minimum(whole, h - 1)]
    return (sums + edge[1:] - edge[:-1]) * np.float32(new / h)


def box_sizes(lengths: np.ndarray) -> np.ndarray:
    """(N, 2) box sizes after scaling each box's longer side to BOX_SIZE (also how overlays map back)."""
    scale = BOX_SIZE / lengths.max(axis=1)
    return np.clip(np.rint(lengths * scale[:, None]), 1, BOX_SIZE).astype(np.int64)


def normalise_batch(ink: np.ndarray) -> np.ndarray:
    """Apply the box + centre-of-mass step of :func:`to_model_input` to a batch.

    For pictures that are already ink maps -- (N, H, W), ink high, background 0
    -- such as MNIST digits re-drawn by ``drawn_style``. It runs
    vectorised (thousands of images per second) and gives the same result as
    ``to_model_input`` on each image; blank images come back all zero.
    """
    ink = np.asarray(ink, dtype=np.float32)
    if ink.ndim != 3:
        raise ValueError(f"expected an (N, H, W) batch, got shape {ink.shape}")
    # Stretch each image so its strongest ink is 1, then drop faint noise -- what
    # _ink_crop does for a picture whose background is 0.
    peak = ink.max(axis=(1, 2), keepdims=True)
    ink = ink / np.where(peak > 0, peak, np.float32(1.0))
    ink[ink < _NOISE_LEVEL] = 0.0
    mask = ink > 0
    rows, cols = mask.any(axis=2), mask.any(axis=1)
    top = np.argmax(rows, axis=1)
    bottom = ink.shape[1] - np.argmax(rows[:, ::-1], axis=1)
    left = np.argmax(cols, axis=1)
    right = ink.shape[2] - np.argmax(cols[:, ::-1], axis=1)
    starts = np.stack([top, left], axis=1)
    lengths = np.stack([bottom - top, right - left], axis=1)
    lengths[~rows.any(axis=1)] = 1  # blank images: any box, the result stays zero
    return _normalise_boxes(ink, starts, lengths)


def _normalise_boxes(ink: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Scale each ink box so its longer side is 20 px and centre it by mass in 28x28.

    ``starts``/``lengths`` (N, 2) give each box as (row, col). Scaling is a pair
    of per-image resampling matrices (rows and columns), so a batch is two
    batched matrix products of small matrices: area averaging when shrinking
    (exact anti-aliasing, no ringing) and linear interpolation when enlarging.
    """
    new = box_sizes(lengths)
    row_w = _resample_matrix(starts[:, 0], lengths[:, 0], new[:, 0], ink.shape[1])
    col_w = _resample_matrix(starts[:, 1], lengths[:, 1], new[:, 1], ink.shape[2])
    patch = np.matmul(np.matmul(row_w, ink), col_w.transpose(0, 2, 1))
    return _centre(patch, new)


def _centre(patch: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Boost thin strokes, bring the stroke width into MNIST's range, shift each patch by mass.

    ``patch`` is (N, 28, 28) with each box at the origin. Each centroid lands on
    CENTRE (integer shift, as MNIST did), but no ink is ever pushed off the field.
    """
    np.clip(patch, 0.0, 1.0, out=patch)
    patch, new = _normalise_width(_boost_thin_strokes(patch), new)
    return _shift_to_centre(patch, new)


def _normalise_width(ink: np.ndarray, new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Thin or thicken the patches whose stroke width is outside MNIST's band, and re-box them.

    ``ink`` is after the thin-stroke boost: the width is measured and changed on
    what the model would see. Patches inside the band come back as they are --
    nearly all MNIST digits and most drawings: on the live path this costs one
    width estimate. See :mod:`.stroke_width` for why and how.
    """
    for attempt in range(WIDTH_PASSES):
        width = estimate_width(ink)
        if len(width) == 1 and WIDTH_BAND[0] <= float(width[0]) <= WIDTH_BAND[1]:
            break  # the live canvas, already in MNIST's range: the common case, no array work
        offset = width_offsets(width, new.max(axis=1))
        changed = np.flatnonzero(offset)
        if not len(changed):
            break
        if attempt == 0:
            ink, new = ink.copy(), new.copy()
        ink[changed], new[changed] = _rebox(offset_strokes(ink[changed], offset[changed]))
    return ink, new


def _rebox(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale each (N, 28, 28) ink map's box to the 20-px box again, at the origin, boosted."""
    ink = ink * (ink >= _NOISE_LEVEL)
    mask = ink > 0
    rows, cols = mask.any(axis=2), mask.any(axis=1)
    top, left = np.argmax(rows, axis=1), np.argmax(cols, axis=1)
    lengths = np.stack([ink.shape[1] - np.argmax(rows[:, ::-1], axis=1) - top,
                        ink.shape[2] - np.argmax(cols[:, ::-1], axis=1) - left], axis=1)
    starts = np.stack([top, left], axis=1)
    new = box_sizes(lengths)
    row_w = _resample_matrix(starts[:, 0], lengths[:, 0], new[:, 0], ink.shape[1])
    col_w = _resample_matrix(starts[:, 1], lengths[:, 1], new[:, 1], ink.shape[2])
    patch = np.clip(np.matmul(np.matmul(row_w, ink), col_w.transpose(0, 2, 1)), 0.0, 1.0)
    return _boost_thin_strokes(patch), new


def normalise_width_batch(images: np.ndarray) -> np.ndarray:
    """Bring the stroke width of already-normalised digits (MNIST files) into MNIST's band.

    ``images``: uint8 or float (N, 28, 28[, 1]) digits as MNIST stores them
    (box and centre done). Returns the same shape and dtype; digits inside the
    band are returned bit for bit, the others thinned or thickened, re-boxed
    and re-centred exactly as :func:`to_model_input` treats a drawing. Training
    and evaluation pass the digit datasets through this, so a model sees the
    widths live drawings are brought to.
    """
    images = np.asarray(images)
    flat = images.reshape(images.shape[:3]) if images.ndim == 4 and images.shape[3] == 1 else images
    if flat.ndim != 3:
        raise ValueError(f"expected (N, H, W) or (N, H, W, 1) images, got shape {images.shape}")
    out = images.copy()
    out_flat = out.reshape(flat.shape)
    scale = np.float32(255.0) if flat.dtype == np.uint8 else np.float32(1.0)
    for lo in range(0, len(flat), 4096):
        ink = flat[lo:lo + 4096].astype(np.float32) / scale
        offset = width_offsets(estimate_width(ink), np.maximum(_extent(ink > 0, 2), _extent(ink > 0, 1)))
        changed = np.flatnonzero(offset)
        if not len(changed):
            continue
        patch, new = _normalise_width(*_rebox(offset_strokes(ink[changed], offset[changed])))
        fixed = _shift_to_centre(patch, new) * scale
        out_flat[lo + changed] = np.rint(fixed).astype(flat.dtype) if flat.dtype == np.uint8 else fixed.astype(flat.dtype)
    return out


def _extent(mask: np.ndarray, axis: int) -> np.ndarray:
    """(N,) span from the first to the last row (axis 2) or column (axis 1) of (N, H, W) ``mask`` with ink."""
    hit = mask.any(axis=axis)
    first, last = np.argmax(hit, axis=1), hit.shape[1] - np.argmax(hit[:, ::-1], axis=1)
    return np.where(hit.any(axis=1), last - first, 0)


def _shift_to_centre(patch: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Shift each (N, 28, 28) patch (box at the origin) so its centre of mass lands on CENTRE."""
    idx = np.arange(OUTPUT_SIZE, dtype=np.float32)
    total = np.maximum(patch.sum(axis=(1, 2)), np.float32(1e-12))
    cy = (patch.sum(axis=2) * idx).sum(axis=1) / total
    cx = (patch.sum(axis=1) * idx).sum(axis=1) / total
    dy = np.clip(np.rint(CENTRE - cy), 0, OUTPUT_SIZE - new[:, 0]).astype(np.int64)
    dx = np.clip(np.rint(CENTRE - cx), 0, OUTPUT_SIZE - new[:, 1]).astype(np.int64)
    if len(patch) == 1:  # the live canvas: one slice copy instead of a fancy-index gather
        out = np.zeros_like(patch)
        y, x = int(dy[0]), int(dx[0])
        out[0, y:, x:] = patch[0, : OUTPUT_SIZE - y, : OUTPUT_SIZE - x]
        return out
    src_y = np.arange(OUTPUT_SIZE)[None, :] - dy[:, None]
    src_x = np.arange(OUTPUT_SIZE)[None, :] - dx[:, None]
    out = patch[
        np.arange(len(patch))[:, None, None],
        np.maximum(src_y, 0)[:, :, None],
        np.maximum(src_x, 0)[:, None, :],
    ]
    out *= (src_y >= 0)[:, :, None] & (src_x >= 0)[:, None, :]
    return out


def _resample_matrix(start: np.ndarray, length: np.ndarray, new: np.ndarray, n_src: int) -> np.ndarray:
    """(N, 28, n_src) weights mapping source span [start, start+length) onto output [0, new).

    Shrinking: each output pixel averages the source pixels by the fraction of
    its area they cover. Enlarging: linear interpolation between the source
    pixel centres, with the box edges held (not faded into the background).
    Source pixels outside the span get weights too, but they hold no ink.
    """
    s = (new / length).astype(np.float32)[:, None, None]
    k = np.arange(OUTPUT_SIZE, dtype=np.float32)[None, :, None]
    i = np.arange(n_src, dtype=np.float32)[None, None, :]
    first = start.astype(np.float32)[:, None, None]
    inside = k < new[:, None, None]
    if (s <= 1).all():
        lo = (i - first) * s
        return (np.clip(np.minimum(lo + s, k + 1) - np.maximum(lo, k), 0.0, None) * inside).astype(np.float32)
    shrink = np.clip(np.minimum((i - first) * s + s, k + 1) - np.maximum((i - first) * s, k), 0.0, None)
    centre = np.clip((k + 0.5) / s - 0.5, 0.0, length.astype(np.float32)[:, None, None] - 1) + first
    grow = np.clip(1.0 - np.abs(centre - i), 0.0, None)
    return (np.where(s <= 1, shrink, grow) * inside).astype(np.float32)


def _boost_thin_strokes(patch: np.ndarray) -> np.ndarray:
    """Brighten strokes that area averaging has made faint (batch of patches).

    A 2-px pen on a 560-px canvas covers a tenth of an output pixel, so after
    shrinking its pixels are ~0.1 and the digit would nearly vanish. Normal
    strokes have a saturated core (the 90th percentile of ink values is ~1) and
    are left alone; thin ones are scaled up until that percentile reaches
    ``_MIN_INK_LEVEL``.
    """
    if len(patch) == 1:  # the live canvas: a partial sort of the inked pixels only
        ink = patch[patch > 0]
        typical = np.array([np.partition(ink, (ink.size * 9) // 10)[(ink.size * 9) // 10] if ink.size else 0.0])
    else:
        flat = np.sort(patch.reshape(len(patch), -1), axis=1)
        count = (flat > 0).sum(axis=1)
        pick = flat.shape[1] - count + (count * 9) // 10
        typical = np.take_along_axis(flat, np.minimum(pick, flat.shape[1] - 1)[:, None], axis=1)[:, 0]
    gain = np.where(
        (typical > 0) & (typical < _MIN_INK_LEVEL),
        np.minimum(_MIN_INK_LEVEL / np.maximum(typical, 1e-12), _MAX_GAIN),
        1.0,
    ).astype(np.float32)
    return np.minimum(patch * gain[:, None, None], np.float32(1.0))
