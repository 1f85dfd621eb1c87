"""Marks that are not digits, drawn like the canvas draws: the app's own OOD test set.

A model that has only seen digits answers every mark with a digit. To measure
how well the out-of-distribution score catches that, the app needs non-digits
drawn the way people draw in it: uniform-width mouse strokes on the canvas. This
module generates them from code, in families a person would try:

``scribble``  a random tangle: a smooth curve through random points
``letter``    capital letters as strokes (only letters no digit resembles:
              O, I, S, Z, B, G, Q, D, L, C, U, T and J are left out)
``shape``     triangle, square, star, pentagon, arrow, cross, hash, heart, spiral
``zigzag``    zig-zags, waves and hatching
``tiny``      a dot or a short tick (the verdict's "keep drawing" rule)

Every picture is a canvas-sized uint8 image (white ink on black) so that the
raw-canvas rule for tiny marks and the full preprocessing both apply, exactly
as in the GUI. The default seed (4242) is the *measurement* set; anything that
trains on these families must use another seed stream.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from mnist_desktop.core.data.strokes import CANVAS_SIZE, render_strokes

FAMILIES = ("scribble", "letter", "shape", "zigzag", "tiny")
#: The measurement set's seed; training on these families must use another stream.
TEST_SEED = 4242

Strokes = list[np.ndarray]


def _p(*points: tuple[float, float]) -> np.ndarray:
    return np.array(points, dtype=np.float64)


LETTERS: dict[str, Strokes] = {
    "A": [_p((0.1, 1), (0.5, 0), (0.9, 1)), _p((0.28, 0.6), (0.72, 0.6))],
    "E": [_p((0.85, 0), (0.15, 0), (0.15, 1), (0.85, 1)), _p((0.15, 0.5), (0.7, 0.5))],
    "F": [_p((0.85, 0), (0.15, 0), (0.15, 1)), _p((0.15, 0.5), (0.7, 0.5))],
    "H": [_p((0.15, 0), (0.15, 1)), _p((0.85, 0), (0.85, 1)), _p((0.15, 0.5), (0.85, 0.5))],
    "K": [_p((0.2, 0), (0.2, 1)), _p((0.85, 0), (0.2, 0.55)), _p((0.38, 0.42), (0.85, 1))],
    "M": [_p((0.05, 1), (0.15, 0), (0.5, 0.65), (0.85, 0), (0.95, 1))],
    "N": [_p((0.15, 1), (0.15, 0), (0.85, 1), (0.85, 0))],
    "R": [_p((0.2, 1), (0.2, 0), (0.7, 0.05), (0.8, 0.25), (0.7, 0.45), (0.2, 0.5)), _p((0.45, 0.5), (0.85, 1))],
    "V": [_p((0.1, 0), (0.5, 1), (0.9, 0))],
    "W": [_p((0.0, 0), (0.25, 1), (0.5, 0.35), (0.75, 1), (1.0, 0))],
    "X": [_p((0.1, 0), (0.9, 1)), _p((0.9, 0), (0.1, 1))],
    "Y": [_p((0.1, 0), (0.5, 0.5), (0.9, 0)), _p((0.5, 0.5), (0.5, 1))],
    "P": [_p((0.2, 1), (0.2, 0), (0.7, 0.05), (0.85, 0.25), (0.7, 0.45), (0.2, 0.5))],
    "k": [_p((0.25, 0), (0.25, 1)), _p((0.8, 0.4), (0.25, 0.75), (0.8, 1))],
    "m": [_p((0.05, 1), (0.05, 0.4), (0.3, 0.35), (0.5, 0.5), (0.5, 1)), _p((0.5, 0.5), (0.75, 0.35), (0.95, 0.5), (0.95, 1))],
    "w": [_p((0.0, 0.3), (0.25, 1), (0.5, 0.5), (0.75, 1), (1.0, 0.3))],
}


def _circle_points(n: int, start: float = -90.0) -> np.ndarray:
    t = np.radians(start + np.arange(n) * 360.0 / n)
    return np.stack([0.5 + 0.5 * np.cos(t), 0.5 + 0.5 * np.sin(t)], axis=1)


def _polygon(n: int) -> Strokes:
    pts = _circle_points(n)
    return [np.concatenate([pts, pts[:1]])]


def _star() -> Strokes:
    pts = _circle_points(5)[[0, 2, 4, 1, 3, 0]]
    return [pts]


def _heart() -> Strokes:
    t = np.linspace(0, 2 * np.pi, 40)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    return [np.stack([(x + 17) / 34, (y + 17) / 30], axis=1)]


def _spiral(rng: np.random.Generator) -> Strokes:
    turns = rng.uniform(2.0, 3.5)
    t = np.linspace(0, turns * 2 * np.pi, int(turns * 24))
    r = 0.5 * t / t[-1]
    return [np.stack([0.5 + r * np.cos(t), 0.5 + r * np.sin(t)], axis=1)]


SHAPES: dict[str, Callable[[np.random.Generator], Strokes]] = {
    "triangle": lambda rng: _polygon(3),
    "square": lambda rng: [_p((0, 0), (1, 0), (1, 1), (0, 1), (0, 0))],
    "pentagon": lambda rng: _polygon(5),
    "star": lambda rng: _star(),
    "arrow": lambda rng: [_p((0, 0.5), (1, 0.5)), _p((0.65, 0.15), (1, 0.5), (0.65, 0.85))],
    "cross": lambda rng: [_p((0.5, 0), (0.5, 1)), _p((0, 0.5), (1, 0.5))],
    "hash": lambda rng: [_p((0.35, 0), (0.3, 1)), _p((0.7, 0), (0.65, 1)), _p((0, 0.33), (1, 0.33)), _p((0, 0.67), (1, 0.67))],
    "heart": lambda rng: _heart(),
    "spiral": _spiral,
    "smiley": lambda rng: [np.concatenate([_circle_points(24), _circle_points(24)[:1]]), _p((0.35, 0.35), (0.36, 0.37)),
                           _p((0.65, 0.35), (0.66, 0.37)), np.stack([0.5 + 0.25 * np.cos(np.linspace(0.3, 2.8, 10)),
                                                                      0.55 + 0.2 * np.sin(np.linspace(0.3, 2.8, 10))], 1)],
}


def _scribble(rng: np.random.Generator) -> Strokes:
    """A smooth random tangle: Catmull-Rom-like interpolation through 5-10 random points."""
    n = int(rng.integers(5, 11))
    ctrl = rng.uniform(0.0, 1.0, size=(n, 2))
    t = np.linspace(0, n - 1, n * 8)
    i = np.clip(t.astype(int), 0, n - 2)
    f = (t - i)[:, None]
    smooth = f * f * (3 - 2 * f)
    return [ctrl[i] * (1 - smooth) + ctrl[i + 1] * smooth]


def _zigzag(rng: np.random.Generator) -> Strokes:
    kind = int(rng.integers(3))
    if kind == 0:  # zig-zag with 4-8 teeth
        teeth = int(rng.integers(4, 9))
        x = np.linspace(0, 1, teeth + 1)
        y = np.where(np.arange(teeth + 1) % 2 == 0, 0.0, 1.0)
        return [np.stack([x, y], 1)]
    if kind == 1:  # a wave of 2-4 periods
        x = np.linspace(0, 1, 60)
        return [np.stack([x, 0.5 + 0.5 * np.sin(x * 2 * np.pi * rng.uniform(2, 4))], 1)]
    lines = int(rng.integers(3, 6))  # hatching: parallel slanted lines
    return [_p((k / lines, 1.0), (k / lines + 0.3, 0.0)) for k in range(lines + 1)]


def _tiny(rng: np.random.Generator) -> Strokes:
    if rng.random() < 0.5:
        return [_p((0.5, 0.5))]  # a dot
    angle = rng.uniform(0, np.pi)
    return [_p((0.5, 0.5), (0.5 + np.cos(angle), 0.5 + np.sin(angle)))]  # a tick, scaled small below


def _strokes(family: str, rng: np.random.Generator) -> tuple[Strokes, str]:
    if family == "scribble":
        return _scribble(rng), "scribble"
    if family == "letter":
        name = list(LETTERS)[int(rng.integers(len(LETTERS)))]
        return [s.copy() for s in LETTERS[name]], f"letter {name}"
    if family == "shape":
        name = list(SHAPES)[int(rng.integers(len(SHAPES)))]
        return SHAPES[name](rng), name
    if family == "zigzag":
        return _zigzag(rng), "zigzag"
    if family == "tiny":
        return _tiny(rng), "tiny"
    raise ValueError(f"unknown family {family!r}; choose one of {', '.join(FAMILIES)}")


def random_ood_canvas(family: str, rng: np.random.Generator, *, canvas_size: int = CANVAS_SIZE) -> tuple[np.ndarray, str]:
    """One non-digit mark as a canvas picture (uint8, white ink on black) and what it is.

    Like the drawn digits: a random affine map (rotation ±20°, shear, aspect),
    hand jitter, a random pen and a random place on the canvas. Tiny marks stay
    small (a dot is the pen alone, a tick under ~8 % of the canvas).
    """
    strokes, name = _strokes(family, rng)
    pen = canvas_size * rng.uniform(0.04, 0.08)
    angle = np.radians(rng.uniform(-20, 20))
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    linear = rot @ np.array([[1.0, rng.uniform(-0.2, 0.2)], [0.0, 1.0]]) @ np.diag([np.exp(rng.uniform(-0.3, 0.3)), 1.0])
    jitter = rng.uniform(0.0, 0.015)
    shapes = [(s - 0.5) @ linear.T + rng.normal(0, jitter, size=s.shape) for s in strokes]
    size = canvas_size * (rng.uniform(0.02, 0.07) if family == "tiny" else rng.uniform(0.4, 0.8))
    shapes = [s * size for s in shapes]
    allpts = np.concatenate(shapes)
    lo, hi = allpts.min(axis=0) - pen, allpts.max(axis=0) + pen
    room = np.maximum(canvas_size - (hi - lo), 0.0)
    offset = rng.uniform(0.0, 1.0, size=2) * room - lo
    return render_strokes([s + offset for s in shapes], canvas_size, pen), name


def make_ood_set(n_per_family: int = 200, seed: int = TEST_SEED, families: tuple[str, ...] = FAMILIES,
                 canvas_size: int = CANVAS_SIZE) -> tuple[np.ndarray, list[str], list[str]]:
    """(uint8 (N, S, S) canvases, family of each, name of each); deterministic for a seed."""
    rng = np.random.default_rng(seed)
    canvases = np.empty((n_per_family * len(families), canvas_size, canvas_size), np.uint8)
    fams: list[str] = []
    names: list[str] = []
    for i, family in enumerate(f for f in families for _ in range(n_per_family)):
        canvases[i], name = random_ood_canvas(family, rng, canvas_size=canvas_size)
        fams.append(family)
        names.append(name)
    return canvases, fams, names
