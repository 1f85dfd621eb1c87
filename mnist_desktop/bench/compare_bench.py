"""``bench compare``: the compare strip's cost per drawing with four pinned CNNs.

The strip's promise is p99 ≤ 20 ms for four CNNs on a laptop CPU: each drawing is
preprocessed once, judged for "too small" on the raw canvas, then every pinned
model reads it (logits, gradient saliency, calibrated answer, OOD score, verdict),
exactly the worker's ``PinnedModels.read_all``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

TARGET_P99_MS = 20.0


def bench_compare(repeats: int, models: int = 4) -> dict[str, Any]:
    from mnist_desktop.core.analysis.verdict import is_too_small
    from mnist_desktop.core.data.preprocess import to_model_input
    from mnist_desktop.core.data.strokes import random_drawn_canvas
    from mnist_desktop.core.jax_setup import configure_jax
    from mnist_desktop.core.models.checkpoints import load_checkpoint
    from mnist_desktop.core.paths import bundled_model_path
    from mnist_desktop.gui.compare_worker import PinnedModels

    configure_jax()
    import jax

    ckpt = load_checkpoint(bundled_model_path())
    pinned = PinnedModels()
    for i in range(models):  # four distinct weight sets, as four pinned models would be
        params = jax.tree_util.tree_map(lambda a, i=i: a * np.float32(1 + 1e-3 * i), ckpt.params)
        pinned.pin(f"m{i}", f"cnn {i}", ckpt.model_name, params, ckpt.doubt, {})
    rng = np.random.default_rng(0)
    canvases = [random_drawn_canvas(int(rng.integers(10)), rng, canvas_size=560) for _ in range(32)]
    pinned.read_all(to_model_input(canvases[0]), False)  # compile
    times = []
    for i in range(repeats):
        canvas = canvases[i % len(canvases)]
        t0 = time.perf_counter()
        pinned.read_all(to_model_input(canvas), is_too_small(canvas))
        times.append(time.perf_counter() - t0)
    ms = lambda q: round(float(np.percentile(times, q)) * 1e3, 3)
    return {"model": ckpt.model_name, "models": models, "n": repeats, "p50_ms": ms(50), "p99_ms": ms(99),
            "target_p99_ms": TARGET_P99_MS}


def print_compare(result: dict[str, Any]) -> None:
    ok = "within" if result["p99_ms"] <= result["target_p99_ms"] else "OVER"
    print(f"\nCompare strip ({result['models']} pinned {result['model']} models, preprocess + verdict + saliency each)")
    print(f"  p50 {result['p50_ms']:.3f} ms   p99 {result['p99_ms']:.3f} ms   ({ok} the {result['target_p99_ms']:.0f} ms target)")
