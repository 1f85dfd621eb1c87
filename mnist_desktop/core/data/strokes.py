"""Synthetic digits that look drawn with a mouse on the app's canvas.

MNIST was written with pens on paper and scanned; people in the app draw with a
mouse: uniform-width strokes, quick polylines with corners, digits off-centre,
squeezed or slanted, and in their own style (a 1 with a flag and a base, a 7
with a bar, an open 4, ...). A model that scores 99 % on MNIST can still misread
these, so the app reports accuracy on a "drawn digits" test set built here, and
the GUI tests reuse :func:`render_strokes` to produce canvas-like pictures.

Templates are strokes -- polylines of (x, y) points in a unit box, y pointing
down like screen coordinates -- with at least two style variants per digit.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from mnist_desktop.core.data.preprocess import to_model_input

Stroke = np.ndarray  # (n, 2) float: x, y
Template = tuple[Stroke, ...]

# Half the GUI canvas's 560 px: renders 4x faster, and after preprocessing the
# 28x28 result is the same up to rounding (mean difference ~0.01).
CANVAS_SIZE = 280
GUI_CANVAS_SIZE = 560  # gui/canvas.py's CANVAS_SIZE (the core cannot import the GUI)
THIN_BRUSH, THICK_BRUSH = 8.0, 80.0  # the GUI brush slider's range, in 560-px canvas pixels


# ----------------------------------------------------------------- template helpers


def _pts(*points: tuple[float, float]) -> Stroke:
    return np.array(points, dtype=np.float64)


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float) -> Stroke:
    """Points on an elliptic arc; angles in degrees, 0 = right, 90 = down (screen).

    One point per ~15 degrees: enough for a smooth curve, and the random
    simplification later removes points to get the corners of a quick drag.
    """
    n = max(2, int(abs(end - start) / 15) + 1)
    theta = np.radians(np.linspace(start, end, n))
    return np.stack([cx + rx * np.cos(theta), cy + ry * np.sin(theta)], axis=1)


def _join(*parts: Stroke) -> Stroke:
    """One stroke through several pieces (the pen is not lifted between them)."""
    return np.concatenate(parts, axis=0)


def _figure_eight() -> Stroke:
    t = np.linspace(0.0, 2 * np.pi, 33)
    y = 0.5 - 0.45 * np.cos(t)
    return np.stack([0.5 + 0.28 * np.sin(2 * t) * (0.8 + 0.2 * (y > 0.5)), y], axis=1)


def _build_templates() -> dict[int, tuple[Template, ...]]:
    two_top = _arc(0.5, 0.3, 0.28, 0.24, 200, 375)
    nine_loop = _arc(0.47, 0.3, 0.27, 0.24, 0, -360)
    seven = _pts((0.15, 0.1), (0.85, 0.1), (0.42, 0.95))
    one_flag = _pts((0.33, 0.2), (0.55, 0.05), (0.55, 0.95))
    four_open = _pts((0.3, 0.05), (0.2, 0.6), (0.85, 0.6))
    five_bowl = _arc(0.48, 0.66, 0.3, 0.28, -150, 150)
    return {
        0: (
            # closed oval with overlap
            (_arc(0.5, 0.5, 0.32, 0.45, -90, -460),),
            # narrow, drawn clockwise, small gap at the top
            (_arc(0.5, 0.5, 0.25, 0.45, -110, 235),),
        ),
        1: (
            (_pts((0.5, 0.05), (0.5, 0.95)),),  # plain bar
            (one_flag,),  # flag
            (one_flag, _pts((0.3, 0.95), (0.8, 0.95))),  # flag and base serif
        ),
        2: (
            # plain, curved top
            (_join(two_top, _pts((0.2, 0.95), (0.82, 0.95))),),
            # small loop at the bottom left
            (_join(two_top, _pts((0.3, 0.84), (0.24, 0.76), (0.15, 0.8), (0.17, 0.92), (0.3, 0.95), (0.85, 0.92))),),
            # angular
            (_pts((0.2, 0.25), (0.4, 0.06), (0.68, 0.08), (0.76, 0.3), (0.2, 0.95), (0.85, 0.95)),),
        ),
        3: (
            # two round bowls
            (_join(_arc(0.47, 0.28, 0.27, 0.23, 200, 470), _arc(0.47, 0.71, 0.3, 0.25, 245, 520)),),
            # flat top
            (_join(_pts((0.2, 0.07), (0.8, 0.07), (0.42, 0.45)), _arc(0.47, 0.71, 0.3, 0.25, 235, 520)),),
        ),
        4: (
            (four_open, _pts((0.65, 0.15), (0.65, 0.95))),  # open top
            (_pts((0.62, 0.05), (0.14, 0.66), (0.88, 0.66)), _pts((0.62, 0.05), (0.62, 0.95))),  # closed
            (four_open, _pts((0.68, 0.3), (0.64, 0.95))),  # open, short stem
        ),
        5: (
            # stem and bowl, then the top bar as a second stroke
            (_join(_pts((0.3, 0.06), (0.26, 0.45)), five_bowl), _pts((0.3, 0.06), (0.8, 0.06))),
            # slanted stem, big bowl, rising bar
            (
                _join(_pts((0.35, 0.06), (0.2, 0.48)), _arc(0.45, 0.66, 0.33, 0.3, -160, 130)),
                _pts((0.35, 0.06), (0.85, 0.0)),
            ),
            # one angular stroke, bar first
            (_pts((0.8, 0.06), (0.3, 0.06), (0.28, 0.42), (0.6, 0.4), (0.78, 0.6), (0.7, 0.85), (0.45, 0.95), (0.2, 0.88)),),
        ),
        6: (
            # curved spine into the loop
            (_join(_arc(0.78, 0.6, 0.52, 0.55, 250, 180), _arc(0.5, 0.71, 0.26, 0.24, 180, -180)),),
            # straight spine
            (_join(_pts((0.68, 0.05), (0.25, 0.68)), _arc(0.5, 0.71, 0.26, 0.24, 180, -170)),),
        ),
        7: (
            (seven,),  # plain
            (seven, _pts((0.4, 0.52), (0.82, 0.52))),  # with a middle bar
            (_pts((0.15, 0.3), (0.15, 0.1), (0.85, 0.1), (0.45, 0.95)),),  # hook at the start
        ),
        8: (
            (_figure_eight(),),  # one stroke, crossing in the middle
            (_arc(0.5, 0.27, 0.2, 0.22, 90, 450), _arc(0.5, 0.72, 0.26, 0.24, -90, 270)),  # two stacked loops
            # an S and back up to the start
            (_join(_arc(0.5, 0.25, 0.25, 0.2, -20, -250), _arc(0.5, 0.72, 0.28, 0.24, -60, 240), _pts((0.74, 0.2))),),
        ),
        9: (
            (_join(nine_loop, _pts((0.74, 0.3), (0.7, 0.95))),),  # closed loop, straight stem
            (_arc(0.45, 0.3, 0.27, 0.24, -40, -300), _pts((0.76, 0.06), (0.74, 0.95))),  # open loop
            (_join(nine_loop, _pts((0.74, 0.3), (0.72, 0.7), (0.6, 0.92), (0.35, 0.93))),),  # curled tail
        ),
    }


DIGIT_TEMPLATES: dict[int, tuple[Template, ...]] = _build_templates()


def simplify_polyline(points: np.ndarray, tolerance: float) -> np.ndarray:
    """Ramer-Douglas-Peucker: drop points closer than ``tolerance`` to the simplified line.

    Real corners (the tip of a 7, the joints of a 4) are far from the chord and
    survive; smooth arcs turn into the few-sided polygons a quick mouse drag
    makes. Tolerance 0 keeps every point.
    """
    points = np.asarray(points, dtype=np.float64)
    if tolerance <= 0 or len(points) < 3:
        return points
    keep = np.zeros(len(points), dtype=bool)
    keep[[0, -1]] = True
    spans = [(0, len(points) - 1)]
    while spans:
        first, last = spans.pop()
        if last - first < 2:
            continue
        chord = points[last] - points[first]
        rel = points[first + 1 : last] - points[first]
        length = np.hypot(*chord)
        if length > 1e-12:
            dist = np.abs(chord[0] * rel[:, 1] - chord[1] * rel[:, 0]) / length
        else:  # closed loop: distance to the shared end point
            dist = np.hypot(rel[:, 0], rel[:, 1])
        worst = int(np.argmax(dist))
        if dist[worst] > tolerance:
            mid = first + 1 + worst
            keep[mid] = True
            spans += [(first, mid), (mid, last)]
    return points[keep]


# ----------------------------------------------------------------------- rendering


def render_strokes(
    strokes: Sequence[np.ndarray | Sequence[tuple[float, float]]],
    size: int | tuple[int, int] = CANVAS_SIZE,
    width: float = 18.0,
    *,
    supersample: int = 2,
) -> np.ndarray:
    """Draw strokes like the GUI canvas: uint8 (H, W), white ink (255) on black.

    ``strokes`` are polylines in canvas pixel coordinates (x, y); ``size`` is
    the canvas side or (width, height); ``width`` the pen width in pixels.
    Strokes have uniform width with round caps and joins (a disc at every
    vertex), and are anti-aliased by drawing ``supersample`` times larger and
    averaging down -- Pillow's own lines are not anti-aliased.
    """
    cols, rows = (size, size) if isinstance(size, int) else size
    ss = max(1, int(supersample))
    img = Image.new("L", (cols * ss, rows * ss), 0)
    draw = ImageDraw.Draw(img)
    pen = max(1.0, float(width) * ss)
    radius = pen / 2
    for stroke in strokes:
        points = (np.asarray(stroke, dtype=np.float64).reshape(-1, 2) + 0.5) * ss - 0.5
        if len(points) == 0 or not np.isfinite(points).all():
            continue
        if len(points) > 1:
            draw.line([tuple(p) for p in points], fill=255, width=max(1, round(pen)), joint="curve")
        for x, y in points:
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    if ss > 1:
        img = img.reduce(ss)
    return np.asarray(img)


def random_drawn_strokes(
    label: int,
    rng: np.random.Generator,
    *,
    canvas_size: int = CANVAS_SIZE,
    variant: int | None = None,
    pen_width: float | None = None,
) -> tuple[list[np.ndarray], float]:
    """Strokes (canvas pixels) and pen width of one random mouse-drawn ``label``.

    Picks a style variant, drops random points (fast drags give polylines with
    corners), jitters the rest (unsteady hand), applies a random affine map
    (rotation +-15 degrees, shear, aspect squeezed or wide, size) and places the
    digit anywhere on the canvas, not necessarily in the middle. ``pen_width``
    (canvas pixels) fixes the pen instead of a random one in proportion to the
    digit: the brush-width tests draw the same digits at every width the canvas offers.
    """
    variants = DIGIT_TEMPLATES[int(label)]
    template = variants[int(rng.integers(len(variants))) if variant is None else variant]
    tolerance = rng.choice([0.0, rng.uniform(0.005, 0.05)])
    jitter = rng.uniform(0.0, 0.025)
    strokes = []
    for stroke in template:
        simple = simplify_polyline(stroke, tolerance)
        strokes.append(simple + rng.normal(0.0, jitter, size=simple.shape))

    angle = np.radians(rng.uniform(-15, 15))
    shear = rng.uniform(-0.2, 0.2)
    aspect = np.exp(rng.uniform(np.log(0.65), np.log(1.4)))  # >1: wide, <1: squeezed
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    linear = rotation @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag([aspect, 1.0])
    shapes = [(s - 0.5) @ linear.T for s in strokes]
    allpts = np.concatenate(shapes)
    extent = allpts.max(axis=0) - allpts.min(axis=0)

    height = canvas_size * rng.uniform(0.35, 0.8)
    pen = height * rng.uniform(0.05, 0.17)
    if pen_width is not None:
        pen = float(pen_width)
    scale = min(height / max(extent[1], 1e-6), (canvas_size - 2 * pen) / max(extent.max(), 1e-6))
    if pen_width is None:
        pen = max(2.0, min(pen, scale * extent.max() * 0.25))
    shapes = [s * scale for s in shapes]
    lo = np.concatenate(shapes).min(axis=0) - pen
    hi = np.concatenate(shapes).max(axis=0) + pen
    room = np.maximum(canvas_size - (hi - lo), 0.0)
    offset = rng.uniform(0.0, 1.0, size=2) * room - lo
    return [s + offset for s in shapes], float(pen)


def random_drawn_canvas(
    label: int, rng: np.random.Generator, *, canvas_size: int = CANVAS_SIZE, variant: int | None = None,
    pen_width: float | None = None,
) -> np.ndarray:
    """A canvas-like uint8 picture (white on black) of one random drawn ``label``."""
    strokes, pen = random_drawn_strokes(label, rng, canvas_size=canvas_size, variant=variant, pen_width=pen_width)
    return render_strokes(strokes, canvas_size, pen)


def random_drawn_digit(
    label: int, rng: np.random.Generator, *, canvas_size: int = CANVAS_SIZE, variant: int | None = None,
    pen_width: float | None = None,
) -> np.ndarray:
    """One random drawn ``label`` as model input: float32 (28, 28) in [0, 1]."""
    out = to_model_input(random_drawn_canvas(label, rng, canvas_size=canvas_size, variant=variant, pen_width=pen_width))
    if out is None:  # cannot happen: every template puts ink on the canvas
        raise RuntimeError(f"drawn digit {label} rendered blank")
    return out


def make_drawn_test_set(n_per_class: int = 100, seed: int = 1234, *,
                        brush_width: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The "drawn digits" test set: (float32 (N, 28, 28), uint8 (N,)), N = 10 * n_per_class.

    Deterministic for a seed (the same images on every run with the same numpy
    and Pillow), so accuracies reported next to MNIST's test accuracy are
    comparable between models and runs. ``brush_width`` draws every digit on the
    GUI's 560-px canvas with that brush (the slider's 8-80 px) instead of a pen
    in proportion to the digit: :data:`THICK_BRUSH` is the thick-brush test set.
    """
    rng = np.random.default_rng(seed)
    labels = np.tile(np.arange(10, dtype=np.uint8), n_per_class)
    images = np.empty((len(labels), 28, 28), dtype=np.float32)
    size = CANVAS_SIZE if brush_width is None else GUI_CANVAS_SIZE
    for i, label in enumerate(labels):
        images[i] = random_drawn_digit(int(label), rng, canvas_size=size, pen_width=brush_width)
    return images, labels
