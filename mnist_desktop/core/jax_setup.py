"""JAX configuration shared by the CLI, the GUI worker and the benchmarks.

The persistent compilation cache matters for a desktop app: measured on a 2-core
CPU, a cold start goes from ~8 s to ~2.4 s once the jitted steps are cached.
Call :func:`configure_jax` before the first jitted function is compiled.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from mnist_desktop.core.paths import user_cache_dir

_configured = False


def configure_jax() -> None:
    """Enable the persistent compilation cache in the user cache folder (idempotent)."""
    global _configured
    if _configured:
        return
    import jax

    override = os.environ.get("MNIST_DESKTOP_JAX_CACHE")
    cache = Path(override) if override else user_cache_dir() / "jax-cache"
    try:
        cache.mkdir(parents=True, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", str(cache))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    except OSError as err:  # a read-only home must not stop the app
        logging.getLogger(__name__).warning("JAX compilation cache disabled: %s", err)
    # The "rbg" PRNG compiles much faster than threefry on CPU (jit(init) 2 s → 0.5 s
    # measured); random streams stay deterministic per seed.
    jax.config.update("jax_default_prng_impl", "rbg")
    _configured = True


def device_description() -> str:
    """'CPU' or 'GPU (name)' for the status bar and benchmark header."""
    import jax

    dev = jax.devices()[0]
    if dev.platform == "cpu":
        return f"CPU ×{len(jax.devices())}" if len(jax.devices()) > 1 else "CPU"
    return f"{dev.platform.upper()} ({getattr(dev, 'device_kind', dev.platform)})"
