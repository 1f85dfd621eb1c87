"""Synthetic mouse-drawn digits (core/strokes.py) and drawn-style augmentation (core/drawn_style.py)."""

from __future__ import annotations

import gzip
import time
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from mnist_desktop.core.data.drawn_style import (
    RADIUS_RANGE,
    render_skeleton,
    restyle_batch,
    restyle_fraction,
    skeletonize_batch,
)
from mnist_desktop.core.data.preprocess import to_model_input
from mnist_desktop.core.data.strokes import (
    DIGIT_TEMPLATES,
    make_drawn_test_set,
    random_drawn_canvas,
    random_drawn_digit,
    random_drawn_strokes,
    render_strokes,
    simplify_polyline,
)

IDX = np.arange(28)


def centroid(img: np.ndarray) -> np.ndarray:
    mass = img.sum()
    return np.array([img.sum(axis=1) @ IDX / mass, img.sum(axis=0) @ IDX / mass])


def stroke_width(images_u8: np.ndarray) -> np.ndarray:
    """Ink mass per skeleton pixel: the mean stroke width of each image, in pixels."""
    skeleton = skeletonize_batch(images_u8 >= 100)
    return (images_u8 / 255.0).sum(axis=(1, 2)) / np.maximum(skeleton.sum(axis=(1, 2)), 1)


# ------------------------------------------------------------------ render_strokes


def test_render_strokes_shape_width_and_antialiasing() -> None:
    img = render_strokes([[(20, 50), (180, 50)]], (200, 100), 10)
    assert img.shape == (100, 200) and img.dtype == np.uint8
    column = img[:, 100]
    assert 9 <= (column > 127).sum() <= 11  # uniform width ~10 px
    assert ((img > 0) & (img < 255)).any()  # soft, anti-aliased edge
    assert img[50, 16] > 0 and img[50, 12] == 0  # round cap reaches width/2 past the end


def test_render_strokes_single_point_and_empty() -> None:
    dot = render_strokes([[(50, 50)]], 100, 12)
    assert 80 < (dot > 127).sum() < 150  # a disc of diameter 12
    assert not render_strokes([], 50, 5).any()


def test_render_strokes_round_joins() -> None:
    """A sharp corner is filled round (no notch) -- what the canvas pen does."""
    img = render_strokes([[(20, 100), (100, 20), (180, 100)]], 200, 16)
    assert img[20, 100] == 255
    assert img[14, 100] > 0  # the join bulges past the vertex by half the pen


# ------------------------------------------------------------------ templates


def test_every_digit_has_at_least_two_variants() -> None:
    assert sorted(DIGIT_TEMPLATES) == list(range(10))
    for label, variants in DIGIT_TEMPLATES.items():
        assert len(variants) >= 2, label
        for template in variants:
            for stroke in template:
                assert stroke.ndim == 2 and stroke.shape[1] == 2 and len(stroke) >= 2
                assert -0.05 <= stroke.min() and stroke.max() <= 1.05


def _template_picture(template) -> np.ndarray:
    strokes = [np.asarray(s) * 200 + 40 for s in template]
    return to_model_input(render_strokes(strokes, 280, 16))


def test_variants_of_each_digit_differ() -> None:
    for label, variants in DIGIT_TEMPLATES.items():
        pictures = [_template_picture(t) for t in variants]
        for a, b in combinations(pictures, 2):
            assert (np.abs(a - b) > 0.5).sum() >= 8, f"two variants of {label} look the same"


def test_simplify_polyline_keeps_corners() -> None:
    line = np.array([[0, 0], [0.5, 0.001], [1, 0], [1, 0.5], [1, 1]])
    simple = simplify_polyline(line, 0.01)
    np.testing.assert_array_equal(simple, [[0, 0], [1, 0], [1, 1]])
    np.testing.assert_array_equal(simplify_polyline(line, 0.0), line)
    loop = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]], dtype=float)
    assert len(simplify_polyline(loop, 0.1)) == 5  # closed shapes keep their corners


# ------------------------------------------------------------------ random digits


@pytest.mark.parametrize("label", range(10))
def test_every_label_and_variant_renders(label: int) -> None:
    rng = np.random.default_rng(label)
    for variant in range(len(DIGIT_TEMPLATES[label])):
        canvas = random_drawn_canvas(label, rng, variant=variant)
        assert canvas.shape == (280, 280) and canvas.dtype == np.uint8
        assert (canvas > 127).sum() > 100
        digit = random_drawn_digit(label, rng, variant=variant)
        assert digit.shape == (28, 28) and digit.dtype == np.float32
        assert 0 <= digit.min() and digit.max() <= 1 and digit.max() > 0.8
        assert np.abs(centroid(digit) - 14).max() <= 1


def test_random_strokes_stay_on_canvas() -> None:
    rng = np.random.default_rng(3)
    for i in range(200):
        strokes, pen = random_drawn_strokes(i % 10, rng, canvas_size=280)
        points = np.concatenate(strokes)
        assert 2 <= pen <= 60
        assert points.min() >= pen / 2 - 1 and points.max() <= 280 - pen / 2 + 1


def test_drawn_test_set_is_deterministic() -> None:
    images, labels = make_drawn_test_set(n_per_class=3, seed=7)
    again, labels_again = make_drawn_test_set(n_per_class=3, seed=7)
    other, _ = make_drawn_test_set(n_per_class=3, seed=8)
    assert images.shape == (30, 28, 28) and images.dtype == np.float32
    assert labels.dtype == np.uint8 and np.bincount(labels).tolist() == [3] * 10
    np.testing.assert_array_equal(images, again)
    np.testing.assert_array_equal(labels, labels_again)
    assert not np.array_equal(images, other)
    assert (images.reshape(30, -1).max(axis=1) > 0.8).all()


def test_drawn_digits_vary() -> None:
    rng = np.random.default_rng(0)
    a, b = random_drawn_digit(4, rng), random_drawn_digit(4, rng)
    assert np.abs(a - b).mean() > 0.01


# ------------------------------------------------------------------ drawn_style


def _drawn_uint8(n: int, seed: int) -> np.ndarray:
    """Stand-ins for MNIST when ../shared/data is absent: drawn digits of many widths."""
    images, _ = make_drawn_test_set(n_per_class=n // 10, seed=seed)
    return np.rint(images * 255).astype(np.uint8)


def test_skeleton_is_one_pixel_wide() -> None:
    bar = np.zeros((1, 28, 28), bool)
    bar[0, 4:24, 10:15] = True  # 5 px thick vertical bar
    skeleton = skeletonize_batch(bar)
    assert skeleton[0].sum(axis=1).max() == 1
    assert skeleton[0].any(axis=1).sum() >= 14
    dot = np.zeros((1, 28, 28), bool)
    dot[0, 5:7, 5:7] = True  # Zhang-Suen erases 2x2 squares; we keep them
    assert skeletonize_batch(dot).any()


def test_render_skeleton_width_follows_radius() -> None:
    skeleton = np.zeros((2, 28, 28), bool)
    skeleton[:, 4:24, 14] = True
    ink = render_skeleton(skeleton, np.array([0.5, 2.0]))
    widths = ink[:, 14].sum(axis=1)  # ink across one row
    np.testing.assert_allclose(widths, [2 * 0.5, 2 * 2.0], atol=0.1)  # width = 2 * radius


def test_restyle_shape_dtype_and_blank() -> None:
    images = _drawn_uint8(20, seed=1)
    images[3] = 0
    out = restyle_batch(images, np.random.default_rng(0))
    assert out.shape == images.shape and out.dtype == np.uint8
    assert not out[3].any()
    rest = np.delete(out, 3, axis=0)
    assert (rest.reshape(len(rest), -1).max(axis=1) >= 200).all()
    for img in rest:
        assert np.abs(centroid(img.astype(float)) - 14).max() <= 1


def test_restyle_is_deterministic_per_rng() -> None:
    images = _drawn_uint8(10, seed=2)
    a = restyle_batch(images, np.random.default_rng(5))
    b = restyle_batch(images, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)


def test_restyled_strokes_have_uniform_width() -> None:
    """Inputs drawn with very different pens come out with one pen width."""
    images = _drawn_uint8(100, seed=3)
    before = stroke_width(images)
    after = stroke_width(restyle_batch(images, np.random.default_rng(0), radius_range=(1.0, 1.0)))
    spread_before = np.percentile(before, 90) / np.percentile(before, 10)
    spread_after = np.percentile(after, 90) / np.percentile(after, 10)
    # preprocessing already brings drawn widths into MNIST's band (issue 15), so the spread
    # before is ~1.5, not ~2; a single pen still narrows it further
    assert spread_after < min(1.6, spread_before * 0.9)
    thin = stroke_width(restyle_batch(images, np.random.default_rng(0), radius_range=(0.6, 0.6)))
    bold = stroke_width(restyle_batch(images, np.random.default_rng(0), radius_range=(1.6, 1.6)))
    assert np.median(thin) < np.median(after) < np.median(bold)


def test_restyle_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        restyle_batch(np.zeros((28, 28), np.uint8), np.random.default_rng(0))
    with pytest.raises(ValueError):
        restyle_batch(np.zeros((1, 28, 28), np.uint8), np.random.default_rng(0), radius_range=(2.0, 1.0))


def test_restyle_1000_images_is_fast() -> None:
    images = np.tile(_drawn_uint8(100, seed=4), (10, 1, 1))
    start = time.perf_counter()
    restyle_batch(images, np.random.default_rng(0))
    assert time.perf_counter() - start < 3.0  # ~0.15 s measured; loose for shared CI


def test_restyle_real_mnist(shared_data_dir: Path) -> None:
    path = shared_data_dir / "mnist" / "train-images-idx3-ubyte.gz"
    with gzip.open(path) as handle:
        handle.read(16)
        images = np.frombuffer(handle.read(1000 * 784), np.uint8).reshape(-1, 28, 28)
    out = restyle_batch(images, np.random.default_rng(0), radius_range=RADIUS_RANGE)
    assert (out.reshape(1000, -1).max(axis=1) >= 200).all()
    centres = np.array([centroid(img.astype(float)) for img in out])
    assert np.abs(centres - 14).max() <= 1
    # Same digit, same place: the restyled ink overlaps the original a lot.
    overlap = ((out > 64) & (images > 64)).sum() / (images > 64).sum()
    assert overlap > 0.6


def test_restyle_fraction_keeps_layout_and_is_seeded() -> None:
    images = _drawn_uint8(40, seed=6)
    floats = (images.astype(np.float32) / 255)[..., None]  # the trainer's layout
    out = restyle_fraction(floats, 0.5, seed=3)
    assert out.shape == floats.shape and out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 1
    changed = np.abs(out - floats).reshape(40, -1).max(axis=1) > 0
    assert changed.sum() == 20
    np.testing.assert_array_equal(out, restyle_fraction(floats, 0.5, seed=3))
    assert not np.array_equal(out, restyle_fraction(floats, 0.5, seed=4))
    np.testing.assert_array_equal(restyle_fraction(floats, 0.0, seed=3), floats)
    as_uint8 = restyle_fraction(images, 1.0, seed=3)
    assert as_uint8.dtype == np.uint8 and as_uint8.shape == images.shape
    with pytest.raises(ValueError):
        restyle_fraction(images, 1.5, seed=0)
