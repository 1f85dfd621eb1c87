"""``bench analysis``: the latency of the "look deeper" views, as a person meets it.

* map: the live point of a new drawing on a fitted PCA map (preprocess the
  canvas → the layer's features → project), per layer of the bundled CNN, and
  on a t-SNE map through the neighbour placement; the map's fit itself (5,000
  digits' features + PCA) once;
* step-through: a page for a new drawing (replay the forward pass + one cell's arithmetic);
* adversarial: a targeted 20-step PGD attack on the CNN (L∞ and L2).

Medians and 90th percentiles over repeated calls after a warm-up (compilation
excluded: the app compiles once per session).
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np


def _timed(fn: Callable[[int], Any], repeats: int) -> dict[str, float]:
    fn(0)  # warm-up: compile
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t0)
    ms = lambda q: round(float(np.percentile(times, q)) * 1e3, 3)
    return {"p50_ms": ms(50), "p90_ms": ms(90), "n": repeats}


def bench_analysis(repeats: int, data_dir: Any = None) -> dict[str, Any]:
    from mnist_desktop.core.analysis import adversarial, stepthrough
    from mnist_desktop.core.analysis.layers import layer_features, layer_names, one_features
    from mnist_desktop.core.analysis.projection import NeighbourPlacer, fit_pca, map_sample, reduce_for_tsne
    from mnist_desktop.core.data.datasets import load_dataset
    from mnist_desktop.core.data.preprocess import to_model_input
    from mnist_desktop.core.data.strokes import random_drawn_canvas
    from mnist_desktop.core.errors import MnistDesktopError
    from mnist_desktop.core.jax_setup import configure_jax
    from mnist_desktop.core.models.checkpoints import load_checkpoint
    from mnist_desktop.core.paths import bundled_model_path

    configure_jax()
    import jax

    ckpt = load_checkpoint(bundled_model_path())
    model, params = ckpt.model_name, jax.device_put(ckpt.params)
    try:
        dataset = load_dataset("mnist", data_dir)
    except MnistDesktopError:
        dataset = load_dataset("mnist-subset")
    sample = dataset.test_images[map_sample(len(dataset.test_images))]
    rng = np.random.default_rng(0)
    canvases = [random_drawn_canvas(int(rng.integers(10)), rng, canvas_size=560) for _ in range(16)]
    drawings = [to_model_input(c) for c in canvases]
    out: dict[str, Any] = {"model": model, "map_points": len(sample), "map_dataset": dataset.name}

    t0 = time.perf_counter()
    feats, _ = layer_features(model, params, sample, "dense")
    pca = fit_pca(feats)
    out["map fit (dense, features + PCA)"] = {"seconds": round(time.perf_counter() - t0, 3)}
    for layer in layer_names(model):
        feats, _ = layer_features(model, params, sample, layer)
        pca = fit_pca(feats)
        out[f"map point, PCA of {layer}"] = _timed(
            lambda i, layer=layer, pca=pca: pca.transform(one_features(model, params, to_model_input(canvases[i % 16]), layer)),
            repeats)
    feats, _ = layer_features(model, params, sample, "dense")
    reducer, reduced = reduce_for_tsne(feats)
    placer = NeighbourPlacer(reduced, reduced[:, :2])  # the coordinates do not change the cost
    out["map point, t-SNE placement (dense)"] = _timed(
        lambda i: placer.place(reducer.transform(one_features(model, params, drawings[i % 16], "dense"))), repeats)

    def step_page(i: int) -> None:
        stages = stepthrough.walk(model, ckpt.params, drawings[i % 16])
        stepthrough.page(stages, 3)  # conv2: the largest cell sum (3×3×32 products)

    out["step-through page (walk + conv2 cell)"] = _timed(step_page, repeats)
    for norm, eps in (("linf", 0.2), ("l2", 3.0)):
        out[f"PGD 20 steps, {norm}"] = _timed(
            lambda i, norm=norm, eps=eps: adversarial.attack(model, params, drawings[i % 16], (i + 3) % 10, norm=norm,
                                                           epsilon=eps, steps=20), max(repeats // 5, 5))
    return out


def print_analysis(result: dict[str, Any]) -> None:
    print(f"\nLook-deeper views ({result['model']}, {result['map_points']:,} map digits from {result['map_dataset']}; "
          "compilation excluded)")
    for key, value in result.items():
        if isinstance(value, dict) and "p50_ms" in value:
            print(f"  {key:40} p50 {value['p50_ms']:8.3f} ms   p90 {value['p90_ms']:8.3f} ms   (n={value['n']})")
        elif isinstance(value, dict) and "seconds" in value:
            print(f"  {key:40} {value['seconds']:.2f} s")
