"""A synthetic person's handwriting, shared by the handwriting tests (core and panel).

A consistent, continental hand -- a 1 with a long up-stroke (an MNIST model
reads it as 7), a crossed 7 with a looped stem, a 9 with a curled tail, a
slashed 0, an open 4 -- drawn as canvas strokes with :func:`render_strokes`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnist_desktop.core.data.strokes import _arc, _join, render_strokes
from mnist_desktop.core.handwriting.store import HandwritingSet


def _pts(*points: tuple[float, float]) -> np.ndarray:
    return np.array(points, float)


# One person's way of drawing each digit (unit box, y down). The quirks are the
# point: the bundled model misreads the 1 (as 7), the looped 7 and the curled 9.
HANDWRITING: dict[int, tuple[np.ndarray, ...]] = {
    0: (_arc(0.5, 0.5, 0.3, 0.45, -90, -440), _pts((0.78, 0.08), (0.22, 0.92))),  # slashed zero
    1: (_pts((0.15, 0.45), (0.62, 0.03), (0.6, 0.97)),),  # long up-stroke, no base
    2: (_pts((0.15, 0.08), (0.85, 0.08), (0.15, 0.92), (0.88, 0.92)), _pts((0.3, 0.5), (0.7, 0.5))),  # crossed Z
    3: (_join(_pts((0.2, 0.07), (0.8, 0.07), (0.42, 0.45)), _arc(0.47, 0.71, 0.3, 0.25, 235, 520)),),  # flat top
    4: (_pts((0.35, 0.03), (0.1, 0.62), (0.9, 0.58)), _pts((0.85, 0.15), (0.45, 0.97))),  # open, slanted stroke
    5: (_join(_pts((0.3, 0.06), (0.24, 0.45)), _arc(0.5, 0.66, 0.3, 0.28, -150, 150)),
        _pts((0.3, 0.06), (0.8, 0.1), (0.85, 0.2))),  # hooked flag
    6: (_join(_pts((0.7, 0.0), (0.35, 0.75)), _arc(0.45, 0.82, 0.12, 0.12, 180, -180)),),  # small loop
    7: (_join(_pts((0.1, 0.1), (0.88, 0.08), (0.5, 0.6)), _arc(0.5, 0.78, 0.15, 0.18, -90, 270)),
        _pts((0.3, 0.35), (0.85, 0.35))),  # crossed, looped stem
    8: (_join(_arc(0.5, 0.25, 0.22, 0.2, -10, -250), _arc(0.5, 0.72, 0.26, 0.24, -60, 250)),),  # open top
    9: (_join(_arc(0.5, 0.25, 0.27, 0.2, 0, -360), _pts((0.77, 0.25), (0.75, 0.7)),
              _arc(0.45, 0.7, 0.3, 0.28, 0, 200)),),  # curled tail
}


def my_drawing(label: int, rng: np.random.Generator, size: int = 280) -> np.ndarray:
    """One drawing in this person's style: uint8 (size, size) white on black, like the canvas.

    Same glyph every time, drawn a little differently: size, place, pen width,
    a few degrees of tilt, some shear and an unsteady hand.
    """
    angle = np.radians(rng.uniform(-8, 8))
    shear = rng.uniform(-0.12, 0.12)
    aspect = np.exp(rng.uniform(np.log(0.85), np.log(1.15)))
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    linear = rot @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag([aspect, 1.0])
    height = size * rng.uniform(0.45, 0.75)
    strokes = [((s + rng.normal(0, 0.012, s.shape)) - 0.5) @ linear.T * height for s in HANDWRITING[label]]
    points = np.concatenate(strokes)
    lo, hi = points.min(0), points.max(0)
    pen = rng.uniform(12, 22)
    room = np.maximum(size - (hi - lo) - 2 * pen, 0)
    offset = rng.uniform(0, 1, 2) * room - lo + pen
    return render_strokes([s + offset for s in strokes], size, pen)


def fill(root: Path, per_digit: int, seed: int = 0) -> HandwritingSet:
    """A handwriting set of ``per_digit`` drawings of every digit, saved like the guided session does.

    Fixed ids (the app's are random) make the seeded split, and so the test, repeatable.
    """
    ds = HandwritingSet(root)
    rng = np.random.default_rng(seed)
    for i in range(per_digit):
        for digit in range(10):
            ds.add(my_drawing(digit, rng), digit, source="session", sample_id=f"s{seed}-{i:03d}-{digit}")
    return ds
