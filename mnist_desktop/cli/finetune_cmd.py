"""``finetune`` and ``evaluate --drawings/--pendigits``: "My handwriting" without the window.

The GUI's personal panel tunes the active model on a person's drawings and
measures it on them. These commands do the same from a drawings zip (the
panel's export: ``images/*.png`` + ``labels.csv``) with the same code and the
same guards: the zip is imported into a throw-away handwriting set through
:meth:`HandwritingSet.import_zip` (every entry checked, the model input
recomputed by the live preprocessing), and fine-tuning is
:func:`~mnist_desktop.core.handwriting.finetune.finetune` -- MNIST replay,
WiSE-FT blend and the forgetting check on MNIST images it never trained on.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from mnist_desktop.core.errors import ConfigError, DatasetError


def add_finetune_parser(sub: Any) -> None:
    """Register ``finetune`` on the CLI's sub-parsers."""
    p = sub.add_parser("finetune", help="fine-tune a model on a person's drawings (a zip exported by the app)")
    p.add_argument("--drawings", type=Path, required=True, metavar="ZIP", help="drawings zip: images/*.png + labels.csv")
    p.add_argument("--model", type=Path, default=None, help="model to start from (default: the bundled model)")
    p.add_argument("--out", type=Path, required=True, help="where to save the tuned model")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="folder with full MNIST for replay (else found locally, else the bundled subset)")
    p.add_argument("--held-out", type=float, default=None, metavar="FRACTION",
                   help="share of each digit's drawings kept aside to measure (default 0.3, as in the app)")
    p.add_argument("--epochs", type=float, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--blend", type=float, default=None, help="share of the weight change kept (default 0.75)")
    p.add_argument("--json", action="store_true", help="print one final JSON line with the results")


def add_evaluate_arguments(evaluate: argparse.ArgumentParser) -> None:
    """``evaluate``'s options for a person's drawings or a pen-trajectory file."""
    evaluate.add_argument("--drawings", type=Path, default=None, metavar="ZIP",
                          help="score the model on a drawings zip (images/*.png + labels.csv) instead of a test set")
    evaluate.add_argument("--pendigits", type=Path, default=None, metavar="FILE",
                          help="score the model on a UCI pen-digit file, drawn as canvas strokes")
    evaluate.add_argument("--pen-style", default="faithful", choices=("faithful", "varied", "canvas"),
                          help="how pen digits are drawn (default: faithful, every segment)")
    evaluate.add_argument("--pen-seed", type=int, default=0, help="seed of the random pens (default 0)")


def _check_out(out: Path) -> None:
    """Refuse an unusable target before any long work."""
    if out.is_dir():
        raise ConfigError("out", f"{out} is a folder; give a file name such as {out / 'model.ckpt'}")
    if not out.parent.is_dir():
        raise ConfigError("out", f"folder {out.parent} does not exist; create it or choose another --out")


def _import_drawings(zip_path: Path, root: Path):
    """A handwriting set in ``root`` holding the zip's drawings; entries the import skipped are reported."""
    from mnist_desktop.core.handwriting.store import HandwritingSet

    if not zip_path.is_file():
        raise DatasetError(f"{zip_path}: no such drawings zip (check the path)")
    personal = HandwritingSet.load(root)
    report = personal.import_zip(zip_path)
    for where, why in report.skipped[:10]:
        print(f"warning: {zip_path}: skipped {where}: {why}", file=sys.stderr)
    if len(report.skipped) > 10:
        print(f"warning: {zip_path}: skipped {len(report.skipped) - 10} more entries", file=sys.stderr)
    if not len(personal):
        raise DatasetError(f"{zip_path}: no usable drawings in this zip")
    return HandwritingSet.load(root)


def _per_class(values: np.ndarray) -> list[float | None]:
    return [None if v != v else round(float(v), 4) for v in np.asarray(values, np.float64)]


def _per_class_from_confusion(confusion: np.ndarray | None) -> list[float | None] | None:
    if confusion is None:
        return None
    conf = np.asarray(confusion, np.float64)
    rows = conf.sum(axis=1)
    return _per_class(np.divide(np.diag(conf), rows, out=np.full(len(rows), np.nan), where=rows > 0))


def _batched_evaluate(model_name: str, params: Any, x: np.ndarray, y: np.ndarray, label: str):
    """Evaluate in chunks with a progress bar (a big pen file takes a while on a CPU)."""
    from mnist_desktop.cli.progress import ProgressBar
    from mnist_desktop.core.training.evaluation import batched_logits, metrics_from_logits

    bar = ProgressBar(len(y))
    logits = []
    for lo in range(0, len(y), 1024):
        logits.append(np.asarray(batched_logits(model_name, params, x[lo:lo + 1024, ..., None])))
        bar.update(min(lo + 1024, len(y)), label)
    bar.finish(len(y), label)
    return metrics_from_logits(np.concatenate(logits), y)


def _mnist_accuracy(model_name: str, params: Any, args: argparse.Namespace) -> tuple[float | None, str | None]:
    """MNIST test accuracy where the data is at hand: ``--dataset`` if given, else full MNIST if found."""
    from mnist_desktop.core.data.availability import dataset_status
    from mnist_desktop.core.data.datasets import load_dataset
    from mnist_desktop.core.training.data_prep import train_data_from
    from mnist_desktop.core.training.evaluation import evaluate

    name = args.dataset
    if name is None:
        if not dataset_status("mnist", args.data_dir).startswith("found"):
            return None, None
        name = "mnist"
    dataset = load_dataset(name, args.data_dir, download=args.download)
    data = train_data_from(dataset)
    return evaluate(model_name, params, data.test_x, data.test_y).accuracy, dataset.name


def cmd_evaluate_files(args: argparse.Namespace) -> int:
    """``evaluate --drawings ZIP`` / ``evaluate --pendigits FILE``: accuracy and confusion on them."""
    from mnist_desktop.cli.main import _load_model
    from mnist_desktop.cli.progress import ProgressBar
    from mnist_desktop.core.jax_setup import configure_jax

    if args.drawings is not None and args.pendigits is not None:
        raise ConfigError("drawings", "give --drawings or --pendigits, not both")
    configure_jax()
    ckpt = _load_model(args.model)
    if args.pendigits is not None:
        from mnist_desktop.core.data.pendigits import load_pendigits, pen_model_inputs

        pen = load_pendigits(args.pendigits)
        bar = ProgressBar(len(pen))
        x = pen_model_inputs(pen, args.pen_style, args.pen_seed, progress=lambda d, n: bar.update(d, "drawing pen digits"))
        bar.finish(len(pen), "pen digits drawn")
        y, source = pen.labels, str(args.pendigits)
    else:
        with tempfile.TemporaryDirectory(prefix="mnist-desktop-drawings-") as tmp:
            personal = _import_drawings(args.drawings, Path(tmp))
            x, y = personal.arrays()
        source = str(args.drawings)
    result = _batched_evaluate(ckpt.model_name, ckpt.params, x, np.asarray(y, np.int64), "evaluating")
    mnist, mnist_name = _mnist_accuracy(ckpt.model_name, ckpt.params, args)
    report: dict[str, Any] = {
        "model": ckpt.model_name, "source": source, "count": int(len(y)),
        "accuracy": result.accuracy, "per_class": _per_class(result.per_class_accuracy),
        "confusion": result.confusion.tolist(), "mnist_test_accuracy": mnist, "mnist_dataset": mnist_name,
    }
    if args.drawn:
        from mnist_desktop.core.data.strokes import make_drawn_test_set
        from mnist_desktop.core.training.evaluation import evaluate

        dx, dy = make_drawn_test_set()
        report["drawn_accuracy"] = evaluate(ckpt.model_name, ckpt.params, dx[..., None], dy).accuracy
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{ckpt.model_name} on {source} ({len(y)} digits): accuracy {result.accuracy:.2%}")
    if mnist is not None:
        print(f"{mnist_name} test: accuracy {mnist:.2%}")
    if "drawn_accuracy" in report:
        print(f"synthetic mouse-drawn digits: accuracy {report['drawn_accuracy']:.2%}")
    _print_confusion(result.per_class_accuracy, result.confusion)
    return 0


def _print_confusion(per_class: np.ndarray, confusion: np.ndarray) -> None:
    print("per-digit accuracy:")
    for digit, acc in enumerate(per_class):
        print(f"  {digit}  {'–' if acc != acc else f'{acc:.2%}'}")
    print("confusion matrix (rows: true, columns: predicted):")
    print("     " + " ".join(f"{d:5d}" for d in range(len(confusion))))
    for digit, row in enumerate(confusion):
        print(f"  {digit}  " + " ".join(f"{v:5d}" for v in row))


def cmd_finetune(args: argparse.Namespace) -> int:
    """Tune a model on a drawings zip with the GUI's code and guards, save it, report before → after."""
    from mnist_desktop.cli.main import _load_model
    from mnist_desktop.cli.progress import ProgressBar
    from mnist_desktop.core.data.datasets import load_dataset
    from mnist_desktop.core.handwriting.finetune import FinetuneOptions, finetune, finetune_config, replay_dataset_name, save_finetuned
    from mnist_desktop.core.jax_setup import configure_jax
    from mnist_desktop.core.paths import bundled_model_path
    from mnist_desktop.core.training.trainer import DoneEvent, StepEvent

    _check_out(args.out)
    overrides = {k: v for k, v in {"held_out": args.held_out, "epochs": args.epochs, "seed": args.seed,
                                   "blend": args.blend}.items() if v is not None}
    options = FinetuneOptions(**overrides)
    options.validate()
    configure_jax()
    model_path = args.model or bundled_model_path()
    ckpt = _load_model(args.model)
    config = finetune_config(ckpt.model_name, "mnist", options)
    config.validate()
    replay = replay_dataset_name(args.data_dir)
    if replay != "mnist":
        print("note: full MNIST not found (give --data-dir); replaying the bundled MNIST subset", file=sys.stderr)
    mnist = load_dataset(replay, args.data_dir)
    err = sys.stderr
    with tempfile.TemporaryDirectory(prefix="mnist-desktop-finetune-") as tmp:
        personal = _import_drawings(args.drawings, Path(tmp))
        print(f"Fine-tuning {ckpt.model_name} ({model_path.name}) on {len(personal)} drawings from {args.drawings} "
              f"with {replay} replay", file=err)
        state: dict[str, Any] = {"bar": None}

        def on_event(event: Any) -> None:
            if isinstance(event, StepEvent):
                if state["bar"] is None:
                    state["bar"] = ProgressBar(event.total_steps)
                state["bar"].update(event.step, f"- loss: {event.loss:.4f} - accuracy: {event.train_accuracy:.4f}")
                state["step"] = event.step
            elif isinstance(event, DoneEvent) and state["bar"] is not None:
                state["bar"].finish(event.step, f"- {event.status}")

        params, report = finetune(ckpt.params, ckpt.model_name, personal, mnist, options, on_event=on_event)
    base_info = {"name": model_path.stem, "path": str(model_path), "metadata": ckpt.metadata,
                 "dataset": ckpt.dataset, "class_names": ckpt.class_names}
    save_finetuned(args.out, ckpt.model_name, params, base_info, report, options, config.to_dict())
    print(report.summary(), file=err)
    print(f"Saved model to {args.out}", file=err)
    if args.json:
        print(json.dumps({
            "accuracy": report.personal_after, "accuracy_before": report.personal_before,
            "per_class": _per_class_from_confusion(report.confusion_after),
            "per_class_before": _per_class_from_confusion(report.confusion_before),
            "mnist_test_accuracy": report.mnist_after, "mnist_test_accuracy_before": report.mnist_before,
            "mnist_dataset": report.mnist_dataset, "n_train": report.n_train, "n_held_out": report.n_held_out,
            "blend": report.blend, "status": report.status, "checkpoint": str(args.out),
        }))
    return 0 if report.status != "diverged" else 1
