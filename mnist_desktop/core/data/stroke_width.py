"""Stroke width: measure it on a 28x28 ink map and bring it into MNIST's range.

Why: a digit is its path, not its ink. The canvas brush goes from 8 to 80 px,
paper scans from hairline to marker, and after the 20-px box scaling a short
digit drawn with a fat brush is a blob (a fat 1 reads as 8) while a hairline
is a faint thread. MNIST's strokes are 1.7-3.7 px wide in 90 % of its digits
(median 2.4, by the estimate below). Preprocessing therefore measures every
digit's stroke width and, only when it lies outside :data:`WIDTH_BAND`, thins
or thickens the strokes to the band's nearer edge. Digits already inside the
band -- nearly all of MNIST, most canvas drawings -- pass untouched, so the
change costs models nothing on MNIST and keeps the live path fast.

Estimate: a stroke of length L and width w has ink area A = L w and outline
P = 2 L, so w = 2 A / P. (Round caps make that an underestimate for short fat
strokes -- a blob's "width" is unclear anyway -- and so err towards thinning
too little, never towards wiping a digit out; a second pass finishes the job.)
A is the summed ink; P is the grey-level outline length (the coarea
formula: summed absolute differences between neighbours equal the level
lines' length averaged over all levels), over the four neighbour directions
weighted so a straight edge counts the same at 0 and 45 degrees (8 % error at
worst). Both are a handful of whole-array operations on 784 pixels.

Change: grey-level erosion or dilation by an octagon (alternating 3x3 cross
and square, ~1 px per step), with the fractional last step blended linearly,
so the width changes continuously and the anti-aliased edge survives.
Erosion also shortens the digit by twice the offset; the caller re-boxes it to
20 px, which scales the width up again, so the offset solves for the width
*after* re-boxing: 2e = (w - t) / (1 - t / 20).
"""

from __future__ import annotations

import numpy as np

# MNIST's stroke widths by :func:`estimate_width` (test set, 10,000 digits):
# 5th percentile 1.69 px, 10th 1.82, median 2.40, 90th 3.32, 95th 3.68.
WIDTH_BAND = (1.7, 3.4)
BOX = 20.0  # the box's longer side after scaling (preprocess.BOX_SIZE)
MIN_BOX_AFTER = 8.0  # erosion never shortens the digit's box below this: a blob stays a blob
MAX_STEPS = 8
# The estimate moves less than the true width when strokes are short and fat (their
# caps), so offsets aim past the band's edge; measured on drawn digits, brushes 8-80 px,
# two passes then land inside the band (1.8-2.0 px from the thinnest, 3.0-3.4 from the thickest).
GAIN = 1.5
SOLID = 0.9  # an erosion step must leave ink at least this strong somewhere
_AXIS_W = np.float32(np.sqrt(2.0) - 1.0)  # 0.414: weights so an edge at 0° and 45° measures alike
_DIAG_W = np.float32(1.0 - 1.0 / np.sqrt(2.0))  # 0.293


def outline_length(ink: np.ndarray) -> np.ndarray:
    """(N,) outline length of each (N, H, W) ink map, in pixels (grey coarea, isotropic to ~8 %).

    Ink touching the array's edge has an outline there too (the patches have
    their box at the origin): the map is framed with background first. In the
    framed, flattened image each pixel's neighbour in a direction is a fixed
    offset, and pairs that wrap from one row to the next, or run past the last
    row, meet only frame pixels (0): each direction is one subtraction into one
    buffer. This runs on every live prediction.
    """
    n, h, w = ink.shape
    stride = w + 2
    flat = _padded(ink, 0.0).reshape(n, -1)
    length = flat.shape[1] - stride - 1
    diffs = np.empty((4, n, length), np.float32)
    for k, step in enumerate((1, stride, stride + 1, stride - 1)):
        np.subtract(flat[:, step:step + length], flat[:, :length], out=diffs[k])
    sums = np.abs(diffs, out=diffs).sum(axis=2)
    return _AXIS_W * (sums[0] + sums[1]) + _DIAG_W * (sums[2] + sums[3])


def estimate_width(ink: np.ndarray) -> np.ndarray:
    """(N,) stroke width in pixels of (N, H, W) ink maps (ink high, background 0); 0 for blank ones.

    Measured on the picture the model sees (after preprocessing's thin-stroke
    boost), so a hairline counts as the faint-but-brightened stroke it becomes.
    """
    ink = np.asarray(ink, np.float32)
    outline = outline_length(ink)
    area = ink.sum(axis=(1, 2))
    return np.where(outline > 0, 2 * area / np.maximum(outline, 1e-6), 0.0).astype(np.float32)


def width_offsets(width: np.ndarray, box: np.ndarray, band: tuple[float, float] = WIDTH_BAND) -> np.ndarray:
    """(N,) per-side offset in pixels: > 0 thins, < 0 thickens, 0 leaves a digit as it is.

    ``box`` is each digit's longer box side now (20 after scaling); the offset
    brings the width to the band's nearer edge *after* the digit is re-boxed.
    """
    width = np.asarray(width, np.float32)
    target = np.clip(width, band[0], band[1])
    twice = GAIN * (width - target) / (1.0 - target / BOX)
    twice = np.minimum(twice, np.maximum(np.asarray(box, np.float32) - MIN_BOX_AFTER, 0.0))
    return np.where(width > 0, np.clip(twice / 2, -MAX_STEPS, MAX_STEPS), 0.0).astype(np.float32)


def _padded(ink: np.ndarray, value: float) -> np.ndarray:
    """``ink`` with a one-pixel frame of ``value`` (np.pad is several times slower for this)."""
    out = np.full((ink.shape[0], ink.shape[1] + 2, ink.shape[2] + 2), value, np.float32)
    out[:, 1:-1, 1:-1] = ink
    return out


def _step(ink: np.ndarray, square: bool, grow: bool) -> np.ndarray:
    """One 3x3 (square) or plus-shaped (cross) grey erosion/dilation of (N, H, W); outside is background."""
    pick = np.maximum if grow else np.minimum
    pad = _padded(ink, 0.0)
    if square:  # separable: rows then columns
        rows = pick(pick(pad[:, :-2], pad[:, 1:-1]), pad[:, 2:])
        return pick(pick(rows[:, :, :-2], rows[:, :, 1:-1]), rows[:, :, 2:])
    out = pick(pad[:, 1:-1, 1:-1], pick(pad[:, :-2, 1:-1], pad[:, 2:, 1:-1]))
    return pick(out, pick(pad[:, 1:-1, :-2], pad[:, 1:-1, 2:]))


def offset_strokes(ink: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Thin (offset > 0) or thicken (< 0) each (N, H, W) ink map by ``|offset|`` pixels per side.

    Whole steps alternate cross and square (an octagon, close to a disc); the
    fractional last step is a linear blend, so the result moves smoothly with
    the offset. An erosion stops before the step that would leave no solid
    core, so a digit is thinned, never wiped out.
    """
    ink = np.asarray(ink, np.float32)
    offset = np.asarray(offset, np.float32)
    out = ink.copy()
    for grow in (False, True):
        chosen = np.flatnonzero(offset < 0 if grow else offset > 0)
        if not len(chosen):
            continue
        amount = np.abs(offset[chosen])
        current = ink[chosen]
        result = current.copy()
        for k in range(int(np.ceil(amount.max()))):
            nxt = _step(current, square=k % 2 == 1, grow=grow)
            # an erosion stops where the next step would leave no solid core (a thin stroke, a small dot)
            live = amount > k
            if not grow:
                live &= nxt.max(axis=(1, 2)) >= SOLID
                amount = np.where(live | (amount <= k), amount, k)
            frac = np.clip(amount - k, 0.0, 1.0)[:, None, None]
            result = np.where(live[:, None, None], current + frac * (nxt - current), result)
            current = nxt
        out[chosen] = result
    return out
