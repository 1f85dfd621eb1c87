"""Headless twins of the map, step-through and fool-it views: ``map``, ``step``, ``attack``, ``robustness``.

Each reads the same core functions as the GUI views, so a teacher can make
the same pictures' numbers in a script (and a test can check them).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from mnist_desktop.core.errors import MnistDesktopError


def add_parsers(sub: Any) -> None:
    model_help = "model file (default: the bundled model)"
    m = sub.add_parser("map", help="2-D map (PCA or t-SNE) of a layer's activations for the test digits, as CSV")
    m.add_argument("--model", type=Path, default=None, help=model_help)
    m.add_argument("--layer", default=None, help="input, a hidden layer or logits (default: the layer before the logits)")
    m.add_argument("--method", choices=("pca", "tsne"), default="pca", help="tsne needs the [maps] extra")
    m.add_argument("--data-dir", type=Path, default=None, help="folder with full MNIST (else the bundled subset)")
    m.add_argument("--out", type=Path, required=True, help="CSV file: index,x,y,label,prediction")
    s = sub.add_parser("step", help="the forward pass of one image, one operation a line, with real numbers")
    s.add_argument("image", type=Path, metavar="IMAGE")
    s.add_argument("--model", type=Path, default=None, help=model_help)
    s.add_argument("--json", action="store_true")
    a = sub.add_parser("attack", help="targeted FGSM/PGD: change an image until the model reads TARGET")
    a.add_argument("image", type=Path, metavar="IMAGE")
    a.add_argument("--target", type=int, required=True, help="the class the model should answer (0–9)")
    a.add_argument("--model", type=Path, default=None, help=model_help)
    a.add_argument("--method", choices=("pgd", "fgsm"), default="pgd")
    a.add_argument("--norm", choices=("linf", "l2"), default="linf")
    a.add_argument("--eps", type=float, default=0.2, help="budget ε (default 0.2; try ~2.5 for l2)")
    a.add_argument("--steps", type=int, default=20, help="PGD steps (default 20)")
    a.add_argument("--out", type=Path, default=None, help="write the fooled 28×28 image as PNG")
    a.add_argument("--json", action="store_true")
    r = sub.add_parser("robustness", help="accuracy/confidence as rotation, scale, shift, thickness and noise grow")
    r.add_argument("image", type=Path, nargs="?", default=None, metavar="IMAGE", help="an image (else 500 test digits)")
    r.add_argument("--model", type=Path, default=None, help=model_help)
    r.add_argument("--json", action="store_true")


def _setup(model_path: Path | None):
    from mnist_desktop.core.jax_setup import configure_jax
    from mnist_desktop.core.models.checkpoints import load_checkpoint
    from mnist_desktop.core.paths import bundled_model_path

    configure_jax()
    return load_checkpoint(model_path or bundled_model_path())


def _image(path: Path) -> np.ndarray:
    from mnist_desktop.core.data.preprocess import to_model_input
    from mnist_desktop.core.data.image_files import load_image

    x = to_model_input(load_image(path))
    if x is None:
        raise MnistDesktopError(f"{path}: the image is empty (no ink found)")
    return x


def _check_out(path: Path) -> None:
    """Fail before the work, not after it, if the output cannot be written."""
    if path.is_dir():
        raise MnistDesktopError(f"--out {path}: is a folder; give a file name")
    if not path.parent.exists():
        raise MnistDesktopError(f"--out {path}: the folder {path.parent} does not exist")


def _test_set(data_dir: Path | None):
    from mnist_desktop.core.data.datasets import load_dataset

    try:
        return load_dataset("mnist", data_dir)
    except MnistDesktopError:
        return load_dataset("mnist-subset")


def cmd_map(args: argparse.Namespace) -> int:
    from mnist_desktop.core.analysis.layers import layer_features, layer_names
    from mnist_desktop.core.analysis.projection import (TSNE_MISSING, fit_pca, map_sample, reduce_for_tsne,
                                                        tsne_available, tsne_steps)
    from mnist_desktop.core.fileio import atomic_write_bytes

    _check_out(args.out)
    if args.method == "tsne" and not tsne_available():
        raise MnistDesktopError(TSNE_MISSING)
    ckpt = _setup(args.model)
    layers = layer_names(ckpt.model_name)
    layer = args.layer or layers[-2]
    if layer not in layers:
        raise MnistDesktopError(f"--layer {layer!r}: {ckpt.model_name} has {', '.join(layers)}")
    dataset = _test_set(args.data_dir)
    index = map_sample(len(dataset.test_images))
    feats, preds = layer_features(ckpt.model_name, ckpt.params, dataset.test_images[index], layer)
    if args.method == "pca":
        coords = fit_pca(feats).transform(feats)
    else:
        _, reduced = reduce_for_tsne(feats)
        for report in tsne_steps(reduced, chunk=50):
            print(f"t-SNE {report.phase}: {report.iteration}/{report.total}", file=sys.stderr, flush=True)
        coords = report.coords
    labels = np.asarray(dataset.test_labels)[index]
    lines = ["index,x,y,label,prediction"] + [f"{i},{x:.5f},{y:.5f},{int(t)},{int(p)}"
                                               for i, (x, y), t, p in zip(index, coords, labels, preds)]
    atomic_write_bytes(args.out, ("\n".join(lines) + "\n").encode())
    wrong = int((preds != labels).sum())
    print(f"{args.out}: {args.method} map of {layer} for {len(index):,} {dataset.title} test digits ({wrong} misclassified)")
    return 0


def cmd_step(args: argparse.Namespace) -> int:
    from mnist_desktop.core.analysis.stepthrough import page, walk

    ckpt = _setup(args.model)
    stages = walk(ckpt.model_name, ckpt.params, _image(args.image))
    rows = []
    for i, stage in enumerate(stages):
        p = page(stages, i)
        detail = p.detail
        value = getattr(detail, "total", getattr(detail, "value", None))
        rows.append({"page": i + 1, "title": stage.title, "strongest_cell": list(p.cell),
                     "value": None if value is None else float(value), "output_max": float(stage.output.max())})
    if args.json:
        print(json.dumps({"model": ckpt.model_name, "pages": rows, "probabilities": stages[-1].output.tolist()}))
    else:
        for row in rows:
            extra = "" if row["value"] is None else f"; cell {tuple(row['strongest_cell'])} = {row['value']:+.4f}"
            print(f"{row['page']:2}. {row['title']}{extra}")
        top = int(np.argmax(stages[-1].output))
        print(f"answer: {ckpt.class_names[top]} ({stages[-1].output[top]:.1%})")
    return 0


def cmd_attack(args: argparse.Namespace) -> int:
    from PIL import Image

    from mnist_desktop.core.analysis.adversarial import attack
    from mnist_desktop.core.fileio import atomic_write_bytes

    if args.out is not None:
        _check_out(args.out)
    ckpt = _setup(args.model)
    try:
        result = attack(ckpt.model_name, ckpt.params, _image(args.image), args.target, method=args.method,
                        norm=args.norm, epsilon=args.eps, steps=args.steps)
    except ValueError as err:
        raise MnistDesktopError(str(err)) from None
    if args.out is not None:
        buffer = io.BytesIO()
        Image.fromarray(np.rint(result.adversarial * 255).astype(np.uint8)).save(buffer, "PNG")
        atomic_write_bytes(args.out, buffer.getvalue())
    names = ckpt.class_names
    before, after = int(np.argmax(result.probs_before)), int(np.argmax(result.probs_after))
    report = {"success": result.success, "target": args.target, "before": before, "after": after,
              "p_target": float(result.probs_after[args.target]), "size": result.size(), "epsilon": args.eps,
              "first_success_step": result.first_success}
    if args.json:
        print(json.dumps(report))
    else:
        verdict = "fooled" if result.success else "not fooled"
        print(f"{args.image}: {names[before]} ({result.probs_before[before]:.1%}) → {names[after]} "
              f"({result.probs_after[after]:.1%}); {verdict}, change {args.norm} {result.size():.3f} ≤ ε {args.eps}")
    return 0 if result.success else 2


def cmd_robustness(args: argparse.Namespace) -> int:
    from mnist_desktop.core.analysis.insight import predict_one
    from mnist_desktop.core.analysis.robustness import PERTURBATIONS, curves

    ckpt = _setup(args.model)
    if args.image is not None:
        x = _image(args.image)
        images, labels = x[None], np.array([int(np.argmax(predict_one(ckpt.model_name, ckpt.params, x)))])
    else:
        dataset = _test_set(None)
        index = np.random.default_rng(0).permutation(len(dataset.test_images))[:500]
        images, labels = dataset.test_images[index], dataset.test_labels[index]
    out = {}
    for curve in curves(ckpt.model_name, ckpt.params, images, labels):
        values = curve.confidence if args.image is not None else curve.accuracy
        out[curve.name] = {"levels": curve.levels.tolist(), "values": values.tolist()}
        if not args.json:
            spec = PERTURBATIONS[curve.name]
            cells = " ".join(f"{lv:g}:{v:.0%}" for lv, v in zip(curve.levels, values))
            print(f"{spec.title} ({spec.unit}): {cells}")
    if args.json:
        print(json.dumps({"measure": "confidence" if args.image is not None else "accuracy", "curves": out}))
    return 0


COMMANDS = {"map": cmd_map, "step": cmd_step, "attack": cmd_attack, "robustness": cmd_robustness}
