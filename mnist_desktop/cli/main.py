"""The ``mnist-desktop`` command line: the GUI by default, headless subcommands otherwise.

Every failure a user can cause (missing data, bad file, bad hyperparameter, no
network) ends with exit status 1 and one line ``error: ...`` saying what to do;
tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from mnist_desktop.core.errors import ConfigError, MnistDesktopError

DATASET_CHOICES = ("mnist", "fashion-mnist", "mnist-subset")


def _positive_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def build_parser() -> argparse.ArgumentParser:
    from mnist_desktop.core.models.networks import MODELS
    from mnist_desktop.core.training.trainer import OPTIMIZERS, SCHEDULES

    parser = argparse.ArgumentParser(
        prog="mnist-desktop",
        description="Draw digits and watch a JAX model read them. Without a command, opens the app.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def data_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--dataset", default="mnist", choices=DATASET_CHOICES, help="which dataset (default: mnist)")
        p.add_argument("--data-dir", type=Path, default=None, help="folder with the IDX files (else $MNIST_DESKTOP_DATA, the cache, or download)")
        p.add_argument("--download", action="store_true", help="download the dataset if it is not found locally")

    gui = sub.add_parser("gui", help="open the app (the default)")
    gui.add_argument("--model", type=Path, default=None, help="model file to open instead of the bundled one")

    train = sub.add_parser("train", help="train a model headless with a progress bar")
    data_args(train)
    train.add_argument("--model", default="cnn", choices=list(MODELS), help="architecture (default: cnn)")
    train.add_argument("--optimizer", choices=OPTIMIZERS, default=None)
    train.add_argument("--lr", type=_positive_float, default=None, help="peak learning rate")
    train.add_argument("--batch-size", type=int, default=None)
    train.add_argument("--epochs", type=_positive_float, default=None, help="may be fractional, e.g. 1.5")
    train.add_argument("--val-split", type=_positive_float, default=None, help="fraction held out for validation, in [0, 1)")
    train.add_argument("--seed", type=int, default=None)
    train.add_argument("--weight-decay", type=_positive_float, default=None)
    train.add_argument("--schedule", choices=SCHEDULES, default=None)
    train.add_argument("--label-smoothing", type=_positive_float, default=None, metavar="EPS")
    train.add_argument("--augment", action="store_true", help="random rotation/scale/shear/shift/thickness (for drawn digits)")
    train.add_argument("--drawn-style", type=_positive_float, default=0.0, metavar="FRACTION",
                       help="re-draw this fraction of training digits as uniform mouse-like strokes")
    train.add_argument("--synthetic-drawn", type=int, default=0, metavar="PER_CLASS",
                       help="add this many synthetic mouse-drawn digits per class to the training set")
    train.add_argument("--out", type=Path, default=None, help="where to save the model (default: user data folder)")
    train.add_argument("--json", action="store_true", help="print one final JSON line with the results")
    train.add_argument("--track-test", action="store_true", help="also measure test accuracy after every epoch (time-to-accuracy curve)")

    evaluate = sub.add_parser("evaluate", help="test accuracy and confusion matrix of a model")
    data_args(evaluate)
    evaluate.add_argument("--model", type=Path, default=None, help="model file (default: the bundled model)")
    evaluate.add_argument("--drawn", action="store_true", help="also evaluate on synthetic mouse-drawn digits")
    evaluate.add_argument("--json", action="store_true")

    predict = sub.add_parser("predict", help="read digits from image files")
    predict.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    predict.add_argument("--model", type=Path, default=None, help="model file (default: the bundled model)")
    predict.add_argument("--json", action="store_true", help="one JSON object per image")

    download = sub.add_parser("download", help="download a dataset from the official mirrors and verify it")
    download.add_argument("dataset", choices=("mnist", "fashion-mnist"))
    download.add_argument("--dest", type=Path, default=None, help="folder (default: the user cache)")

    bench = sub.add_parser("bench", help="benchmark training speed, inference latency and memory")
    bench.add_argument("suite", nargs="?", default="all", help="all (default), train, inference, startup, stall, torch, soak")
    bench.add_argument("--data", type=Path, default=None, help="folder with the full datasets")
    bench.add_argument("--json", action="store_true", help="print only the JSON")
    bench.add_argument("--quick", action="store_true", help="fewer repeats (for a smoke test)")
    bench.add_argument("--seeds", default="0,1,2", help="seeds for the cnn recipe (default 0,1,2)")
    bench.add_argument("--torch-python", default=None, metavar="PYTHON",
                       help="a Python with torch installed: also run the PyTorch reference for ratios")
    return parser


# -- train ---------------------------------------------------------------------


def _load(name: str, data_dir: Path | None, download: bool):
    from mnist_desktop.core.data.datasets import load_dataset

    return load_dataset(name, data_dir, download=download, progress=_download_progress())


def _download_progress():
    """A progress callback drawing one bar for the bytes of a download."""
    from mnist_desktop.cli.progress import ProgressBar, format_bytes

    bar = ProgressBar(None)

    def progress(done: int, total: int | None) -> None:
        bar.total = total
        bar.update(done, format_bytes(done))

    progress.bar = bar  # type: ignore[attr-defined]
    return progress


def _config_from_args(args: argparse.Namespace):
    from mnist_desktop.core.training.trainer import default_config

    overrides = {
        k: v for k, v in {
            "optimizer": args.optimizer, "learning_rate": args.lr, "batch_size": args.batch_size,
            "epochs": args.epochs, "validation_split": args.val_split, "seed": args.seed,
            "weight_decay": args.weight_decay, "schedule": args.schedule, "label_smoothing": args.label_smoothing,
        }.items() if v is not None
    }
    if args.augment:
        overrides["augment"] = True
    return default_config(args.model, dataset=args.dataset, **overrides)


def cmd_train(args: argparse.Namespace) -> int:
    from mnist_desktop.core.models.checkpoints import save_checkpoint
    from mnist_desktop.core.training.data_prep import train_data_from
    from mnist_desktop.core.jax_setup import configure_jax
    from mnist_desktop.cli.progress import ProgressBar, format_seconds
    from mnist_desktop.core.training.run_metadata import default_model_path, metadata_from_done
    from mnist_desktop.core.training.trainer import DoneEvent, EpochEvent, StepEvent, Trainer

    config = _config_from_args(args)
    config.validate()
    if not 0 <= args.drawn_style <= 1:
        raise ConfigError("drawn_style", f"must be a fraction in [0, 1], got {args.drawn_style}")
    out = args.out or default_model_path(config.model, config.dataset)
    if out.exists() and out.is_dir():
        raise ConfigError("out", f"{out} is a folder; give a file name such as {out / 'model.ckpt'}")
    configure_jax()
    t_load = time.perf_counter()
    dataset = _load(config.dataset, args.data_dir, args.download)
    data = train_data_from(dataset, config.validation_split, config.seed)
    if args.drawn_style > 0:
        from mnist_desktop.core.data.drawn_style import restyle_fraction

        data.train_x = restyle_fraction(data.train_x, args.drawn_style, config.seed)
    if args.synthetic_drawn:
        from mnist_desktop.core.training.data_prep import add_synthetic_drawn

        add_synthetic_drawn(data, args.synthetic_drawn, config.seed)
    load_seconds = time.perf_counter() - t_load
    trainer = Trainer(config, data, track_test=args.track_test)
    err = sys.stderr
    rates: list[float] = []
    epoch_rates: list[float] = []  # samples per second of each whole epoch (the first includes compilation)
    last_epoch_end, last_epoch_step = 0.0, 0
    curve: list[dict[str, float]] = []
    print(f"Training {config.model} on {dataset.title}: {len(data.train_x)} train, {len(data.val_x)} validation, "
          f"{len(data.test_x)} test images; {trainer.epochs} epoch(s) of {trainer.steps_per_epoch} steps", file=err)
    bar = None
    done = None

    def epoch_bar(epoch: int) -> ProgressBar:
        print(f"Epoch {epoch}/{trainer.epochs}", file=err)
        return ProgressBar(min(trainer.steps_per_epoch, trainer.total_steps - (epoch - 1) * trainer.steps_per_epoch))

    t0 = time.perf_counter()
    for event in trainer.run():
        if isinstance(event, StepEvent):
            if event.step > trainer.config.log_every:
                rates.append(event.samples_per_sec)  # the first window includes compilation
            if bar is None:
                bar = epoch_bar(event.epoch)
            in_epoch = event.step - (event.epoch - 1) * event.steps_per_epoch
            bar.update(in_epoch, f"- ETA: {format_seconds(event.eta)} - loss: {event.loss:.4f} - accuracy: "
                                 f"{event.train_accuracy:.4f} - {event.samples_per_sec:,.0f} samples/s")
        elif isinstance(event, EpochEvent):
            if event.test_accuracy is None:  # a tracked epoch's time includes a test-set pass
                epoch_rates.append((event.step - last_epoch_step) * config.batch_size / max(event.elapsed - last_epoch_end, 1e-9))
            last_epoch_end, last_epoch_step = event.elapsed, event.step
            if event.test_accuracy is not None:
                curve.append({"epoch": event.epoch, "seconds": round(event.elapsed, 2), "test_accuracy": event.test_accuracy})
            suffix = f"- {format_seconds(event.elapsed)} - loss: {event.train_loss:.4f} - accuracy: {event.train_accuracy:.4f}"
            if event.val_accuracy is not None:
                suffix += f" - val_loss: {event.val_loss:.4f} - val_accuracy: {event.val_accuracy:.4f}"
            in_epoch = event.step - (event.epoch - 1) * trainer.steps_per_epoch
            (bar or epoch_bar(event.epoch)).finish(in_epoch, suffix)  # no bar yet: an epoch shorter than log_every
            bar = None
        elif isinstance(event, DoneEvent):
            done = event
    assert done is not None
    if bar is not None:
        bar.finish(done.step - (trainer.epochs - 1) * trainer.steps_per_epoch)
    if done.status != "completed":
        print(f"Training {done.status}: {done.message}", file=err)
    if done.test is not None:
        print(f"Test accuracy: {done.test.accuracy:.2%} (loss {done.test.loss:.4f}, {len(data.test_x)} images); "
              f"training took {done.train_seconds:.1f} s", file=err)
    if args.out is None:  # our own folder; a user-given folder must exist
        out.parent.mkdir(parents=True, exist_ok=True)
    meta = metadata_from_done(config, dataset.name, dataset.class_names, done)
    meta["hyperparameters"].update(drawn_style=args.drawn_style, synthetic_drawn=args.synthetic_drawn)
    t_save = time.perf_counter()
    save_checkpoint(out, config.model, done.params, meta)
    phases = {"data_loading": round(load_seconds, 3), **done.phases, "saving": round(time.perf_counter() - t_save, 3)}
    print(f"Saved model to {out}", file=err)
    print("Time: " + ", ".join(f"{name.replace('_', ' ')} {sec:.2f} s" for name, sec in phases.items()), file=err)
    if args.json:
        print(json.dumps({
            "test_accuracy": done.test_accuracy, "test_loss": None if done.test is None else done.test.loss,
            "train_seconds": round(done.train_seconds, 3), "total_seconds": round(time.perf_counter() - t0, 3),
            "epochs": config.epochs, "steps": done.step, "status": done.status, "model": config.model,
            "dataset": config.dataset, "checkpoint": str(out), "hyperparameters": config.to_dict(),
            "samples_per_s": round(float(np.median(rates))) if rates else None,
            "epoch_samples_per_s": [round(r) for r in epoch_rates],
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "curve": curve or None, "phases": phases,
        }))
    return 0 if done.status != "diverged" else 1


# -- evaluate / predict --------------------------------------------------------


def _load_model(path: Path | None):
    from mnist_desktop.core.models.checkpoints import load_checkpoint
    from mnist_desktop.core.paths import bundled_model_path

    return load_checkpoint(path or bundled_model_path())


def cmd_evaluate(args: argparse.Namespace) -> int:
    from mnist_desktop.core.training.data_prep import train_data_from
    from mnist_desktop.core.training.evaluation import evaluate
    from mnist_desktop.core.jax_setup import configure_jax

    configure_jax()
    ckpt = _load_model(args.model)
    dataset = _load(args.dataset, args.data_dir, args.download)
    data = train_data_from(dataset)
    result = evaluate(ckpt.model_name, ckpt.params, data.test_x, data.test_y)
    report: dict[str, Any] = {
        "model": ckpt.model_name, "dataset": dataset.name, "test_accuracy": result.accuracy,
        "test_loss": result.loss, "count": result.count,
        "per_class_accuracy": [None if v != v else round(float(v), 4) for v in result.per_class_accuracy],
        "confusion": result.confusion.tolist(),
    }
    if args.drawn:
        from mnist_desktop.core.data.strokes import make_drawn_test_set

        dx, dy = make_drawn_test_set()
        report["drawn_accuracy"] = evaluate(ckpt.model_name, ckpt.params, dx[..., None], dy).accuracy
    if args.json:
        print(json.dumps(report))
        return 0
    names = dataset.class_names
    print(f"{ckpt.model_name} on {dataset.title} test set ({result.count} images): "
          f"accuracy {result.accuracy:.2%}, loss {result.loss:.4f}")
    if "drawn_accuracy" in report:
        print(f"synthetic mouse-drawn digits: accuracy {report['drawn_accuracy']:.2%}")
    width = max(len(n) for n in names)
    print("per-class accuracy:")
    for name, acc in zip(names, result.per_class_accuracy):
        print(f"  {name:>{width}}  {acc:.2%}")
    print("confusion matrix (rows: true, columns: predicted):")
    for name, row in zip(names, result.confusion):
        print(f"  {name:>{width}} " + " ".join(f"{v:5d}" for v in row))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from mnist_desktop.core.training.evaluation import predict_proba
    from mnist_desktop.core.jax_setup import configure_jax
    from mnist_desktop.core.data.preprocess import load_image, to_model_input

    configure_jax()
    ckpt = _load_model(args.model)
    names = ckpt.class_names
    failures = 0
    for path in args.images:
        try:
            x = to_model_input(load_image(path))
            if x is None:
                raise MnistDesktopError(f"{path}: the image is empty (no ink found)")
            probs = predict_proba(ckpt.model_name, ckpt.params, x[None])[0]
        except MnistDesktopError as err:
            failures += 1
            if args.json:
                print(json.dumps({"file": str(path), "error": str(err)}))
            else:
                print(f"{path}: error: {err}", file=sys.stderr)
            continue
        label = int(probs.argmax())
        if args.json:
            print(json.dumps({"file": str(path), "label": label, "class_name": names[label],
                              "confidence": float(probs[label]), "probabilities": [float(p) for p in probs]}))
        else:
            print(f"{path}: {names[label]} ({probs[label]:.1%})")
    return 1 if failures == len(args.images) else 0


def cmd_download(args: argparse.Namespace) -> int:
    from mnist_desktop.core.data.download import download_dataset

    progress = _download_progress()
    folder = download_dataset(args.dataset, args.dest, progress=progress)
    print(f"{args.dataset}: verified files in {folder}")
    return 0


def cmd_gui(args: argparse.Namespace) -> int:
    try:
        from mnist_desktop.gui.app import run_app
    except ImportError as err:  # e.g. Qt's system libraries missing on a server
        raise MnistDesktopError(f"cannot open the window ({err}); the headless commands still work: mnist-desktop --help") from None
    return run_app(getattr(args, "model", None))


def cmd_bench(args: argparse.Namespace) -> int:
    from mnist_desktop.bench.suite import run_bench

    return run_bench(args)


COMMANDS = {
    "train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict,
    "download": cmd_download, "gui": cmd_gui, "bench": cmd_bench,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command = args.command or "gui"
    try:
        return COMMANDS[command](args)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except MnistDesktopError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
