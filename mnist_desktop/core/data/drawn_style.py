"""Training augmentation: re-draw MNIST digits the way people draw on the canvas.

Pen strokes on paper vary in width along the stroke and between writers; mouse
strokes on the canvas have one uniform width. A model trained only on MNIST
learns pen texture it never sees in the app. Re-drawing training digits as
uniform strokes -- threshold, thin to a one-pixel skeleton, re-ink the skeleton
with a disc of random radius, anti-alias, re-centre with the same 20-px box and
centre-of-mass rule as :func:`~mnist_desktop.core.data.preprocess.to_model_input` --
keeps each digit's shape and writer's style but gives it canvas strokes.

Everything is vectorised over the batch (60,000 digits take a few seconds on
one core); the thinning is Zhang-Suen with a 512-entry lookup table.
"""

from __future__ import annotations

import numpy as np

from mnist_desktop.core.data.preprocess import normalise_batch

# Pixels at or above this (of 255) are ink when thinning; MNIST's anti-aliased
# fringe below it would add spurs to the skeleton.
THRESHOLD = 100
# Default range of the new stroke's radius in 28x28 pixels (width = 2 * radius):
# thin to bold, matching the widths of canvas strokes after preprocessing.
RADIUS_RANGE = (0.5, 1.6)
_CHUNK = 2048  # images per vectorised step: keeps the working set in cache
_MAX_THINNING_PASSES = 20


def _zhang_suen_tables() -> np.ndarray:
    """(2, 512) bool: delete the centre pixel of this 3x3 code in sub-pass 0 / 1?

    Code bits: row above NW=0, N=1, NE=2; middle W=3, centre=4, E=5; row below
    SW=6, S=7, SE=8.
    """
    codes = np.arange(512)
    bit = [(codes >> k) & 1 for k in range(9)]
    nw, n, ne, w, c, e, sw, s, se = bit
    ring = [n, ne, e, se, s, sw, w, nw]  # P2..P9, clockwise from north
    count = sum(ring)
    transitions = sum((ring[k] == 0) & (ring[(k + 1) % 8] == 1) for k in range(8))
    base = (c == 1) & (count >= 2) & (count <= 6) & (transitions == 1)
    first = base & (n * e * s == 0) & (e * s * w == 0)
    second = base & (n * e * w == 0) & (n * s * w == 0)
    return np.stack([first, second]).astype(np.uint8)


_TABLES = _zhang_suen_tables()


def skeletonize_batch(binary: np.ndarray) -> np.ndarray:
    """Thin (N, H, W) bool shapes to 8-connected one-pixel skeletons (Zhang-Suen).

    Shapes that thinning would erase entirely (a 2x2 dot) keep their original
    pixels, so no digit ever comes back blank.
    """
    binary = np.asarray(binary, dtype=bool)
    out = np.empty_like(binary)
    for lo in range(0, len(binary), _CHUNK):
        out[lo : lo + _CHUNK] = _thin(binary[lo : lo + _CHUNK])
    return out


def _thin(binary: np.ndarray) -> np.ndarray:
    img = np.pad(binary, ((0, 0), (1, 1), (1, 1))).astype(np.uint16)
    centre = img[:, 1:-1, 1:-1]  # a view: updating it updates img
    for _ in range(_MAX_THINNING_PASSES):
        changed = False
        for table in _TABLES:
            triples = img[:, :, :-2] | (img[:, :, 1:-1] << 1) | (img[:, :, 2:] << 2)
            code = triples[:, :-2] | (triples[:, 1:-1] << 3) | (triples[:, 2:] << 6)
            delete = table[code]
            if delete.any():
                centre -= delete
                changed = True
        if not changed:
            break
    skeleton = centre.astype(bool)
    erased = ~skeleton.any(axis=(1, 2))
    skeleton[erased] = binary[erased]
    return skeleton


def _rings(max_radius: float) -> list[tuple[float, list[tuple[int, int]]]]:
    """Pixel offsets grouped by distance, out to where a disc can still reach."""
    reach = max_radius + 0.5
    span = int(np.ceil(reach))
    groups: dict[float, list[tuple[int, int]]] = {}
    for dy in range(-span, span + 1):
        for dx in range(-span, span + 1):
            dist = float(np.hypot(dy, dx))
            if dist < reach:
                groups.setdefault(round(dist, 6), []).append((dy, dx))
    return sorted(groups.items())


def render_skeleton(skeleton: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Ink (N, H, W) float32: every skeleton pixel becomes a disc of its image's radius.

    Coverage falls off linearly over the last pixel (``radius + 0.5 - distance``),
    which anti-aliases the stroke edge and makes width vary continuously with
    ``radius`` instead of in whole-pixel steps.
    """
    radius = np.asarray(radius, dtype=np.float32).reshape(-1, 1, 1)
    rings = _rings(float(radius.max()))
    span = int(max(max(abs(dy), abs(dx)) for _, offs in rings for dy, dx in offs))
    n, h, w = skeleton.shape
    padded = np.pad(skeleton, ((0, 0), (span, span), (span, span)))
    ink = np.zeros((n, h, w), dtype=np.float32)
    for dist, offsets in rings:
        hit = np.zeros((n, h, w), dtype=bool)
        for dy, dx in offsets:
            hit |= padded[:, span + dy : span + dy + h, span + dx : span + dx + w]
        cover = np.clip(radius + np.float32(0.5 - dist), 0.0, 1.0)
        np.maximum(ink, hit * cover, out=ink)
    return ink


def _soften(ink: np.ndarray) -> np.ndarray:
    """Slight separable blur: the soft edges of MNIST's anti-aliased scans."""
    k = (np.float32(0.15), np.float32(0.7), np.float32(0.15))
    pad = np.pad(ink, ((0, 0), (1, 1), (0, 0)))
    ink = k[0] * pad[:, :-2] + k[1] * pad[:, 1:-1] + k[2] * pad[:, 2:]
    pad = np.pad(ink, ((0, 0), (0, 0), (1, 1)))
    return k[0] * pad[:, :, :-2] + k[1] * pad[:, :, 1:-1] + k[2] * pad[:, :, 2:]


def restyle_batch(
    images: np.ndarray,
    rng: np.random.Generator,
    *,
    radius_range: tuple[float, float] = RADIUS_RANGE,
) -> np.ndarray:
    """Re-draw uint8 (N, 28, 28) digits as uniform-width strokes; returns uint8 (N, 28, 28).

    Each image gets its own random stroke radius from ``radius_range`` (pixels
    of the 28x28 grid). Blank images stay blank.
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"expected (N, H, W) images, got shape {images.shape}")
    lo, hi = float(radius_range[0]), float(radius_range[1])
    if not 0 < lo <= hi:
        raise ValueError(f"radius_range must satisfy 0 < low <= high, got {radius_range}")
    radii = rng.uniform(lo, hi, size=len(images)).astype(np.float32)
    out = np.empty(images.shape[:1] + (28, 28), dtype=np.uint8)
    for start in range(0, len(images), _CHUNK):
        chunk = images[start : start + _CHUNK]
        skeleton = _thin(chunk >= THRESHOLD)
        ink = _soften(render_skeleton(skeleton, radii[start : start + _CHUNK]))
        ink = normalise_batch(ink)
        out[start : start + _CHUNK] = np.rint(ink * 255).astype(np.uint8)
    return out


def restyle_fraction(images: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Return a copy of ``images`` with a random ``fraction`` of them re-drawn as strokes.

    Accepts what the trainer holds -- float (N, 28, 28[, 1]) in [0, 1] -- or
    uint8 (N, 28, 28), and returns the same shape and dtype, so labels keep
    lining up. Which images are re-drawn, and with what pen, depends only on
    ``seed``: a training run can be repeated exactly.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    images = np.asarray(images)
    squeezed = images.reshape(images.shape[:3]) if images.ndim == 4 and images.shape[3] == 1 else images
    if squeezed.ndim != 3:
        raise ValueError(f"expected (N, H, W) or (N, H, W, 1) images, got shape {images.shape}")
    # A seed sequence distinct from the trainer's own use of ``seed``.
    rng = np.random.default_rng([int(seed), 0xD2A57])
    count = int(round(fraction * len(squeezed)))
    chosen = np.sort(rng.choice(len(squeezed), size=count, replace=False))
    out = images.copy()
    if count == 0:
        return out
    is_uint8 = squeezed.dtype == np.uint8
    picked = squeezed[chosen] if is_uint8 else np.rint(np.clip(squeezed[chosen], 0, 1) * 255).astype(np.uint8)
    redrawn = restyle_batch(picked, rng)
    out_view = out.reshape(squeezed.shape)
    out_view[chosen] = redrawn if is_uint8 else redrawn.astype(out.dtype) / out.dtype.type(255)
    return out
