"""On-device data augmentation for drawn-digit robustness.

People draw digits slanted, squeezed, wide, off-centre, thin or thick. These
random transforms run inside the jitted training step (no host round trip), so
augmentation costs little on CPU and nothing extra on GPU.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.ndimage import map_coordinates

MAX_ROTATION = 0.26  # radians, ~15°
SCALE_RANGE = (0.8, 1.15)
ASPECT_RANGE = (0.7, 1.3)  # x-scale / y-scale: squeezed or wide
MAX_SHEAR = 0.3
MAX_SHIFT = 2.5  # pixels


def _affine_one(key: jax.Array, image: jnp.ndarray) -> jnp.ndarray:
    """Random rotation/scale/aspect/shear/shift of one (28, 28) image about its centre."""
    k_rot, k_scale, k_aspect, k_shear, k_shift = jax.random.split(key, 5)
    angle = jax.random.uniform(k_rot, (), minval=-MAX_ROTATION, maxval=MAX_ROTATION)
    scale = jax.random.uniform(k_scale, (), minval=SCALE_RANGE[0], maxval=SCALE_RANGE[1])
    aspect = jnp.exp(jax.random.uniform(k_aspect, (), minval=jnp.log(ASPECT_RANGE[0]), maxval=jnp.log(ASPECT_RANGE[1])))
    shear = jax.random.uniform(k_shear, (), minval=-MAX_SHEAR, maxval=MAX_SHEAR)
    shift = jax.random.uniform(k_shift, (2,), minval=-MAX_SHIFT, maxval=MAX_SHIFT)
    cos, sin = jnp.cos(angle), jnp.sin(angle)
    sx, sy = scale * jnp.sqrt(aspect), scale / jnp.sqrt(aspect)
    # forward map: rotate @ shear @ scale; we sample with its inverse
    forward = jnp.array([[cos, -sin], [sin, cos]]) @ jnp.array([[1.0, shear], [0.0, 1.0]]) @ jnp.diag(jnp.array([sy, sx]))
    inverse = jnp.linalg.inv(forward)
    rows, cols = jnp.meshgrid(jnp.arange(28.0), jnp.arange(28.0), indexing="ij")
    centred = jnp.stack([rows - 13.5 - shift[0], cols - 13.5 - shift[1]])
    src = jnp.einsum("ij,jhw->ihw", inverse, centred) + 13.5
    return map_coordinates(image, [src[0], src[1]], order=1, mode="constant", cval=0.0)


def _thickness(key: jax.Array, images: jnp.ndarray) -> jnp.ndarray:
    """Randomly thin (min-pool), keep, or thicken (max-pool) strokes, per image."""
    pad = [(0, 0), (1, 1), (1, 1), (0, 0)]
    window, strides = (1, 3, 3, 1), (1, 1, 1, 1)
    dilated = jax.lax.reduce_window(images, -jnp.inf, jax.lax.max, window, strides, pad)
    eroded = -jax.lax.reduce_window(-images, -jnp.inf, jax.lax.max, window, strides, pad)
    choice = jax.random.randint(key, (images.shape[0], 1, 1, 1), 0, 4)  # 0 thin, 1-2 keep, 3 thick
    # blend half-way: a full 3×3 dilation of a 28-px digit is too strong a change
    thick = 0.5 * (images + dilated)
    thin = 0.5 * (images + eroded)
    return jnp.where(choice == 0, thin, jnp.where(choice == 3, thick, images))


def augment_batch(key: jax.Array, images: jnp.ndarray) -> jnp.ndarray:
    """Augment an (N, 28, 28, 1) batch; jit-friendly, fixed shapes."""
    k_affine, k_thick = jax.random.split(key)
    keys = jax.random.split(k_affine, images.shape[0])
    warped = jax.vmap(_affine_one)(keys, images[..., 0])[..., None]
    return jnp.clip(_thickness(k_thick, warped), 0.0, 1.0)
