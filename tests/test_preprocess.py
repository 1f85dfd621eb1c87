"""Preprocessing: any picture -> the 28x28 MNIST-style model input, and image loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from mnist_desktop.core.errors import ImageError
from mnist_desktop.core.data.preprocess import (
    MAX_IMAGE_PIXELS,
    PREPROCESS_VERSION,
    ink_box,
    load_image,
    normalise_batch,
    to_model_input,
)
from mnist_desktop.core.data.strokes import render_strokes

IDX = np.arange(28)


def centroid(img: np.ndarray) -> tuple[float, float]:
    mass = img.sum()
    return float(img.sum(axis=1) @ IDX / mass), float(img.sum(axis=0) @ IDX / mass)


def bbox_size(img: np.ndarray) -> tuple[int, int]:
    rows = np.flatnonzero(img.any(axis=1))
    cols = np.flatnonzero(img.any(axis=0))
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


def assert_valid(out: np.ndarray | None) -> None:
    assert out is not None
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0


@pytest.fixture(scope="module")
def canvas() -> np.ndarray:
    """An off-centre '7' in the top-left of a 280x280 canvas, white on black."""
    return render_strokes([[(20, 30), (110, 25), (60, 140)]], 280, 14)


def test_version_is_pinned() -> None:
    assert PREPROCESS_VERSION == 2  # 2: stroke-width normalisation (issue 15)


def test_off_centre_stroke_is_centred_and_scaled(canvas: np.ndarray) -> None:
    out = to_model_input(canvas)
    assert_valid(out)
    cy, cx = centroid(out)
    assert abs(cy - 14) <= 1 and abs(cx - 14) <= 1
    assert max(bbox_size(out)) in (19, 20)
    assert out.max() == pytest.approx(1.0)


def test_aspect_ratio_is_kept() -> None:
    bar = render_strokes([[(140, 40), (140, 240)]], 280, 20)  # tall thin bar
    h, w = bbox_size(to_model_input(bar))
    assert h == 20 and w <= 4


def test_both_polarities_give_the_same_result(canvas: np.ndarray) -> None:
    np.testing.assert_allclose(to_model_input(255 - canvas), to_model_input(canvas), atol=1e-6)


def test_grey_rgb_and_single_channel_agree(canvas: np.ndarray) -> None:
    ref = to_model_input(canvas)
    for variant in (np.dstack([canvas] * 3), canvas[:, :, None], np.dstack([canvas] * 3 + [np.full_like(canvas, 255)])):
        np.testing.assert_allclose(to_model_input(variant), ref, atol=1e-5)


@pytest.mark.parametrize("ink_rgb", [0, 255, 90])
def test_rgba_transparent_background(canvas: np.ndarray, ink_rgb: int) -> None:
    """Ink is the opaque part, whatever colour the transparent pixels carry."""
    rgb = np.full(canvas.shape + (3,), ink_rgb, np.uint8)
    rgba = np.dstack([rgb, canvas])
    np.testing.assert_allclose(to_model_input(rgba), to_model_input(canvas), atol=1e-5)


def test_grey_alpha_two_channels(canvas: np.ndarray) -> None:
    la = np.dstack([np.zeros_like(canvas), canvas])
    np.testing.assert_allclose(to_model_input(la), to_model_input(canvas), atol=1e-5)


def test_dtypes_agree(canvas: np.ndarray) -> None:
    ref = to_model_input(canvas)
    for variant in (canvas / 255.0, canvas.astype(np.float32), canvas.astype(np.uint16) * 257, canvas > 127):
        out = to_model_input(variant)
        assert_valid(out)
        assert np.abs(out - ref).mean() < 0.02


def test_colour_ink_on_paper() -> None:
    """Blue ballpoint on off-white paper, like a photo."""
    mask = render_strokes([[(50, 50), (200, 60), (120, 250)]], 300, 12) / 255.0
    paper, ink = np.array([235, 230, 220]), np.array([30, 40, 140])
    rgb = (paper * (1 - mask[..., None]) + ink * mask[..., None]).astype(np.uint8)
    out = to_model_input(rgb)
    assert_valid(out)
    assert np.abs(out - to_model_input(mask)).max() < 0.1


def test_tiny_image() -> None:
    tiny = np.zeros((5, 5), np.uint8)
    tiny[2, :] = tiny[:, 2] = 255  # a plus sign
    out = to_model_input(tiny)
    assert_valid(out)
    assert bbox_size(out) == (20, 20)
    cy, cx = centroid(out)
    assert abs(cy - 14) <= 1 and abs(cx - 14) <= 1


def test_single_dot_and_one_pixel_image() -> None:
    dot = np.zeros((9, 9), np.uint8)
    dot[4, 4] = 255
    assert_valid(to_model_input(dot))
    assert to_model_input(np.full((1, 1), 255, np.uint8)) is None


def test_huge_image() -> None:
    big = np.zeros((3000, 2500), np.uint8)
    big[300:2700, 1200:1450] = 255
    big[300:500, 700:1450] = 255
    out = to_model_input(big)
    assert_valid(out)
    cy, cx = centroid(out)
    assert abs(cy - 14) <= 1 and abs(cx - 14) <= 1
    assert max(bbox_size(out)) == 20


@pytest.mark.parametrize(
    "blank",
    [
        np.zeros((280, 280), np.uint8),
        np.full((280, 280), 255, np.uint8),
        np.full((50, 50), np.nan),
        np.zeros((0, 0)),
        np.zeros((0, 5, 3), np.uint8),
        np.full((40, 40, 4), 0, np.uint8),  # fully transparent
        0.5 + 0.01 * np.random.default_rng(0).random((60, 60)),  # faint noise
    ],
    ids=["black", "white", "nan", "no-pixels", "no-pixels-rgb", "transparent", "faint-noise"],
)
def test_empty_gives_none(blank: np.ndarray) -> None:
    assert to_model_input(blank) is None


def test_input_is_never_modified(canvas: np.ndarray) -> None:
    for image in (canvas / 255.0, (canvas / np.float32(255))[:, :, None], np.dstack([canvas] * 4)):
        image.setflags(write=False)  # e.g. np.asarray of a Pillow image
        before = image.copy()
        assert_valid(to_model_input(image))
        np.testing.assert_array_equal(image, before)


def test_nan_pixels_count_as_background(canvas: np.ndarray) -> None:
    with_nan = canvas / 255.0
    with_nan[200:, 200:] = np.nan
    with_nan[0, 0] = np.inf
    np.testing.assert_allclose(to_model_input(with_nan), to_model_input(canvas), atol=1e-5)


@pytest.mark.parametrize("shape", [(10,), (2, 10, 10, 3), (10, 10, 5)])
def test_unsupported_shapes_raise_image_error(shape: tuple[int, ...]) -> None:
    with pytest.raises(ImageError, match="shape"):
        to_model_input(np.zeros(shape))


def test_non_numeric_arrays_raise_image_error() -> None:
    with pytest.raises(ImageError, match="numbers"):
        to_model_input(np.full((5, 5), "x"))


def test_extreme_values_do_not_overflow() -> None:
    for value, dtype in [(3e38, np.float32), (1.7e308, np.float64), (2**62, np.int64), (70000, np.int32)]:
        image = np.zeros((20, 20), dtype)
        image[5:15, 8:10] = value
        image[0, 0] = -value
        assert_valid(to_model_input(image))


def test_thin_line_on_large_canvas_stays_visible() -> None:
    """A 2-px pen on a 560-px canvas shrinks to a tenth of a pixel: it must not vanish."""
    canvas = render_strokes([[(100, 60), (460, 80), (250, 500)]], 560, 2)
    out = to_model_input(canvas)
    assert_valid(out)
    assert out.max() >= 0.85
    assert (out > 0.5).sum() >= 20
    assert max(bbox_size(out)) in (19, 20)


def test_thick_strokes_keep_anti_aliased_edges() -> None:
    """The thin-stroke boost leaves normal strokes alone: soft edges, no extra saturation."""
    canvas = render_strokes([[(40, 40), (240, 40), (120, 250)]], 280, 22)
    out = to_model_input(canvas)
    edges = ((out > 0) & (out < 0.5)).sum()
    assert edges >= 10
    assert (out >= 0.999).sum() < (out > 0.5).sum()


def test_normalise_batch_matches_to_model_input(canvas: np.ndarray) -> None:
    pictures = np.stack(
        [
            canvas[::10, ::10] / 255.0,
            render_strokes([[(3, 3), (3, 20)], [(10, 5), (22, 22)]], 28, 2) / 255.0,
            np.zeros((28, 28)),
        ]
    )
    batch = normalise_batch(pictures)
    assert batch.shape == (3, 28, 28) and batch.dtype == np.float32
    for picture, row in zip(pictures[:2], batch[:2]):
        np.testing.assert_allclose(row, to_model_input(picture), atol=1e-5)
    assert not batch[2].any()


# ------------------------------------------------------------------ load_image


def test_load_png_grey_and_rgba(tmp_path: Path, canvas: np.ndarray) -> None:
    grey_path = tmp_path / "digit.png"
    Image.fromarray(255 - canvas).save(grey_path)  # dark ink on white
    grey = load_image(grey_path)
    assert grey.shape == canvas.shape and grey.dtype == np.float32
    assert 0.0 <= grey.min() and grey.max() <= 1.0
    np.testing.assert_allclose(to_model_input(grey), to_model_input(canvas), atol=1e-5)

    rgba_path = tmp_path / "digit-transparent.png"
    rgba = np.dstack([np.zeros(canvas.shape + (3,), np.uint8), canvas])
    Image.fromarray(rgba).save(rgba_path)
    np.testing.assert_allclose(to_model_input(load_image(rgba_path)), to_model_input(canvas), atol=1e-5)


@pytest.mark.parametrize("mode", ["P", "1", "I;16", "CMYK", "LA"])
def test_load_other_modes(tmp_path: Path, canvas: np.ndarray, mode: str) -> None:
    path = tmp_path / ("digit.tif" if mode == "CMYK" else "digit.png")
    img = Image.fromarray(canvas).convert("RGB")
    img = img.convert(mode) if mode != "I;16" else Image.fromarray(canvas.astype(np.uint16) * 257)
    img.save(path)
    out = to_model_input(load_image(path))
    assert_valid(out)
    assert np.abs(out - to_model_input(canvas)).mean() < 0.03


def test_load_jpeg(tmp_path: Path, canvas: np.ndarray) -> None:
    path = tmp_path / "photo.jpg"
    Image.fromarray(255 - canvas).convert("RGB").save(path, quality=80)
    out = to_model_input(load_image(path))
    assert_valid(out)
    assert np.abs(out - to_model_input(canvas)).mean() < 0.03


def test_corrupt_png_raises_image_error(tmp_path: Path, canvas: np.ndarray) -> None:
    good = tmp_path / "good.png"
    Image.fromarray(canvas).save(good)
    bad = tmp_path / "truncated.png"
    bad.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ImageError, match="truncated.png"):
        load_image(bad)
    garbled = tmp_path / "garbled.png"
    data = bytearray(good.read_bytes())
    data[100:160] = b"\x00" * 60
    garbled.write_bytes(bytes(data))
    with pytest.raises(ImageError, match="garbled.png"):
        load_image(garbled)


def test_text_file_raises_image_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("this is not a picture\n")
    with pytest.raises(ImageError, match="notes.png"):
        load_image(path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="missing.png"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(ImageError):
        load_image(tmp_path)


def test_decompression_bomb_is_refused(tmp_path: Path) -> None:
    side = int(np.sqrt(MAX_IMAGE_PIXELS)) + 100
    path = tmp_path / "bomb.png"
    Image.new("1", (side, side)).save(path)  # tiny file, huge picture
    assert path.stat().st_size < 2_000_000
    with pytest.raises(ImageError, match="bomb.png.*megapixel"):
        load_image(path)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    prefix=st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"BM", b"\xff\xd8\xff", b"II*\x00"]),
    data=st.binary(max_size=600),
)
def test_fuzz_load_image_raises_only_image_error(tmp_path: Path, prefix: bytes, data: bytes) -> None:
    path = tmp_path / "fuzz.img"
    path.write_bytes(prefix + data)
    try:
        grey = load_image(path)
    except ImageError:
        return
    assert grey.ndim == 2 and grey.dtype == np.float32


_channels = st.sampled_from([None, 1, 2, 3, 4])
_dtypes = st.sampled_from([np.uint8, np.float32, np.float64])


@st.composite
def _images(draw: st.DrawFn) -> np.ndarray:
    h = draw(st.integers(0, 40))
    w = draw(st.integers(0, 40))
    channels = draw(_channels)
    shape = (h, w) if channels is None else (h, w, channels)
    dtype = draw(_dtypes)
    if dtype == np.uint8:
        elements = st.integers(0, 255)
    else:
        elements = st.one_of(
            st.floats(0, 1, width=32),
            st.floats(width=32),  # any float32, NaN and +-inf included
            st.sampled_from([np.nan, np.inf, -np.inf, 0.0, 1.0, 255.0]),
        )
    return draw(hnp.arrays(dtype, shape, elements=elements))


@settings(max_examples=100, deadline=None)
@given(image=_images())
def test_fuzz_to_model_input(image: np.ndarray) -> None:
    out = to_model_input(image)
    if out is not None:
        assert_valid(out)
        assert out.max() > 0
        assert max(bbox_size(out)) <= 20


def _naive_box(grey: np.ndarray, noise: float) -> tuple[slice, slice] | None:
    """The ink box by the recipe's words, the slow way: background is the border's
    median, ink is every pixel at least ``noise`` of the contrast away from it."""
    border = np.concatenate((grey[0], grey[-1], grey[1:-1, 0], grey[1:-1, -1]))
    background = float(np.median(border))
    sign = -1.0 if background > 0.5 else 1.0
    contrast = float(((grey - background) * sign).max())
    if contrast < 0.05:
        return None
    rows, cols = np.nonzero((grey - background) * sign / contrast >= noise)
    return (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1)) if rows.size else None


@settings(max_examples=150, deadline=None)
@given(grey=hnp.arrays(np.float32, st.tuples(st.integers(2, 30), st.integers(2, 30)), elements=st.floats(0, 1, width=32)))
def test_ink_box_is_the_box_of_every_pixel_over_the_noise_level(grey: np.ndarray) -> None:
    """The fast box search (column and row extremes, edge trimming) finds the same box as
    thresholding every pixel; pixels within 1e-4 of the threshold may fall either way."""
    box = ink_box(grey)
    outer, inner = _naive_box(grey, 0.1 - 1e-4), _naive_box(grey, 0.1 + 1e-4)
    if box is None:
        assert inner is None
        return
    assert outer is not None
    for got, wide, narrow in zip(box, outer, inner or (slice(0, 0), slice(0, 0))):
        assert wide.start <= got.start and got.stop <= wide.stop  # nothing below the noise level widens the box
        if narrow.stop > narrow.start:
            assert got.start <= narrow.start and narrow.stop <= got.stop  # and no clear ink is left out


@settings(max_examples=150, deadline=None)
@given(picture=hnp.arrays(np.uint8, st.tuples(st.integers(1, 40), st.integers(1, 40))))
def test_canvas_bytes_give_exactly_what_their_float_picture_gives(picture: np.ndarray) -> None:
    """The canvas hands over uint8 pixels, searched as bytes (only the crop is converted):
    the result must be bit-identical to converting the whole picture first."""
    as_float = picture.astype(np.float32) * np.float32(1 / 255)
    from_bytes, from_float = to_model_input(picture), to_model_input(as_float)
    assert (from_bytes is None) == (from_float is None)
    if from_bytes is not None:
        np.testing.assert_array_equal(from_bytes, from_float)
    assert ink_box(picture) == ink_box(as_float)
