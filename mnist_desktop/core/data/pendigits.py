"""Real pen handwriting: read UCI pen-trajectory files and draw them as canvas strokes.

The UCI "Pen-Based Recognition of Handwritten Digits" set holds digits written
on a tablet by real people -- styles MNIST's writers rarely use (a 1 with a flag
and a base, a 7 with a bar, open 9s, closed 4s). Each line is eight pen points
resampled at equal arc length along the whole trajectory, scaled so the larger
range spans 0-100, y up, then the label::

    x1,y1,...,x8,y8,LABEL      LABEL: a digit 0-9, or ten 0/1 characters (one-hot)

To train and test on them the way the app sees drawings, :func:`render_pen_canvas`
draws the trajectory as the canvas would: a uniform-width round pen, the points
joined by a centripetal Catmull-Rom spline (eight points as a polyline would give
corners no pen makes), white on black; :func:`pen_model_inputs` then sends that
picture through :func:`~mnist_desktop.core.data.preprocess.to_model_input`, the
live drawing's own preprocessing.

The pen-up moves between strokes are part of the eight points (the file cannot
say where they are). A faithful rendering draws them; the canvas never has
them, so :class:`PenStyle` can thin or omit the longest straight segment -- the
likeliest join -- as an augmentation.

Writers: the file has no writer ids. :func:`split_blocks` cuts it by sample
order into contiguous blocks and holds whole blocks out, which is as close to a
writer-independent split as the file allows (if the file was shuffled, the
blocks mix writers and the validation number is optimistic).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from mnist_desktop.core.errors import DatasetError

N_POINTS = 8
N_FIELDS = 2 * N_POINTS + 1
COORD_MAX = 100.0
MAX_FILE_BYTES = 64 << 20  # the UCI training file is ~0.5 MB; far more is not a pen file
BLOCK_SIZE = 250  # ~7,494 digits / 30 writers
VALIDATION_EVERY = 5  # every 5th block (4, 9, 14, ...) is held out: 6 of 30 blocks
PEN_CANVAS_SIZE = 280  # like strokes.CANVAS_SIZE: half the GUI canvas, same model input up to rounding
_CANVAS_SCALE = PEN_CANVAS_SIZE / 560  # brush widths below are the GUI's 560-px canvas pixels
_SAMPLES_PER_SEGMENT = 8


@dataclass(frozen=True)
class PenDigits:
    """Trajectories (N, 8, 2) float32 in the file's units (0-100, y up) and labels (N,) int32."""

    points: np.ndarray
    labels: np.ndarray
    source: str = ""

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, index: np.ndarray) -> "PenDigits":
        return PenDigits(self.points[index], self.labels[index], self.source)


def _parse_label(text: str, where: str) -> int:
    if len(text) == 1 and text.isdigit():
        return int(text)
    if len(text) == 10 and set(text) <= {"0", "1"} and text.count("1") == 1:
        return text.index("1")
    raise DatasetError(f"{where}: label {text[:20]!r} is neither a digit 0-9 nor ten 0/1 characters with one 1")


def parse_pendigits(lines: Iterable[str], source: str = "<pen data>") -> PenDigits:
    """Parse UCI pen-digit lines; blank lines are skipped.

    Raises:
        DatasetError: naming ``source`` and the line number, for a wrong field
            count, a coordinate that is not a number in 0-100, or a bad label.
    """
    points: list[list[float]] = []
    labels: list[int] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        where = f"{source} line {number}"
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != N_FIELDS:
            raise DatasetError(f"{where}: expected {N_FIELDS} comma-separated fields (8 x,y points and a label), "
                               f"found {len(fields)}")
        coords = []
        for k, text in enumerate(fields[:-1]):
            try:
                value = float(text)
            except ValueError:
                value = float("nan")
            if not 0.0 <= value <= COORD_MAX:  # also false for NaN
                axis = "xy"[k % 2]
                raise DatasetError(f"{where}: {axis}{k // 2 + 1} = {text[:20]!r} is not a number from 0 to 100")
            coords.append(value)
        labels.append(_parse_label(fields[-1], where))
        points.append(coords)
    if not labels:
        raise DatasetError(f"{source}: no pen digits found (expected lines of 8 x,y points and a label)")
    return PenDigits(np.asarray(points, np.float32).reshape(-1, N_POINTS, 2), np.asarray(labels, np.int32), source)


def load_pendigits(path: str | os.PathLike) -> PenDigits:
    """Read a UCI pen-digit file (``pendigits.tra`` or one in the same format)."""
    path = Path(path)
    if path.is_dir():
        candidates = sorted(path.glob("*.tra"))
        if not candidates:
            raise DatasetError(f"{path}: no .tra pen-digit file in this folder; give the file itself")
        path = candidates[0]
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise DatasetError(f"{path}: {size:,} bytes is too large for a pen-digit file (limit {MAX_FILE_BYTES >> 20} MB)")
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such pen-digit file (check the path)") from None
    except UnicodeDecodeError:
        raise DatasetError(f"{path}: not a text file; expected lines of 8 x,y points and a label") from None
    except OSError as err:
        raise DatasetError(f"{path}: cannot be read ({err.strerror or err})") from None
    return parse_pendigits(text.splitlines(), str(path))


def split_blocks(n: int, block_size: int = BLOCK_SIZE, every: int = VALIDATION_EVERY) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) indices: contiguous blocks by sample order, every ``every``-th block held out."""
    block = np.arange(n) // block_size
    held = block % every == every - 1
    return np.flatnonzero(~held), np.flatnonzero(held)


def validation_blocks(n: int, block_size: int = BLOCK_SIZE, every: int = VALIDATION_EVERY) -> list[np.ndarray]:
    """The indices of each held-out block on its own (one block ~ one writer's share of the file)."""
    _, held = split_blocks(n, block_size, every)
    return [held[held // block_size == b] for b in np.unique(held // block_size)]


# ------------------------------------------------------------------------- rendering


def catmull_rom(points: np.ndarray, samples: int = _SAMPLES_PER_SEGMENT, alpha: float = 0.5) -> np.ndarray:
    """A centripetal Catmull-Rom curve through ``points`` (n, 2): the path a pen would take.

    Centripetal (alpha 0.5) never overshoots into loops or cusps between close
    points, unlike the uniform variant. Repeated points are dropped first; the
    ends are extended by reflection so the curve starts and stops on them.
    """
    pts = np.asarray(points, np.float64)
    keep = np.r_[True, np.hypot(*np.diff(pts, axis=0).T) > 1e-6]
    pts = pts[keep]
    if len(pts) < 3:
        return pts
    ext = np.vstack([2 * pts[0] - pts[1], pts, 2 * pts[-1] - pts[-2]])
    out = [pts[:1]]
    for i in range(1, len(ext) - 2):
        p0, p1, p2, p3 = ext[i - 1], ext[i], ext[i + 1], ext[i + 2]
        t0 = 0.0
        t1 = t0 + max(np.hypot(*(p1 - p0)), 1e-9) ** alpha
        t2 = t1 + max(np.hypot(*(p2 - p1)), 1e-9) ** alpha
        t3 = t2 + max(np.hypot(*(p3 - p2)), 1e-9) ** alpha
        t = np.linspace(t1, t2, samples + 1)[1:, None]
        a1 = (t1 - t) / (t1 - t0) * p0 + (t - t0) / (t1 - t0) * p1
        a2 = (t2 - t) / (t2 - t1) * p1 + (t - t1) / (t2 - t1) * p2
        a3 = (t3 - t) / (t3 - t2) * p2 + (t - t2) / (t3 - t2) * p3
        b1 = (t2 - t) / (t2 - t0) * a1 + (t - t0) / (t2 - t0) * a2
        b2 = (t3 - t) / (t3 - t1) * a2 + (t - t1) / (t3 - t1) * a3
        out.append((t2 - t) / (t2 - t1) * b1 + (t - t1) / (t2 - t1) * b2)
    return np.vstack(out)


@dataclass(frozen=True)
class PenStyle:
    """How pen trajectories are drawn: the validation rendering and the training augmentations.

    Brush widths are in the GUI canvas's pixels (560-px canvas, slider 8-80);
    ``height`` is the digit's height as a fraction of the canvas. ``join_thin`` /
    ``join_drop`` are the chances of drawing the likeliest pen-up join (the
    longest straight segment, when it is clearly longer than the median) at a
    third of the width, or not at all; ``polyline`` the chance of straight
    segments instead of the spline.
    """

    width: tuple[float, float] = (12.0, 60.0)
    height: tuple[float, float] = (0.4, 0.85)
    polyline: float = 0.0
    join_thin: float = 0.0
    join_drop: float = 0.0


PEN_STYLES: dict[str, PenStyle] = {
    # the validation rendering: every segment drawn, smooth, typical brush widths
    "faithful": PenStyle(),
    # as faithful, plus the full brush range and corners
    "varied": PenStyle(width=(8.0, 80.0), height=(0.3, 0.9), polyline=0.25),
    # as varied, and the likeliest pen-up join often thinned or omitted, as on the canvas
    "canvas": PenStyle(width=(8.0, 80.0), height=(0.3, 0.9), polyline=0.25, join_thin=0.2, join_drop=0.3),
}


def _likeliest_join(points: np.ndarray) -> int | None:
    """Index i of the segment points[i] -> points[i+1] most likely to be a pen-up move, or None.

    Points are equally spaced along the trajectory, so a curved segment's chord
    is shorter than the spacing and a straight jump's is the longest of all.
    """
    chords = np.hypot(*np.diff(points, axis=0).T)
    i = int(np.argmax(chords))
    return i if chords[i] > 1.4 * float(np.median(chords)) else None


def render_pen_canvas(points: np.ndarray, rng: np.random.Generator, style: PenStyle = PenStyle(),
                      size: int = PEN_CANVAS_SIZE) -> np.ndarray:
    """Draw one trajectory (8, 2; file units, y up) as a canvas picture: uint8 (size, size), white on black."""
    from mnist_desktop.core.data.strokes import render_strokes

    pts = np.asarray(points, np.float64).copy()
    pts[:, 1] = COORD_MAX - pts[:, 1]  # y up (tablet) -> y down (image)
    scale_px = size / 560.0
    pen = rng.uniform(*style.width) * scale_px
    height = rng.uniform(*style.height) * size
    extent = np.maximum(pts.max(axis=0) - pts.min(axis=0), 1e-6)
    # the digit's height; a flat digit (a dash-like 1 or 7) is limited by the canvas width instead
    scale = min(height / extent[1], (size - 2 * pen) / extent[0], (size - 2 * pen) / extent[1])
    scale = max(scale, 1e-3)
    pts = (pts - pts.min(axis=0)) * scale
    room = np.maximum(size - pen - (pts.max(axis=0) - pts.min(axis=0)) - pen, 0.0)
    pts += pen + rng.uniform(0.0, 1.0, 2) * room
    join = _likeliest_join(pts)
    mode = rng.choice(3, p=[1.0 - style.join_thin - style.join_drop, style.join_thin, style.join_drop])
    polyline = rng.random() < style.polyline
    pieces = [pts] if join is None or mode == 0 else [pts[: join + 1], pts[join + 1:]]
    curve = (lambda p: p) if polyline else catmull_rom
    picture = render_strokes([curve(p) for p in pieces if len(p)], size, pen)
    if join is not None and mode == 1:
        picture = np.maximum(picture, render_strokes([pts[join: join + 2]], size, pen / 3))
    return picture


def pen_model_inputs(digits: PenDigits, style: PenStyle | str = "faithful", seed: int = 0,
                     progress=None) -> np.ndarray:
    """Every trajectory drawn (seeded) and preprocessed like a canvas drawing: float32 (N, 28, 28)."""
    from mnist_desktop.core.data.preprocess import to_model_input

    style = PEN_STYLES[style] if isinstance(style, str) else style
    rng = np.random.default_rng([int(seed), 0x9E7])
    out = np.zeros((len(digits), 28, 28), np.float32)
    for i, pts in enumerate(digits.points):
        x = to_model_input(render_pen_canvas(pts, rng, style))
        if x is not None:
            out[i] = x
        if progress is not None and (i % 200 == 0 or i == len(digits) - 1):
            progress(i + 1, len(digits))
    return out
